"""EventBridge PutEvents, with the per-entry failures it reports in a 200 response turned into an error."""

from __future__ import annotations

from typing import Any

from ecsrun.domain.errors import EcsrunError


class PublishFailed(EcsrunError):
    """EventBridge accepted the call but not the entry; the caller's retry puts it again."""


class Events:
    def __init__(self, client: Any):
        self._events = client

    def put(self, entry: dict[str, Any]) -> None:
        response = self._events.put_events(Entries=[entry])
        if response.get("FailedEntryCount"):
            failed = response["Entries"][0]
            raise PublishFailed(f"PutEvents refused the entry: {failed.get('ErrorCode')}: {failed.get('ErrorMessage')}")
