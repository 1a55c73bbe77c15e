"""How a CloudWatch log event becomes a line of a run's log file. Pure."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache


@lru_cache(maxsize=4096)
def _iso_second(epoch_second: int) -> str:
    return datetime.fromtimestamp(epoch_second, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")


def iso_utc(timestamp_ms: int) -> str:
    seconds, millis = divmod(timestamp_ms, 1000)
    return f"{_iso_second(seconds)}.{millis:03d}Z"


def format_event(timestamp_ms: int, message: str) -> str:
    """One event, one line: `<ISO-8601 UTC> <message>`. Line breaks inside a message are escaped (\\n, \\r)
    so a reader that splits on them still sees one line per event."""
    if "\n" in message or "\r" in message:
        message = message.rstrip("\r\n").replace("\r\n", "\\n").replace("\n", "\\n").replace("\r", "\\r")
    return f"{iso_utc(timestamp_ms)} {message}\n"
