"""`ecsrun local run --fault NAME[=VALUE]`, black-box: each named fault through the CLI, then the outcome and the
invariants the artifacts show (the run ends with the verdict its task earns; its own task judged; logs copied).
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import boto3
import pytest
from ecsrun.cli import main
from ecsrun.local.faults import CATALOG

from tests.conftest import EVENTS


def _write(tmp_path: Path, name: str, **changes: Any) -> str:
    request = json.loads((EVENTS / "requests" / f"{name}.json").read_text()) | changes
    path = tmp_path / f"{name}-request.json"
    path.write_text(json.dumps(request))
    return str(path)


def _run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], request: str, definition: str, *faults: str
) -> tuple[int, dict[str, Any], Path, str]:
    artifacts = tmp_path / "artifacts"
    argv = [
        "local",
        "run",
        request,
        "--task-definition",
        str(EVENTS / "task-definitions" / f"{definition}.json"),
        "--output",
        "json",
        "--artifacts",
        str(artifacts),
    ]
    for fault in faults:
        argv += ["--fault", fault]
    code = main(argv)
    captured = capsys.readouterr()
    # Each fault says on stderr when it fires: a run without the line was not faulted, and proves nothing
    for fault in faults:
        assert f"ecsrun local: fault {fault.partition('=')[0]}: " in captured.err, captured.err
    return code, json.loads(captured.out), artifacts, captured.err


def _manifest(artifacts: Path, run_id: str) -> dict[str, Any]:
    [path] = artifacts.glob(f"*/runs/{run_id}/manifest.json")  # the run's own folder, DIR/<runId>/
    return dict(json.loads(path.read_text()))


def _assert_own_task_and_logs(artifacts: Path, run_id: str, lines: int) -> dict[str, Any]:
    manifest = _manifest(artifacts, run_id)
    assert ":cluster/default" in (manifest["task"]["clusterArn"] or ""), manifest["task"]
    [container] = manifest["logs"]["containers"]
    assert container["events"] == lines, container
    return manifest


def test_duplicate_stopped_event(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Given every STOPPED event delivered twice, When the hello task runs, Then it succeeds once, all 7 lines copied
    code, result, artifacts, _ = _run(tmp_path, capsys, _write(tmp_path, "hello"), "hello", "duplicate-stopped-event")
    assert (code, result["status"]) == (0, "SUCCEEDED")
    _assert_own_task_and_logs(artifacts, "hello-demo", 7)


def test_stale_stopped_event(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Given attempt 1 fails to start (transiently) and its STOPPED event comes again while attempt 2 starts
    request = _write(tmp_path, "hello", retry={"maxAttempts": 3, "intervalSeconds": 1, "backoffRate": 1.0})
    code, result, artifacts, _ = _run(tmp_path, capsys, request, "hello", "stale-stopped-event")
    # Then attempt 2 is judged by its own task: it succeeds, and no ARN appears for two attempts
    assert (code, result["status"]) == (0, "SUCCEEDED"), result
    attempts = result["output"]["attempts"]
    assert [a["error"] for a in attempts] == ["ECS.TaskFailedToStart", None]
    assert attempts[0]["taskArn"] != attempts[1]["taskArn"]
    _assert_own_task_and_logs(artifacts, "hello-demo", 7)


def test_foreign_task_event(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Given someone else's task with this run's startedBy ends on another cluster while the run starts
    code, result, artifacts, _ = _run(tmp_path, capsys, _write(tmp_path, "hello"), "hello", "foreign-task-event")
    # Then the run is judged by its own task, on its own cluster, and its 7 lines are copied
    assert (code, result["status"]) == (0, "SUCCEEDED"), result
    assert ":cluster/default" in result["output"]["task"]["clusterArn"]
    _assert_own_task_and_logs(artifacts, "hello-demo", 7)


def test_drop_stopped_event(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Given the STOPPED event is lost, When the run goes on, Then the local reconciler settles it well within a minute
    started = time.monotonic()
    code, result, artifacts, _ = _run(
        tmp_path, capsys, _write(tmp_path, "hello", timeoutSeconds=60), "hello", "drop-stopped-event"
    )
    assert (code, result["status"]) == (0, "SUCCEEDED"), result
    assert time.monotonic() - started < 50
    _assert_own_task_and_logs(artifacts, "hello-demo", 7)


def test_callback_fails_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Given the first SendTask* fails, When the failing task exits non-zero
    request = _write(tmp_path, "failing", timeoutSeconds=30)
    started = time.monotonic()
    code, result, _, _ = _run(tmp_path, capsys, request, "failing", "callback-fails-once")
    # Then the callback is delivered again and the run ends with the task's verdict, promptly, not by its timeout
    assert (code, result["error"]) == (1, "ECS.ContainerExitedNonZero"), result
    assert time.monotonic() - started < 25


def test_runtask_slow(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Given RunTask answers 3 s after it launched the task (the hello task is done by then)
    code, result, artifacts, _ = _run(tmp_path, capsys, _write(tmp_path, "hello"), "hello", "runtask-slow=3")
    # Then the run still succeeds with its own task and every line copied
    assert (code, result["status"]) == (0, "SUCCEEDED"), result
    _assert_own_task_and_logs(artifacts, "hello-demo", 7)


def test_start_crash_after_runtask(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Given the start function dies right after RunTask answered
    code, result, artifacts, err = _run(
        tmp_path, capsys, _write(tmp_path, "hello"), "hello", "start-crash-after-runtask"
    )
    # Then the death is reported as Step Functions reports a Lambda timeout (Lambda.Unknown), which StartTaskAndWait
    # retries; the retried start finds the same task (clientToken) and the run succeeds with it, logs copied
    assert "(Lambda.Unknown; the state machine retries it)" in err
    assert (code, result["status"]) == (0, "SUCCEEDED"), result
    assert len(result["output"]["attempts"]) == 1
    _assert_own_task_and_logs(artifacts, "hello-demo", 7)


def _abort_when_running() -> None:
    # The CLI's local stack is moto in this process: any credentials reach it.
    local = {"region_name": "us-east-1", "aws_access_key_id": "local", "aws_secret_access_key": "local"}
    sfn = boto3.client("stepfunctions", **local)
    ecs = boto3.client("ecs", **local)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            machines = sfn.list_state_machines()["stateMachines"]
            running = ecs.list_tasks(cluster="default")["taskArns"] if machines else []
        except Exception:  # the local stack is still being created
            running = []
        if running:
            [execution] = sfn.list_executions(stateMachineArn=machines[0]["stateMachineArn"])["executions"]
            sfn.stop_execution(executionArn=execution["executionArn"], cause="operator")
            return
        time.sleep(0.1)


def test_drop_execution_status_event(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Given the execution is aborted while its task runs, and the Execution Status Change event is lost
    aborter = threading.Thread(target=_abort_when_running, daemon=True)
    aborter.start()
    _code, result, artifacts, _ = _run(
        tmp_path, capsys, _write(tmp_path, "timeout", timeoutSeconds=300), "slow", "drop-execution-status-event"
    )
    # Then the reconciler finds the aborted run, stops its task and copies its logs
    assert result["status"] == "ABORTED", result
    manifest = _manifest(artifacts, "timeout-demo")
    assert manifest["error"] == "Run.Aborted"
    assert manifest["task"]["stopCode"] == "UserInitiated"


def test_logs_throttled(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, result, artifacts, _ = _run(tmp_path, capsys, _write(tmp_path, "hello"), "hello", "logs-throttled")
    assert (code, result["status"]) == (0, "SUCCEEDED"), result
    _assert_own_task_and_logs(artifacts, "hello-demo", 7)


def test_s3_throttled(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, result, artifacts, _ = _run(tmp_path, capsys, _write(tmp_path, "hello"), "hello", "s3-throttled")
    assert (code, result["status"]) == (0, "SUCCEEDED"), result
    _assert_own_task_and_logs(artifacts, "hello-demo", 7)


@pytest.mark.parametrize(
    "fault",
    ["no-such-fault", "runtask-slow", "runtask-slow=", "runtask-slow=abc", "runtask-slow=0", "runtask-slow=601",
     "duplicate-stopped-event=2"],
)  # fmt: skip
def test_an_unknown_fault_or_bad_value_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str], fault: str) -> None:
    code = main(["local", "run", str(EVENTS / "requests" / "hello.json"), "--fault", fault])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("ecsrun: --fault"), err


def test_help_lists_the_whole_catalog(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["local", "run", "--help"])
    text = capsys.readouterr().out
    for name in CATALOG:
        assert name in text
    assert set(CATALOG) == {
        "duplicate-stopped-event", "stale-stopped-event", "foreign-task-event", "drop-stopped-event",
        "callback-fails-once", "runtask-slow", "start-crash-after-runtask", "drop-execution-status-event",
        "logs-throttled", "s3-throttled",
    }  # fmt: skip
