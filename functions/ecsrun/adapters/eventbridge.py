"""EventBridge PutEvents, with the entries it refuses in a 200 response (FailedEntryCount: InternalFailure,
ThrottlingException; botocore does not retry them) sent again with backoff, then turned into an error."""

from __future__ import annotations

import random
import time
from typing import Any

from ecsrun.domain.errors import EcsrunError

# A refused entry is sent again up to ATTEMPTS times in all, after BACKOFF_SECONDS, doubling, with jitter.
ATTEMPTS = 4
BACKOFF_SECONDS = 0.2


class PublishFailed(EcsrunError):
    """EventBridge accepted the call but not the entry, each time it was sent."""


class Events:
    def __init__(self, client: Any, sleep: Any = None):
        self._events = client
        self._sleep = sleep  # None: time.sleep as it is when called (a simulation's virtual clock patches it)

    def put(self, entry: dict[str, Any]) -> None:
        failed: dict[str, Any] = {}
        for attempt in range(ATTEMPTS):
            if attempt:
                (self._sleep or time.sleep)(BACKOFF_SECONDS * 2 ** (attempt - 1) * random.uniform(0.5, 1.0))  # noqa: S311 - jitter
            response = self._events.put_events(Entries=[entry])
            if not response.get("FailedEntryCount"):
                return
            failed = response["Entries"][0]
        raise PublishFailed(f"PutEvents refused the entry: {failed.get('ErrorCode')}: {failed.get('ErrorMessage')}")
