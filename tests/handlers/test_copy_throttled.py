"""Read-back under pressure: CloudWatch Logs throttling a copy never fails or strands its run, and every read
takes its slot on the stack's shared pace."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from ecsrun.adapters import clients
from ecsrun.handlers import copy_logs

from tests.conftest import REGION, Stack, context
from tests.handlers.helpers import EXECUTION, validated_run
from tests.handlers.test_copy_logs import LateFinalBatch, _events, _lines, _stopped_now, _use_logs

PACING = "ecsrun-test-pacing"


class Throttling:
    """`logs`, but the first `times` GetLogEvents requests answer ThrottlingException, as CloudWatch Logs does
    over its 10 requests a second per account and Region."""

    def __init__(self, logs: LateFinalBatch, times: int) -> None:
        self.logs, self.left, self.requests = logs, times, 0

    def get_log_events(self, **kwargs: Any) -> Any:
        self.requests += 1
        if self.left > 0:
            self.left -= 1
            error: Any = {"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}
            raise ClientError(error, "GetLogEvents")
        return self.logs.get_log_events(**kwargs)


@pytest.fixture
def paced(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The stack's pacing table, and the functions told to use it."""
    boto3.client("dynamodb", region_name=REGION).create_table(
        TableName=PACING,
        BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pace", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pace", "AttributeType": "S"}],
    )
    monkeypatch.setenv("PACING_TABLE", PACING)
    return boto3.resource("dynamodb", region_name=REGION).Table(PACING)


def test_a_copy_throttled_until_its_time_runs_short_pauses_and_ends_with_the_tasks_verdict(
    stack: Stack, sfn: Stubber, monkeypatch: pytest.MonkeyPatch, paced: Any
) -> None:
    # Given a succeeded task with 25,000 lines (three pages; the driver's final flush among them, so no settle
    # wait), and CloudWatch Logs throttling 30 requests in a row
    containers_stopped, _ = _stopped_now(stack, sfn)
    lines = [f"line {i}" for i in range(25_000)]
    logs = LateFinalBatch(app=(_events(lines, containers_stopped - 60_000, containers_stopped + 400), []))
    throttling = Throttling(logs, times=30)
    _use_logs(monkeypatch, throttling)  # type: ignore[arg-type]
    # And every invocation short of time (each pauses at its first chance)
    monkeypatch.setenv("COPY_RESERVE_SECONDS", str(10**6))
    payload: dict[str, Any] = {"run": validated_run(stack.request()), "executionArn": EXECUTION}
    # When the state machine invokes the copy until it says it is done (RunSucceeded? loops on done: false)
    invocations = 0
    while True:
        response = copy_logs.handler(payload, context())
        invocations += 1
        assert invocations < 100, "the copy never finished"
        if response["done"]:
            break
        # Then no invocation fails: each throttled one checkpoints and asks to be continued at once
        assert response["outcome"] is None and response["checkpoint"]["seq"] >= 1 and response["waitSeconds"] == 0
        payload = {**payload, "logCopy": response}
    # Then the run ends with its task's verdict and its logs complete: every line, once
    assert response["outcome"]["status"] == "SUCCEEDED"
    assert _lines(stack) == lines
    assert len(logs.served) == len(lines)
    # And it took more invocations than pages: the throttled ones paused and were continued
    assert invocations > 3 and throttling.left == 0
    # And every request took its slot on the shared pace of this Region
    assert paced.get_item(Key={"pace": "GetLogEvents#us-east-1"})["Item"]["tat"] > 0


def test_a_throttled_copy_with_time_to_spare_retries_in_the_same_invocation(
    stack: Stack, sfn: Stubber, monkeypatch: pytest.MonkeyPatch, paced: Any
) -> None:
    # Given CloudWatch Logs throttling the first 4 requests, and backoffs drawn short
    containers_stopped, _ = _stopped_now(stack, sfn)
    logs = LateFinalBatch(app=(_events(["one", "two"], containers_stopped - 5_000, containers_stopped + 400), []))
    throttling = Throttling(logs, times=4)
    _use_logs(monkeypatch, throttling)  # type: ignore[arg-type]
    monkeypatch.setattr("ecsrun.adapters.cloudwatch_logs.backoff_seconds", lambda attempt: 0.01)
    # When the copy runs with all of Lambda's time
    response = copy_logs.handler({"run": validated_run(stack.request()), "executionArn": EXECUTION}, context())
    # Then it finishes in that one invocation, every line copied, after retrying each throttled request
    assert response["done"] is True and response["outcome"]["status"] == "SUCCEEDED"
    assert _lines(stack) == ["one", "two"]
    assert throttling.requests == 4 + 2  # four throttled, then the page and the end of the stream


def test_the_logs_client_leaves_retries_to_the_paced_reader() -> None:
    # Given the process's CloudWatch Logs client, Then the SDK sends each request once: a throttled read is retried
    # by the reader, on a new slot of the pace (SDK retries would go around it)
    clients.reset()
    config = clients.client("logs", REGION).meta.config
    assert config.retries["total_max_attempts"] == 1
    assert clients.client("ecs", REGION).meta.config.retries["total_max_attempts"] > 1
