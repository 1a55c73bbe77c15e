"""The caller's task token: found even in an invalid request, checked, never quoted, never handed to an array's
children; and the answers built within Step Functions' limits."""

from __future__ import annotations

import json
from typing import Any

import pytest
from ecsrun.domain import array as arrays
from ecsrun.domain import limits
from ecsrun.domain.callback import (
    MAX_OUTPUT_BYTES,
    answer_for,
    callback_token,
    ended_execution_outcome,
    fingerprint,
)
from ecsrun.domain.models.record import RunRecord, RunStatus
from ecsrun.domain.models.request import validate_request
from ecsrun.domain.models.run import Run
from ecsrun.domain.runtask import resolve_run

from tests.conftest import load_event

# What a real token looks like: opaque, base64-ish, hundreds of characters.
TOKEN = "AQCEAAAAKgAAAAMAAAAAAAAAAcUn0Kbl4t1kz9wTWfZp+9Ac3qrz/v8Nbd" * 10
EXECUTION = "arn:aws:states:us-east-1:123456789012:execution:ecsrun:first"


def _request(**changes: Any) -> dict[str, Any]:
    return {**load_event("requests/hello.json"), **changes}


def test_the_token_is_a_runner_field_carried_by_the_run() -> None:
    # Given a request with a caller's token
    request, problems = validate_request(_request(callbackTaskToken=TOKEN))
    # When it is validated and resolved
    assert problems == [] and request is not None
    run = resolve_run(request, "first", 900)
    # Then the run carries the token, and the RunTask fields do not
    assert run.callbackTaskToken == TOKEN
    assert "callbackTaskToken" not in run.request


@pytest.mark.parametrize(
    ("token", "described"),
    [
        ("", "a string of 0 characters"),
        ("x" * 2049, "a string of 2049 characters"),
        (12, "int"),
        (["a"], "list"),
    ],
)
def test_a_token_step_functions_would_refuse_is_a_problem_that_never_quotes_it(token: Any, described: str) -> None:
    # Given a request whose token is not one Step Functions issues
    _, problems = validate_request(_request(callbackTaskToken=token))
    # Then it is refused with a message that describes it without quoting it
    [problem] = problems
    assert problem.field == "callbackTaskToken"
    assert problem.message == f"must be a Step Functions task token: a string of 1-2,048 characters; got {described}"


def test_the_longest_token_is_accepted() -> None:
    assert validate_request(_request(callbackTaskToken="t" * 2048))[1] == []


def test_the_parent_execution_id_the_console_links_by_is_accepted_and_not_sent_to_ecs() -> None:
    # Given a request as AWS's nested-workflow examples build it, naming the parent execution
    parent = "arn:aws:states:us-east-1:123456789012:execution:nightly:tonight"
    request, problems = validate_request(_request(AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID=parent))
    # Then it is valid, and the field never reaches RunTask
    assert problems == [] and request is not None
    assert "AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID" not in resolve_run(request, "first", 900).request


@pytest.mark.parametrize(
    ("request_", "found"),
    [
        (_request(callbackTaskToken=TOKEN), TOKEN),
        # an invalid request still names its caller, so it can be told why
        ({"callbackTaskToken": TOKEN, "count": 2, "startedBy": "me"}, TOKEN),
        ({"callbackTaskToken": ""}, None),
        ({"callbackTaskToken": "t" * 2049}, None),
        ({"callbackTaskToken": 7}, None),
        (["callbackTaskToken"], None),
        (None, None),
    ],
)
def test_the_token_is_read_from_any_input(request_: Any, found: str | None) -> None:
    assert callback_token(request_) == found


def test_a_fingerprint_tells_tokens_apart_without_showing_them() -> None:
    assert fingerprint(TOKEN) != fingerprint(TOKEN + "x")
    assert TOKEN[:12] not in fingerprint(TOKEN) and len(fingerprint(TOKEN)) == len("sha256:") + 12


def test_array_children_never_carry_the_parents_token() -> None:
    # Given an array run whose caller waits for the whole array
    parent = _request(callbackTaskToken=TOKEN, array={"size": 3})
    # When its children are laid out, and a child's request is built from the parent's run
    children = arrays.children(parent, "hello-demo", "first")
    parent_run = {
        "runId": "hello-demo",
        "request": {k: v for k, v in parent.items() if k not in ("array", "runId")},  # even were it carried
        "timeoutSeconds": 60,
        "successExitCodes": [0],
        "retry": {"maxAttempts": 1, "intervalSeconds": 1, "backoffRate": 1.0},
    }
    child_input = {
        "runId": "hello-demo-0",
        "arrayChild": {"parent": parent_run, "index": 0, "item": 0, "size": 3, "containers": ["app"]},
    }
    request, problem = arrays.expand_child(child_input)
    # Then no child could answer the parent's caller
    assert problem is None and request is not None
    assert "callbackTaskToken" not in request
    assert TOKEN not in json.dumps(children)


def test_a_success_answers_with_the_output() -> None:
    output = {"runId": "r", "status": "SUCCEEDED", "task": {"containers": []}}
    answer = answer_for({"status": "SUCCEEDED", "output": output})
    assert answer.succeeded and json.loads(answer.output or "") == output


def test_a_failure_answers_with_its_name_and_cause_within_the_limits() -> None:
    # Given a failure whose cause carries thousands of long log lines, and an error name too long
    lines = [f"line {i} " + "x" * 200 for i in range(1000)]
    cause = json.dumps({"runId": "r", "error": "ECS.ContainerExitedNonZero", "lastLogLines": {"lines": lines}})
    # When it is turned into an answer
    answer = answer_for({"status": "FAILED", "error": "E" * 300, "cause": cause})
    # Then the error and the cause fit SendTaskFailure, the cause is still JSON and keeps the newest lines
    assert answer.error == "E" * limits.MAX_ERROR_CHARS
    assert answer.cause is not None and len(answer.cause) <= limits.MAX_CAUSE_CHARS
    kept = json.loads(answer.cause)
    assert kept["lastLogLines"]["lines"][-1] == lines[-1]
    assert kept["lastLogLines"]["omitted"] == len(lines) - len(kept["lastLogLines"]["lines"]) > 0
    assert kept["error"] == "ECS.ContainerExitedNonZero"


def test_a_cause_with_too_many_problems_keeps_the_first_ones_and_says_how_many_there_were() -> None:
    # Given a cause with 2,000 problems, far over SendTaskFailure's 32,768 characters
    problems = [{"field": f"overrides.containerOverrides[{i}].name", "message": "m" * 100} for i in range(2000)]
    cause = json.dumps({"message": "the run request has 2000 problems", "problems": problems})
    # When it is turned into an answer
    answer = answer_for({"status": "FAILED", "error": "RunRequest.Invalid", "cause": cause})
    # Then it is cut as every other document is: the first problems kept, and the cut said
    assert answer.cause is not None and len(answer.cause) <= limits.MAX_CAUSE_CHARS
    kept = json.loads(answer.cause)
    assert kept["problems"][0] == problems[0]
    assert kept["truncated"]["problems"] == {"shown": len(kept["problems"]), "total": 2000}


def test_a_cause_that_is_not_json_is_cut_and_says_so() -> None:
    answer = answer_for({"status": "FAILED", "error": "Run.InternalError", "cause": "y" * (limits.MAX_CAUSE_CHARS * 2)})
    assert answer.cause is not None and len(answer.cause) == limits.MAX_CAUSE_CHARS
    assert answer.cause.endswith(f"({limits.MAX_CAUSE_CHARS * 2} characters, truncated)")


def test_an_output_over_256_kib_keeps_where_the_manifest_is() -> None:
    output = {"runId": "r", "status": "SUCCEEDED", "logs": {"bucket": "b", "manifestKey": "runs/r/manifest.json"}}
    huge = {**output, "task": {"containers": [{"name": "c" * 1000, "reason": "r" * 1000}] * 200}}
    answer = answer_for({"status": "SUCCEEDED", "output": huge})
    kept = json.loads(answer.output or "")
    assert len((answer.output or "").encode()) <= MAX_OUTPUT_BYTES
    assert kept["logs"] == {"bucket": "b", "manifestKey": "runs/r/manifest.json"} and kept["runId"] == "r"


def _record(**changes: Any) -> RunRecord:
    run = Run(runId="r", timeoutSeconds=60, successExitCodes=[0], request={"taskDefinition": "t"})
    fields = {
        "runId": "r",
        "executionArn": EXECUTION,
        "status": RunStatus.FAILED,
        "startedBy": "ecsrun/r",
        "clientToken": "c",
        "run": run,
        "createdAt": "2026-11-21T00:00:00Z",
        "updatedAt": "2026-11-21T00:00:00Z",
        "expiresAt": 0,
    }
    return RunRecord.model_validate({**fields, **changes})


def test_an_ended_execution_answers_from_the_recorded_outcome_when_there_is_one() -> None:
    # Given a run whose outcome was recorded but whose answer was lost, and its execution then failed
    record = _record(outcome={"status": "FAILED", "error": "ECS.TaskStopped", "message": "stopped by a user"})
    # Then the caller gets the run's own verdict, not the execution's Logs.CopyFailed
    outcome = ended_execution_outcome(record, EXECUTION, "FAILED", "Logs.CopyFailed", "S3 refused")
    assert outcome["error"] == "ECS.TaskStopped"
    assert json.loads(outcome["cause"])["message"] == "stopped by a user"


@pytest.mark.parametrize(
    ("status", "error", "named"),
    [
        ("ABORTED", None, "Run.Aborted"),
        ("TIMED_OUT", "States.Timeout", "Run.TimedOut"),
        ("FAILED", "States.Runtime", "Run.InternalError"),
        ("FAILED", "Logs.CopyFailed", "Logs.CopyFailed"),
    ],
)
def test_an_ended_execution_is_named_with_one_of_ecsruns_names(status: str, error: str | None, named: str) -> None:
    # Given a run with no outcome, whose execution ended
    record = _record(status=RunStatus.RUNNING, taskArn="arn:aws:ecs:us-east-1:123456789012:task/default/abc")
    # When its caller is answered
    outcome = ended_execution_outcome(record, EXECUTION, status, error, "why")
    # Then the name is ecsrun's, and an error that is not ecsrun's is quoted in the cause
    cause = json.loads(outcome["cause"])
    assert (outcome["error"], cause["error"], cause["runId"]) == (named, named, "r")
    assert cause.get("executionError") == (error if error != named else None)


def test_an_execution_with_no_record_of_its_own_passes_on_ecsruns_cause() -> None:
    # Given an execution that ended at one of ecsrun's Fail states before any record (an invalid request)
    report = json.dumps({"message": "the run request has 1 problem (runId)", "problems": []})
    # Then its answer is that name and that cause, as the execution ended with them
    outcome = ended_execution_outcome(None, EXECUTION, "FAILED", "RunRequest.Invalid", report)
    assert outcome == {"status": "FAILED", "error": "RunRequest.Invalid", "cause": report}
