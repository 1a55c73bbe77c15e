"""Run integrity under races and faults (issue 12), handler by handler on moto.

Each numbered case of the issue is a test here that failed on the code before the fix (see landed.md):
1. only this run's task settles it (a foreign task, a stale duplicate of an earlier attempt, a forged event during
   a slow RunTask);
2. a failed callback is delivered again (a redelivered event, the reconciler), never lost;
3. no task outlives its run (a timeout while RunTask is in flight, an abort whose event was missed, an aborted
   run whose start was interrupted);
4. no environment value in S3 (children.json: test_array_handlers), in the start's error, in a cause, or in the
   early-event store.

Step Functions is a recorder that checks every call against the API model (botocore's validator) and answers
as Step Functions would; ECS and DynamoDB are moto (RunTask keeps its clientToken, as ECS does).
"""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.validate import validate_parameters
from ecsrun.adapters import clients
from ecsrun.handlers import execution_ended, plan_retry, reconcile, start_task, stop_task

from tests.conftest import REGION, Stack, context, ecs_event
from tests.handlers.helpers import EXECUTION, deliver, execution_event, start, start_run, validated_run

CLUSTER = "arn:aws:ecs:us-east-1:123456789012:cluster/default"
SECRET = "s3cr3t-canary-0451"


@dataclass
class FakeStepFunctions:
    """The Step Functions calls ecsrun makes, recorded; every call is checked against the API model."""

    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    failures: list[tuple[str, str]] = field(default_factory=list)  # (operation, error code) to raise once each
    closed: set[str] = field(default_factory=set)  # tokens whose task is closed (TaskTimedOut)
    status: str = "RUNNING"  # what DescribeExecution says about every execution

    def __post_init__(self) -> None:
        self._model = boto3.client("stepfunctions", region_name=REGION).meta.service_model

    def _call(self, operation: str, **params: Any) -> dict[str, Any]:
        model = self._model.operation_model(operation)
        validate_parameters(params, model.input_shape)
        for index, (name, code) in enumerate(self.failures):
            if name == operation:
                del self.failures[index]
                raise ClientError({"Error": {"Code": code, "Message": f"{code} (injected)"}}, operation)
        token = params.get("taskToken")
        if token in self.closed:
            raise ClientError({"Error": {"Code": "TaskTimedOut", "Message": "Task Timed Out"}}, operation)
        self.calls.append((operation, params))
        if token is not None:
            self.closed.add(token)  # a token is answered once
        return {}

    def send_task_success(self, **params: Any) -> dict[str, Any]:
        return self._call("SendTaskSuccess", **params)

    def send_task_failure(self, **params: Any) -> dict[str, Any]:
        return self._call("SendTaskFailure", **params)

    def describe_execution(self, **params: Any) -> dict[str, Any]:
        self._call("DescribeExecution", **params)
        return {
            "executionArn": params["executionArn"],
            "stateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:ecsrun",
            "status": self.status,
            "startDate": 1795256100,
        }

    def callbacks(self) -> list[tuple[str, str, str | None]]:
        """(operation, token, error) of every callback that Step Functions accepted."""
        return [
            (op, p["taskToken"], p.get("error")) for op, p in self.calls if op in ("SendTaskSuccess", "SendTaskFailure")
        ]


@pytest.fixture
def sfn(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeStepFunctions]:
    fake = FakeStepFunctions()
    real = clients.client
    with monkeypatch.context() as patch:
        patch.setattr(
            clients,
            "client",
            lambda service, region=None: fake if service == "stepfunctions" else real(service, region),
        )
        yield fake


def _record(stack: Stack, run_id: str = "hello-demo") -> dict[str, Any]:
    return stack.table.get_item(Key={"runId": run_id}, ConsistentRead=True)["Item"]


def _task(stack: Stack, arn: str) -> dict[str, Any]:
    return stack.ecs.describe_tasks(cluster="default", tasks=[arn])["tasks"][0]


def _tasks(stack: Stack) -> list[str]:
    ecs = stack.ecs
    return sorted(
        set(ecs.list_tasks(cluster="default")["taskArns"])
        | set(ecs.list_tasks(cluster="default", desiredStatus="STOPPED")["taskArns"])
    )


def _stopped(task_arn: str, sample: str = "stopped-success.json", **detail: Any) -> dict[str, Any]:
    return ecs_event(sample, **{"taskArn": task_arn, "clusterArn": CLUSTER, "startedBy": "ecsrun/hello-demo", **detail})


def _waiting_for_attempt_2(stack: Stack, sfn: FakeStepFunctions) -> str:
    """A run whose first attempt was interrupted by Spot, now in WaitBeforeRetry: attempt 2, no task yet."""
    stack.register("hello.json")
    first = start(stack.request())["taskArn"]
    assert deliver(_stopped(first, "stopped-spot.json"))["result"] == "settled"
    plan = plan_retry.handler({"runId": "hello-demo", "executionArn": EXECUTION}, context())
    assert plan["retry"] is True and plan["attempt"] == 2
    return str(first)


def _crash_after_run_task(monkeypatch: pytest.MonkeyPatch) -> None:
    """The start function dies after RunTask answered, before the task is recorded (each time until undone)."""
    from ecsrun.adapters.dynamodb import RunsTable

    def crash(*args: Any, **kwargs: Any) -> Any:
        raise ConnectionError("the start function died here")

    import ecsrun.steps.start as start_step

    if hasattr(start_step, "record_attempt_task"):
        monkeypatch.setattr(start_step, "record_attempt_task", crash)
    else:  # the code before issue 12 recorded the task with mark_started
        monkeypatch.setattr(RunsTable, "mark_started", crash)


# ---- 1. Only this run's task settles it ----


def test_1a_a_task_someone_else_started_with_this_runs_started_by_never_settles_it(
    stack: Stack, sfn: FakeStepFunctions
) -> None:
    # Given a run between attempts (WaitBeforeRetry): its record names no task
    _waiting_for_attempt_2(stack, sfn)
    answered = len(sfn.callbacks())
    # When a task someone else started, on another cluster, with startedBy ecsrun/hello-demo, exits 0
    foreign = ecs_event(
        "stopped-success.json",
        taskArn="arn:aws:ecs:us-east-1:123456789012:task/other/0123456789abcdef0123456789abcdef",
        clusterArn="arn:aws:ecs:us-east-1:123456789012:cluster/other",
        startedBy="ecsrun/hello-demo",
    )
    result = deliver(foreign)
    # Then it does not settle the run: no callback, attempt 2 still to start
    assert not result["result"].startswith("settled"), result
    assert len(sfn.callbacks()) == answered
    assert _record(stack)["status"] == "STARTING"
    # And attempt 2 starts its own task, which the foreign event never settles
    second = start(stack.request(), token="token-start-2")
    assert second["started"] is True
    record = _record(stack)
    assert (record["status"], record["taskArn"]) == ("RUNNING", second["taskArn"])
    assert len(sfn.callbacks()) == answered


def test_1b_a_late_duplicate_of_attempt_1s_event_never_settles_attempt_2(stack: Stack, sfn: FakeStepFunctions) -> None:
    # Given attempt 1's task was interrupted by Spot and the run waits before attempt 2
    first = _waiting_for_attempt_2(stack, sfn)
    answered = len(sfn.callbacks())
    # When EventBridge (or a Lambda retry) delivers attempt 1's STOPPED event again
    result = deliver(_stopped(first, "stopped-spot.json"))
    # Then it is ignored: attempt 2 is not settled with attempt 1's task
    assert result["result"] == "ignored: the task of an earlier attempt"
    assert len(sfn.callbacks()) == answered
    # And once attempt 2 runs, attempt 1's event still settles nothing, and one ARN belongs to one attempt only
    second = start(stack.request(), token="token-start-2")
    assert deliver(_stopped(first, "stopped-spot.json"))["result"] == "ignored: the task of an earlier attempt"
    record = _record(stack)
    assert record["taskArn"] == second["taskArn"] != first
    assert [a["taskArn"] for a in json.loads(record["attempts"])] == [first]


def _run_task_then(monkeypatch: pytest.MonkeyPatch, during: Any) -> None:
    """RunTask answers slowly: `during(task_arn_or_None)` happens while the call is in flight."""
    from moto.ecs.models import EC2ContainerServiceBackend

    original = EC2ContainerServiceBackend.run_task

    def slow(backend: Any, *args: Any, **kwargs: Any) -> Any:
        tasks = original(backend, *args, **kwargs)
        during(tasks[0].task_arn)
        return tasks

    monkeypatch.setattr(EC2ContainerServiceBackend, "run_task", slow)


def test_1c_a_forged_event_during_a_slow_run_task_does_not_settle_the_run(
    stack: Stack, sfn: FakeStepFunctions, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a first RunTask that answers slowly, and meanwhile a STOPPED event (exit 0) for a task this run did not
    # start, on its own cluster, with its startedBy
    stack.register("hello.json")
    forged: dict[str, Any] = {}
    forged_arn = "arn:aws:ecs:us-east-1:123456789012:task/default/feedfacefeedfacefeedfacefeedface"
    _run_task_then(monkeypatch, lambda arn: forged.update(result=deliver(_stopped(forged_arn))))
    # When the run starts
    started = start(stack.request())
    # Then the forged event was kept, not trusted: no callback, and the run waits for its own task
    assert forged["result"]["result"].startswith("deferred"), forged
    assert sfn.callbacks() == []
    record = _record(stack)
    assert (record["status"], record["taskArn"]) == ("RUNNING", started["taskArn"])
    # And the real task's own event settles it, with the verdict the real task earned
    deliver(_stopped(started["taskArn"], "stopped-nonzero.json"))
    assert sfn.callbacks() == [("SendTaskFailure", "token-start-1", "ECS.ContainerExitedNonZero")]


def test_the_runs_own_event_before_its_task_is_recorded_settles_it_once_recorded(
    stack: Stack, sfn: FakeStepFunctions, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the task stops (exit 3) and its event arrives before RunTask's answer reaches the start function
    stack.register("hello.json")
    early: dict[str, Any] = {}
    _run_task_then(
        monkeypatch, lambda arn: early.update(result=deliver(_stopped(arn, "stopped-nonzero.json"))["result"])
    )
    started = start(stack.request())
    # Then the event was kept, and the start settled the run with it once it recorded that task
    assert early["result"] == "deferred: stored until the start records its task"
    assert sfn.callbacks() == [("SendTaskFailure", "token-start-1", "ECS.ContainerExitedNonZero")]
    record = _record(stack)
    assert (record["status"], record["taskArn"], record["callback"]) == ("STOPPED", started["taskArn"], "DELIVERED")
    assert record["openShard"].startswith("open#")  # open until its end is recorded


def test_an_event_from_another_cluster_for_the_recorded_arn_is_ignored(stack: Stack, sfn: FakeStepFunctions) -> None:
    stack.register("hello.json")
    started = start(stack.request())
    other = _stopped(started["taskArn"], clusterArn="arn:aws:ecs:us-east-1:123456789012:cluster/other")
    assert deliver(other)["result"] == "ignored: event is from another cluster"
    assert sfn.callbacks() == []


def test_the_early_event_store_is_bounded(stack: Stack, sfn: FakeStepFunctions) -> None:
    # Given a run between attempts, and a flood of events for tasks it never started
    _waiting_for_attempt_2(stack, sfn)
    results = [
        deliver(_stopped(f"arn:aws:ecs:us-east-1:123456789012:task/default/{i:032x}"))["result"] for i in range(12)
    ]
    # Then ten are kept, the rest are not (the reconciler asks ECS about the recorded task anyway)
    assert results.count("deferred: stored until the start records its task") == 10
    assert results[-2:] == ["ignored: early-event store full"] * 2
    assert len(_record(stack)["earlyEvents"]) == 10


# ---- 2. A failed callback is delivered at least once, recorded once ----


def test_2_a_callback_that_fails_once_is_delivered_by_the_redelivered_event(
    stack: Stack, sfn: FakeStepFunctions
) -> None:
    # Given a running task, and Step Functions failing the first SendTaskSuccess
    stack.register("hello.json")
    started = start(stack.request())
    sfn.failures.append(("SendTaskSuccess", "ServiceUnavailable"))
    event = _stopped(started["taskArn"])
    # When the STOPPED event arrives, Then the invocation fails (so Lambda and EventBridge deliver it again)
    with pytest.raises(ClientError):
        deliver(event)
    # And the redelivered event completes the callback from the recorded verdict, once
    assert deliver(event)["result"] == "callback completed"
    assert deliver(event)["result"] == "ignored: already settled"
    assert sfn.callbacks() == [("SendTaskSuccess", "token-start-1", None)]
    record = _record(stack)
    assert record["callback"] == "DELIVERED" and record["openShard"].startswith(
        "open#"
    )  # open until its end is recorded


def test_2_a_callback_that_fails_once_is_delivered_by_the_reconciler(
    stack: Stack, sfn: FakeStepFunctions, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a settled run whose callback failed, and no redelivery (the event's retries ran out)
    stack.register("hello.json")
    started = start(stack.request())
    sfn.failures.append(("SendTaskFailure", "ThrottlingException"))
    with pytest.raises(ClientError):
        deliver(_stopped(started["taskArn"], "stopped-nonzero.json"))
    # When the reconciler runs
    monkeypatch.setenv("RECONCILE_GRACE_SECONDS", "0")
    counts = reconcile.handler({}, context())
    # Then it delivers the recorded verdict (not a timeout)
    assert sfn.callbacks() == [("SendTaskFailure", "token-start-1", "ECS.ContainerExitedNonZero")]
    assert counts["callbacks"] == 1
    assert _record(stack)["openShard"].startswith("open#")  # open until its end is recorded


def test_a_callback_whose_token_closed_is_recorded_closed(stack: Stack, sfn: FakeStepFunctions) -> None:
    stack.register("hello.json")
    started = start(stack.request())
    sfn.closed.add("token-start-1")
    assert deliver(_stopped(started["taskArn"]))["result"] == "settled: token already closed"
    record = _record(stack)
    assert (record["callback"], record["callbackClosed"]) == ("CLOSED", True)
    assert record["openShard"].startswith("open#")  # open until its end is recorded


def test_a_retried_start_hands_a_verdict_nobody_heard_to_its_new_token(stack: Stack, sfn: FakeStepFunctions) -> None:
    # Given a run settled while its start state was being retried (the old token is closed)
    stack.register("hello.json")
    started = start(stack.request())
    sfn.closed.add("token-start-1")
    deliver(_stopped(started["taskArn"], "stopped-nonzero.json"))
    # When the retried start state runs with its new token, Then it gets the recorded verdict
    again = start(stack.request(), token="token-start-2")
    assert again["resumed"] is True
    assert sfn.callbacks() == [("SendTaskFailure", "token-start-2", "ECS.ContainerExitedNonZero")]
    assert _tasks(stack) == [started["taskArn"]]


# ---- 3. No task outlives its run ----


def test_3a_a_timeout_while_run_task_is_in_flight_stops_the_task_it_started(
    stack: Stack, sfn: FakeStepFunctions, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given RunTask is slow, and the run's timeout fires while it is in flight (the stop state runs meanwhile)
    stack.register("hello.json")
    stopping: dict[str, Any] = {}

    def stop_state() -> None:
        try:
            payload = {"runId": "hello-demo", "timeoutSeconds": 1, "taskToken": "token-stop-1"}
            stopping["result"] = stop_task.handler(payload, context())
        except Exception as exc:
            stopping["error"] = exc

    def in_flight(arn: str) -> None:
        stopper = threading.Thread(target=stop_state)
        stopper.start()
        stopping["thread"] = stopper
        stopper.join(timeout=2)  # the stop state has its say while RunTask has not answered yet

    _run_task_then(monkeypatch, in_flight)
    started = start(stack.request())
    stopping["thread"].join(timeout=30)
    # Then the task RunTask started is stopped, with the timeout's reason, and only one task exists
    assert _tasks(stack) == [started["taskArn"]]
    task = _task(stack, started["taskArn"])
    assert (task["desiredStatus"], task["stoppedReason"]) == (
        "STOPPED",
        "ecsrun: run hello-demo exceeded timeoutSeconds=1",
    )
    # And the stop state waits for the task to stop: its STOPPED event answers the stop state, not the start's
    record = _record(stack)
    assert (record["status"], record["taskArn"], record["timedOut"]) == ("STOPPING", started["taskArn"], True)
    assert sfn.callbacks() == []
    deliver(_stopped(started["taskArn"], "stopped-user-initiated.json"))
    assert sfn.callbacks() == [("SendTaskSuccess", "token-stop-1", None)]


def test_3c_an_aborted_execution_whose_event_was_missed_has_its_task_stopped_by_the_reconciler(
    stack: Stack, sfn: FakeStepFunctions, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a running task whose execution was aborted, and the Execution Status Change event never came
    stack.register("hello.json")
    started = start(stack.request())
    sfn.status = "ABORTED"
    # When the reconciler runs
    monkeypatch.setenv("RECONCILE_GRACE_SECONDS", "0")
    counts = reconcile.handler({}, context())
    # Then it asked Step Functions, aborted the run through ExecutionEnded's code, and stopped its task
    task = _task(stack, started["taskArn"])
    assert (task["desiredStatus"], task["stoppedReason"]) == ("STOPPED", "ecsrun: execution first ended ABORTED")
    assert _record(stack)["status"] == "ABORTED"
    assert counts["aborted"] == 1


def test_3_an_aborted_execution_stops_the_task_an_interrupted_start_never_recorded(
    stack: Stack, sfn: FakeStepFunctions, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a start that died after RunTask answered, before it recorded the task
    stack.register("hello.json")
    with monkeypatch.context() as crashing:
        _crash_after_run_task(crashing)
        with pytest.raises(Exception):  # noqa: B017 - whatever the start raised, its task is unrecorded
            start(stack.request())
    [orphan] = _tasks(stack)
    assert "taskArn" not in _record(stack)
    # When the execution is aborted
    execution_ended.handler(execution_event("ABORTED", stack.request()), context())
    # Then the task RunTask started for the attempt's clientToken is found, recorded and stopped; none is started
    assert _tasks(stack) == [orphan]
    assert _task(stack, orphan)["desiredStatus"] == "STOPPED"
    assert _record(stack)["taskArn"] == orphan


def test_a_retried_start_after_a_crash_names_the_same_task_and_starts_no_other(
    stack: Stack, sfn: FakeStepFunctions, monkeypatch: pytest.MonkeyPatch
) -> None:
    stack.register("hello.json")
    run = validated_run(stack.request())
    with monkeypatch.context() as crashing:
        _crash_after_run_task(crashing)
        with pytest.raises(Exception):  # noqa: B017 - whatever the start raised, its task is unrecorded
            start_run(run)
    [orphan] = _tasks(stack)
    # When StartInterrupted is retried (new token), Then RunTask with the same clientToken names the same task
    again = start_run(run, token="token-start-2")
    assert again["taskArn"] == orphan
    assert _tasks(stack) == [orphan]
    assert _record(stack)["taskToken"] == "token-start-2"


# ---- 4. No environment value outside the execution input and the record ----


def test_4_an_interrupted_start_never_quotes_an_environment_value(
    stack: Stack, sfn: FakeStepFunctions, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a request with a secret in an environment override, and RunTask failing with a message that quotes it
    # (botocore's parameter validation does)
    from ecsrun.adapters.ecs import Ecs

    stack.register("hello.json")
    overrides = {"containerOverrides": [{"name": "app", "environment": [{"name": "TOKEN", "value": SECRET}]}]}
    run = validated_run(stack.request(overrides=overrides))

    def refuse(self: Any, args: dict[str, Any]) -> Any:
        raise ValueError(f"Invalid type for parameter overrides.containerOverrides[0].environment[0].value: {SECRET}")

    monkeypatch.setattr(Ecs, "run_task", refuse)
    # When the start is interrupted, Then its error (the state's cause) does not carry the value
    with pytest.raises(Exception, match="interrupted") as interrupted:
        start_task.handler({"run": run, "taskToken": "token-start-1", "executionArn": EXECUTION}, context())
    assert SECRET not in str(interrupted.value)


def test_4_the_early_event_store_keeps_no_override(stack: Stack, sfn: FakeStepFunctions) -> None:
    # Given a run between attempts, and an event whose task overrides carry an environment value
    _waiting_for_attempt_2(stack, sfn)
    event = _stopped("arn:aws:ecs:us-east-1:123456789012:task/default/" + "ab" * 16)
    event["detail"]["overrides"] = {
        "containerOverrides": [{"name": "app", "environment": [{"name": "TOKEN", "value": SECRET}]}]
    }
    assert deliver(copy.deepcopy(event))["result"].startswith("deferred")
    # Then what is kept of it holds no value
    assert SECRET not in json.dumps(_record(stack)["earlyEvents"])


def test_a_run_task_answer_lost_to_a_server_error_is_resumed_not_refused(
    stack: Stack, sfn: FakeStepFunctions, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given RunTask starts the task but its answer is lost to a server error (HTTP 500, after the SDK's retries)
    stack.register("hello.json")
    run = validated_run(stack.request())
    real = clients.client

    class AnswerLost:
        def __init__(self, ecs: Any) -> None:
            self._ecs, self._lost = ecs, iter([True])

        def __getattr__(self, name: str) -> Any:
            return getattr(self._ecs, name)

        def run_task(self, **params: Any) -> Any:
            answer = self._ecs.run_task(**params)
            if next(self._lost, False):
                error = {"Code": "ServerException", "Message": "Service unavailable"}
                raise ClientError({"Error": error, "ResponseMetadata": {"HTTPStatusCode": 500}}, "RunTask")
            return answer

    lossy = AnswerLost(real("ecs"))
    with monkeypatch.context() as patch:
        patch.setattr(
            clients, "client", lambda service, region=None: lossy if service == "ecs" else real(service, region)
        )
        # When the start runs, Then it is interrupted (not refused: no START_FAILED, no callback)
        with pytest.raises(Exception, match="interrupted"):
            start_run(run)
    assert _record(stack)["status"] == "STARTING" and sfn.callbacks() == []
    [task] = _tasks(stack)
    # And the retried start names that very task by its clientToken
    assert start_run(run, token="token-start-2")["taskArn"] == task
    assert _tasks(stack) == [task]


def test_an_execution_that_failed_before_its_start_recorded_a_task_ends_failed_not_aborted(
    stack: Stack, sfn: FakeStepFunctions
) -> None:
    # Given a run whose record exists but whose start never called RunTask, and its execution FAILED
    from ecsrun.adapters.dynamodb import RunsTable, new_record
    from ecsrun.domain.models.run import Run

    store = RunsTable(clients.table("runs-test"))
    stack.register("hello.json")
    run = Run.model_validate(validated_run(stack.request()))
    store.create(
        new_record(
            runId=run.runId,
            executionArn=EXECUTION,
            taskToken="t",
            startedBy="ecsrun/hello-demo",
            clientToken="c",
            run=run,
            ttl_days=1,
        )
    )
    # When ExecutionEnded hears it
    result = execution_ended.handler(execution_event("FAILED", stack.request(), error="Logs.CopyFailed"), context())
    # Then the run ends once, FAILED with the execution's error (not ABORTED), and nothing is left waiting
    assert result["announced"] == "Logs.CopyFailed"
    record = _record(stack)
    assert (record["status"], json.loads(record["outcome"])["error"]) == ("FAILED", "Logs.CopyFailed")
    assert "openShard" not in record


def test_a_run_whose_copy_failed_ends_at_once_and_gets_its_logs_copied_later(
    stack: Stack, sfn: FakeStepFunctions, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a run judged (its task exited 3), whose CopyLogs failed for good: the execution FAILED Logs.CopyFailed
    stack.register("hello.json")
    started = start(stack.request())
    deliver(_stopped(started["taskArn"], "stopped-nonzero.json"))
    event = execution_event("FAILED", stack.request(), error="Logs.CopyFailed", cause="S3 refused the upload")
    # When ExecutionEnded hears it, Then the run's end is recorded and announced at once
    assert execution_ended.handler(event, context())["announced"] == "Logs.CopyFailed"
    record = _record(stack)
    assert (record["status"], record["openShard"][:5]) == ("FAILED", "open#")
    # And the reconciler copies the logs of the task that ran, keeps the outcome, and lets the run go
    monkeypatch.setenv("RECONCILE_GRACE_SECONDS", "0")
    assert reconcile.handler({}, context())["copied"] == 1
    record = _record(stack)
    assert json.loads(record["outcome"])["error"] == "Logs.CopyFailed" and "openShard" not in record
    manifest = json.loads(stack.s3.get_object(Bucket="logs-test", Key="runs/hello-demo/manifest.json")["Body"].read())
    assert (manifest["error"], manifest["task"]["taskArn"]) == ("Logs.CopyFailed", started["taskArn"])


def test_a_run_whose_start_never_wrote_its_record_still_ends_once_with_an_outcome(
    stack: Stack, sfn: FakeStepFunctions
) -> None:
    # Given a start that died before writing the record, every time it was tried, and the state machine going on
    # to CopyLogs with what it caught
    from ecsrun.handlers import copy_logs

    stack.register("hello.json")
    run = validated_run(stack.request())
    failure = {"Error": "Lambda.Unknown", "Cause": "The cause could not be determined"}
    payload = {"run": run, "executionArn": EXECUTION, "failure": failure}
    # When CopyLogs runs
    answer = copy_logs.handler(payload, context())
    # Then the run has its record and one outcome (no task: none was started), and a late start cannot start one
    assert (answer["done"], answer["outcome"]["error"]) == (True, "Run.InternalError")
    record = _record(stack)
    assert (record["status"], json.loads(record["outcome"])["error"]) == ("FAILED", "Run.InternalError")
    assert "openShard" not in record
    assert start_run(run, token="token-late")["started"] is False
    assert _tasks(stack) == []


# ---- Found by the fault-schedule simulation (tests/simulation) after the fixes above ----


def _dynamodb_fails_once(patch: pytest.MonkeyPatch, operation: str) -> None:
    """The runs table's `operation` fails once, as after the SDK's retries (InternalServerError, HTTP 500)."""
    from ecsrun.adapters.dynamodb import RunsTable

    real = RunsTable.__init__
    failed: list[bool] = []

    def flaky(self: RunsTable, table: Any) -> None:
        real(self, table)

        class Once:
            def __getattr__(self, name: str) -> Any:
                call = getattr(table, name)
                if name != operation or failed:
                    return call

                def fail(**params: Any) -> Any:
                    failed.append(True)
                    error = {"Code": "InternalServerError", "Message": "Internal server error"}
                    raise ClientError({"Error": error, "ResponseMetadata": {"HTTPStatusCode": 500}}, name)

                return fail

        self._table = Once()

    patch.setattr(RunsTable, "__init__", flaky)


@pytest.mark.parametrize("operation", ["put_item", "get_item"])
def test_a_start_whose_record_write_or_read_back_fails_is_interrupted_and_retried(
    stack: Stack, sfn: FakeStepFunctions, monkeypatch: pytest.MonkeyPatch, operation: str
) -> None:
    # Given a start that ran once already (its answer was lost, so Step Functions invokes it again), and DynamoDB
    # failing once (after the SDK's retries) as the retried start writes the record, or reads back the one it found
    stack.register("hello.json")
    run = validated_run(stack.request())
    first = start_run(run)["taskArn"]
    with monkeypatch.context() as patch:
        _dynamodb_fails_once(patch, operation)
        # When the retried start runs, Then it fails as StartInterrupted, which the state machine retries (a raw
        # ClientError would go to StopInterruptedStart and end the run Run.InternalError)
        with pytest.raises(Exception) as failed:
            start_run(run, token="token-start-2")
    assert type(failed.value).__name__ == "StartInterrupted"
    # And the next retry finds the same task and waits on its new token
    assert start_run(run, token="token-start-3")["taskArn"] == first
    assert _tasks(stack) == [first]
    assert _record(stack)["taskToken"] == "token-start-3"


def test_a_task_ecs_does_not_know_yet_right_after_run_task_is_not_lost(
    stack: Stack, sfn: FakeStepFunctions, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a task just started and recorded, which DescribeTasks does not know yet (the ECS API is eventually
    # consistent: AWS advises asking again for up to five minutes after RunTask)
    stack.register("hello.json")
    started = start(stack.request())
    real = clients.client

    class NotYet:
        def __init__(self, ecs: Any) -> None:
            self._ecs = ecs

        def __getattr__(self, name: str) -> Any:
            return getattr(self._ecs, name)

        def describe_tasks(self, **params: Any) -> Any:
            return {"tasks": [], "failures": [{"arn": arn, "reason": "MISSING"} for arn in params["tasks"]]}

    lagging = NotYet(real("ecs"))
    monkeypatch.setenv("RECONCILE_GRACE_SECONDS", "0")
    with monkeypatch.context() as patch:
        patch.setattr(
            clients, "client", lambda service, region=None: lagging if service == "ecs" else real(service, region)
        )
        # When a reconciler pass asks about it at once
        counts = reconcile.handler({}, context())
    # Then the run is not settled as ECS.TaskLost: it still waits for its task
    assert counts["lost"] == 0 and sfn.callbacks() == []
    record = _record(stack)
    assert (record["status"], record["taskArn"], record["openShard"][:5]) == ("RUNNING", started["taskArn"], "open#")
    # And once the window has passed, a task ECS still does not know is lost
    import time_machine

    with monkeypatch.context() as patch, time_machine.travel(datetime.now(UTC) + timedelta(minutes=6)):
        patch.setattr(
            clients, "client", lambda service, region=None: lagging if service == "ecs" else real(service, region)
        )
        assert reconcile.handler({}, context())["lost"] == 1
    assert [(op, error) for op, _, error in sfn.callbacks()] == [("SendTaskFailure", "ECS.TaskLost")]


def _describe_task_definition_fails(monkeypatch: pytest.MonkeyPatch, code: str, status: int) -> None:
    real = clients.client

    class Failing:
        def __init__(self, ecs: Any) -> None:
            self._ecs = ecs

        def __getattr__(self, name: str) -> Any:
            return getattr(self._ecs, name)

        def describe_task_definition(self, **params: Any) -> Any:
            error = {"Code": code, "Message": f"{code} (injected)"}
            response: Any = {"Error": error, "ResponseMetadata": {"HTTPStatusCode": status}}
            raise ClientError(response, "DescribeTaskDefinition")

    monkeypatch.setattr(
        clients, "client", lambda service, region=None: Failing(real(service)) if service == "ecs" else real(service)
    )


def test_a_server_error_describing_the_task_definition_interrupts_the_start_and_refuses_nothing(
    stack: Stack, sfn: FakeStepFunctions, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a run validated before the task definition travelled with it (so its start describes the task
    # definition), and DescribeTaskDefinition failing on ECS's side (HTTP 500, after the SDK's retries)
    stack.register("hello.json")
    run = validated_run(stack.request()) | {"definition": None}
    with monkeypatch.context() as patch:
        _describe_task_definition_fails(patch, "ServerException", 500)
        # When the start runs, Then it is interrupted (retried by the state machine), not refused: a server error
        # says nothing about the task definition, so the run must not end ECS.RunTaskFailed
        with pytest.raises(Exception) as failed:
            start_run(run)
    assert type(failed.value).__name__ == "StartInterrupted"
    assert _record(stack)["status"] == "STARTING" and sfn.callbacks() == []
    # And the retried start starts the task
    assert start_run(run, token="token-start-2")["taskArn"] in _tasks(stack)


def test_a_retried_start_whose_run_task_may_have_run_names_its_task_whatever_the_task_definition_says(
    stack: Stack, sfn: FakeStepFunctions, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a start that died after RunTask answered, before it recorded the task
    stack.register("hello.json")
    run = validated_run(stack.request())
    with monkeypatch.context() as crashing:
        _crash_after_run_task(crashing)
        with pytest.raises(Exception):  # noqa: B017 - whatever the start raised, its task is unrecorded
            start_run(run)
    [orphan] = _tasks(stack)
    # When the retried start finds DescribeTaskDefinition refusing (the task definition is gone, say)
    with monkeypatch.context() as patch:
        _describe_task_definition_fails(patch, "ClientException", 400)
        again = start_run(run, token="token-start-2")
    # Then it still names the task RunTask started, by the attempt's clientToken: the run is not refused (which
    # would leave that task running, unrecorded, its logs never copied)
    assert again["taskArn"] == orphan
    record = _record(stack)
    assert (record["status"], record["taskArn"]) == ("RUNNING", orphan) and sfn.callbacks() == []


def test_a_stop_state_settles_at_once_with_the_stopped_event_that_came_before_the_task_was_recorded(
    stack: Stack, sfn: FakeStepFunctions, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the task stops (exit 0) and its event arrives while RunTask has not answered (it is kept), then the
    # start records the task and dies before settling with the kept event
    import ecsrun.steps.tasks as tasks_step

    stack.register("hello.json")
    _run_task_then(monkeypatch, lambda arn: deliver(_stopped(arn)))

    def died(*args: Any, **kwargs: Any) -> Any:
        raise ConnectionError("the start function died here")

    with monkeypatch.context() as crashing:
        crashing.setattr(tasks_step, "settle_stopped_task", died)
        with pytest.raises(Exception):  # noqa: B017 - whatever the start raised, the run is not settled
            start(stack.request())
    record = _record(stack)
    assert record["status"] == "RUNNING" and record["taskArn"] in record["earlyEvents"]
    # When the start's retries run out and StopInterruptedStart runs
    payload = {"runId": "hello-demo", "timeoutSeconds": 60, "stopFor": "interrupted", "taskToken": "token-stop-1"}
    stop_task.handler(payload, context())
    # Then it settles the run with that event at once (it will not come again): the stop state is answered now,
    # not after its 600-second timeout, and the run keeps the verdict its task earned
    assert sfn.callbacks() == [("SendTaskSuccess", "token-stop-1", None)]
    record = _record(stack)
    assert (record["status"], json.loads(record["verdict"])["succeeded"]) == ("STOPPED", True)


@pytest.mark.parametrize("stop_for", ["timeout", "interrupted"])
def test_a_stop_whose_record_read_fails_is_stop_failed_and_retried(
    stack: Stack, sfn: FakeStepFunctions, monkeypatch: pytest.MonkeyPatch, stop_for: str
) -> None:
    # Given a running task, and DynamoDB failing once (after the SDK's retries) as the stop state reads the record
    stack.register("hello.json")
    started = start(stack.request())
    payload = {"runId": "hello-demo", "timeoutSeconds": 60, "stopFor": stop_for, "taskToken": "token-stop-1"}
    with monkeypatch.context() as patch:
        _dynamodb_fails_once(patch, "get_item")
        # When the stop function runs, Then it fails StopFailed, which the stop state retries (a raw ClientError
        # would be caught and go on to CopyLogs, copying the logs of a task still running, then left to run)
        with pytest.raises(Exception) as failed:
            stop_task.handler(payload, context())
    assert type(failed.value).__name__ == "StopFailed"
    # And the retry stops the task
    payload["taskToken"] = "token-stop-2"
    assert stop_task.handler(payload, context())["stopRequested"] is True
    assert _task(stack, started["taskArn"])["desiredStatus"] == "STOPPED"
    assert _record(stack)["status"] == "STOPPING"
