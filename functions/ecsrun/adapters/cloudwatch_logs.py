"""Read a CloudWatch Logs stream from its first event to its last."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, NamedTuple

from botocore.exceptions import ClientError


class LogStreamMissing(Exception):
    """The log group or stream does not exist: the container wrote no logs there."""


class LogPage(NamedTuple):
    events: list[dict[str, Any]]
    next_token: str | None  # where the next page starts, for a copy that stops here; None on a final page


def iter_log_pages(logs: Any, group: str, stream: str, token: str | None = None) -> Iterator[LogPage]:
    """Every page from `token` (or the first event), oldest first. GetLogEvents can return empty pages
    before the end, so stop only when the forward token comes back unchanged."""
    kwargs: dict[str, Any] = {"logGroupName": group, "logStreamName": stream, "startFromHead": True}
    while True:
        if token is not None:
            kwargs["nextToken"] = token
        try:
            page = logs.get_log_events(**kwargs)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
                raise LogStreamMissing(f"{group}/{stream}: {exc.response['Error'].get('Message', '')}") from exc
            raise
        events, next_token = page.get("events", []), page.get("nextForwardToken")
        if next_token is None or next_token == token:
            if events:
                yield LogPage(events, None)
            return  # the end: nothing to resume from here, so a copy never pauses on it
        yield LogPage(events, next_token)
        token = next_token
