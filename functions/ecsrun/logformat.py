"""How a CloudWatch log event becomes a line of a run's log file. Pure."""

from __future__ import annotations

from datetime import UTC, datetime


def iso_utc(timestamp_ms: int) -> str:
    moment = datetime.fromtimestamp(timestamp_ms / 1000, tz=UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def format_event(timestamp_ms: int, message: str) -> str:
    """One event, one line: `<ISO-8601 UTC> <message>`. Line breaks inside a message are escaped (\\n, \\r)
    so a reader that splits on them still sees one line per event."""
    text = message.rstrip("\r\n").replace("\r\n", "\\n").replace("\n", "\\n").replace("\r", "\\r")
    return f"{iso_utc(timestamp_ms)} {text}\n"
