"""`ecsrun validate REQUEST.json`: the offline part of validation, with the same problems, exit 0 or 2."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from ecsrun.cli import main
from ecsrun.domain.models.request import validate_request

EVENTS = Path(__file__).parents[2] / "events"


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["validate", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _file(tmp_path: Path, document: Any) -> str:
    path = tmp_path / "request.json"
    path.write_text(json.dumps(document))
    return str(path)


def test_a_valid_request_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, str(EVENTS / "requests" / "hello.json"))
    assert code == 0
    assert "a valid run request" in out


def test_a_valid_request_in_json_has_no_problems(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, str(EVENTS / "requests" / "fargate.json"), "--output", "json")
    assert code == 0
    report = json.loads(out)
    assert (report["valid"], report["problems"], report["warnings"]) == (True, [], [])
    # The document every command shares (cli/document.py)
    assert (report["status"], report["error"], report["cause"]) == ("SUCCEEDED", None, None)


def test_an_invalid_request_exits_2_and_lists_every_problem(capsys: pytest.CaptureFixture[str]) -> None:
    # Given the sample invalid request, When validated
    path = str(EVENTS / "requests" / "invalid.json")
    code, out, _ = _run(capsys, path)
    # Then it exits 2, names the error, and prints one line per problem with its field path
    _, problems = validate_request(json.loads(Path(path).read_text()))
    assert code == 2
    lines = out.splitlines()
    assert lines[0].startswith(f"RunRequest.Invalid: {path}: the run request has {len(problems)} problems")
    assert lines[1:] == [f"  {p.field}: {p.message}" for p in problems]


def test_json_output_is_the_same_cause_the_state_machine_fails_with(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # Given a request with a typo and a string where an integer belongs
    path = _file(tmp_path, {"taskDefinitio": "x", "timeoutSeconds": "60"})
    code, out, _ = _run(capsys, path, "--output", "json")
    report = json.loads(out)
    # Then the JSON carries the error name, the message and each problem's field path
    assert code == 2
    assert report["valid"] is False and report["error"] == "RunRequest.Invalid"
    assert [p["field"] for p in report["problems"]] == ["taskDefinitio", "taskDefinition", "timeoutSeconds"]
    assert report["problems"][0]["message"] == "unknown field; did you mean 'taskDefinition'?"
    assert report["message"].startswith("the run request has 3 problems")


def test_unreadable_or_malformed_files_exit_2_with_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    code, out, err = _run(capsys, str(broken))
    assert code == 2 and out == "" and "is not valid JSON" in err
    code, out, err = _run(capsys, str(tmp_path / "missing.json"))
    assert code == 2 and "cannot read request" in err


def test_a_task_definition_is_checked_as_local_run_checks_it(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # Given the hello task definition with a container name ECS refuses and a dependsOn on a missing container
    definition = json.loads((EVENTS / "task-definitions" / "hello.json").read_text())
    definition["containerDefinitions"][0]["dependsOn"] = [{"containerName": "init", "condition": "START"}]
    definition["containerDefinitions"].append({"name": "log router", "image": "x", "memory": 64})
    path = tmp_path / "td.json"
    path.write_text(json.dumps(definition))
    # When validated with it
    code, out, err = _run(capsys, str(EVENTS / "requests" / "hello.json"), "--task-definition", str(path))
    # Then it is refused in one line that names each field
    assert (code, out) == (2, "")
    assert err == (
        f"ecsrun: task definition {path}: 2 problems: containerDefinitions[1].name: 'log router' is not a container "
        "name: up to 255 letters (uppercase and lowercase), numbers, underscores and hyphens are allowed; "
        "containerDefinitions[0].dependsOn[0].containerName: container app depends on 'init', which is not in the "
        "task\n"
    )


def test_a_request_naming_another_family_is_what_local_run_would_refuse(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # Given a request for a family the task definition file is not
    request = json.loads((EVENTS / "requests" / "hello.json").read_text()) | {"taskDefinition": "other:3"}
    code, out, _ = _run(
        capsys, _file(tmp_path, request), "--task-definition", str(EVENTS / "task-definitions" / "hello.json")
    )
    # Then it is invalid, as local run's ValidateRequest would find it
    assert code == 2
    assert "  taskDefinition: no task definition 'other:3' in this account and region" in out.splitlines()
