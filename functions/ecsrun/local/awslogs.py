"""What the awslogs log driver does between a container's output and PutLogEvents, and what it says when
CloudWatch Logs does not keep what it was sent.

The driver (moby's `daemon/logger/awslogs`) splits a message longer than 262,118 bytes (256 KiB less the 26
bytes CloudWatch Logs counts for each event) into several events, and sends batches of at most 10,000 events and
1,048,576 bytes (each event's UTF-8 message plus 26 bytes) spanning at most 24 hours. CloudWatch Logs answers
200 yet keeps no event more than 14 days old, more than 2 hours ahead, or older than the group's retention,
naming them in `rejectedLogEventsInfo`; it refuses a whole batch that breaks its rules. The local engine says
either on stderr, as the driver logs it on the container instance, rather than losing lines without a word.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

PER_EVENT_BYTES = 26
MAX_EVENT_BYTES = 262_144 - PER_EVENT_BYTES
MAX_BATCH_BYTES = 1_048_576
MAX_BATCH_EVENTS = 10_000
MAX_BATCH_SPAN_MS = 24 * 60 * 60 * 1000


def split_message(message: str, limit: int = MAX_EVENT_BYTES) -> list[str]:
    """The message as the events the driver sends: each at most `limit` bytes of UTF-8, never splitting a
    character. An empty line is one empty event."""
    data = message.encode("utf-8")
    if len(data) <= limit:
        return [message]
    parts: list[str] = []
    start = 0
    while start < len(data):
        end = min(start + limit, len(data))
        while end < len(data) and (data[end] & 0xC0) == 0x80:  # a continuation byte: back to the character's start
            end -= 1
        parts.append(data[start:end].decode("utf-8"))
        start = end
    return parts


def batches(events: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    """Consecutive batches within PutLogEvents' limits on count, bytes and time span. Events stay in order."""
    batch: list[dict[str, Any]] = []
    size = 0
    for event in events:
        cost = len(str(event["message"]).encode("utf-8")) + PER_EVENT_BYTES
        if batch and (
            len(batch) >= MAX_BATCH_EVENTS
            or size + cost > MAX_BATCH_BYTES
            or int(event["timestamp"]) - int(batch[0]["timestamp"]) > MAX_BATCH_SPAN_MS
        ):
            yield batch
            batch, size = [], 0
        batch.append(event)
        size += cost
    if batch:
        yield batch


def rejected(info: dict[str, Any] | None, sent: int) -> list[str]:
    """What `rejectedLogEventsInfo` says was not kept, one phrase per reason, with how many of the `sent` events.

    AWS documents `tooNewLogEventStartIndex` as inclusive and the two end indexes as exclusive; the field is
    there only when at least one event was refused, so a count is never less than one.
    """
    if not info:
        return []
    said = []
    if "tooOldLogEventEndIndex" in info:
        count = max(int(info["tooOldLogEventEndIndex"]), 1)
        said.append(f"{_events(count)} older than 14 days")
    if "expiredLogEventEndIndex" in info:
        count = max(int(info["expiredLogEventEndIndex"]), 1)
        said.append(f"{_events(count)} older than the log group's retention")
    if "tooNewLogEventStartIndex" in info:
        count = max(sent - int(info["tooNewLogEventStartIndex"]), 1)
        said.append(f"{_events(count)} more than 2 hours in the future")
    return said


def notice(container: str, where: str, reasons: list[str]) -> str:
    """The one line the local engine prints for events CloudWatch Logs did not keep."""
    return f"container {container}: CloudWatch Logs did not keep {'; '.join(reasons)} in {where}: those lines are lost"


def _events(count: int) -> str:
    return f"{count} log event{'' if count == 1 else 's'}"
