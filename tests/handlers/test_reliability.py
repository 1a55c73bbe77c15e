"""Reconciler, execution-ended cleanup, retry planning and failure classification, on moto."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
import time_machine
from botocore.exceptions import ClientError
from botocore.stub import ANY, Stubber
from ecsrun.adapters import clients
from ecsrun.adapters.ecs import Ecs, RunTaskRefused
from ecsrun.domain.errors import ErrorName
from ecsrun.handlers import execution_ended, plan_retry, reconcile
from ecsrun.steps.reconcile import CONSISTENCY_WINDOW

from tests.conftest import REGION, Stack, context, ecs_event, listen_for_completions, load_event
from tests.handlers.helpers import EXECUTION, deliver, execution_event, start

ZERO_GRACE = "0"


def _record(stack: Stack, run_id: str = "hello-demo") -> dict[str, Any]:
    return stack.table.get_item(Key={"runId": run_id})["Item"]


def _described(task_arn: str, **changes: Any) -> dict[str, Any]:
    task = copy.deepcopy(load_event("ecs-events/describe-tasks-stopped.json")["tasks"][0])
    task.update(taskArn=task_arn, startedBy="ecsrun/hello-demo", **changes)
    return task


def _stale_run(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """A running run the reconciler looks at at once (no grace period)."""
    stack.register("hello.json")
    monkeypatch.setenv("RECONCILE_GRACE_SECONDS", ZERO_GRACE)
    return start(stack.request())


def _execution_is(sfn: Stubber, status: str = "RUNNING", arn: str = EXECUTION) -> None:
    """Step Functions answers the reconciler's DescribeExecution for the run's execution."""
    described = {
        "executionArn": arn,
        "stateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:ecsrun",
        "status": status,
        "startDate": 1795256100,
    }
    sfn.add_response("describe_execution", described, {"executionArn": arn})


def _counts(counts: dict[str, int], *names: str) -> dict[str, int]:
    return {name: counts[name] for name in names}


def _reconcile_answering(monkeypatch: pytest.MonkeyPatch, describe_tasks: dict[str, Any]) -> dict[str, int]:
    """Run the reconciler with ECS answering DescribeTasks so (Step Functions stays the sfn fixture's)."""
    ecs = boto3.client("ecs", region_name=REGION)
    stub = Stubber(ecs)
    stub.add_response("describe_tasks", describe_tasks)
    stepfunctions = clients.client("stepfunctions")
    with monkeypatch.context() as patch, stub:
        patch.setattr(clients, "client", lambda service, region=None: ecs if service == "ecs" else stepfunctions)
        return dict(reconcile.handler({}, context()))


def test_reconciler_settles_a_run_whose_event_was_missed(
    stack: Stack, sfn: Stubber, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a running run whose task stopped, but whose STOPPED event never came
    started = _stale_run(stack, monkeypatch)
    _execution_is(sfn, "RUNNING")
    sfn.add_response("send_task_success", {}, {"taskToken": "token-start-1", "output": ANY})
    # When the reconciler runs
    counts = _reconcile_answering(monkeypatch, {"tasks": [_described(started["taskArn"])], "failures": []})
    # Then it settled the run through the same path as the event handler, and says so
    assert _counts(counts, "checked", "settled", "lost", "running", "errors") == {
        "checked": 1,
        "settled": 1,
        "lost": 0,
        "running": 0,
        "errors": 0,
    }
    record = _record(stack)
    assert (record["status"], record["settledBy"]) == ("STOPPED", "reconciler")
    assert record["openShard"].startswith("open#")  # open until its end is recorded
    sfn.assert_no_pending_responses()


def test_reconciler_names_a_task_ecs_forgot_as_lost(
    stack: Stack, sfn: Stubber, monkeypatch: pytest.MonkeyPatch
) -> None:
    started = _stale_run(stack, monkeypatch)
    _execution_is(sfn, "RUNNING")
    sfn.add_response("send_task_failure", {}, {"taskToken": "token-start-1", "error": "ECS.TaskLost", "cause": ANY})
    # Past ECS's consistency window (a task DescribeTasks does not know right after RunTask is not lost yet)
    with time_machine.travel(datetime.now(UTC) + CONSISTENCY_WINDOW + timedelta(minutes=1)):
        counts = _reconcile_answering(
            monkeypatch, {"tasks": [], "failures": [{"arn": started["taskArn"], "reason": "MISSING"}]}
        )
    assert counts["lost"] == 1
    assert json.loads(_record(stack)["verdict"])["error"] == "ECS.TaskLost"


def test_reconciler_leaves_running_tasks_and_recent_runs_alone(stack: Stack, sfn: Stubber, monkeypatch) -> None:
    # Given a run that started just now (inside the grace period)
    stack.register("hello.json")
    start(stack.request())
    monkeypatch.setenv("RECONCILE_GRACE_SECONDS", "300")
    # When the reconciler runs, Then it does not even ask ECS or Step Functions (the stubber fails on any call)
    assert reconcile.handler({}, context())["checked"] == 0
    # And with no grace, a task ECS still runs, of an execution still running, stays waiting
    monkeypatch.setenv("RECONCILE_GRACE_SECONDS", ZERO_GRACE)
    _execution_is(sfn, "RUNNING")
    counts = reconcile.handler({}, context())
    assert _counts(counts, "running", "executionsChecked", "aborted", "errors") == {
        "running": 1,
        "executionsChecked": 1,
        "aborted": 0,
        "errors": 0,
    }
    assert _record(stack)["status"] == "RUNNING"


def test_describe_tasks_asks_for_at_most_100_tasks_a_call() -> None:
    ecs = boto3.client("ecs", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")
    stub = Stubber(ecs)
    arns = [f"arn:aws:ecs:us-east-1:123456789012:task/default/{i:032x}" for i in range(150)]
    stub.add_response("describe_tasks", {"tasks": [], "failures": []}, {"cluster": "default", "tasks": arns[:100]})
    stub.add_response(
        "describe_tasks",
        {"tasks": [], "failures": [{"arn": arns[149], "reason": "MISSING"}]},
        {"cluster": "default", "tasks": arns[100:]},
    )
    with stub:
        tasks, missing = Ecs(ecs).describe_tasks("default", arns)
    assert (tasks, missing) == ([], [arns[149]])
    stub.assert_no_pending_responses()


def test_an_aborted_execution_stops_its_task(stack: Stack, sfn: Stubber) -> None:
    # Given a running run
    stack.register("hello.json")
    started = start(stack.request())
    # When its execution is aborted
    result = execution_ended.handler(execution_event("ABORTED", stack.request()), context())
    # Then its task is stopped with a reason that says why, and the record is ABORTED
    assert result["result"] == "aborted"
    task = stack.ecs.describe_tasks(cluster="default", tasks=[started["taskArn"]])["tasks"][0]
    assert task["lastStatus"] == "STOPPED"
    assert task["stoppedReason"] == "ecsrun: execution first ended ABORTED"
    record = _record(stack)
    assert record["status"] == "ABORTED"
    # And it stays where the reconciler looks until its task is known to have stopped and its logs are copied
    assert record["openShard"].startswith("open#")
    event = ecs_event("stopped-user-initiated.json", taskArn=started["taskArn"], startedBy="ecsrun/hello-demo")
    assert deliver(event)["result"] == "logs copied"
    record = _record(stack)
    assert "openShard" not in record
    assert json.loads(record["outcome"])["error"] == "Run.Aborted"


def test_the_aborted_runs_task_stopping_is_recorded_once(stack: Stack, sfn: Stubber) -> None:
    stack.register("hello.json")
    started = start(stack.request())
    execution_ended.handler(execution_event("ABORTED", stack.request()), context())
    event = ecs_event("stopped-user-initiated.json", taskArn=started["taskArn"], startedBy="ecsrun/hello-demo")
    # The first STOPPED event records the task and copies its logs; a duplicate changes nothing
    assert deliver(event)["result"] == "logs copied"
    assert deliver(event)["result"] == "ignored: already settled"
    manifest = stack.s3.get_object(Bucket="logs-test", Key="runs/hello-demo/manifest.json")["Body"].read()
    assert json.loads(manifest)["error"] == "Run.Aborted"
    assert _record(stack)["status"] == "ABORTED"


def test_execution_end_events_for_other_runs_are_ignored(stack: Stack, sfn: Stubber) -> None:
    stack.register("hello.json")
    start(stack.request())
    other = "arn:aws:states:us-east-1:123456789012:execution:ecsrun:second"
    assert execution_ended.handler(execution_event("FAILED", stack.request(), arn=other), context())["result"] == (
        "ignored: not this execution's run"
    )
    bad = execution_ended.handler(execution_event("FAILED", {"runId": "../etc"}), context())
    assert bad["result"] == "ignored: the execution named no valid runId"
    assert _record(stack)["status"] == "RUNNING"


def test_execution_input_left_out_of_the_event_is_read_from_step_functions(stack: Stack, sfn: Stubber) -> None:
    # Given an event whose input was too large to include, for a request with no runId (so the name decides)
    stack.register("hello.json")
    request = stack.request()
    del request["runId"]
    sfn.add_response(
        "describe_execution",
        {
            "executionArn": EXECUTION,
            "stateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:ecsrun",
            "status": "ABORTED",
            "startDate": 1795256100,
            "input": json.dumps(request),
        },
        {"executionArn": EXECUTION},
    )
    result = execution_ended.handler(execution_event("ABORTED", None, name="nightly"), context())
    assert result == {"runId": "nightly", "result": "ignored: not this execution's run"}
    sfn.assert_no_pending_responses()


def _failed_attempt(stack: Stack, sfn: Stubber, sample: str, method: str = "send_task_failure", **request: Any) -> None:
    stack.register("hello.json")
    started = start(stack.request(**request))
    sfn.add_response(method, {}, {"taskToken": "token-start-1", "error": ANY, "cause": ANY})
    deliver(ecs_event(sample, taskArn=started["taskArn"], startedBy="ecsrun/hello-demo"))


def _plan() -> dict[str, Any]:
    return dict(plan_retry.handler({"runId": "hello-demo", "executionArn": EXECUTION}, context()))


def test_a_spot_interruption_is_tried_again_with_a_new_attempt(stack: Stack, sfn: Stubber) -> None:
    # Given an attempt that Spot interrupted (retryable), with the default policy (3 attempts, 10 s, x2)
    _failed_attempt(stack, sfn, "stopped-spot.json")
    # When the retry is planned
    plan = _plan()
    # Then attempt 2 starts after a jittered wait within the first interval, with its own clientToken
    assert plan["retry"] is True
    assert plan["attempt"] == 2
    assert 1 <= plan["waitSeconds"] <= 10
    record = _record(stack)
    assert (record["status"], int(record["attempt"]), record["openShard"][:5]) == ("STARTING", 2, "open#")
    assert "taskArn" not in record
    assert [a["error"] for a in json.loads(record["attempts"])] == ["ECS.TaskStopped"]


def test_a_failure_that_is_not_transient_is_not_retried(stack: Stack, sfn: Stubber) -> None:
    _failed_attempt(stack, sfn, "stopped-nonzero.json")
    assert _plan() == {"retry": False, "attempt": 1, "waitSeconds": 0}
    assert _record(stack)["status"] == "STOPPED"


def test_retries_stop_at_max_attempts(stack: Stack, sfn: Stubber) -> None:
    _failed_attempt(stack, sfn, "stopped-spot.json", retry={"maxAttempts": 1})
    assert _plan()["retry"] is False


def _client_error(code: str, message: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, "RunTask")


@pytest.mark.parametrize(
    ("error", "name", "retryable"),
    [
        (_client_error("ThrottlingException", "Rate exceeded"), ErrorName.THROTTLED, True),
        (
            _client_error("ClientException", "Capacity is unavailable at this time."),
            ErrorName.CAPACITY_UNAVAILABLE,
            True,
        ),
        (
            _client_error("InvalidParameterException", "Task definition does not support launch_type FARGATE."),
            ErrorName.RUN_TASK_FAILED,
            False,
        ),
        (
            _client_error("AccessDeniedException", "not authorized to perform: ecs:RunTask"),
            ErrorName.RUN_TASK_FAILED,
            False,
        ),
    ],
)
def test_run_task_errors_are_classified(error: ClientError, name: ErrorName, retryable: bool) -> None:
    class Refusing:
        def run_task(self, **kwargs: Any) -> Any:
            raise error

    with pytest.raises(RunTaskRefused) as refused:
        Ecs(Refusing()).run_task({})
    assert (refused.value.error, refused.value.retryable) == (name, retryable)


@pytest.mark.parametrize(
    ("reasons", "name"),
    [
        (["RESOURCE:CPU"], ErrorName.CAPACITY_UNAVAILABLE),
        (["AGENT", "RESOURCE:MEMORY"], ErrorName.CAPACITY_UNAVAILABLE),
        (["MISSING"], ErrorName.RUN_TASK_FAILED),
        (["RESOURCE:CPU", "ATTRIBUTE"], ErrorName.RUN_TASK_FAILED),
    ],
)
def test_run_task_failures_are_classified(reasons: list[str], name: ErrorName) -> None:
    failures = [
        {"arn": f"arn:aws:ecs:us-east-1:123456789012:container-instance/default/{i}", "reason": r}
        for i, r in enumerate(reasons)
    ]

    class Answering:
        def run_task(self, **kwargs: Any) -> Any:
            return {"tasks": [], "failures": failures}

    with pytest.raises(RunTaskRefused) as refused:
        Ecs(Answering()).run_task({})
    assert refused.value.error == name


# ---- the execution's end announces a run nobody else announced ----


def _listen(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("EVENT_BUS_NAME", "ecsrun-runs")
    boto3.client("events", region_name=REGION).create_event_bus(Name="ecsrun-runs")
    return listen_for_completions(lambda service: boto3.client(service, region_name=REGION), "ecsrun-runs")


def _failed_with(error: str, request: Any) -> dict[str, Any]:
    event = execution_event("FAILED", request)
    event["detail"] |= {"error": error, "cause": "CopyLogs: S3 refused the upload"}
    return event


def test_a_run_whose_copy_failed_is_announced_when_its_execution_fails(
    stack: Stack, sfn: Stubber, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a run whose task stopped and was judged, but whose CopyLogs failed (so no outcome was recorded)
    from ecsrun.plumbing.observability import metrics

    received = _listen(monkeypatch)
    stack.register("hello.json")
    started = start(stack.request())
    sfn.add_response("send_task_success", {}, {"taskToken": "token-start-1", "output": ANY})
    deliver(ecs_event("stopped-success.json", taskArn=started["taskArn"], startedBy="ecsrun/hello-demo"))
    recorded: dict[str, tuple[str, float]] = {}
    monkeypatch.setattr(metrics, "add_metric", lambda name, unit, value: recorded.update({name: (unit, value)}))
    # When its execution fails with Logs.CopyFailed
    result = execution_ended.handler(_failed_with("Logs.CopyFailed", stack.request()), context())
    # Then ecsrun.RunFailed names the error, the task and the cause, and the failure is counted by its name
    assert result["announced"] == "Logs.CopyFailed"
    assert recorded == {"RunsFailed": ("Count", 1), "RunsFailed.Logs.CopyFailed": ("Count", 1)}
    [event] = received()
    detail = event["detail"]
    assert (event["detail-type"], detail["error"], detail["taskArn"]) == (
        "ecsrun.RunFailed",
        "Logs.CopyFailed",
        started["taskArn"],
    )
    assert detail["message"] == "the execution ended FAILED: CopyLogs: S3 refused the upload"


def test_a_run_already_announced_or_still_to_be_is_not_announced_again(
    stack: Stack, sfn: Stubber, monkeypatch: pytest.MonkeyPatch
) -> None:
    received = _listen(monkeypatch)
    stack.register("hello.json")
    start(stack.request())
    # An aborted run with a task is announced by TaskStopped once its task stops and its logs are copied
    result = execution_ended.handler(execution_event("ABORTED", stack.request()), context())
    assert "announced" not in result and received() == []
    # An execution that failed on a bad request: ValidateRequest announced it, and there is no run record
    other = execution_ended.handler(_failed_with("RunRequest.Invalid", {"runId": "never-started"}), context())
    assert "announced" not in other and received() == []
