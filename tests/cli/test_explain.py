"""Unit tests for `ecsrun explain`: judge a stopped task from a file, as the TaskStopped function would."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from ecsrun.cli import main
from ecsrun.domain.models.ecs import TaskStateChangeEvent
from ecsrun.domain.verdict import judge

EVENTS = Path(__file__).parents[2] / "events"
ECS_EVENTS = EVENTS / "ecs-events"
SIDECAR_DEFINITION = EVENTS / "task-definitions" / "sidecar.json"

# Every sample in events/ecs-events: (exit status, outcome, error); outcome None for a usage error.
SAMPLES: dict[str, tuple[int, str | None, str | None]] = {
    "describe-tasks-stopped": (0, "SUCCEEDED", None),
    "running": (2, None, None),
    "stopped-cannot-start": (1, "FAILED", "ECS.TaskFailedToStart"),
    "stopped-empty-containers": (1, "FAILED", "ECS.TaskFailedToStart"),
    "stopped-failed-to-start": (1, "FAILED", "ECS.TaskFailedToStart"),
    "stopped-host-terminated": (1, "FAILED", "ECS.TaskStopped"),
    "stopped-nonzero": (1, "FAILED", "ECS.ContainerExitedNonZero"),
    "stopped-oom": (1, "FAILED", "ECS.ContainerExitedNonZero"),
    "stopped-secret-access-denied": (1, "FAILED", "ECS.TaskFailedToStart"),
    "stopped-sidecar-nonzero": (1, "FAILED", "ECS.ContainerExitedNonZero"),
    "stopped-spot": (1, "FAILED", "ECS.TaskStopped"),
    "stopped-success": (0, "SUCCEEDED", None),
    "stopped-user-initiated": (1, "FAILED", "ECS.TaskStopped"),
}


def sample(name: str) -> str:
    return str(ECS_EVENTS / f"{name}.json")


def write(tmp_path: Path, name: str, document: Any) -> str:
    path = tmp_path / name
    path.write_text(json.dumps(document) if not isinstance(document, str) else document)
    return str(path)


def explain_json(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, Any]:
    """Run `ecsrun explain ... --output json` in-process; (exit status, parsed stdout or None)."""
    code = main(["explain", *args, "--output", "json"])
    out = capsys.readouterr().out
    return code, json.loads(out) if out.strip() else None


def explain_text(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[str]]:
    code = main(["explain", *args])
    return code, capsys.readouterr().out.splitlines()


# ---- every sample event ----


def test_every_sample_event_has_an_expected_outcome() -> None:
    # Given the sample files / Then each one is listed here, so a new sample gets an expectation
    assert {path.stem for path in ECS_EVENTS.glob("*.json")} == set(SAMPLES)


@pytest.mark.parametrize("name", sorted(name for name, (code, _, _) in SAMPLES.items() if code != 2))
def test_sample_event_gets_its_expected_verdict(capsys: pytest.CaptureFixture[str], name: str) -> None:
    # Given a sample event, When it is explained as JSON
    code, result = explain_json(capsys, sample(name))
    # Then the exit status, outcome and error name are the expected ones
    expected_code, outcome, error = SAMPLES[name]
    assert (code, result["outcome"], result["error"]) == (expected_code, outcome, error)


def test_the_reason_is_the_one_the_handler_would_record(capsys: pytest.CaptureFixture[str]) -> None:
    # Given a sample event judged directly, every container essential, success code 0
    task = TaskStateChangeEvent.model_validate(json.loads(Path(sample("stopped-oom")).read_text())).detail
    expected = judge(task, {}, [0])
    # When the same event is explained
    _, result = explain_json(capsys, sample("stopped-oom"))
    # Then the reason and retryable flag are the judge's
    assert (result["reason"], result["retryable"]) == (expected.reason, expected.retryable)


def test_a_task_that_has_not_stopped_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    # Given a RUNNING task's event, When it is explained
    code = main(["explain", sample("running")])
    # Then nothing is judged: exit 2, and stderr says why
    captured = capsys.readouterr()
    assert code == 2
    assert captured.out == ""
    assert captured.err.startswith("ecsrun: ")
    assert "lastStatus RUNNING" in captured.err


# ---- other input shapes ----


def test_a_describe_tasks_task_object_is_judged(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    # Given the task object of a DescribeTasks response, alone in a file (epoch timestamps)
    task = json.loads(Path(sample("describe-tasks-stopped")).read_text())["tasks"][0]
    path = write(tmp_path, "task.json", task)
    # When it is explained
    code, result = explain_json(capsys, path)
    # Then it succeeded
    assert code == 0
    assert result["outcome"] == "SUCCEEDED"


def test_a_describe_tasks_response_with_two_tasks_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    response = json.loads(Path(sample("describe-tasks-stopped")).read_text())
    response["tasks"] *= 2
    code = main(["explain", write(tmp_path, "two.json", response)])
    assert code == 2
    assert "2 tasks" in capsys.readouterr().err


# ---- the task definition decides which containers are essential ----


def test_a_failing_sidecar_does_not_count_with_its_task_definition(capsys: pytest.CaptureFixture[str]) -> None:
    # Given app exited 0 and log-router 137, and a definition marking log-router essential: false
    code, result = explain_json(capsys, sample("stopped-sidecar-nonzero"), "--task-definition", str(SIDECAR_DEFINITION))
    # Then the run succeeded
    assert code == 0
    assert result["outcome"] == "SUCCEEDED"


def test_without_a_task_definition_every_container_is_essential(capsys: pytest.CaptureFixture[str]) -> None:
    # Given the same task and no definition
    code, result = explain_json(capsys, sample("stopped-sidecar-nonzero"))
    # Then log-router's 137 fails the run
    assert code == 1
    assert (result["outcome"], result["error"]) == ("FAILED", "ECS.ContainerExitedNonZero")


def test_a_describe_task_definition_output_is_accepted(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    # Given the definition wrapped as DescribeTaskDefinition returns it
    definition = {"taskDefinition": json.loads(SIDECAR_DEFINITION.read_text()), "tags": []}
    path = write(tmp_path, "described.json", definition)
    # When it is used / Then the sidecar still does not count
    code, _ = explain_json(capsys, sample("stopped-sidecar-nonzero"), "--task-definition", path)
    assert code == 0


def test_the_text_output_labels_a_sidecar(capsys: pytest.CaptureFixture[str]) -> None:
    _, lines = explain_text(capsys, sample("stopped-sidecar-nonzero"), "--task-definition", str(SIDECAR_DEFINITION))
    row = next(line for line in lines if "log-router" in line)
    assert row.split()[:4] == ["log-router", "sidecar", "exit", "137"]


def test_a_task_definition_without_containers_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = write(tmp_path, "td.json", {"family": "x"})
    code = main(["explain", sample("stopped-success"), "--task-definition", path])
    assert code == 2
    assert capsys.readouterr().err.startswith("ecsrun: task definition ")


# ---- success exit codes ----


def test_success_exit_codes_make_exit_3_succeed(capsys: pytest.CaptureFixture[str]) -> None:
    # Given an app that exited 3, When explained with --success-exit-codes 0,3
    code, result = explain_json(capsys, sample("stopped-nonzero"), "--success-exit-codes", "0,3")
    # Then it succeeded
    assert code == 0
    assert result["outcome"] == "SUCCEEDED"


def test_success_exit_codes_default_to_zero_only(capsys: pytest.CaptureFixture[str]) -> None:
    code, _ = explain_json(capsys, sample("stopped-success"), "--success-exit-codes", "3")
    assert code == 1


@pytest.mark.parametrize("value", ["abc", "256", "-1", "", "0,,3", "0;3", "1.5"])
def test_bad_success_exit_codes_are_a_usage_error(capsys: pytest.CaptureFixture[str], value: str) -> None:
    code = main(["explain", sample("stopped-success"), "--success-exit-codes", value])
    captured = capsys.readouterr()
    assert code == 2
    assert captured.out == ""
    assert captured.err.startswith("ecsrun: --success-exit-codes ")


# ---- output ----


def test_json_output_of_a_failure_has_its_four_keys_then_the_shared_document(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given a Spot-interrupted task, When explained as JSON
    _, result = explain_json(capsys, sample("stopped-spot"))
    # Then the object starts with outcome, error, reason and retryable (then the document every command
    # shares, cli/document.py: runId, executionArn, status, error, message, output, cause, and explain's own)
    assert list(result)[:4] == ["outcome", "error", "reason", "retryable"]
    assert (result["outcome"], result["error"], result["retryable"]) == ("FAILED", "ECS.TaskStopped", True)
    assert "SpotInterruption" in result["reason"]
    assert (result["status"], result["message"]) == ("FAILED", result["reason"])
    assert {"runId", "executionArn", "output", "cause", "missingFields"} <= set(result)


def test_json_output_of_a_success_has_no_error_and_is_not_retryable(capsys: pytest.CaptureFixture[str]) -> None:
    _, result = explain_json(capsys, sample("stopped-success"))
    assert {k: result[k] for k in ("outcome", "error", "reason", "retryable")} == {
        "outcome": "SUCCEEDED",
        "error": None,
        "reason": "every essential container exited with a success code",
        "retryable": False,
    }
    assert (result["status"], result["error"], result["missingFields"]) == ("SUCCEEDED", None, [])


def test_json_output_is_exactly_one_json_object(capsys: pytest.CaptureFixture[str]) -> None:
    main(["explain", sample("stopped-oom"), "--output", "json"])
    out = capsys.readouterr().out
    assert out.count("\n") == 1
    assert isinstance(json.loads(out), dict)


def test_text_output_of_a_failure_starts_with_outcome_reason_and_retryable(capsys: pytest.CaptureFixture[str]) -> None:
    # Given an OOM-killed app, When explained as text
    code, lines = explain_text(capsys, sample("stopped-oom"))
    # Then the first three lines are the outcome, the reason and whether to retry
    assert code == 1
    assert lines[0] == "FAILED  ECS.ContainerExitedNonZero"
    assert lines[1].startswith("essential container 'app' was killed for using too much memory")
    assert lines[2] == "retryable: no"


def test_text_output_of_a_retryable_failure_says_yes(capsys: pytest.CaptureFixture[str]) -> None:
    _, lines = explain_text(capsys, sample("stopped-empty-containers"))
    assert lines[2] == "retryable: yes"


def test_text_output_of_a_success_has_no_retryable_line(capsys: pytest.CaptureFixture[str]) -> None:
    code, lines = explain_text(capsys, sample("stopped-success"))
    assert code == 0
    assert lines[:2] == ["SUCCEEDED", "every essential container exited with a success code"]
    assert not any(line.startswith("retryable:") for line in lines)


def test_text_output_has_a_line_per_container_with_its_exit_code_and_reason(
    capsys: pytest.CaptureFixture[str],
) -> None:
    _, lines = explain_text(capsys, sample("stopped-oom"))
    row = next(line for line in lines if line.split()[:1] == ["app"])
    assert row.split()[:4] == ["app", "essential", "exit", "137"]
    assert "OutOfMemoryError: Container killed due to memory usage" in row


# ---- usage errors ----


def test_a_missing_file_is_a_usage_error(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code = main(["explain", str(tmp_path / "nope.json")])
    captured = capsys.readouterr()
    assert code == 2
    assert captured.err.startswith("ecsrun: cannot read file ")


def test_invalid_json_is_a_usage_error(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code = main(["explain", write(tmp_path, "bad.json", "{not json")])
    assert code == 2
    assert "is not valid JSON" in capsys.readouterr().err


@pytest.mark.parametrize(
    "document",
    [
        {"hello": "world"},
        [1, 2],
        "a string",
        {"detail-type": "ECS Container Instance State Change", "detail": {"taskArn": "x"}},
        {"taskArn": 42},
    ],
)
def test_a_file_that_is_neither_an_event_nor_a_task_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, document: Any
) -> None:
    # Given a JSON file that is not an ECS Task State Change event nor a DescribeTasks task
    path = write(tmp_path, "other.json", json.dumps(document))
    # When it is explained
    code = main(["explain", path, "--output", "json"])
    # Then it is a usage error, with nothing on stdout
    captured = capsys.readouterr()
    assert code == 2
    assert captured.out == ""
    assert captured.err.startswith("ecsrun: ")


def test_an_unreadable_task_definition_is_a_usage_error(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code = main(["explain", sample("stopped-success"), "--task-definition", str(tmp_path / "missing.json")])
    assert code == 2
    assert capsys.readouterr().err.startswith("ecsrun: cannot read task definition ")
