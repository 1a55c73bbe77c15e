"""The account-wide pace of GetLogEvents (a DynamoDB item, on moto) and the paced, patient reader."""

from __future__ import annotations

import threading
import time
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from ecsrun.adapters.cloudwatch_logs import LogReadPaused, PacedLogReader, iter_log_pages
from ecsrun.adapters.pacing import SharedPace
from ecsrun.domain.pacing import SlotTooFar

from tests.conftest import REGION, Stack

PACING = "ecsrun-test-pacing"


@pytest.fixture
def pacing(stack: Stack) -> Any:
    dynamodb = boto3.resource("dynamodb", region_name=REGION)
    dynamodb.create_table(
        TableName=PACING,
        BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pace", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pace", "AttributeType": "S"}],
    )
    return dynamodb.Table(PACING)


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def test_requests_arriving_together_are_spaced_one_interval_apart(pacing: Any) -> None:
    # Given a pace of 8 a second, and a clock that stands still
    clock = Clock()
    pace = SharedPace(pacing, "GetLogEvents#us-east-1", 8, clock=clock)
    # When five requests take a slot at the same instant
    waits = [pace.take() for _ in range(5)]
    # Then the first goes now and each next one 125 ms after the one before
    assert waits == [0.0, 0.125, 0.25, 0.375, 0.5]


def test_an_idle_pace_saves_up_no_burst(pacing: Any) -> None:
    # Given a pace of 10 a second used once, then left idle for a minute
    clock = Clock()
    pace = SharedPace(pacing, "GetLogEvents#us-east-1", 10, clock=clock)
    assert pace.take() == 0.0
    clock.now += 60
    # When three requests arrive together, Then the first goes now and the others keep the interval
    assert [pace.take() for _ in range(3)] == [0.0, 0.1, 0.2]


def test_each_region_has_its_own_pace(pacing: Any) -> None:
    # Given two Regions' paces in one table, When each takes a slot at once, Then neither waits for the other
    clock = Clock()
    east = SharedPace(pacing, "GetLogEvents#us-east-1", 8, clock=clock)
    west = SharedPace(pacing, "GetLogEvents#eu-west-1", 8, clock=clock)
    assert (east.take(), west.take(), east.take()) == (0.0, 0.0, 0.125)


def test_many_callers_at_once_never_share_a_slot(pacing: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given 40 threads (as many Lambda invocations would be) taking slots on one pace of 10 a second, on a
    # DynamoDB that applies one write to an item at a time, as DynamoDB does (moto's in-process backend does not
    # serialize threads: its update_item reads, then writes)
    from moto.dynamodb.models import DynamoDBBackend

    serial = threading.Lock()
    update_item = DynamoDBBackend.update_item

    def one_at_a_time(*args: Any, **kwargs: Any) -> Any:
        with serial:
            return update_item(*args, **kwargs)

    monkeypatch.setattr(DynamoDBBackend, "update_item", one_at_a_time)
    clock = Clock()
    slots: list[int] = []
    lock = threading.Lock()

    def take() -> None:
        pace = SharedPace(boto3.resource("dynamodb", region_name=REGION).Table(PACING), "p", 10, clock=clock)
        wait = pace.take()
        with lock:
            slots.append(round(wait * 1000))

    threads = [threading.Thread(target=take) for _ in range(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # Then every request has its own slot, 100 ms apart: 40 requests take 4 seconds, never more than 10 in one
    assert sorted(slots) == [100 * i for i in range(40)]


def test_a_pace_that_cannot_be_written_lets_the_request_go(stack: Stack) -> None:
    # Given a pacing table that does not exist, When a slot is taken, Then the request goes at once, unpaced
    table = boto3.resource("dynamodb", region_name=REGION).Table("no-such-table")
    assert SharedPace(table, "GetLogEvents#us-east-1", 8).take() == 0.0


def _throttled(operation: str = "GetLogEvents", code: str = "ThrottlingException", status: int = 400) -> ClientError:
    response: Any = {
        "Error": {"Code": code, "Message": "Rate exceeded"},
        "ResponseMetadata": {"HTTPStatusCode": status},
    }
    return ClientError(response, operation)


class FlakyLogs:
    """GetLogEvents that fails with `errors` first (one per call), then answers one page and the end."""

    def __init__(self, *errors: ClientError) -> None:
        self.errors = list(errors)
        self.calls: list[dict[str, Any]] = []

    def get_log_events(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(kwargs)
        if self.errors:
            raise self.errors.pop(0)
        token = kwargs.get("nextToken")
        if token is None:
            return {"events": [{"timestamp": 1, "message": "only"}], "nextForwardToken": "f/1"}
        return {"events": [], "nextForwardToken": token}


def test_throttled_reads_are_retried_with_backoff_each_on_a_new_slot() -> None:
    # Given CloudWatch Logs throttling the first four requests (one of them a server error)
    logs = FlakyLogs(_throttled(), _throttled(), _throttled(code="InternalFailure", status=500), _throttled())
    slept: list[float] = []
    slots: list[int] = []
    reader = PacedLogReader(
        logs,
        pace=lambda: slots.append(1) or 0.0,
        sleep=slept.append,
        backoff=lambda attempt: attempt / 10,
    )
    # When the stream is read
    pages = list(iter_log_pages(reader, "/ecs/g", "ecs/app/1"))
    # Then every event arrives, after backoffs of increasing length, and each request took its own slot
    assert [e["message"] for page in pages for e in page.events] == ["only"]
    assert slept == [0.1, 0.2, 0.3, 0.4]
    assert len(slots) == len(logs.calls) == 6
    assert reader.throttled == 4


def test_a_refusal_that_is_not_throttling_is_raised_at_once() -> None:
    # Given CloudWatch Logs refusing access, When read, Then the error is raised, with no retry
    logs = FlakyLogs(_throttled(code="AccessDeniedException"))
    with pytest.raises(ClientError):
        PacedLogReader(logs, sleep=lambda s: None).get_log_events(logGroupName="g", logStreamName="s")
    assert len(logs.calls) == 1


def test_throttled_when_time_runs_short_pauses_instead_of_failing() -> None:
    # Given a copy whose invocation is short of time, and a throttled request
    logs = FlakyLogs(_throttled())
    reader = PacedLogReader(logs, give_up=lambda: True, sleep=lambda s: None)
    # When it reads, Then it pauses (the copy checkpoints), never raising the throttling error itself
    with pytest.raises(LogReadPaused):
        reader.get_log_events(logGroupName="g", logStreamName="s")


def test_a_long_wait_for_a_slot_pauses_a_copy_short_of_time_but_a_short_one_does_not() -> None:
    # Given a copy short of time
    logs = FlakyLogs()
    slept: list[float] = []
    # When its slot is half a second away, Then it waits for it and reads
    PacedLogReader(logs, pace=lambda *_: 0.5, give_up=lambda: True, sleep=slept.append).get_log_events()
    assert slept == [0.5] and len(logs.calls) == 1
    # When its slot is a minute away, Then it pauses rather than wait past its time
    with pytest.raises(LogReadPaused):
        PacedLogReader(logs, pace=lambda *_: 60.0, give_up=lambda: True, sleep=slept.append).get_log_events()
    assert len(logs.calls) == 1


class CountingTable:
    """A table whose UpdateItem calls are counted (each one a write request DynamoDB bills, failed or not)."""

    def __init__(self, table: Any) -> None:
        self.table, self.writes = table, 0

    def update_item(self, **kwargs: Any) -> Any:
        self.writes += 1
        return self.table.update_item(**kwargs)


def test_a_slot_costs_one_write_whether_the_timeline_is_idle_or_busy(pacing: Any) -> None:
    # Given a copy reading alone, a page every second on a pace of 8 a second (the timeline idle at each read)
    clock = Clock()
    table = CountingTable(pacing)
    pace = SharedPace(table, "one-write-idle", 8, clock=clock)
    for _ in range(5):
        assert pace.take() == 0.0
        clock.now += 1
    # Then each slot took one write
    assert table.writes == 5
    # Given many requests at once (the timeline busy), When they take slots, Then one write each as well
    busy = CountingTable(pacing)
    crowded = SharedPace(busy, "one-write-busy", 8, clock=clock)
    assert [crowded.take() for _ in range(4)] == [0.0, 0.125, 0.25, 0.375]
    assert busy.writes == 4


def test_a_slot_further_than_the_caller_may_wait_is_not_booked(pacing: Any) -> None:
    # Given a pace of 1 a second whose timeline is booked 3 seconds ahead
    clock = Clock()
    pace = SharedPace(pacing, "bounded", 1, clock=clock)
    assert [pace.take() for _ in range(3)] == [0.0, 1.0, 2.0]
    # When a caller that may wait 2.5 seconds asks, Then it is told how far the slot is, and nothing is booked
    with pytest.raises(SlotTooFar) as far:
        pace.take(max_wait=2.5)
    assert far.value.seconds == 3.0
    assert pace.take(max_wait=3.0) == 3.0  # the slot it did not book is the next caller's
    # And a caller that may wait long enough books as before
    assert pace.take(max_wait=10) == 4.0


def test_a_copy_that_can_pause_books_no_slot_it_will_not_use_and_says_how_long_to_wait() -> None:
    # Given a shared pace whose next slot is ten minutes away (far more copies than the quota serves)
    logs = FlakyLogs()
    asked: list[float | None] = []

    def pace(max_wait: float | None = None) -> float:
        asked.append(max_wait)
        raise SlotTooFar(600.0)

    # When a copy that can pause reads
    with pytest.raises(LogReadPaused) as paused:
        PacedLogReader(logs, pace=pace, give_up=lambda: False, sleep=lambda s: None).get_log_events()
    # Then it booked within its bound only, made no call, and pauses for as long as the queue is
    assert asked == [PacedLogReader.MAX_BOOKING_SECONDS] and logs.calls == []
    assert paused.value.wait_seconds == 600.0
