"""Pacing a quota shared by every caller in the account: slots on one timeline, and backoff with jitter. Pure.

CloudWatch Logs answers at most 10 GetLogEvents requests a second per account and Region, a quota AWS does not
raise. Every log copy of a stack (however many Lambda invocations run at once) takes its turn on one shared
timeline, a token bucket in the form of the generic cell rate algorithm (GCRA): the bucket is one number, the
theoretical arrival time (`tat`) of the next request. A request takes the slot max(tat, now) and moves tat one
interval on; it is sent at its slot, so requests leave at most `rate` a second, however many ask at once. A
bucket left idle does not save up a burst: after a quiet spell the next request goes at once, and the one
after waits its interval.

A request throttled all the same (another tool reading the same account's logs, or AWS counting differently)
is retried after an exponential backoff with full jitter (AWS's "Exponential Backoff And Jitter"): many copies
throttled together spread their retries instead of returning in step.
"""

from __future__ import annotations

import random
from collections.abc import Callable

BACKOFF_BASE_SECONDS = 0.25
BACKOFF_CAP_SECONDS = 20.0


class SlotTooFar(Exception):
    """The next free slot is further away than the caller may wait: nothing was booked (a booked slot nobody uses
    is a request lost to every caller: under overload, copies that book and then pause would starve them all)."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"the next slot is {seconds:.1f} s away")
        self.seconds = seconds


def interval_ms(rate_per_second: float) -> int:
    """Milliseconds between two requests on the shared timeline (at least 1)."""
    return max(1, round(1000 / rate_per_second))


def slot(tat_ms: int | None, now_ms: int) -> int:
    """When a request arriving at `now_ms` may be sent, given the bucket's theoretical arrival time."""
    return now_ms if tat_ms is None else max(tat_ms, now_ms)


def backoff_seconds(
    attempt: int,
    *,
    base: float = BACKOFF_BASE_SECONDS,
    cap: float = BACKOFF_CAP_SECONDS,
    uniform: Callable[[float, float], float] = random.uniform,
) -> float:
    """The wait before retry `attempt` (1 for the first): full jitter, uniform in [0, min(cap, base * 2**attempt))."""
    return uniform(0.0, min(cap, base * 2 ** min(attempt, 32)))
