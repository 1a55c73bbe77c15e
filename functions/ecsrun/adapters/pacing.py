"""An account-wide pace for one API, kept in a DynamoDB item that every function of the stack shares.

The item holds one number, the bucket's theoretical arrival time (ecsrun.domain.pacing): taking a slot is one
conditional UpdateItem (two after an idle spell), and the caller then waits until its slot. DynamoDB takes
1,000 writes a second on one item; the pace it keeps is ten, so the item never becomes the bottleneck.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from ecsrun.domain.pacing import SlotTooFar, interval_ms
from ecsrun.plumbing.observability import logger

KEY = "pace"
TAKE_ATTEMPTS = 5  # rounds of conditional writes lost to other callers before a request goes unpaced
_BOOKED_UNTIL: dict[str, int] = {}  # per pace, when this process last saw its timeline booked until (ms)


def _conditional_failed(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


class SharedPace:
    """Slots on one timeline for `name` (an API and Region: "GetLogEvents#us-east-1"), `rate_per_second` apart."""

    def __init__(
        self, table: Any, name: str, rate_per_second: float, *, clock: Callable[[], float] = time.time
    ) -> None:
        self._table, self._name, self._clock = table, name, clock
        self._interval = interval_ms(rate_per_second)

    def take(self, max_wait: float | None = None) -> float:
        """Reserve the next slot; the seconds to wait for it (0: go now). When the item cannot be written, 0:
        the request goes unpaced and, if throttled, is retried with backoff (a pace is a courtesy, not a lock).
        With `max_wait`, a slot further away than that is not booked: SlotTooFar says how far it is.

        Which of the two writes is tried first follows what this process saw last: a timeline it left idle is
        likely idle still (one write, not a failed one and then another), a busy one busy still."""
        for _ in range(TAKE_ATTEMPTS):
            now = round(self._clock() * 1000)
            busy = _BOOKED_UNTIL.get(self._name, 0) > now
            for attempt in (self._queue, self._start) if busy else (self._start, self._queue):
                try:
                    wait_ms = attempt(now, max_wait)
                except ClientError as exc:
                    if not _conditional_failed(exc):
                        return self._unpaced(exc)
                    continue
                except BotoCoreError as exc:
                    return self._unpaced(exc)
                _BOOKED_UNTIL[self._name] = now + wait_ms + self._interval
                return wait_ms / 1000
        logger.warning("pace contended; this request goes unpaced", extra={"pace": self._name})
        return 0.0

    def _queue(self, now: int, max_wait: float | None) -> int:
        """The timeline is booked to `tat` >= now (and, with `max_wait`, to no later than that from now): take
        that slot, move it on; milliseconds to wait."""
        values: dict[str, Any] = {":interval": self._interval, ":now": now}
        condition = "tat >= :now"
        if max_wait is not None:
            values[":limit"] = now + round(max_wait * 1000)
            condition += " AND tat <= :limit"
        try:
            answer = self._table.update_item(
                Key={KEY: self._name},
                UpdateExpression="SET tat = tat + :interval",
                ConditionExpression=condition,
                ExpressionAttributeValues=values,
                ReturnValues="UPDATED_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            old: Any = exc.response.get("Item") or {}
            tat = old.get("tat")
            booked = int(tat["N"] if isinstance(tat, dict) else tat) if tat is not None else None
            too_far = max_wait is not None and booked is not None and booked - now > max_wait * 1000
            if _conditional_failed(exc) and too_far and booked is not None:
                _BOOKED_UNTIL[self._name] = booked
                raise SlotTooFar((booked - now) / 1000) from exc
            raise
        return max(0, int(answer["Attributes"]["tat"]) - self._interval - now)

    def _start(self, now: int, max_wait: float | None = None) -> int:
        """The timeline is idle (or new): this request goes now, the next one an interval later."""
        self._table.update_item(
            Key={KEY: self._name},
            UpdateExpression="SET tat = :next",
            ConditionExpression="attribute_not_exists(tat) OR tat < :now",
            ExpressionAttributeValues={":next": now + self._interval, ":now": now},
        )
        return 0

    def _unpaced(self, exc: Exception) -> float:
        logger.warning("pace unavailable; this request goes unpaced", extra={"pace": self._name, "error": str(exc)})
        return 0.0
