"""The operator in real Airflow DAG runs (dag.test()) against `ecsrun local serve`: the run's end, the task log, the
XCom, and how many runs each try started, read back from the local stack."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from airflow_runs import clear, continue_run, dag_named, heartbeat_lost, return_value, run_dag, task_instance
from conftest import HOME, aws_client

DAY = datetime(2026, 11, 21, tzinfo=UTC)
HEADLINE = "ECS.ContainerExitedNonZero: essential container 'app' exited with code 3"
RUN_ID = "manual__2026-11-21T00:00:00+00:00"  # dag.test()'s run id for that logical date, run after it


def executions(stack: dict[str, Any], dag_id: str) -> list[dict[str, Any]]:
    """The executions the DAG's task started (their names begin with the DAG's slug), oldest first, described."""
    sfn = aws_client("stepfunctions")
    listed = sfn.list_executions(stateMachineArn=stack["StateMachineArn"], maxResults=1000)["executions"]
    prefix = dag_id.replace("_", "-")[:20]
    mine = sorted((e for e in listed if e["name"].startswith(prefix)), key=lambda e: e["startDate"])
    return [sfn.describe_execution(executionArn=e["executionArn"]) for e in mine]


def lines_of(text: str) -> list[str]:
    return text.splitlines()


def index_of(lines: list[str], needle: str) -> int:
    return next(i for i, line in enumerate(lines) if needle in line)


def test_a_templated_request_runs_with_its_log_lines_in_the_task_log_and_its_output_as_xcom(
    local_stack: dict[str, Any], capfd: pytest.CaptureFixture[str]
) -> None:
    # Given a deferrable EcsRunOperator whose request's override carries {{ ds }} in its command and environment
    dag = dag_named("ecsrun_success")
    # When the DAG runs for 2026-11-21
    run = run_dag(dag, DAY)
    log = lines_of(capfd.readouterr().out)
    # Then it succeeded, with one run, started by try 1, whose input carries the rendered day
    assert run.state == "success"
    [execution] = executions(local_stack, "ecsrun_success")
    assert execution["status"] == "SUCCEEDED" and execution["name"].endswith("-t1")
    [override] = json.loads(execution["input"])["overrides"]["containerOverrides"]
    assert override["environment"] == [{"name": "DAY", "value": "2026-11-21"}]
    assert 'echo "day from the command: 2026-11-21"' in override["command"][2]
    # And the container's lines reached the task log while the run ran (the trigger's tail), before its end
    tailed = index_of(log, "app | day from the command: 2026-11-21")
    assert index_of(log, "app | day from the environment: 2026-11-21") > tailed
    assert index_of(log, "app | tick 6") > tailed
    summary = index_of(log, f"ecsrun run {execution['name']}: SUCCEEDED")
    assert tailed < summary
    # And once it ended, the copied log from S3, labelled by container, came after
    header = index_of(log, "==> app <== s3://ecsrun-local-logs/runs/")
    assert header > summary and "day from the command: 2026-11-21" in log[header + 1]
    # And the XCom is the run's output
    output = json.loads(execution["output"])
    assert return_value("ecsrun_success", RUN_ID) == output
    assert output["runId"] == execution["name"] and output["task"]["containers"][0]["exitCode"] == 0


def test_a_failed_run_fails_the_task_with_the_error_name_first_and_without_airflow_retries(
    local_stack: dict[str, Any], capfd: pytest.CaptureFixture[str]
) -> None:
    # Given a task with retries=2 whose container exits 3 (ecsrun: retryable false)
    dag = dag_named("ecsrun_failure")
    # When the DAG runs
    run = run_dag(dag, DAY)
    log = capfd.readouterr().out
    # Then the task failed on its first try: no retry, one run
    assert run.state == "failed"
    ti = task_instance("ecsrun_failure")
    assert (ti.state, ti.try_number) == ("failed", 1)
    [execution] = executions(local_stack, "ecsrun_failure")
    assert execution["error"] == "ECS.ContainerExitedNonZero"
    # And the failure names ecsrun's error first, then the failing container's last lines
    failure = f"AirflowFailException: {HEADLINE}\necsrun run {execution['name']}\nlast log lines of app:\n"
    assert failure in log
    assert "no rows for the day" in log[log.index(failure) :]


def test_a_retry_after_a_failed_run_starts_a_second_run(
    local_stack: dict[str, Any], capfd: pytest.CaptureFixture[str]
) -> None:
    # Given a task with retries=1 whose first run cannot start (its environment file is not there yet: transient,
    # retryable) and whose on_retry_callback puts the file in place
    aws_client("s3").create_bucket(Bucket="ecsrun-airflow-inputs")
    dag = dag_named("ecsrun_late_input")
    # When the DAG runs
    run = run_dag(dag, DAY)
    log = capfd.readouterr().out
    # Then try 1's run failed to start, and try 2 started a second run, with its own runId, which succeeded
    assert run.state == "success"
    assert task_instance("ecsrun_late_input").try_number == 2
    first, second = executions(local_stack, "ecsrun_late_input")
    assert (first["status"], first["error"]) == ("FAILED", "ECS.TaskFailedToStart")
    assert json.loads(first["cause"])["retryable"] is True
    assert first["name"].endswith("-t1") and second["name"].endswith("-t2")
    assert json.loads(second["input"])["runId"] == second["name"] != first["name"]
    assert second["status"] == "SUCCEEDED"
    # And the retry's log says why try 1 failed, and shows try 2's container line
    assert f"ecsrun run {first['name']}: ECS.TaskFailedToStart: task failed to start" in log
    assert "app | input day: 2026-11-21" in log


def test_a_clear_after_success_starts_a_new_run(local_stack: dict[str, Any], capfd: pytest.CaptureFixture[str]) -> None:
    # Given a blocking (deferrable=False) task whose request is a JSON file with {{ ds }}, run once, successfully
    dag = dag_named("ecsrun_blocking")
    assert run_dag(dag, DAY).state == "success"
    first_log = capfd.readouterr().out
    assert "app | run of 2026-11-21" in first_log and "app | tick 6" in first_log
    # When the task is cleared and the DAG run goes on, as the scheduler runs it
    clear("ecsrun_blocking")
    run = continue_run(dag, DAY)
    log = capfd.readouterr().out
    # Then try 2 started a new run, and both succeeded
    assert run.state == "success"
    assert task_instance("ecsrun_blocking").try_number == 2
    first, second = executions(local_stack, "ecsrun_blocking")
    assert first["name"].endswith("-t1") and second["name"].endswith("-t2")
    assert first["status"] == second["status"] == "SUCCEEDED"
    assert f"ecsrun run {first['name']} (an earlier try's) ended SUCCEEDED: starting a new run" in log
    assert "app | run of 2026-11-21" in log


def _worker(log: Path, *args: str) -> subprocess.Popen[bytes]:
    """A worker of its own: a process running dag.test() (or continuing the DAG run), its output in `log`."""
    with log.open("w") as out:
        return subprocess.Popen(
            [sys.executable, str(Path(__file__).parent / "airflow_runs.py"), *args],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=os.environ.copy(),
            start_new_session=True,
        )


def test_a_try_after_the_worker_was_killed_mid_run_re_attaches_to_the_run(local_stack: dict[str, Any]) -> None:
    # Given try 1 of a run that goes on until released, on a worker that is killed (SIGKILL) while it waits
    release = Path(os.environ["ECSRUN_AIRFLOW_RELEASE"])
    first_log, second_log = HOME / "worker-1.log", HOME / "worker-2.log"
    first = _worker(first_log, "ecsrun_long_run", DAY.isoformat())
    try:
        _wait_for(lambda: "app | tick 3" in first_log.read_text(), what="try 1 to tail the run")
    finally:
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
    [running] = executions(local_stack, "ecsrun_long_run")
    assert running["status"] == "RUNNING" and running["name"].endswith("-t1")
    # When Airflow handles the task without a heartbeat (up for retry), and try 2 runs on another worker
    assert heartbeat_lost("ecsrun_long_run") == "up_for_retry"
    second = _worker(second_log, "ecsrun_long_run", DAY.isoformat(), "continue")
    try:
        reattached = f"ecsrun run {running['name']}: re-attaching to a run an earlier try started, still running"
        _wait_for(lambda: reattached in second_log.read_text(), what="try 2 to find try 1's run")
        release.touch()  # the job finishes now
        assert second.wait(timeout=180) == 0
    finally:
        if second.poll() is None:
            os.killpg(second.pid, signal.SIGKILL)
    log = second_log.read_text()
    # Then try 2 re-attached to try 1's run instead of starting another, and ended with it
    ti = task_instance("ecsrun_long_run")
    assert (ti.state, ti.try_number) == ("success", 2), log[-8000:]
    [execution] = executions(local_stack, "ecsrun_long_run")
    assert execution["executionArn"] == running["executionArn"] and execution["status"] == "SUCCEEDED"
    assert "app | released" in log
    # And one task ran for it
    assert len(json.loads(execution["output"])["attempts"]) == 1


def _wait_for(check: Any, *, what: str, seconds: float = 180) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")
