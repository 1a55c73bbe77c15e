"""The timeline's pure parts: spans from an execution's history (GetExecutionHistory's shape), and the SVG."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from typing import Any

from ecsrun.cli.timeline import Span, container_spans, history_spans, ordered, render_svg, task_spans, text_lines

T0 = datetime(2026, 11, 21, 10, 0, 0, tzinfo=UTC)
SVG = "{http://www.w3.org/2000/svg}"


def _event(event_id: int, seconds: float, kind: str, name: str | None = None) -> dict[str, Any]:
    event: dict[str, Any] = {"id": event_id, "timestamp": T0 + timedelta(seconds=seconds), "type": kind}
    if name and kind.endswith("StateEntered"):
        event["stateEnteredEventDetails"] = {"name": name}
    if name and kind.endswith("StateExited"):
        event["stateExitedEventDetails"] = {"name": name}
    return event


RETRIED = [
    _event(1, 0, "ExecutionStarted"),
    _event(2, 0.1, "TaskStateEntered", "ValidateRequest"),
    _event(3, 0.3, "TaskStateExited", "ValidateRequest"),
    _event(4, 0.3, "TaskStateEntered", "StartTaskAndWait"),
    _event(5, 5.0, "TaskStateExited", "StartTaskAndWait"),
    _event(6, 5.0, "TaskStateEntered", "PlanRetry"),
    _event(7, 5.2, "TaskStateExited", "PlanRetry"),
    _event(8, 5.2, "WaitStateEntered", "WaitBeforeRetry"),
    _event(9, 9.2, "WaitStateExited", "WaitBeforeRetry"),
    _event(10, 9.2, "TaskStateEntered", "StartTaskAndWait"),
    _event(11, 20.0, "TaskStateExited", "StartTaskAndWait"),
    _event(12, 20.0, "TaskStateEntered", "CopyLogs"),
    _event(13, 21.0, "TaskStateExited", "CopyLogs"),
    _event(14, 21.0, "ExecutionFailed"),
]


def test_history_gives_the_execution_each_state_each_attempt_and_the_wait() -> None:
    # Given a history in any order (as GetExecutionHistory pages it, newest first for instance)
    spans = ordered(history_spans(list(reversed(RETRIED)), "execution retried"))
    # Then each state entered is a span to when it was left, attempts numbered, the wait a wait
    origin = T0.timestamp()
    offsets = [(s.kind, s.label, round(s.start - origin, 3), s.end and round(s.end - origin, 3)) for s in spans]
    assert offsets == [
        ("execution", "execution retried", 0, 21.0),
        ("state", "ValidateRequest", 0.1, 0.3),
        ("attempt", "StartTaskAndWait (attempt 1)", 0.3, 5.0),
        ("state", "PlanRetry", 5.0, 5.2),
        ("wait", "WaitBeforeRetry", 5.2, 9.2),
        ("attempt", "StartTaskAndWait (attempt 2)", 9.2, 20.0),
        ("logs", "CopyLogs", 20.0, 21.0),
    ]
    assert spans[0].detail == "FAILED"


def test_a_running_execution_has_open_spans() -> None:
    spans = history_spans(RETRIED[:10], "execution")
    assert [(s.label, s.end) for s in spans if s.end is None] == [
        ("execution", None),
        ("StartTaskAndWait (attempt 2)", None),
    ]
    assert "running" in text_lines(spans)[0] and "RUNNING" in spans[0].detail


def test_task_and_containers_come_from_the_record_and_the_manifest_or_the_processes() -> None:
    task = {
        "taskArn": "arn:aws:ecs:us-east-1:123456789012:task/default/0123456789abcdef",
        "createdAt": "2026-11-21T10:00:01.000Z",
        "startedAt": "2026-11-21T10:00:03.000Z",
        "stoppedAt": "2026-11-21T10:00:19.000Z",
        "stopCode": "EssentialContainerExited",
    }
    [span] = task_spans(task)
    assert (span.kind, span.label, span.end - span.start) == ("task", "task 01234567", 18.0)
    assert "running from +2.000 s" in span.detail
    assert task_spans({"taskArn": None}) == [] and task_spans(None) == []
    logs = [{"name": "app", "firstTimestamp": "2026-11-21T10:00:04Z", "lastTimestamp": "2026-11-21T10:00:18Z"}]
    [container] = container_spans([*logs, {"name": "quiet", "key": None}], source="logs")
    assert (container.label, container.end - container.start) == ("container app", 14.0)
    assert container.detail == "its first to its last log line"


def test_the_svg_has_one_span_per_row_in_order_escaped_and_readable_by_a_program() -> None:
    start = T0.timestamp()
    spans = [
        Span("container", "container <app> & co", start + 2, start + 3),
        Span("execution", "execution e", start, start + 4, "SUCCEEDED"),
        Span("state", "ValidateRequest", start + 0.5, start + 1),
        Span("attempt", "StartTaskAndWait (attempt 1)", start + 1, None),
    ]
    root = ET.fromstring(render_svg(spans, "run <x>"))
    groups = [g for g in root.iter(f"{SVG}g") if g.get("class") == "span"]
    assert [g.get("data-label") for g in groups] == [
        "execution e", "ValidateRequest", "StartTaskAndWait (attempt 1)", "container <app> & co",
    ]  # fmt: skip
    assert [g.get("data-start") for g in groups] == ["0.000", "0.500", "1.000", "2.000"]
    assert groups[2].get("data-end") == ""  # still running: drawn to the end of the axis
    assert root.find(f"{SVG}title").text == "run <x>"  # type: ignore[union-attr]
    rects = [g.find(f"{SVG}rect") for g in groups]
    assert all(float(r.get("width") or 0) >= 2 for r in rects if r is not None)
    assert "still running" in (groups[2].find(f"{SVG}title").text or "")  # type: ignore[union-attr]
