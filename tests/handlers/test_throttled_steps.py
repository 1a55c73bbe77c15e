"""Throttling makes a run wait, never fail: a step whose AWS call stays throttled past the SDK's retries fails with
`Throttled`, which the state machine retries with a long backoff, and the retried step ends as if nothing had
happened (tests/template/test_asl.py checks the retriers)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from ecsrun.adapters import ecs as ecs_adapter
from ecsrun.adapters.ecs import Ecs
from ecsrun.domain.errors import Throttled

from tests.conftest import Stack
from tests.handlers.helpers import start_run, validate, validated_run

THROTTLING = {"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}, "ResponseMetadata": {}}


def _throttle_once(monkeypatch: pytest.MonkeyPatch, method: str, action: str) -> list[int]:
    """Ecs.<method> answers as ECS does over its rate quota, once (the SDK's retries spent), then as usual."""
    original = getattr(Ecs, method)
    calls: list[int] = []

    def throttled(self: Ecs, *args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 1:
            error = ClientError(THROTTLING, action)  # type: ignore[arg-type]
            if method == "run_task":
                raise ecs_adapter._api_error(action, error) from error
            raise error
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Ecs, method, throttled)
    return calls


def _tasks(stack: Stack) -> list[dict[str, Any]]:
    arns = stack.ecs.list_tasks(cluster="default")["taskArns"]
    return stack.ecs.describe_tasks(cluster="default", tasks=arns)["tasks"] if arns else []


def test_a_throttled_describe_task_definition_in_validate_request_waits(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given DescribeTaskDefinition answers ThrottlingException once
    stack.register("hello.json")
    calls = _throttle_once(monkeypatch, "find_task_definition", "DescribeTaskDefinition")
    # When ValidateRequest runs, Then it fails with Throttled (which the state machine retries), not an answer
    with pytest.raises(Throttled) as failed:
        validate(stack.request())
    assert type(failed.value).__name__ == "Throttled"
    assert "ThrottlingException" in str(failed.value)
    # When the state machine tries it again, Then the request is valid and its definition travels with the run
    answer = validate(stack.request())
    assert answer["valid"] is True
    assert answer["run"]["definition"] is not None
    assert len(calls) == 2


def test_a_throttled_run_task_waits_and_the_retry_starts_one_task(
    stack: Stack, sfn: Stubber, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a validated run, and RunTask answers ThrottlingException once
    stack.register("hello.json")
    run = validated_run(stack.request())
    calls = _throttle_once(monkeypatch, "run_task", "RunTask")
    # When the start runs, Then it fails with Throttled: no verdict, no callback, the record still starting
    with pytest.raises(Throttled):
        start_run(run)
    sfn.assert_no_pending_responses()
    record = stack.table.get_item(Key={"runId": "hello-demo"})["Item"]
    assert record["status"] == "STARTING"
    assert "verdict" not in record
    assert _tasks(stack) == []
    # When the state machine retries the start (a new token), Then RunTask is asked again and one task runs
    result = start_run(run, token="token-start-2")
    tasks = _tasks(stack)
    assert len(tasks) == 1
    assert result["taskArn"] == tasks[0]["taskArn"]
    record = stack.table.get_item(Key={"runId": "hello-demo"})["Item"]
    assert record["status"] == "RUNNING"
    assert record["taskToken"] == "token-start-2"
    assert int(record["attempt"]) == 1
    assert len(calls) == 2
    assert "ECS.Throttled" not in json.dumps(record, default=str)
