"""Fault injection on the local engine: each fault, then the invariants that must hold after it.

Invariants (docs: "Guarantees, and their limits"): the run ends once, in a terminal state with one outcome
recorded in the table; the task judged is the one RunTask returned for the attempt's clientToken, on the run's
cluster; at most one task per attempt; no task of the run still running; no callback pending and no execution
waiting; logs copied whenever a task ran; no environment override value in any S3 object the run wrote.
"""

from __future__ import annotations

import copy
import json
import os
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.config import Config
from ecsrun.adapters import clients
from ecsrun.local.engine import LocalResult, run_local
from ecsrun.local.runtime import BUCKET, BUS, TABLE, LocalAws
from moto.core.exceptions import JsonRESTError

from tests.conftest import EVENTS, listen_for_completions

TERMINAL = {"SUCCEEDED", "FAILED", "ABORTED"}


def _request(name: str = "hello", **changes: Any) -> dict[str, Any]:
    return json.loads((EVENTS / "requests" / f"{name}.json").read_text()) | changes


def _definition(name: str = "hello") -> dict[str, Any]:
    return json.loads((EVENTS / "task-definitions" / f"{name}.json").read_text())


@pytest.fixture
def aws() -> Iterator[LocalAws]:
    with LocalAws() as local:
        yield local


def _record(aws: LocalAws, run_id: str) -> dict[str, Any]:
    return aws.client("dynamodb").get_item(TableName=TABLE, Key={"runId": {"S": run_id}}, ConsistentRead=True)["Item"]


def _tasks(aws: LocalAws, run_id: str) -> list[dict[str, Any]]:
    """Every task (running or stopped) whose startedBy names the run. ListTasks takes startedBy only as its sole
    filter, so list the cluster's tasks and read their startedBy."""
    ecs = aws.client("ecs")
    arns: set[str] = set()
    for status in ("RUNNING", "STOPPED"):
        arns |= set(ecs.list_tasks(cluster="default", desiredStatus=status)["taskArns"])
    tasks = ecs.describe_tasks(cluster="default", tasks=sorted(arns))["tasks"] if arns else []
    return [t for t in tasks if t.get("startedBy") == f"ecsrun/{run_id}"]


def assert_invariants(
    aws: LocalAws, result: LocalResult, run_id: str, attempts: int = 1, secrets: tuple[str, ...] = ()
) -> dict[str, Any]:
    record = _record(aws, run_id)
    # the run ends once, in a terminal state recorded in the table, with its outcome; nothing waits any more
    assert record["status"]["S"] in TERMINAL, record["status"]
    assert "outcome" in record
    assert "waiting" not in record
    assert record.get("callback", {}).get("S") != "PENDING"
    assert result.status != "RUNNING"
    # at most one task per attempt, and each attempt's task is the one its clientToken names
    tasks = _tasks(aws, run_id)
    assert len(tasks) <= attempts
    earlier = [a.get("taskArn") for a in json.loads(record["attempts"]["S"])] if "attempts" in record else []
    assert {t["taskArn"] for t in tasks} <= {*earlier, record.get("taskArn", {}).get("S")}
    # the task judged is the run's own, on its cluster
    if "task" in record:
        judged = json.loads(record["task"]["S"])
        assert judged["taskArn"] == record["taskArn"]["S"]
        assert judged.get("clusterArn") in (None, record["clusterArn"]["S"])
    # no task outlives its run
    assert all(t["lastStatus"] == "STOPPED" for t in tasks), [(t["taskArn"], t["lastStatus"]) for t in tasks]
    assert all(t.done.is_set() for t in aws.agent._tasks.values())
    # logs copied whenever the task ran
    if "task" in record and json.loads(record["task"]["S"]).get("startedAt"):
        manifest = json.loads(aws.objects(f"runs/{run_id}/manifest.json")[f"runs/{run_id}/manifest.json"])
        for entry in manifest["logs"]["containers"]:
            assert entry["copied"] or entry["note"], entry
    # no environment value in S3
    for key, body in aws.objects(f"runs/{run_id}/").items():
        for secret in secrets:
            assert secret.encode() not in body, key
    return record


def test_duplicate_events_settle_once(aws: LocalAws) -> None:
    # Given EventBridge delivers every event three times
    aws.event_faults = lambda event: [event, copy.deepcopy(event), copy.deepcopy(event)]
    result = run_local(_request(), [_definition()], aws=aws)
    # Then the run succeeds once, settled by the first delivery
    assert result.status == "SUCCEEDED"
    record = assert_invariants(aws, result, "hello-demo")
    assert record["settledBy"]["S"] == "event"


def test_an_older_event_after_a_newer_one_is_ignored(aws: LocalAws) -> None:
    # Given each event is followed by a stale copy of itself (an older version, delivered late)
    def stale_after(event: dict[str, Any]) -> list[dict[str, Any]]:
        if event.get("source") != "aws.ecs":
            return [event]
        older = copy.deepcopy(event)
        older["detail"]["version"] -= 1
        return [event, older]

    aws.event_faults = stale_after
    result = run_local(_request(), [_definition()], aws=aws)
    assert result.status == "SUCCEEDED"
    record = assert_invariants(aws, result, "hello-demo")
    stopped = [e for e in aws.delivered_events if e["detail"]["lastStatus"] == "STOPPED"]
    assert int(record["taskVersion"]["N"]) == stopped[0]["detail"]["version"]


def test_a_dropped_stopped_event_is_settled_by_the_reconciler(aws: LocalAws) -> None:
    # Given the task's STOPPED event is lost
    aws.event_faults = lambda event: [] if event.get("source") == "aws.ecs" else [event]
    os.environ["RECONCILE_GRACE_SECONDS"] = "0"
    outcome: dict[str, LocalResult] = {}
    runner = threading.Thread(target=lambda: outcome.update(r=run_local(_request(), [_definition()], aws=aws)))
    runner.start()
    # When the task has stopped and the scheduled reconciler runs
    _wait_for(lambda: _stopped_locally(aws))
    counts = aws.invoke_function("ReconcileFunction", {})
    runner.join(timeout=60)
    # Then it settles the run through the same path, and counts it as a missed event
    assert counts["settled"] == 1
    assert outcome["r"].status == "SUCCEEDED"
    record = assert_invariants(aws, outcome["r"], "hello-demo")
    assert record["settledBy"]["S"] == "reconciler"


def test_a_start_that_crashes_after_run_task_never_starts_a_second_task(
    aws: LocalAws, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the start function dies once between RunTask and recording the task
    import ecsrun.steps.start as start_step

    original = start_step.record_attempt_task
    crashes = iter([True])

    def crash_once(*args: Any, **kwargs: Any) -> Any:
        if next(crashes, False):
            raise ConnectionError("the function died here")
        return original(*args, **kwargs)

    monkeypatch.setattr(start_step, "record_attempt_task", crash_once)
    result = run_local(_request(), [_definition()], aws=aws)
    # Then the retried start calls RunTask with the same clientToken, which names the same task: one task
    assert result.status == "SUCCEEDED"
    assert_invariants(aws, result, "hello-demo")
    assert len(_tasks(aws, "hello-demo")) == 1


def test_a_start_interrupted_beyond_its_retries_stops_its_task_and_copies_its_logs(
    aws: LocalAws, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the start function dies after every RunTask (issue 12, case 3: the retries run out)
    import ecsrun.steps.start as start_step

    def crash(*args: Any, **kwargs: Any) -> Any:
        raise ConnectionError("the function died here")

    monkeypatch.setattr(start_step, "record_attempt_task", crash)
    # When a long task runs
    result = run_local(_request("timeout", timeoutSeconds=300), [_definition("slow")], aws=aws)
    # Then the stop state names the task by the attempt's clientToken, stops it and waits for it, so its logs are
    # copied, and the run says its start was interrupted
    assert result.error == "Run.InternalError", result.cause
    assert "StopInterruptedStart" in [s.name for s in result.states]
    record = assert_invariants(aws, result, "timeout-demo")
    [task] = _tasks(aws, "timeout-demo")
    assert record["taskArn"]["S"] == task["taskArn"]
    cause = json.loads(result.cause or "{}")
    assert "interrupted beyond its retries" in cause["message"]
    assert cause["logs"]["containers"][0]["events"] == 1  # "starting", copied: the task ran


def test_an_interrupted_start_whose_task_ended_on_its_own_keeps_the_tasks_verdict(
    aws: LocalAws, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ecsrun.steps.start as start_step

    def crash(*args: Any, **kwargs: Any) -> Any:
        raise ConnectionError("the function died here")

    monkeypatch.setattr(start_step, "record_attempt_task", crash)
    result = run_local(_request(), [_definition()], aws=aws)
    # The quick task exited 0 before the stop state named it: its own verdict stands
    assert result.status == "SUCCEEDED", result.cause
    assert_invariants(aws, result, "hello-demo")
    assert result.output["logs"]["containers"][0]["events"] == 7


def test_a_missed_abort_event_still_stops_the_task_and_keeps_its_logs(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given the reconciler on a short schedule, and Step Functions' Execution Status Change event lost
    with LocalAws(reconcile_every=0.5, reconcile_grace=0) as aws:
        monkeypatch.setattr(aws, "execution_ended", lambda execution: None)
        outcome: dict[str, LocalResult] = {}
        request = _request("timeout", timeoutSeconds=300)
        runner = threading.Thread(target=lambda: outcome.update(r=run_local(request, [_definition("slow")], aws=aws)))
        runner.start()
        # When the execution is stopped while the task runs
        _wait_for(lambda: _running_locally(aws))
        execution = aws.client("stepfunctions").list_executions(stateMachineArn=aws.state_machine_arn)["executions"][0]
        aws.client("stepfunctions").stop_execution(executionArn=execution["executionArn"], cause="operator")
        runner.join(timeout=90)
        # Then the reconciler found the execution ended, stopped the task, and its logs were copied
        _wait_for(lambda: "outcome" in _record(aws, "timeout-demo"))
        record = assert_invariants(aws, outcome["r"], "timeout-demo")
        assert record["status"]["S"] == "ABORTED"
        manifest = json.loads(aws.objects("runs/timeout-demo/manifest.json")["runs/timeout-demo/manifest.json"])
        assert manifest["error"] == "Run.Aborted"
        assert manifest["logs"]["containers"][0]["events"] == 1


def test_a_dropped_stopped_event_ends_the_run_by_the_scheduled_reconciler() -> None:
    # Given the local reconciler on a short schedule, and every STOPPED event lost
    with LocalAws(reconcile_every=0.5, reconcile_grace=0) as aws:
        aws.event_faults = lambda event: [] if event.get("source") == "aws.ecs" else [event]
        # When a task exits non-zero, Then the run ends with the verdict the task earned, not by timing out
        definition = _definition() | {"family": "exits-3"}
        definition["containerDefinitions"] = [
            dict(definition["containerDefinitions"][0], command=["python3", "-c", "raise SystemExit(3)"])
        ]
        result = run_local(_request(taskDefinition="exits-3", timeoutSeconds=120), [definition], aws=aws)
        assert result.error == "ECS.ContainerExitedNonZero", result.cause
        record = assert_invariants(aws, result, "hello-demo")
        assert record["settledBy"]["S"] == "reconciler"


def test_a_callback_that_fails_once_is_delivered_again(aws: LocalAws, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given Step Functions refuses the first callback (issue 12, case 2)
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    original = StepFunctionsParserBackend.send_task_success
    faults = iter([JsonRESTError("ServiceUnavailable", "Service is unavailable")])

    def flaky(*args: Any, **kwargs: Any) -> Any:
        fault = next(faults, None)
        if fault is not None:
            raise fault
        return original(*args, **kwargs)

    monkeypatch.setattr(StepFunctionsParserBackend, "send_task_success", flaky)
    # When a one-second task succeeds, Then the run succeeds (the event's retry delivered it), not by timing out
    result = run_local(_request(timeoutSeconds=60), [_definition()], aws=aws)
    assert result.status == "SUCCEEDED", result.cause
    record = assert_invariants(aws, result, "hello-demo")
    assert record["callback"]["S"] == "DELIVERED"


def _fail_run_task(monkeypatch: pytest.MonkeyPatch, error: Exception, times: int = 1) -> None:
    from moto.ecs.models import EC2ContainerServiceBackend

    # The local runtime wraps RunTask when it starts; wrap that, so the fault is ECS's answer.
    original = EC2ContainerServiceBackend.run_task
    failures = iter([error] * times)

    def refuse_once(*args: Any, **kwargs: Any) -> Any:
        fault = next(failures, None)
        if fault is not None:
            raise fault
        return original(*args, **kwargs)

    monkeypatch.setattr(EC2ContainerServiceBackend, "run_task", refuse_once)


def test_run_task_throttling_makes_the_run_wait_not_fail(aws: LocalAws, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given RunTask throttles once and ecsrun's ECS client gives up at once (its own retries are the SDK's)
    monkeypatch.setattr(clients, "_ECS_CONFIG", Config(retries={"mode": "standard", "total_max_attempts": 1}))
    _fail_run_task(monkeypatch, JsonRESTError("ThrottlingException", "Rate exceeded"))
    # When the run runs
    result = run_local(
        _request(retry={"maxAttempts": 3, "intervalSeconds": 1, "backoffRate": 1.0}), [_definition()], aws=aws
    )
    # Then the start failed Throttled, the state machine waited and started it again with the same clientToken:
    # the run's one attempt succeeded, and no attempt was spent on the throttling
    assert result.status == "SUCCEEDED", result.cause
    record = assert_invariants(aws, result, "hello-demo", attempts=1)
    assert int(record["attempt"]["N"]) == 1
    assert [a["error"] for a in result.output["attempts"]] == [None]


def test_no_capacity_fails_with_its_name_once_retries_run_out(aws: LocalAws, monkeypatch: pytest.MonkeyPatch) -> None:
    _fail_run_task(monkeypatch, JsonRESTError("ClientException", "Capacity is unavailable at this time."))
    result = run_local(_request(retry={"maxAttempts": 1}), [_definition()], aws=aws)
    assert result.error == "ECS.CapacityUnavailable"
    assert_invariants(aws, result, "hello-demo")
    assert _tasks(aws, "hello-demo") == []


def test_a_task_that_never_starts_is_not_retried_when_the_cause_is_permanent(aws: LocalAws) -> None:
    definition = _definition() | {"family": "never-starts"}
    definition["containerDefinitions"] = [dict(definition["containerDefinitions"][0], command=["/no/such/binary"])]
    result = run_local(_request(taskDefinition="never-starts"), [definition], aws=aws)
    assert result.error == "ECS.TaskFailedToStart"
    record = assert_invariants(aws, result, "hello-demo")
    assert int(record["attempt"]["N"]) == 1


def test_throttled_log_reads_and_writes_still_copy_every_line(aws: LocalAws, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given CloudWatch Logs and S3 each throttle the copy once
    from moto.logs.models import LogsBackend
    from moto.s3.models import S3Backend

    for owner, name, fault in (
        (LogsBackend, "get_log_events", JsonRESTError("ThrottlingException", "Rate exceeded")),
        (S3Backend, "put_object", JsonRESTError("SlowDown", "Please reduce your request rate.")),
    ):
        original = getattr(owner, name)
        faults = iter([fault])

        def flaky(*args: Any, _original: Any = original, _faults: Any = faults, **kwargs: Any) -> Any:
            fault = next(_faults, None)
            if fault is not None:
                raise fault
            return _original(*args, **kwargs)

        monkeypatch.setattr(owner, name, flaky)
    # When the run completes, Then the adaptive retries carried the copy through: all 7 lines are there
    result = run_local(_request(), [_definition()], aws=aws)
    assert result.status == "SUCCEEDED", result.cause
    assert_invariants(aws, result, "hello-demo")
    assert result.output["logs"]["containers"][0]["events"] == 7


def test_a_copy_short_of_time_continues_through_the_state_machine_loop(
    aws: LocalAws, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given every CopyLogs invocation finds its time nearly up, so it pauses at each chance
    monkeypatch.setenv("COPY_RESERVE_SECONDS", str(10**6))
    result = run_local(_request("two-containers"), [_definition("two-containers")], aws=aws)
    # Then the state machine sends the copy back to CopyLogs until it is done (per container: its page, then
    # the read that finds its end), and the run succeeds with every line of both containers, once each
    assert result.status == "SUCCEEDED"
    assert [s.name for s in result.states].count("CopyLogs") == 4
    assert_invariants(aws, result, "two-containers-demo")
    lines = {c: result.log_lines(f"runs/two-containers-demo/logs/{c}.log.gz") for c in ("app", "worker")}
    assert [line.split(" ", 1)[1] for line in lines["app"]] == [f"app line {i}" for i in range(1, 6)]
    assert [line.split(" ", 1)[1] for line in lines["worker"]] == [f"worker line {i}" for i in range(1, 4)]
    assert result.output["logs"]["containers"][0]["events"] == 5


def _final_flush_after_the_stop(aws: LocalAws, line: str) -> Any:
    """EventBridge's view, with the awslogs driver's final flush emulated: as ECS's STOPPED event goes out (the
    containers have stopped), one more line lands in each container's stream, ingested after the stop."""
    logs = aws.client("logs")

    def deliver(event: dict[str, Any]) -> list[dict[str, Any]]:
        detail = event.get("detail", {})
        if event.get("detail-type") == "ECS Task State Change" and detail.get("lastStatus") == "STOPPED":
            task = aws.agent.task(detail["taskArn"])
            time.sleep(0.002)  # strictly after the millisecond the agent recorded as the containers' stop
            for container in task.containers if task else []:
                logs.put_log_events(
                    logGroupName=container.log_group,
                    logStreamName=container.log_stream,
                    logEvents=[{"timestamp": int(time.time() * 1000), "message": line}],
                )
        return [event]

    return deliver


def test_last_lines_ingested_after_the_containers_stopped_are_copied_without_waiting(
    aws: LocalAws, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given LogSettleSeconds 10, and a task whose last line reaches CloudWatch Logs in the driver's final flush,
    # ingested after its containers stopped
    os.environ["LOG_SETTLE_SECONDS"] = "10"  # LocalAws puts back its own value on exit
    aws.event_faults = _final_flush_after_the_stop(aws, "last line, in the final flush")
    slept: list[float] = []
    real_sleep = time.sleep
    monkeypatch.setattr(time, "sleep", lambda seconds: (slept.append(seconds), real_sleep(seconds))[1])
    # When it runs
    result = run_local(_request(), [_definition()], aws=aws)
    # Then nothing waited for the settle time, neither a function nor the state machine (nothing more can come),
    # and the copy has every line, the last one included
    assert not [seconds for seconds in slept if seconds >= 1]
    assert result.status == "SUCCEEDED"
    assert [s.name for s in result.states].count("CopyLogs") == 1
    assert "WaitForLogs" not in [s.name for s in result.states]
    lines = [line.split(" ", 1)[1] for line in result.log_lines("runs/hello-demo/logs/app.log.gz")]
    assert lines[0] == "hello from ecsrun-hello"
    assert lines[-2:] == ["done", "last line, in the final flush"]
    assert_invariants(aws, result, "hello-demo")


def test_without_evidence_of_the_final_flush_the_state_machine_waits_then_copies_every_line(aws: LocalAws) -> None:
    # Given LogSettleSeconds 2, and nothing ingested after the containers stopped (the local agent puts each
    # line as the task writes it, "done" just before it exits): no evidence that the final flush is in
    os.environ["LOG_SETTLE_SECONDS"] = "2"
    # When it runs
    result = run_local(_request(), [_definition()], aws=aws)
    # Then the execution waited in a Wait state, not in CopyLogs, and then copied every line, the last included
    names = [s.name for s in result.states]
    assert result.status == "SUCCEEDED"
    assert names.count("WaitForLogs") == 1 and names.count("CopyLogs") == 2
    assert names[names.index("CopyLogs") :] == ["CopyLogs", "RunSucceeded?", "WaitForLogs", "CopyLogs", *names[-2:]]
    lines = [line.split(" ", 1)[1] for line in result.log_lines("runs/hello-demo/logs/app.log.gz")]
    assert lines == ["hello from ecsrun-hello", *(f"processing item {i}" for i in range(1, 6)), "done"]
    assert result.output["logs"]["containers"][0]["events"] == 7
    assert_invariants(aws, result, "hello-demo")


def test_an_aborted_execution_stops_its_task_and_keeps_its_logs(aws: LocalAws) -> None:
    # Given a long task, and a queue listening for completion events on the stack's bus
    completions = listen_for_completions(aws.client, BUS)
    outcome: dict[str, LocalResult] = {}
    request = _request("timeout", timeoutSeconds=300)
    runner = threading.Thread(target=lambda: outcome.update(r=run_local(request, [_definition("slow")], aws=aws)))
    runner.start()
    # When the execution is stopped from the console while the task runs
    _wait_for(lambda: _running_locally(aws))
    execution = aws.client("stepfunctions").list_executions(stateMachineArn=aws.state_machine_arn)["executions"][0]
    aws.client("stepfunctions").stop_execution(executionArn=execution["executionArn"], cause="operator")
    runner.join(timeout=60)
    # Then the task is stopped, the record says ABORTED, and the logs written so far are in S3
    assert outcome["r"].status == "ABORTED"
    record = assert_invariants(aws, outcome["r"], "timeout-demo")
    assert record["status"]["S"] == "ABORTED"
    assert all(t.done.is_set() for t in aws.agent._tasks.values())
    manifest = json.loads(aws.objects("runs/timeout-demo/manifest.json")["runs/timeout-demo/manifest.json"])
    assert manifest["error"] == "Run.Aborted"
    assert manifest["logs"]["containers"][0]["events"] == 1  # "starting"
    # And the run's end was still announced, as a failure named Run.Aborted
    _wait_for(lambda: bool(completions()))
    [event] = completions()
    assert (event["detail-type"], event["detail"]["error"]) == ("ecsrun.RunFailed", "Run.Aborted")


def _running_locally(aws: LocalAws) -> bool:
    return any(t.started_at and not t.done.is_set() for t in aws.agent._tasks.values())


def _stopped_locally(aws: LocalAws) -> bool:
    return bool(aws.agent._tasks) and all(t.done.is_set() for t in aws.agent._tasks.values())


def _wait_for(condition: Any, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.05)


__all__ = ["BUCKET"]


def test_a_validation_that_keeps_failing_ends_the_run_as_an_internal_error_not_a_python_name(
    aws: LocalAws, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given ValidateRequest's function fails on every try (a bug, or a dependency it cannot reach)
    import ecsrun.handlers.validate_request as validate_handler

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise KeyError("something ecsrun did not expect")

    monkeypatch.setattr(validate_handler, "validate_request", broken)
    # When a run is requested
    result = run_local(_request(), [_definition()], aws=aws)
    # Then the execution ends with ecsrun's documented name and a JSON cause without a traceback, and nothing ran
    assert (result.status, result.error) == ("FAILED", "Run.InternalError")
    cause = json.loads(result.cause or "{}")
    assert cause["error"] == "Run.InternalError" and "ValidateRequest" in cause["message"]
    assert "Traceback" not in (result.cause or "") and "KeyError" not in (result.cause or "")
    assert _tasks(aws, "hello-demo") == []


def test_an_execution_stopped_right_after_its_start_is_aborted_at_once(aws: LocalAws) -> None:
    # Given executions stopped as soon as StartExecution answered (before the local interpreter began)
    aws.register_task_definition(_definition())
    sfn = aws.client("stepfunctions")
    statuses = []
    for i in range(3):
        started = sfn.start_execution(
            stateMachineArn=aws.state_machine_arn, name=f"stopped-{i}", input=json.dumps(_request(runId=f"stopped-{i}"))
        )
        # When each is stopped at once
        sfn.stop_execution(executionArn=started["executionArn"], error="Operator.Abort", cause="wrong input")
        statuses.append(sfn.describe_execution(executionArn=started["executionArn"])["status"])
    # Then StopExecution answered with each ABORTED, as Step Functions does (not a crash, not still RUNNING)
    assert statuses == ["ABORTED"] * 3


def test_an_execution_stopped_before_its_first_state_is_aborted(aws: LocalAws, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given an interpreter slow to enter the first state: moto ignores a stop until it has (a loaded machine)
    from moto.stepfunctions.parser.api import HistoryEventType
    from moto.stepfunctions.parser.asl.eval.event.event_manager import EventManager

    add_event = EventManager.add_event

    def slow_start(manager: Any, *args: Any, **kwargs: Any) -> Any:
        if kwargs.get("event_type") == HistoryEventType.ExecutionStarted:
            time.sleep(0.5)
        return add_event(manager, *args, **kwargs)

    monkeypatch.setattr(EventManager, "add_event", slow_start)
    aws.register_task_definition(_definition())
    sfn = aws.client("stepfunctions")
    started = sfn.start_execution(
        stateMachineArn=aws.state_machine_arn, name="slow-start", input=json.dumps(_request(runId="slow-start"))
    )
    time.sleep(0.1)  # the interpreter has built its environment and not yet begun
    # When it is stopped in that gap
    sfn.stop_execution(executionArn=started["executionArn"], error="Operator.Abort", cause="wrong input")
    # Then it is ABORTED at once and stays so: no task ran for it
    assert sfn.describe_execution(executionArn=started["executionArn"])["status"] == "ABORTED"
    time.sleep(1.5)
    assert sfn.describe_execution(executionArn=started["executionArn"])["status"] == "ABORTED"
    assert _tasks(aws, "slow-start") == []
