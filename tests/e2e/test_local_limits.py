"""The local engine refuses what AWS refuses on size and form (ecsrun.local.quotas), end to end on moto; and ecsrun's
own documents stay within those bounds when a request is as bad as it gets."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError
from ecsrun.domain import limits
from ecsrun.local.engine import run_local
from ecsrun.local.runtime import LocalAws

from tests.conftest import EVENTS


@pytest.fixture(scope="module")
def aws() -> Iterator[LocalAws]:
    with LocalAws() as local:
        local.register_task_definition(json.loads((EVENTS / "task-definitions" / "hello.json").read_text()))
        yield local


def _machine(aws: LocalAws, name: str, states: dict[str, Any], start: str) -> str:
    definition = json.dumps({"StartAt": start, "States": states})
    role = "arn:aws:iam::123456789012:role/ecsrun-local"
    machine = aws.client("stepfunctions").create_state_machine(name=name, definition=definition, roleArn=role)
    return str(machine["stateMachineArn"])


def _run(aws: LocalAws, machine: str, document: Any) -> dict[str, Any]:
    sfn = aws.client("stepfunctions")
    arn = sfn.start_execution(stateMachineArn=machine, input=json.dumps(document, separators=(",", ":")))[
        "executionArn"
    ]
    for _ in range(200):
        described = sfn.describe_execution(executionArn=arn)
        if described["status"] != "RUNNING":
            return dict(described)
        time.sleep(0.05)
    raise AssertionError(f"{arn} did not end")


def _compact(document: Any) -> str:
    return json.dumps(document, separators=(",", ":"))


def _padded(size: int) -> dict[str, str]:
    """An object whose compact JSON is exactly `size` bytes."""
    return {"x": "a" * (size - len('{"x":""}'))}


def test_a_state_output_over_256_kib_fails_the_execution_and_256_kib_does_not(aws: LocalAws) -> None:
    # Given a Pass state that passes its input on
    machine = _machine(aws, "pass-on", {"P": {"Type": "Pass", "End": True}}, "P")
    # When its output is exactly 256 KiB, Then the execution succeeds
    assert _run(aws, machine, _padded(limits.MAX_PAYLOAD_BYTES))["status"] == "SUCCEEDED"
    # And when it is one byte more, the execution fails with States.DataLimitExceeded (moto refused both)
    doubled = _machine(
        aws, "double", {"P": {"Type": "Pass", "Parameters": {"a.$": "$.x", "b.$": "$.x"}, "End": True}}, "P"
    )
    failed = _run(aws, doubled, {"x": "a" * (limits.MAX_PAYLOAD_BYTES // 2)})
    assert (failed["status"], failed.get("error")) == ("FAILED", "States.DataLimitExceeded")


def test_a_fail_state_cause_over_32768_characters_fails_the_execution_as_a_runtime_error(aws: LocalAws) -> None:
    machine = _machine(aws, "fail-long", {"F": {"Type": "Fail", "Error": "E", "CausePath": "$.cause"}}, "F")
    assert _run(aws, machine, {"cause": "c" * limits.MAX_CAUSE_CHARS})["cause"] == "c" * limits.MAX_CAUSE_CHARS
    failed = _run(aws, machine, {"cause": "c" * (limits.MAX_CAUSE_CHARS + 1)})
    assert failed["error"] == "States.Runtime"
    assert "a cause of 32769 characters" in failed["cause"]


def test_a_wait_over_99999999_seconds_fails_the_execution(aws: LocalAws) -> None:
    machine = _machine(aws, "wait", {"W": {"Type": "Wait", "SecondsPath": "$.s", "End": True}}, "W")
    failed = _run(aws, machine, {"s": limits.MAX_WAIT_SECONDS + 1})
    assert failed["error"] == "States.Runtime"
    assert "over 99999999" in failed["cause"]


def test_callbacks_are_held_to_their_bounds_and_keep_their_cause(aws: LocalAws) -> None:
    # Given an execution waiting on a task token
    waiting = {
        "T": {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
            "Parameters": {"FunctionName": "PlanRetryFunction", "Payload": {"token.$": "$$.Task.Token"}},
            "TimeoutSeconds": 30,
            "End": True,
        }
    }
    sfn = aws.client("stepfunctions")
    machine = _machine(aws, "waits", waiting, "T")
    tokens: list[str] = []
    invoke = aws.invoke_handler
    aws.invoke_handler = lambda logical_id, arn, event: (tokens.append(event["token"]), ({}, False))[1]  # type: ignore[method-assign]
    try:
        arn = sfn.start_execution(stateMachineArn=machine, input="{}")["executionArn"]
        for _ in range(100):
            if tokens:
                break
            time.sleep(0.05)
    finally:
        aws.invoke_handler = invoke  # type: ignore[method-assign]
    token = tokens[0]
    # When a caller sends a cause of 32,769 characters or an output of 256 KiB + 1 byte, Then AWS's error comes back
    with pytest.raises(ClientError) as cause:
        sfn.send_task_failure(taskToken=token, error="E", cause="c" * (limits.MAX_CAUSE_CHARS + 1))
    with pytest.raises(ClientError) as output:
        sfn.send_task_success(taskToken=token, output=_compact(_padded(limits.MAX_PAYLOAD_BYTES + 1)))
    assert cause.value.response["Error"]["Code"] == output.value.response["Error"]["Code"] == "ValidationException"
    # And a failure within bounds ends the execution with its error and its cause (moto would drop the cause)
    sfn.send_task_failure(taskToken=token, error="Run.Failed", cause="exit 3")
    for _ in range(100):
        described = sfn.describe_execution(executionArn=arn)
        if described["status"] != "RUNNING":
            break
        time.sleep(0.05)
    assert (described["status"], described.get("error"), described.get("cause")) == ("FAILED", "Run.Failed", "exit 3")


def test_an_execution_started_without_a_name_gets_one_of_its_own(aws: LocalAws) -> None:
    machine = _machine(aws, "nameless", {"P": {"Type": "Pass", "End": True}}, "P")
    sfn = aws.client("stepfunctions")
    first = sfn.start_execution(stateMachineArn=machine, input="{}")["executionArn"]
    second = sfn.start_execution(stateMachineArn=machine, input="{}")["executionArn"]
    assert first != second and not first.endswith(":None")


def test_ecs_refuses_list_tasks_filters_and_run_task_tokens_it_does_not_accept(aws: LocalAws) -> None:
    ecs = aws.client("ecs")
    with pytest.raises(ecs.exceptions.InvalidParameterException):
        ecs.list_tasks(cluster="default", startedBy="ecsrun/a", desiredStatus="STOPPED")
    assert ecs.list_tasks(cluster="default", startedBy="ecsrun/a")["taskArns"] == []
    with pytest.raises(ecs.exceptions.InvalidParameterException):
        ecs.run_task(cluster="default", taskDefinition="ecsrun-hello", clientToken="t" * 65, launchType="EC2")
    with pytest.raises(ecs.exceptions.InvalidParameterException):
        ecs.run_task(cluster="default", taskDefinition="ecsrun-hello", startedBy="ecsrun/a.b", launchType="EC2")


def test_put_events_over_256_kb_is_refused(aws: LocalAws) -> None:
    events = aws.client("events")
    entry = {"Source": "ecsrun", "DetailType": "ecsrun.RunFailed", "EventBusName": "default"}
    room = limits.MAX_PUT_EVENTS_ENTRY_BYTES - limits.put_events_entry_bytes({**entry, "Detail": ""})
    with pytest.raises(ClientError) as refused:
        events.put_events(Entries=[{**entry, "Detail": _compact(_padded(room + 1))}])
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert events.put_events(Entries=[{**entry, "Detail": _compact(_padded(room))}])["FailedEntryCount"] == 0


def test_a_request_with_20000_bad_fields_ends_invalid_with_a_cause_step_functions_accepts(aws: LocalAws) -> None:
    # Given a request with 20,000 unknown fields (its report was 2.4 MB: the Fail state would refuse it)
    request = {"taskDefinition": "ecsrun-hello", "runId": "bad", **{f"f{i}": 0 for i in range(20_000)}}
    # When it runs through the state machine
    result = run_local(request, [], aws=aws)
    # Then it ends RunRequest.Invalid with a JSON cause within 32,768 characters that says it was cut
    assert (result.status, result.error) == ("FAILED", "RunRequest.Invalid")
    assert result.cause is not None and len(result.cause) <= limits.MAX_CAUSE_CHARS
    assert json.loads(result.cause)["truncated"]["problems"]["total"] >= 20_000
