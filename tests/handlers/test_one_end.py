"""One end per run, told the same everywhere: the record's outcome is written once, conditionally on the status
that was read, and the execution's end, the caller's answer, the completion event and the manifest all follow it.

Each case below failed on the code before the run lifecycle was made one table with one door to the end:
1. a stop while CopyLogs copies (contradictory ends);
2. a run stranded forever (an abort after its verdict, or CopyLogs failing for good, with the status event lost);
3. a duplicate announcing the real run's failure;
4. an operator's error name crossing the boundary on an abort;
5. a failed answer to the caller changing the verdict (CopyLogs, SummarizeArray);
6. one failed PutEvents entry losing the completion event (or changing the end).

Step Functions is the recording fake of test_integrity (every call checked against the API model); ECS, DynamoDB,
S3 and EventBridge are moto.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from ecsrun.adapters import clients
from ecsrun.handlers import copy_logs, execution_ended, prepare_array, reconcile, summarize_array

from tests.conftest import BUCKET, REGION, Stack, context, listen_for_completions
from tests.handlers.helpers import EXECUTION, deliver, execution_event, start, validate, validated_run
from tests.handlers.test_integrity import FakeStepFunctions, _stopped

CALLER = "AQCEAAAAKgAAAAMAAAAAAAAAAcUn0Kbl4t1kz9wTWfZp+9Ac3qrz" * 4
DUPLICATE = "arn:aws:states:us-east-1:123456789012:execution:ecsrun:second"


class StepFunctions(FakeStepFunctions):
    """The fake, with DescribeExecution telling the execution's error and cause as well as its status."""

    error: str | None = None
    cause: str | None = None

    def describe_execution(self, **params: Any) -> dict[str, Any]:
        answer = super().describe_execution(**params)
        return {**answer, **({"error": self.error, "cause": self.cause} if self.error else {})}


def _picker(pick: Any) -> Any:
    """A stand-in for clients.client that the stack's teardown can still reset."""
    pick.cache_clear = lambda: None
    return pick


@pytest.fixture
def sfn(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Iterator[StepFunctions]:
    fake = StepFunctions()
    real = clients.client
    monkeypatch.setenv("LOG_SETTLE_SECONDS", "0")
    with monkeypatch.context() as patch:
        patch.setattr(
            clients,
            "client",
            _picker(lambda service, region=None: fake if service == "stepfunctions" else real(service, region)),
        )
        yield fake


@pytest.fixture
def bus(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The stack's bus; returns a reader of every completion event put on it so far."""
    monkeypatch.setenv("EVENT_BUS_NAME", "ecsrun-runs")
    boto3.client("events", region_name=REGION).create_event_bus(Name="ecsrun-runs")
    return listen_for_completions(lambda service: boto3.client(service, region_name=REGION), "ecsrun-runs")


class FlakyEvents:
    """EventBridge whose PutEvents answers 200 with the entry refused (FailedEntryCount 1, InternalFailure) for
    its first `refusals` calls, as EventBridge does; then the real (moto) call."""

    def __init__(self, real: Any, refusals: int):
        self._real, self.refusals, self.calls = real, refusals, 0

    def put_events(self, **params: Any) -> dict[str, Any]:
        self.calls += 1
        if self.calls <= self.refusals:
            failed = {"ErrorCode": "InternalFailure", "ErrorMessage": "Internal service error"}
            return {"FailedEntryCount": len(params["Entries"]), "Entries": [failed for _ in params["Entries"]]}
        return dict(self._real.put_events(**params))


def _flaky_events(monkeypatch: pytest.MonkeyPatch, refusals: int) -> FlakyEvents:
    flaky = FlakyEvents(boto3.client("events", region_name=REGION), refusals)
    inner = clients.client
    monkeypatch.setattr(
        clients,
        "client",
        _picker(lambda service, region=None: flaky if service == "events" else inner(service, region)),
    )
    monkeypatch.setattr("ecsrun.adapters.eventbridge.BACKOFF_SECONDS", 0.0, raising=False)
    return flaky


def _record(stack: Stack, run_id: str = "hello-demo") -> dict[str, Any]:
    item = dict(stack.table.get_item(Key={"runId": run_id}, ConsistentRead=True)["Item"])
    for key in ("outcome", "task"):
        if isinstance(item.get(key), str):
            item[key] = json.loads(item[key])
    return item


def _manifest(stack: Stack, run_id: str = "hello-demo") -> dict[str, Any]:
    body = stack.s3.get_object(Bucket=BUCKET, Key=f"runs/{run_id}/manifest.json")["Body"].read()
    return dict(json.loads(body))


def _copy(request: dict[str, Any], execution: str = EXECUTION, failure: dict[str, Any] | None = None) -> Any:
    payload = {"run": validated_run(request), "executionArn": execution, **({"failure": failure} if failure else {})}
    answer = copy_logs.handler(payload, context())
    assert answer["done"] is True, answer
    return answer["outcome"]


def _reconcile(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    monkeypatch.setenv("RECONCILE_GRACE_SECONDS", "0")
    return dict(reconcile.handler({}, context()))


def _settled(stack: Stack, sample: str = "stopped-success.json", **request: Any) -> str:
    """A run whose task stopped and was judged; the start state has its verdict (CopyLogs comes next)."""
    stack.register("hello.json")
    started = start(stack.request(**request))
    assert deliver(_stopped(started["taskArn"], sample))["result"] == "settled"
    return str(started["taskArn"])


def _answers(sfn: StepFunctions, token: str = CALLER) -> list[tuple[str, str | None]]:
    return [(op, error) for op, answered, error in sfn.callbacks() if answered == token]


# ---- 1. Contradictory ends ----


def test_1_a_stop_while_copylogs_copies_ends_the_run_once_aborted_everywhere(
    stack: Stack, sfn: StepFunctions, bus: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a run with a caller, judged SUCCEEDED, whose CopyLogs is copying its logs
    _settled(stack, callbackTaskToken=CALLER)
    request = stack.request(callbackTaskToken=CALLER)
    import ecsrun.steps.finish as finish_step

    copying = finish_step.copy_run_logs

    def stopped_meanwhile(*args: Any, **kwargs: Any) -> Any:
        copied = copying(*args, **kwargs)
        # When `ecsrun stop` aborts the execution while the copy is under way (ExecutionEnded hears it)
        execution_ended.handler(execution_event("ABORTED", request, cause="operator stop"), context())
        return copied

    monkeypatch.setattr(finish_step, "copy_run_logs", stopped_meanwhile)
    outcome = _copy(request)
    # Then the late CopyLogs adopts the recorded end: the run ended once, ABORTED with Run.Aborted
    record = _record(stack)
    assert (record["status"], record["outcome"]["error"]) == ("ABORTED", "Run.Aborted")
    assert outcome["error"] == "Run.Aborted"
    # And the caller was answered once, Run.Aborted, and that answer stands
    assert _answers(sfn) == [("SendTaskFailure", "Run.Aborted")]
    assert record["callerAnswer"] == "delivered"
    # And the bus heard one end, the same one; the manifest says it too
    events = [e for e in bus() if e["detail"]["runId"] == "hello-demo"]
    assert [(e["detail-type"], e["detail"]["error"]) for e in events] == [("ecsrun.RunFailed", "Run.Aborted")]
    assert (_manifest(stack)["status"], _manifest(stack)["error"]) == ("FAILED", "Run.Aborted")


# ---- 2. Nothing stranded ----


def test_2a_an_abort_after_the_verdict_with_its_event_lost_is_finished_by_the_reconciler(
    stack: Stack, sfn: StepFunctions, bus: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a run whose verdict was delivered (the execution waits in WaitForLogs), then aborted, its
    # Execution Status Change event lost
    task_arn = _settled(stack)
    sfn.status = "ABORTED"
    # When the reconciler passes
    _reconcile(monkeypatch)
    # Then the run ends ABORTED with its logs copied, its manifest written and its end announced
    record = _record(stack)
    assert (record["status"], record["outcome"]["error"]) == ("ABORTED", "Run.Aborted")
    assert _manifest(stack)["task"]["taskArn"] == task_arn
    assert [(e["detail-type"], e["detail"]["error"]) for e in bus()] == [("ecsrun.RunFailed", "Run.Aborted")]
    # And nothing about it is left for anyone
    assert "openShard" not in record and record.get("announced")


def test_2b_a_copy_that_failed_for_good_with_its_event_lost_is_finished_by_the_reconciler(
    stack: Stack, sfn: StepFunctions, bus: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a run judged (its task exited 3) whose CopyLogs failed past its retries: the execution FAILED
    # Logs.CopyFailed, and that status event was lost
    task_arn = _settled(stack, "stopped-nonzero.json")
    sfn.status, sfn.error, sfn.cause = "FAILED", "Logs.CopyFailed", "S3 refused the upload"
    # When the reconciler passes
    _reconcile(monkeypatch)
    # Then the run ends as its execution did, with its logs copied and its end announced once
    record = _record(stack)
    assert (record["status"], record["outcome"]["error"]) == ("FAILED", "Logs.CopyFailed")
    assert (_manifest(stack)["error"], _manifest(stack)["task"]["taskArn"]) == ("Logs.CopyFailed", task_arn)
    assert [(e["detail-type"], e["detail"]["error"]) for e in bus()] == [("ecsrun.RunFailed", "Logs.CopyFailed")]
    assert "openShard" not in record


# ---- 3. Duplicates speak only for themselves ----


def test_3_a_duplicate_execution_puts_nothing_on_the_bus_under_the_owners_run_id(
    stack: Stack, sfn: StepFunctions, bus: Any
) -> None:
    # Given a run started by its first execution, and the same trigger delivered again (a second execution)
    _settled(stack)
    request = stack.request()
    # When the duplicate's start refuses it and its CopyLogs ends it
    outcome = _copy(request, execution=DUPLICATE, failure={"Error": "Run.Duplicate", "Cause": "{}"})
    # Then the duplicate ends Run.Duplicate in its own execution
    assert outcome["error"] == "Run.Duplicate"
    # And the owner's runId has no failure on the bus; the owner's record is untouched
    assert bus() == []
    assert "outcome" not in _record(stack)


def test_3_a_duplicate_array_execution_puts_nothing_on_the_bus(stack: Stack, bus: Any) -> None:
    # Given an array run prepared by its execution, and a second execution of the same runId
    stack.register("two-containers.json")
    request = stack.request("two-containers.json", runId="nightly", array={"items": ["a", "b"]})
    answer = validate(request, "nightly-1", "arn:aws:states:us-east-1:123456789012:execution:ecsrun:nightly-1")
    for name in ("nightly-1", "nightly-2"):
        payload = {
            "run": answer["run"],
            "array": answer["array"],
            "request": request,
            "executionName": name,
            "executionArn": f"arn:aws:states:us-east-1:123456789012:execution:ecsrun:{name}",
        }
        result = prepare_array.handler(payload, context())
    # When the second is refused, Then it is Run.Duplicate and nothing is put on the bus under "nightly"
    assert (result["prepared"], result["error"]) == (False, "Run.Duplicate")
    assert bus() == []


# ---- 4. Only ecsrun's error names cross the boundary ----


def test_4_an_abort_with_an_operators_error_ends_run_aborted_keeping_the_error_as_detail(
    stack: Stack, sfn: StepFunctions, bus: Any
) -> None:
    # Given a run with a caller between attempts (WaitBeforeRetry): no task exists
    stack.register("hello.json")
    monkey_request = stack.request(callbackTaskToken=CALLER)
    from tests.handlers import helpers

    first = helpers.start(monkey_request)
    deliver(_stopped(first["taskArn"], "stopped-spot.json"))
    from ecsrun.handlers import plan_retry

    assert plan_retry.handler({"runId": "hello-demo", "executionArn": EXECUTION}, context())["retry"] is True
    # When an operator aborts it with an error name of their own
    event = execution_event("ABORTED", monkey_request, error="Ops.ManualStop", cause="maintenance window")
    execution_ended.handler(event, context())
    # Then the outcome, the completion event and the caller's answer all say Run.Aborted
    record = _record(stack)
    assert (record["status"], record["outcome"]["error"]) == ("ABORTED", "Run.Aborted")
    [event_seen] = bus()
    assert event_seen["detail"]["error"] == "Run.Aborted"
    assert _answers(sfn) == [("SendTaskFailure", "Run.Aborted")]
    # And the operator's error and cause are kept as detail
    assert "Ops.ManualStop" in json.dumps(record["outcome"]) and "maintenance window" in event_seen["detail"]["message"]
    [failure] = [p for op, p in sfn.calls if op == "SendTaskFailure" and p["taskToken"] == CALLER]
    assert json.loads(failure["cause"])["executionError"] == "Ops.ManualStop"


# ---- 5. A failed answer never changes the verdict ----


def test_5_a_failed_answer_to_the_caller_keeps_the_verdict_and_is_answered_later(
    stack: Stack, sfn: StepFunctions, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a run with a caller, judged SUCCEEDED, and SendTaskSuccess throttled past the SDK's retries
    _settled(stack, callbackTaskToken=CALLER)
    sfn.failures.append(("SendTaskSuccess", "ThrottlingException"))
    # When CopyLogs copies the logs and answers
    outcome = _copy(stack.request(callbackTaskToken=CALLER))
    # Then the run still SUCCEEDED: the failed answer changed nothing
    assert outcome["status"] == "SUCCEEDED"
    record = _record(stack)
    assert record["outcome"]["status"] == "SUCCEEDED" and "callerAnswer" not in record
    # And the reconciler answers from the recorded end, once
    sfn.status = "SUCCEEDED"
    _reconcile(monkeypatch)
    assert _answers(sfn) == [("SendTaskSuccess", None)]
    assert _record(stack)["callerAnswer"] == "delivered"
    assert "openShard" not in _record(stack)


def test_5_a_failed_answer_keeps_an_arrays_verdict(stack: Stack, sfn: StepFunctions) -> None:
    # Given an array run with a caller, prepared, whose children all left no record, and SendTaskFailure throttled
    stack.register("two-containers.json")
    execution = "arn:aws:states:us-east-1:123456789012:execution:ecsrun:nightly-1"
    request = stack.request("two-containers.json", runId="nightly", array={"items": ["a"]}, callbackTaskToken=CALLER)
    answer = validate(request, "nightly-1", execution)
    payload = {"run": answer["run"], "array": answer["array"], "request": request}
    prepare_array.handler({**payload, "executionName": "nightly-1", "executionArn": execution}, context())
    sfn.failures.append(("SendTaskFailure", "ServiceUnavailable"))
    # When SummarizeArray ends the parent
    summary = {"runId": "nightly", "run": answer["run"], "array": answer["array"]}
    result = summarize_array.handler({**summary, "executionName": "nightly-1", "executionArn": execution}, context())
    # Then the parent's verdict stands (Run.ArrayFailed), not an error of the answer
    assert result["error"] == "Run.ArrayFailed"
    assert _record(stack, "nightly")["outcome"]["error"] == "Run.ArrayFailed"


# ---- 6. Durable announcements ----


def test_6_a_refused_put_events_entry_is_resent(
    stack: Stack, sfn: StepFunctions, bus: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a judged run and PutEvents refusing the first entry (FailedEntryCount 1, InternalFailure)
    _settled(stack)
    flaky = _flaky_events(monkeypatch, refusals=1)
    # When CopyLogs ends the run
    _copy(stack.request())
    # Then the entry was sent again and the bus has the run's end; the record says it was announced
    assert flaky.calls == 2
    assert [e["detail-type"] for e in bus()] == ["ecsrun.RunSucceeded"]
    assert _record(stack).get("announced")


def test_6_an_announcement_refused_past_its_retries_is_made_by_the_reconciler(
    stack: Stack, sfn: StepFunctions, bus: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a judged run and PutEvents refusing every entry for a while
    _settled(stack)
    flaky = _flaky_events(monkeypatch, refusals=100)
    # When CopyLogs ends the run, Then its end stands and nothing was announced yet
    assert _copy(stack.request())["status"] == "SUCCEEDED"
    assert bus() == [] and not _record(stack).get("announced")
    # And a retried CopyLogs (the state machine's) publishes again, still refused, still SUCCEEDED
    assert _copy(stack.request())["status"] == "SUCCEEDED"
    # When EventBridge takes entries again and the reconciler passes
    flaky.refusals = 0
    sfn.status = "SUCCEEDED"
    _reconcile(monkeypatch)
    # Then the end is announced, once, and marked
    assert [e["detail-type"] for e in bus()] == ["ecsrun.RunSucceeded"]
    record = _record(stack)
    assert record.get("announced") and "openShard" not in record


def test_6_a_refused_announcement_of_an_invalid_request_keeps_it_invalid(
    stack: Stack, monkeypatch: pytest.MonkeyPatch, bus: Any
) -> None:
    # Given an invalid request and PutEvents refusing every entry
    stack.register("hello.json")
    _flaky_events(monkeypatch, refusals=100)
    # When it is validated, Then it ends RunRequest.Invalid (not Run.InternalError)
    answer = validate(stack.request(count=2))
    assert (answer["valid"], answer["error"]) == (False, "RunRequest.Invalid")


def test_a_run_written_before_the_overdue_index_is_moved_into_it_and_finished(
    stack: Stack, sfn: StepFunctions, bus: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a judged run whose record has the shape written before the overdue index (the retired `waiting` mark,
    # no `openShard`), and its execution aborted with the status event lost
    _settled(stack)
    stack.table.update_item(
        Key={"runId": "hello-demo"},
        UpdateExpression="SET waiting = :w REMOVE openShard",
        ExpressionAttributeValues={":w": "W"},
    )
    sfn.status = "ABORTED"
    # When the reconciler passes
    _reconcile(monkeypatch)
    # Then the run was moved to the overdue index and finished there: ended, announced, out of both indexes
    record = _record(stack)
    assert (record["status"], record["outcome"]["error"]) == ("ABORTED", "Run.Aborted")
    assert "waiting" not in record and "openShard" not in record
    assert [e["detail"]["error"] for e in bus()] == ["Run.Aborted"]
