"""Unit tests for ecsrun.domain.outcome.compose: the execution's output on success, error and cause on failure."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ecsrun.adapters.dynamodb import new_record
from ecsrun.domain.keys import log_key, manifest_key
from ecsrun.domain.models.ecs import EcsTask, TaskStateChangeEvent
from ecsrun.domain.models.logs import ContainerLog
from ecsrun.domain.models.record import RunRecord, RunStatus
from ecsrun.domain.models.run import ContainerSpec, LogTarget, Run
from ecsrun.domain.models.verdict import Verdict
from ecsrun.domain.outcome import MAX_CAUSE, MAX_TAIL_LINE, compose
from ecsrun.domain.verdict import judge

EVENTS = Path(__file__).parents[2] / "events"
BUCKET = "ecsrun-logs-123456789012"
GROUP = "/ecs/ecsrun-demo"
CLUSTER = "arn:aws:ecs:us-east-1:123456789012:cluster/default"


def load_event(*parts: str) -> Any:
    return json.loads(EVENTS.joinpath(*parts).read_text())


def sample_task(name: str) -> EcsTask:
    return TaskStateChangeEvent.model_validate(load_event("ecs-events", f"{name}.json")).detail


def spec(name: str, essential: bool = True) -> ContainerSpec:
    return ContainerSpec(
        name=name,
        essential=essential,
        log=LogTarget(group=GROUP, region="us-east-1", stream_prefix="ecs"),
        log_driver="awslogs",
    )


def started_record(run_id: str, containers: list[ContainerSpec], **request: Any) -> RunRecord:
    """A record as it is once RunTask was called: no task seen yet."""
    run = Run(runId=run_id, timeoutSeconds=300, successExitCodes=[0], request={"taskDefinition": "td", **request})
    return new_record(
        runId=run_id,
        executionArn=f"arn:aws:states:us-east-1:123456789012:execution:ecsrun:{run_id}",
        startedBy=f"ecsrun/{run_id}",
        clientToken="0" * 64,
        run=run,
        containers=containers,
        ttl_days=90,
    )


def stopped_record(
    event: str, containers: list[ContainerSpec], success_codes: list[int] | None = None, **updates: Any
) -> RunRecord:
    """A record settled from a sample STOPPED event, judged as the handler judges it."""
    task = sample_task(event)
    record = started_record("demo-run", containers)
    verdict = judge(task, record.essential, success_codes or [0])
    return record.model_copy(
        update={
            "status": RunStatus.STOPPED,
            "taskArn": task.taskArn,
            "clusterArn": task.clusterArn,
            "task": task,
            "verdict": verdict,
            **updates,
        }
    )


def copied(record: RunRecord, name: str, events: int = 7, size: int = 321) -> ContainerLog:
    task_id = record.taskArn.rsplit("/", 1)[-1] if record.taskArn else "none"
    return ContainerLog(
        name=name,
        copied=True,
        logGroup=GROUP,
        logStream=f"ecs/{name}/{task_id}",
        region="us-east-1",
        key=log_key(record.runId, name),
        events=events,
        bytes=size,
        sha256="ab" * 32,
        firstTimestamp="2026-11-21T10:15:28.000Z",
        lastTimestamp="2026-11-21T10:15:29.000Z",
    )


def tail(name: str, count: int = 20) -> list[str]:
    return [f"2026-11-21T10:15:28.{i:03d}Z {name} line {i}" for i in range(count)]


def run_compose(record: RunRecord, entries: list[ContainerLog], tails: dict[str, list[str]], **kw: Any) -> Any:
    return compose(record, entries, tails, bucket=BUCKET, manifest=manifest_key(record.runId), **kw)


def cause_of(result: dict[str, Any]) -> dict[str, Any]:
    assert result["status"] == "FAILED"
    return json.loads(result["cause"])


# ---- success ----


def test_success_output_has_exactly_the_documented_shape() -> None:
    # Given a run whose task succeeded and whose app log was copied
    record = stopped_record("stopped-success", [spec("app")])
    entry = copied(record, "app")
    # When the outcome is composed
    result = run_compose(record, [entry], {"app": tail("app")})
    # Then it is SUCCEEDED with the task and logs summary
    task_id = "5c4b31a4c7e87d74f544d3299423de79"
    assert result == {
        "status": "SUCCEEDED",
        "output": {
            "runId": "demo-run",
            "status": "SUCCEEDED",
            "task": {
                "taskArn": f"arn:aws:ecs:us-east-1:123456789012:task/default/{task_id}",
                "clusterArn": CLUSTER,
                "taskDefinitionArn": "arn:aws:ecs:us-east-1:123456789012:task-definition/ecsrun-hello:1",
                "launchType": "FARGATE",
                "stopCode": "EssentialContainerExited",
                "stoppedReason": "Essential container in task exited",
                "startedAt": "2026-11-21T10:15:27.918Z",
                "stoppedAt": "2026-11-21T10:15:42.377Z",
                "containers": [{"name": "app", "essential": True, "exitCode": 0, "reason": None}],
            },
            "logs": {
                "bucket": BUCKET,
                "manifestKey": "runs/demo-run/manifest.json",
                "containers": [
                    {
                        "name": "app",
                        "logGroup": GROUP,
                        "logStream": f"ecs/app/{task_id}",
                        "key": "runs/demo-run/logs/app.log.gz",
                        "events": 7,
                        "bytes": 321,
                    }
                ],
            },
            "attempts": [{"attempt": 1, "taskArn": record.taskArn, "error": None}],
        },
    }


def test_success_output_is_json_serialisable() -> None:
    record = stopped_record("stopped-success", [spec("app")])
    result = run_compose(record, [copied(record, "app")], {})
    assert json.loads(json.dumps(result)) == result


def test_task_summary_marks_sidecar_as_not_essential() -> None:
    # Given the sidecar task whose non-essential log-router exited 137
    record = stopped_record("stopped-sidecar-nonzero", [spec("app"), spec("log-router", essential=False)])
    # When composed / Then it succeeded and the summary shows each container's flag and exit code
    result = run_compose(record, [], {})
    assert result["status"] == "SUCCEEDED"
    assert result["output"]["task"]["containers"] == [
        {"name": "app", "essential": True, "exitCode": 0, "reason": None},
        {"name": "log-router", "essential": False, "exitCode": 137, "reason": None},
    ]


def test_logs_summary_includes_a_note_only_when_there_is_one() -> None:
    # Given one copied log and one container without logs
    record = stopped_record("stopped-success", [spec("app"), spec("fluent", essential=False)])
    missing = ContainerLog(name="fluent", copied=False, note="log driver 'awsfirelens' is not awslogs")
    result = run_compose(record, [copied(record, "app"), missing], {})
    # Then only the uncopied entry carries a note
    app, fluent = result["output"]["logs"]["containers"]
    assert "note" not in app
    assert fluent == {
        "name": "fluent",
        "logGroup": None,
        "logStream": None,
        "key": None,
        "events": 0,
        "bytes": 0,
        "note": "log driver 'awsfirelens' is not awslogs",
    }


# ---- failure from the verdict ----


def test_failure_has_status_error_and_cause_only() -> None:
    # Given a run whose app exited 3
    record = stopped_record("stopped-nonzero", [spec("app")])
    # When composed
    result = run_compose(record, [copied(record, "app")], {"app": tail("app")})
    # Then it is FAILED with the verdict's error name and a JSON cause
    assert set(result) == {"status", "error", "cause"}
    assert result["status"] == "FAILED"
    assert result["error"] == "ECS.ContainerExitedNonZero"
    assert isinstance(result["cause"], str)


def test_failure_cause_carries_the_success_fields_plus_failure_details() -> None:
    # Given a run whose app exited 3
    record = stopped_record("stopped-nonzero", [spec("app")])
    entries = [copied(record, "app")]
    lines = tail("app")
    # When composed
    cause = cause_of(run_compose(record, entries, {"app": lines}))
    # Then the cause has the same run, task and logs fields as a success output, and says what failed
    success_shape = run_compose(stopped_record("stopped-success", [spec("app")]), entries, {})["output"]
    assert set(cause) == set(success_shape) | {"error", "message", "failingContainer", "retryable", "lastLogLines"}
    assert cause["runId"] == "demo-run"
    assert cause["status"] == "FAILED"
    assert cause["error"] == "ECS.ContainerExitedNonZero"
    assert cause["failingContainer"] == "app"
    assert "code 3" in cause["message"]
    assert cause["task"]["containers"] == [{"name": "app", "essential": True, "exitCode": 3, "reason": None}]
    assert cause["logs"]["containers"][0]["key"] == "runs/demo-run/logs/app.log.gz"
    assert cause["lastLogLines"] == {"container": "app", "lines": lines}


def test_failure_last_log_lines_are_at_most_twenty_with_default_tail() -> None:
    record = stopped_record("stopped-nonzero", [spec("app")])
    cause = cause_of(run_compose(record, [copied(record, "app")], {"app": tail("app", 20)}))
    assert 0 < len(cause["lastLogLines"]["lines"]) <= 20


def test_failed_to_start_has_its_error_and_no_failing_container() -> None:
    record = stopped_record("stopped-failed-to-start", [spec("app")])
    result = run_compose(record, [], {})
    cause = cause_of(result)
    assert result["error"] == "ECS.TaskFailedToStart"
    assert cause["failingContainer"] is None
    assert "CannotPullContainerError" in cause["message"]
    assert cause["lastLogLines"] == {"container": None, "lines": []}


def test_tail_comes_from_the_failing_container() -> None:
    # Given an essential sidecar that failed, and tails for both containers
    record = stopped_record("stopped-sidecar-nonzero", [spec("app"), spec("log-router")])
    tails = {"app": tail("app"), "log-router": tail("log-router")}
    # When composed
    cause = cause_of(run_compose(record, [], tails))
    # Then the tail is the failing container's
    assert cause["failingContainer"] == "log-router"
    assert cause["lastLogLines"] == {"container": "log-router", "lines": tails["log-router"]}


def test_without_failing_container_tail_comes_from_first_essential_container_with_logs() -> None:
    # Given a spot-interrupted task (no failing container), a non-essential sidecar first,
    # an essential container with no logs, then an essential container with logs
    containers = [spec("log-router", essential=False), spec("app"), spec("worker")]
    record = stopped_record("stopped-spot", containers)
    tails = {"log-router": tail("log-router"), "worker": tail("worker")}
    # When composed
    cause = cause_of(run_compose(record, [], tails))
    # Then the tail is from the first essential container that has logs
    assert cause["error"] == "ECS.TaskStopped"
    assert cause["failingContainer"] is None
    assert cause["lastLogLines"]["container"] == "worker"
    assert cause["lastLogLines"]["lines"] == tails["worker"]


def test_failing_container_without_logs_falls_back_to_an_essential_container_with_logs() -> None:
    record = stopped_record("stopped-nonzero", [spec("app"), spec("worker")])
    cause = cause_of(run_compose(record, [], {"worker": tail("worker")}))
    assert cause["failingContainer"] == "app"
    assert cause["lastLogLines"]["container"] == "worker"


# ---- timeouts ----


def test_timed_out_run_is_run_timed_out_whatever_the_verdict() -> None:
    # Given a run that timed out and whose task was then stopped (verdict ECS.TaskStopped)
    reason = "ecsrun: run timeout-demo exceeded timeoutSeconds=2"
    record = stopped_record("stopped-user-initiated", [spec("app")], timedOut=True, stopReason=reason)
    assert record.verdict is not None
    assert record.verdict.error is not None
    assert record.verdict.error.value == "ECS.TaskStopped"
    # When composed
    result = run_compose(record, [], {"app": tail("app")})
    # Then the error is Run.TimedOut with the stop reason
    assert result["error"] == "Run.TimedOut"
    assert cause_of(result)["message"] == reason


def test_timed_out_run_fails_even_if_the_task_succeeded() -> None:
    # Given a run marked timed out whose task nonetheless exited 0
    record = stopped_record("stopped-success", [spec("app")], timedOut=True)
    # When composed / Then it is still Run.TimedOut, and the message cites the timeout
    result = run_compose(record, [], {})
    assert result["error"] == "Run.TimedOut"
    assert "timeoutSeconds=300" in cause_of(result)["message"]


def test_timed_out_run_that_never_started_is_run_timed_out() -> None:
    record = started_record("slow", [spec("app")]).model_copy(update={"timedOut": True})
    assert run_compose(record, [], {})["error"] == "Run.TimedOut"


# ---- errors caught by the state machine ----


def test_caught_known_error_without_verdict_keeps_its_name() -> None:
    # Given a run whose RunTask call failed: no task, no verdict
    record = started_record("no-capacity", [spec("app")], launchType="FARGATE").model_copy(
        update={"status": RunStatus.START_FAILED}
    )
    caught = {"Error": "ECS.RunTaskFailed", "Cause": "RESOURCE:MEMORY"}
    # When composed with what the Catch caught
    result = run_compose(record, [], {}, caught=caught)
    # Then the error is that name, and the cause quotes ECS's reason
    assert result["error"] == "ECS.RunTaskFailed"
    assert "RESOURCE:MEMORY" in cause_of(result)["message"]


def test_caught_run_has_task_summary_from_the_task_definition() -> None:
    record = started_record("no-capacity", [spec("app"), spec("side", essential=False)], launchType="FARGATE")
    task = cause_of(run_compose(record, [], {}, caught={"Error": "ECS.RunTaskFailed"}))["task"]
    assert task["taskArn"] is None
    assert task["launchType"] == "FARGATE"
    assert task["containers"] == [
        {"name": "app", "essential": True, "exitCode": None, "reason": None},
        {"name": "side", "essential": False, "exitCode": None, "reason": None},
    ]


def test_caught_unknown_error_is_run_internal_error() -> None:
    record = started_record("crash", [spec("app")])
    result = run_compose(record, [], {}, caught={"Error": "Lambda.Unknown", "Cause": "boom"})
    assert result["error"] == "Run.InternalError"
    assert "Lambda.Unknown" in cause_of(result)["message"]


def test_no_verdict_and_nothing_caught_is_run_internal_error() -> None:
    record = started_record("odd", [spec("app")])
    assert run_compose(record, [], {})["error"] == "Run.InternalError"


def test_failed_verdict_wins_over_a_caught_error() -> None:
    record = stopped_record("stopped-nonzero", [spec("app")])
    result = run_compose(record, [], {}, caught={"Error": "Lambda.Unknown"})
    assert result["error"] == "ECS.ContainerExitedNonZero"


def test_caught_cause_is_shortened_in_the_message() -> None:
    record = started_record("crash", [spec("app")])
    result = run_compose(record, [], {}, caught={"Error": "ECS.RunTaskFailed", "Cause": "x" * 50_000})
    assert len(cause_of(result)["message"]) < 1100


# ---- size limits ----


def huge_failure() -> tuple[RunRecord, dict[str, list[str]]]:
    record = stopped_record("stopped-nonzero", [spec("app")])
    return record, {"app": [f"{i:02d}" + "x" * 4998 for i in range(20)]}


def test_huge_tail_keeps_cause_within_step_functions_limit() -> None:
    # Given twenty log lines of 5000 characters each
    record, tails = huge_failure()
    # When composed
    result = run_compose(record, [copied(record, "app")], tails)
    # Then the cause fits in 32768 characters and is still valid JSON
    assert len(result["cause"]) <= MAX_CAUSE == 32768
    assert cause_of(result)["error"] == "ECS.ContainerExitedNonZero"


def test_huge_tail_lines_are_cut_and_oldest_dropped_first() -> None:
    record, tails = huge_failure()
    lines = cause_of(run_compose(record, [copied(record, "app")], tails))["lastLogLines"]["lines"]
    # Then each kept line is cut to MAX_TAIL_LINE, some lines are kept, and they are the newest ones
    assert lines
    assert all(len(line) == MAX_TAIL_LINE for line in lines)
    assert lines == [line[:MAX_TAIL_LINE] for line in tails["app"][-len(lines) :]]
    assert len(lines) < 20


def test_cause_with_many_non_ascii_lines_fits_the_limit() -> None:
    # Given long lines of multi-byte text (json.dumps escapes each to six characters)
    record = stopped_record("stopped-nonzero", [spec("app")])
    tails = {"app": ["日本語" * 700 for _ in range(20)]}
    # Then the cause still fits
    assert len(run_compose(record, [], tails)["cause"]) <= MAX_CAUSE


def test_verdict_model_round_trips_through_the_record() -> None:
    # Guard: a record rebuilt from JSON (as the runs table stores it) composes the same outcome
    record = stopped_record("stopped-nonzero", [spec("app")])
    rebuilt = RunRecord.model_validate_json(record.model_dump_json())
    assert isinstance(rebuilt.verdict, Verdict)
    tails = {"app": tail("app")}
    assert run_compose(rebuilt, [], tails) == run_compose(record, [], tails)


def test_failure_cause_says_whether_a_retry_may_help() -> None:
    # Given a Spot interruption (transient) and a non-zero exit (the program's own failure)
    spot = stopped_record("stopped-spot", [spec("app")])
    nonzero = stopped_record("stopped-nonzero", [spec("app")])
    # When each outcome is composed, Then only the transient one is marked retryable
    assert json.loads(run_compose(spot, [], {})["cause"])["retryable"] is True
    assert json.loads(run_compose(nonzero, [], {})["cause"])["retryable"] is False


def test_a_caught_lambda_error_keeps_its_type_and_message_but_not_its_stack_trace() -> None:
    # Given a function that crashed: Lambda's error payload, with the stack trace the runtime adds
    payload = {
        "errorMessage": "start of run crash interrupted: TypeError('unsupported operand')",
        "errorType": "StartInterrupted",
        "requestId": "8b0bbb3d-895c-4cca-96d0-659f4d74bcbb",
        "stackTrace": [
            "Traceback (most recent call last):\n",
            '  File "/work/checkout/functions/ecsrun/steps/start.py", line 59, in start_run\n',
        ],
    }
    record = started_record("crash", [spec("app")])
    # When the run's outcome is composed from what the Catch caught
    result = run_compose(record, [], {}, caught={"Error": "StartInterrupted", "Cause": json.dumps(payload)})
    # Then the cause names the error and its message, and quotes no traceback and no file path
    message = cause_of(result)["message"]
    assert message == (
        "the run ended with StartInterrupted: StartInterrupted: start of run crash interrupted: "
        "TypeError('unsupported operand')"
    )
    assert "Traceback" not in result["cause"] and "/work/checkout" not in result["cause"]


def test_a_traceback_quoted_in_a_plain_cause_is_cut_off() -> None:
    record = started_record("crash", [spec("app")])
    cause = 'boom\nTraceback (most recent call last):\n  File "/srv/x.py", line 1, in f\nValueError'
    result = run_compose(record, [], {}, caught={"Error": "Lambda.Unknown", "Cause": cause})
    assert cause_of(result)["message"] == "the run ended with Lambda.Unknown: boom"
