"""How a CloudWatch log event becomes a line of a run's log file. Pure."""

from __future__ import annotations

from datetime import datetime, timezone


def iso_utc(timestamp_ms: int) -> str:
    moment = datetime.fromtimestamp(timestamp_ms / 1000, tz=timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def format_event(timestamp_ms: int, message: str) -> str:
    """One event, one line: `<ISO-8601 UTC> <message>`; newlines inside a message are escaped as \\n."""
    text = message.rstrip("\r\n").replace("\r\n", "\\n").replace("\n", "\\n")
    return f"{iso_utc(timestamp_ms)} {text}\n"
