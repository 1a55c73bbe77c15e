"""The local engine's awslogs driver: long lines split as the driver splits them, batches within PutLogEvents'
limits, and events CloudWatch Logs does not keep said on stderr, never dropped without a word."""

from __future__ import annotations

import time
from typing import Any

import boto3
import pytest
from ecsrun.local import awslogs
from ecsrun.local.agent import ContainerRun, LocalEcsAgent
from moto import mock_aws

DAY_MS = 24 * 60 * 60 * 1000


def test_a_line_over_the_event_limit_becomes_several_events_that_join_back() -> None:
    # Given a line of 600,000 bytes, with a two-byte character across each event boundary
    line = "é" * 300_000
    # When split as the driver splits it
    parts = awslogs.split_message(line)
    # Then each event fits, no character is cut, and together they are the line
    assert len(parts) == 3
    assert all(len(p.encode()) <= awslogs.MAX_EVENT_BYTES for p in parts)
    assert "".join(parts) == line


def test_a_short_or_empty_line_is_one_event() -> None:
    assert awslogs.split_message("") == [""]
    assert awslogs.split_message("x" * awslogs.MAX_EVENT_BYTES) == ["x" * awslogs.MAX_EVENT_BYTES]


@pytest.mark.parametrize(
    ("events", "sizes"),
    [
        ([{"timestamp": 0, "message": "x"}] * 10_001, [10_000, 1]),
        # 5 events of 262,118 bytes: 4 fit in 1,048,576 bytes with the 26 bytes each counts
        ([{"timestamp": 0, "message": "x" * awslogs.MAX_EVENT_BYTES}] * 5, [4, 1]),
        ([{"timestamp": 0, "message": "a"}, {"timestamp": DAY_MS + 1, "message": "b"}], [1, 1]),
        ([{"timestamp": 0, "message": "a"}, {"timestamp": DAY_MS, "message": "b"}], [2]),
    ],
)
def test_batches_keep_within_count_bytes_and_span(events: list[dict[str, Any]], sizes: list[int]) -> None:
    # When events are batched, Then the batches are as PutLogEvents takes them, in order
    made = list(awslogs.batches(events))
    assert [len(b) for b in made] == sizes
    assert [e for b in made for e in b] == events


@pytest.mark.parametrize(
    ("info", "sent", "said"),
    [
        (None, 3, []),
        ({"tooOldLogEventEndIndex": 2}, 3, ["2 log events older than 14 days"]),
        ({"tooOldLogEventEndIndex": 0}, 3, ["1 log event older than 14 days"]),  # moto names the last one
        ({"tooNewLogEventStartIndex": 1}, 3, ["2 log events more than 2 hours in the future"]),
        ({"expiredLogEventEndIndex": 1}, 1, ["1 log event older than the log group's retention"]),
    ],
)
def test_rejected_events_are_counted(info: dict | None, sent: int, said: list[str]) -> None:
    assert awslogs.rejected(info, sent) == said


@pytest.fixture
def agent_and_container() -> Any:
    with mock_aws():
        logs = boto3.client("logs", region_name="us-east-1")
        logs.create_log_group(logGroupName="/ecs/app")
        logs.create_log_stream(logGroupName="/ecs/app", logStreamName="ecs/app/1")
        agent = LocalEcsAgent(ecs=None, logs=logs, region="us-east-1", account="123456789012", deliver=lambda e: None)
        notices: list[str] = []
        agent.on_notice = notices.append
        container = ContainerRun(
            definition={"name": "app"}, argv=[], env={}, log_group="/ecs/app", log_stream="ecs/app/1"
        )
        yield agent, container, notices, logs


def test_events_too_old_for_cloudwatch_logs_are_said_not_dropped_silently(agent_and_container: Any) -> None:
    agent, container, notices, logs = agent_and_container
    # Given two lines stamped 15 days ago and one stamped now, by the clock moto reads
    now = int(time.time() * 1000)
    events = [{"timestamp": now - 15 * DAY_MS, "message": m} for m in ("old 1", "old 2")]
    events.append({"timestamp": now, "message": "new"})
    # When the agent puts them
    agent._put(container, events)
    # Then CloudWatch Logs keeps only the new one, and the agent says what it did not keep, and where
    kept = logs.get_log_events(logGroupName="/ecs/app", logStreamName="ecs/app/1", startFromHead=True)["events"]
    assert [e["message"] for e in kept] == ["new"]
    assert len(notices) == 1
    assert notices[0].startswith("container app: CloudWatch Logs did not keep ")
    assert "older than 14 days in /ecs/app/ecs/app/1: those lines are lost" in notices[0]


def test_a_batch_refused_whole_is_said(agent_and_container: Any) -> None:
    agent, container, notices, _ = agent_and_container
    # Given events out of order, which PutLogEvents refuses whole
    now = int(time.time() * 1000)
    events = [{"timestamp": now, "message": "b"}, {"timestamp": now - 1000, "message": "a"}]
    # When the agent puts them, Then it does not raise, and says how many lines were refused and why
    agent._put(container, events)
    assert notices == [
        "container app: CloudWatch Logs did not keep 2 log events (InvalidParameterException: Log events in a "
        "single PutLogEvents request must be in chronological order.) in /ecs/app/ecs/app/1: those lines are lost"
    ]


def test_a_long_line_reaches_the_stream_whole(agent_and_container: Any) -> None:
    agent, container, notices, logs = agent_and_container
    # Given a container line of 300,000 bytes
    line = "z" * 300_000
    # When the agent turns it into events and puts them
    agent._put(container, agent._events(container, [line.encode()]))
    # Then the stream holds it as two events that join back into the line, and nothing was said
    kept = logs.get_log_events(logGroupName="/ecs/app", logStreamName="ecs/app/1", startFromHead=True)["events"]
    assert len(kept) == 2
    assert "".join(e["message"] for e in kept) == line
    assert notices == []
