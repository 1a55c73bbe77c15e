"""Watching a local run from outside (the installed `ecsrun` in a subprocess): each container's output streamed
with its name, `--quiet`, `--output json` alone on stdout in the one documented shape, and the run's timeline."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from tests.conftest import EVENTS, ROOT

ECSRUN = str(Path(sys.executable).parent / "ecsrun")
SCHEMA = json.loads((ROOT / "docs" / "cli-output.schema.json").read_text())
CORE = ["runId", "executionArn", "status", "error", "message", "output", "cause"]
SVG = "{http://www.w3.org/2000/svg}"


def ecsrun(*args: str, cwd: Path) -> Any:
    return subprocess.run([ECSRUN, *args], capture_output=True, text=True, timeout=180, check=False, cwd=cwd)


def _files(name: str, definition: str | None = None) -> list[str]:
    return [
        str(EVENTS / "requests" / f"{name}.json"),
        "--task-definition",
        str(EVENTS / "task-definitions" / f"{definition or name}.json"),
    ]


def test_each_containers_output_is_streamed_with_its_name_before_the_summary(tmp_path: Path) -> None:
    done = ecsrun("local", "run", *_files("two-containers"), cwd=tmp_path)
    lines = done.stdout.splitlines()
    assert done.returncode == 0, done.stderr
    # Then every line each container wrote is there, prefixed as docker compose prefixes it (names aligned)
    app = [line for line in lines if line.startswith("app     | ")]
    worker = [line for line in lines if line.startswith("worker  | ")]
    assert [line.split("| ", 1)[1] for line in app] == [f"app line {i}" for i in range(1, 6)]
    assert [line.split("| ", 1)[1] for line in worker] == [f"worker line {i}" for i in range(1, 4)]
    # And they come after the task started and before the logs were copied and the summary printed
    summary = lines.index("SUCCEEDED  run two-containers-demo")
    copy = next(i for i, line in enumerate(lines) if line.endswith("  CopyLogs"))
    start = next(i for i, line in enumerate(lines) if line.endswith("  StartTaskAndWait"))
    streamed = [i for i, line in enumerate(lines) if " | " in line and not line.startswith(" ")]
    assert start < min(streamed) and max(streamed) < copy < summary


def test_quiet_keeps_only_the_summary(tmp_path: Path) -> None:
    done = ecsrun("local", "run", *_files("hello"), "--quiet", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert not any(" | " in line or line.startswith("  +") for line in done.stdout.splitlines())
    assert "SUCCEEDED  run hello-demo" in done.stdout and "last:  " in done.stdout


@pytest.mark.parametrize(
    ("args", "code", "status", "error"),
    [
        (_files("hello"), 0, "SUCCEEDED", None),
        (_files("failing"), 1, "FAILED", "ECS.ContainerExitedNonZero"),
        ([str(EVENTS / "requests" / "invalid.json")], 2, "FAILED", "RunRequest.Invalid"),
    ],
)
def test_output_json_is_one_document_alone_on_stdout_in_the_documented_shape(
    tmp_path: Path, args: list[str], code: int, status: str, error: str | None
) -> None:
    done = ecsrun("local", "run", *args, "--output", "json", cwd=tmp_path)
    document = json.loads(done.stdout)  # the whole of stdout is one JSON document
    assert done.returncode == code, done.stderr
    jsonschema.validate(document, SCHEMA)
    assert list(document)[:7] == CORE
    assert (document["status"], document["error"]) == (status, error)
    if error:
        # the cause parsed, and its one-line message lifted out
        assert isinstance(document["cause"], dict) and document["message"] == document["cause"]["message"]
    else:
        assert document["output"]["runId"] == document["runId"] == "hello-demo" and document["cause"] is None


@pytest.mark.parametrize(
    "args",
    [
        ["validate", str(EVENTS / "requests" / "fargate.json")],
        ["validate", str(EVENTS / "requests" / "invalid.json")],
        ["explain", str(EVENTS / "ecs-events" / "stopped-oom.json")],
        ["explain", str(EVENTS / "ecs-events" / "stopped-success.json")],
    ],
)
def test_validate_and_explain_print_the_same_shape(tmp_path: Path, args: list[str]) -> None:
    done = ecsrun(*args, "--output", "json", cwd=tmp_path)
    document = json.loads(done.stdout)
    jsonschema.validate(document, SCHEMA)
    assert set(CORE) <= set(document)
    assert document["status"] in ("SUCCEEDED", "FAILED")
    assert (done.returncode == 0) == (document["status"] == "SUCCEEDED")


def _spans(path: Path) -> list[ET.Element]:
    return [g for g in ET.parse(path).getroot().iter(f"{SVG}g") if g.get("class") == "span"]


def test_artifacts_hold_the_runs_timeline(tmp_path: Path) -> None:
    # Given a run with two containers, When run with --artifacts
    done = ecsrun("local", "run", *_files("two-containers"), "--artifacts", "out", "--quiet", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    spans = _spans(tmp_path / "out" / "two-containers-demo" / "timeline.svg")
    labels = [g.get("data-label") or "" for g in spans]
    kinds = [g.get("data-kind") for g in spans]
    # Then the SVG shows, in the order they began: the execution, its states, the attempt, the task and its
    # containers' processes, the log copy (a choice or an end takes no time: the outcome is in the title)
    assert labels[0].startswith("execution two-containers-demo-")
    assert [label for label in labels[1:] if not label.startswith("task ")] == [
        "ValidateRequest", "StartTaskAndWait (attempt 1)", "container app", "container worker", "CopyLogs",
    ]  # fmt: skip
    title = ET.parse(tmp_path / "out" / "two-containers-demo" / "timeline.svg").getroot().find(f"{SVG}title")
    assert title is not None and title.text == (
        "ecsrun local run two-containers-demo  SUCCEEDED · exit codes: app 0, worker 0"
    )
    assert kinds.count("task") == 1 and kinds[labels.index("CopyLogs")] == "logs"
    starts = [float(g.get("data-start") or 0) for g in spans]
    assert starts == sorted(starts)
    task = spans[kinds.index("task")]
    for container in (g for g in spans if g.get("data-kind") == "container"):
        assert float(task.get("data-start") or 0) <= float(container.get("data-start") or 0)
        assert float(container.get("data-end") or 0) <= float(task.get("data-end") or 0)
    # And each bar says when it began and ended, for a person hovering it
    assert all(g.find(f"{SVG}title") is not None and g.find(f"{SVG}rect") is not None for g in spans)


def test_a_retried_runs_timeline_shows_each_attempt_and_the_wait_between(tmp_path: Path) -> None:
    # Given a task whose start fails in a way worth retrying (its environment file cannot be downloaded:
    # ResourceInitializationError) and a retry policy of 2 attempts
    definition = json.loads((EVENTS / "task-definitions" / "hello.json").read_text())
    definition["family"] = "no-envfile"
    # No execution role to check: the managed one may not read S3 at all, a refusal not worth retrying
    definition.pop("executionRoleArn")
    definition["containerDefinitions"][0]["environmentFiles"] = [
        {"value": "arn:aws:s3:::nowhere/app.env", "type": "s3"}
    ]
    request = json.loads((EVENTS / "requests" / "hello.json").read_text())
    request |= {"taskDefinition": "no-envfile", "runId": "retried", "retry": {"maxAttempts": 2, "intervalSeconds": 1}}
    (tmp_path / "td.json").write_text(json.dumps(definition))
    (tmp_path / "r.json").write_text(json.dumps(request))
    done = ecsrun("local", "run", "r.json", "--task-definition", "td.json", "--artifacts", "out", "-q", cwd=tmp_path)
    assert done.returncode == 1 and "ECS.TaskFailedToStart" in done.stdout
    spans = _spans(tmp_path / "out" / "retried" / "timeline.svg")
    sequence = [(g.get("data-kind"), g.get("data-label")) for g in spans if g.get("data-kind") in ("attempt", "wait")]
    assert sequence == [
        ("attempt", "StartTaskAndWait (attempt 1)"),
        ("wait", "WaitBeforeRetry"),
        ("attempt", "StartTaskAndWait (attempt 2)"),
    ]
    assert [g.get("data-kind") for g in spans].count("task") == 2
