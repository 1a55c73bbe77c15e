"""The caller's token is answered where the run ends, with the calls and limits of Step Functions' API (the stub
checks each call against botocore's model), and a closed token is recorded, never retried."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError
from botocore.stub import ANY, Stubber
from ecsrun.handlers import execution_ended, validate_request

from tests.conftest import Stack, context, ecs_event
from tests.handlers.helpers import EXECUTION, deliver, execution_event, start

TOKEN = "AQCEAAAAKgAAAAMAAAAAAAAAAcUn0Kbl4t1kz9wTWfZp+9Ac3qrz" * 8


def _validate(request: Any) -> dict[str, Any]:
    payload = {"request": request, "executionName": "first", "executionArn": EXECUTION}
    return dict(validate_request.handler(payload, context()))


def _calls(sfn: Stubber) -> list[str]:
    """Every Step Functions operation the code under test asks for, even one the stub refuses (and the code
    swallows)."""
    asked: list[str] = []
    sfn.client.meta.events.register("provide-client-params.sfn", lambda model, **_: asked.append(model.name))
    return asked


def _record(stack: Stack, run_id: str = "hello-demo") -> dict[str, Any]:
    return dict(stack.table.get_item(Key={"runId": run_id})["Item"])


def test_an_invalid_request_is_answered_from_its_executions_end_not_by_validate_request(
    stack: Stack, sfn: Stubber
) -> None:
    # Given a request with a caller's token and a problem
    stack.register("hello.json")
    request = stack.request(callbackTaskToken=TOKEN, count=2)
    asked = _calls(sfn)
    # When it is validated, Then ValidateRequest answers nobody
    result = _validate(request)
    assert result["valid"] is False
    assert asked == []
    # Then its execution's end (the Fail state, RunRequest.Invalid with the report as cause) answers the caller
    sfn.add_response(
        "send_task_failure", {}, {"taskToken": TOKEN, "error": "RunRequest.Invalid", "cause": result["cause"]}
    )
    event = execution_event("FAILED", request, error="RunRequest.Invalid", cause=result["cause"])
    execution_ended.handler(event, context())
    sfn.assert_no_pending_responses()


def test_an_invalid_request_aborted_before_its_fail_state_is_answered_run_aborted(stack: Stack, sfn: Stubber) -> None:
    # Given an invalid request whose execution an operator aborted while ValidateRequest was still deciding
    stack.register("hello.json")
    request = stack.request(callbackTaskToken=TOKEN, count=2)
    asked = _calls(sfn)
    assert _validate(request)["error"] == "RunRequest.Invalid"
    sfn.add_response("send_task_failure", {}, {"taskToken": TOKEN, "error": "Run.Aborted", "cause": ANY})
    # When the execution's end (ABORTED) arrives
    execution_ended.handler(execution_event("ABORTED", request), context())
    # Then the caller is told the end the execution had, the only answer it gets
    sfn.assert_no_pending_responses()
    assert asked == ["SendTaskFailure"]


def test_a_request_without_a_token_answers_nobody(stack: Stack, sfn: Stubber) -> None:
    # Given an invalid request with no token: any Step Functions call would fail the stub
    stack.register("hello.json")
    request = stack.request(count=2)
    result = _validate(request)
    # When its execution fails, Then nobody is answered
    execution_ended.handler(execution_event("FAILED", request, error=result["error"], cause=result["cause"]), context())
    assert result["valid"] is False
    sfn.assert_no_pending_responses()


def test_a_closed_token_or_a_failed_answer_leaves_the_end_invalid(stack: Stack, sfn: Stubber) -> None:
    # Given an invalid request, and Step Functions saying its caller's token is closed
    stack.register("hello.json")
    request = stack.request(callbackTaskToken=TOKEN, count=2)
    result = _validate(request)
    sfn.add_client_error("send_task_failure", "TaskTimedOut", "Task Timed Out")
    # When the execution's end answers it
    event = execution_event("FAILED", request, error="RunRequest.Invalid", cause=result["cause"])
    execution_ended.handler(event, context())
    # Then the closed token is not an error, and validating again still says RunRequest.Invalid
    sfn.assert_no_pending_responses()
    assert _validate(request)["error"] == "RunRequest.Invalid"


def _stopped_run(stack: Stack, sfn: Stubber, **request: Any) -> dict[str, Any]:
    stack.register("hello.json")
    started = start(stack.request(**request))
    sfn.add_response("send_task_success", {}, {"taskToken": "token-start-1", "output": ANY})
    deliver(ecs_event("stopped-success.json", taskArn=started["taskArn"], startedBy="ecsrun/hello-demo"))
    return started


def test_a_run_whose_log_copy_failed_answers_its_caller_when_its_execution_fails(stack: Stack, sfn: Stubber) -> None:
    # Given a run with a caller, whose task stopped but whose CopyLogs failed (no outcome, no answer)
    started = _stopped_run(stack, sfn, callbackTaskToken=TOKEN)
    sfn.add_response("send_task_failure", {}, {"taskToken": TOKEN, "error": "Logs.CopyFailed", "cause": ANY})
    # When its execution fails with Logs.CopyFailed
    event = execution_event("FAILED", stack.request(callbackTaskToken=TOKEN), error="Logs.CopyFailed", cause="S3")
    execution_ended.handler(event, context())
    # Then the caller is told Logs.CopyFailed, and the answer is recorded on the run
    sfn.assert_no_pending_responses()
    assert _record(stack)["callerAnswer"] == "delivered"
    assert started["taskArn"]


def test_an_answer_already_given_is_not_given_again(stack: Stack, sfn: Stubber) -> None:
    # Given a run whose caller was answered (recorded), then its execution failed
    _stopped_run(stack, sfn, callbackTaskToken=TOKEN)
    stack.table.update_item(
        Key={"runId": "hello-demo"},
        UpdateExpression="SET callerAnswer = :a",
        ExpressionAttributeValues={":a": "delivered"},
    )
    # When the execution's end arrives: no Step Functions call may be made (the stub would fail)
    event = execution_event("FAILED", stack.request(callbackTaskToken=TOKEN), error="Logs.CopyFailed", cause="S3")
    execution_ended.handler(event, context())
    sfn.assert_no_pending_responses()


def test_a_token_found_closed_is_recorded_and_not_retried(stack: Stack, sfn: Stubber) -> None:
    # Given a run with a caller that gave up waiting (its token timed out)
    _stopped_run(stack, sfn, callbackTaskToken=TOKEN)
    sfn.add_client_error("send_task_failure", "TaskTimedOut", "Task Timed Out")
    # When the execution's end answers it
    event = execution_event("FAILED", stack.request(callbackTaskToken=TOKEN), error="Logs.CopyFailed", cause="S3")
    execution_ended.handler(event, context())
    # Then the closed token is recorded, so nothing answers it again
    assert _record(stack)["callerAnswer"] == "closed: TaskTimedOut"


def test_an_answer_step_functions_refuses_fails_the_invocation_to_be_retried(stack: Stack, sfn: Stubber) -> None:
    # Given Step Functions refusing the answer for a reason that is not a closed token
    _stopped_run(stack, sfn, callbackTaskToken=TOKEN)
    sfn.add_client_error("send_task_failure", "ThrottlingException", "Rate exceeded")
    event = execution_event("FAILED", stack.request(callbackTaskToken=TOKEN), error="Logs.CopyFailed", cause="S3")
    # When the execution's end answers it, then the invocation fails (Lambda retries it, then dead-letters it)
    with pytest.raises(ClientError):
        execution_ended.handler(event, context())
    assert "callerAnswer" not in _record(stack)


def test_a_crash_before_any_record_answers_run_internal_error(stack: Stack, sfn: Stubber) -> None:
    # Given an execution that failed before its run had a record (ValidateRequest crashed)
    cause = '{"errorMessage": "boom", "errorType": "KeyError"}'
    sfn.add_response("send_task_failure", {}, {"taskToken": TOKEN, "error": "Run.InternalError", "cause": ANY})
    event = execution_event("FAILED", {"runId": "crashed", "callbackTaskToken": TOKEN}, error="KeyError", cause=cause)
    # When its end arrives
    execution_ended.handler(event, context())
    # Then the caller gets Run.InternalError (the cause quoting KeyError is checked in tests/domain)
    sfn.assert_no_pending_responses()


def test_a_request_with_an_invalid_run_id_is_answered_when_its_execution_fails(stack: Stack, sfn: Stubber) -> None:
    # Given an execution that failed RunRequest.Invalid on a runId no record can have, its answer lost
    report = '{"message": "the run request has 1 problem (runId)", "problems": []}'
    request = {"runId": "../etc", "callbackTaskToken": TOKEN}
    sfn.add_response("send_task_failure", {}, {"taskToken": TOKEN, "error": "RunRequest.Invalid", "cause": report})
    # When its end arrives
    result = execution_ended.handler(
        execution_event("FAILED", request, error="RunRequest.Invalid", cause=report), context()
    )
    # Then the caller is answered with that name and that cause, though there is no run to abort
    sfn.assert_no_pending_responses()
    assert result["result"] == "ignored: the execution named no valid runId"


@pytest.mark.parametrize(
    "beyond",
    ['"timeoutSeconds": ' + "9" * 5000, '"overrides": ' + "[" * 600 + "]" * 600],
    ids=["integer-of-5000-digits", "nested-600-deep"],
)
def test_an_input_out_of_bounds_still_answers_its_callers_token(stack: Stack, sfn: Stubber, beyond: str) -> None:
    # Given an execution aborted before ValidateRequest ran, whose input no step reads but whose caller waits
    event = execution_event("ABORTED", None, name="out-of-bounds")
    head = '{"callbackTaskToken": "' + TOKEN + '", "taskDefinition": "ecsrun-hello", '
    event["detail"]["input"] = head + beyond + "}"
    sfn.add_response("send_task_failure", {}, {"taskToken": TOKEN, "error": "Run.Aborted", "cause": ANY})
    # When its end arrives
    execution_ended.handler(event, context())
    # Then the token is read from the input's top level alone and the caller is told Run.Aborted
    sfn.assert_no_pending_responses()
