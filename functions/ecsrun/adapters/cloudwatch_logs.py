"""Read a CloudWatch Logs stream from its first event to its last, paced and patient with throttling."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

from botocore.exceptions import BotoCoreError, ClientError

from ecsrun.domain.pacing import SlotTooFar, backoff_seconds

THROTTLING_CODES = frozenset({"ThrottlingException", "Throttling", "TooManyRequestsException", "RequestLimitExceeded"})


class LogStreamMissing(Exception):
    """The log group or stream does not exist: the container wrote no logs there."""


class LogReadPaused(Exception):
    """GetLogEvents kept answering ThrottlingException (or a server error) until the invocation's time ran short,
    or the shared pace has no slot within MAX_BOOKING_SECONDS: the copy pauses at a checkpoint (for `wait_seconds`
    in the state machine, where waiting costs nothing) and a later invocation reads on from the last page it
    wrote."""

    def __init__(self, message: str, wait_seconds: float = 0.0) -> None:
        super().__init__(message)
        self.wait_seconds = wait_seconds


class PacedLogReader:
    """A CloudWatch Logs client's GetLogEvents, each request sent at its slot on the account's shared pace
    (`pace()`: seconds to wait), and a throttled request (or one failed on AWS's side) retried after a backoff
    with full jitter, on a new slot, for as long as it takes: never an error that fails a run. `give_up()`, asked
    only when a request was throttled or a wait is long, ends the wait early with LogReadPaused."""

    LONG_WAIT_SECONDS = 1.0
    # A copy that can pause books a slot at most this far ahead: the timeline then never holds more than this
    # much work, so no copy books a slot it will not live to use (under overload, wasted slots starve everyone).
    MAX_BOOKING_SECONDS = 60.0
    MAX_PAUSE_SECONDS = 900.0

    def __init__(
        self,
        logs: Any,
        *,
        pace: Callable[..., float] | None = None,
        give_up: Callable[[], bool] | None = None,
        sleep: Callable[[float], None] | None = None,
        backoff: Callable[[int], float] | None = None,
    ) -> None:
        self._logs, self._pace, self._give_up = logs, pace, give_up
        self._sleep = sleep if sleep is not None else time.sleep
        self._backoff = backoff if backoff is not None else backoff_seconds
        self.throttled = 0  # requests answered ThrottlingException (or a server error), each one retried

    def get_log_events(self, **kwargs: Any) -> Any:
        attempt = 0
        while True:
            if self._pace is not None:
                self._wait(self._slot())
            try:
                return self._logs.get_log_events(**kwargs)
            except ClientError as exc:
                code = exc.response.get("Error", {}).get("Code", "")
                status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
                if code not in THROTTLING_CODES and status < 500:
                    raise
                self.throttled += 1
                attempt += 1
                if self._give_up is not None and self._give_up():
                    raise LogReadPaused(f"GetLogEvents {code} {attempt} times; continuing later") from exc
                self._wait(self._backoff(attempt))

    def _slot(self) -> float:
        """Seconds to this request's slot; a copy that can pause books none too far ahead and pauses instead."""
        assert self._pace is not None
        if self._give_up is None:
            return self._pace()
        try:
            return self._pace(self.MAX_BOOKING_SECONDS)
        except SlotTooFar as far:
            wait = min(far.seconds, self.MAX_PAUSE_SECONDS)
            said = f"the next GetLogEvents slot is {far.seconds:.0f} s away; continuing then"
            raise LogReadPaused(said, wait) from far

    def _wait(self, seconds: float) -> None:
        """Sleep `seconds`, a second at a time when it is long, so a copy short of time pauses instead."""
        while seconds > 0:
            if seconds > self.LONG_WAIT_SECONDS and self._give_up is not None and self._give_up():
                raise LogReadPaused(f"the next GetLogEvents slot is {seconds:.1f} s away; continuing later")
            step = min(seconds, self.LONG_WAIT_SECONDS)
            self._sleep(step)
            seconds -= step


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


def log_group_exists(logs: Any, group: str) -> bool | None:
    """Whether a log group of exactly that name exists (DescribeLogGroups by prefix, its pages read until the
    name is passed); None when CloudWatch Logs does not answer (access denied, throttled): not known."""
    token: str | None = None
    try:
        while True:
            page = logs.describe_log_groups(
                logGroupNamePrefix=group, limit=50, **({"nextToken": token} if token else {})
            )
            names = [g.get("logGroupName") for g in page.get("logGroups", [])]
            if group in names:
                return True
            token = page.get("nextToken")
            if not token or any(isinstance(n, str) and n > group for n in names):
                return False
    except (ClientError, BotoCoreError):
        return None
