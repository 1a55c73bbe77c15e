"""Read a CloudWatch Logs stream from its first event to its last."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from botocore.exceptions import ClientError


class LogStreamMissing(Exception):
    """The log group or stream does not exist: the container wrote no logs there."""


def iter_log_events(logs: Any, group: str, stream: str) -> Iterator[dict[str, Any]]:
    """Every event, oldest first. GetLogEvents can return empty pages before the end, so stop only
    when the forward token comes back unchanged."""
    kwargs: dict[str, Any] = {"logGroupName": group, "logStreamName": stream, "startFromHead": True}
    token: str | None = None
    while True:
        if token is not None:
            kwargs["nextToken"] = token
        try:
            page = logs.get_log_events(**kwargs)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
                raise LogStreamMissing(f"{group}/{stream}: {exc.response['Error'].get('Message', '')}") from exc
            raise
        yield from page.get("events", [])
        next_token = page.get("nextForwardToken")
        if next_token is None or next_token == token:
            return
        token = next_token
