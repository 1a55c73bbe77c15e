"""The token bucket AWS documents for its API rate quotas (ecsrun.domain.tokenbucket), which the local engine's
--quotas and the simulation throttle with."""

from __future__ import annotations

import pytest
from ecsrun.domain.tokenbucket import TokenBucket


def test_a_full_bucket_admits_its_burst_then_throttles() -> None:
    # Given a bucket of 50 refilled at 20 a second (ECS's DescribeClusters), full at t=0
    bucket = TokenBucket.full(rate=20, burst=50, now=0.0)
    # When 51 calls arrive in the same instant
    admitted = [bucket.take(0.0) for _ in range(51)]
    # Then the first 50 pass and the 51st is throttled
    assert admitted.count(True) == 50
    assert admitted[-1] is False


def test_it_refills_at_its_rate_and_never_above_its_burst() -> None:
    # Given an empty bucket of 10 refilled at 10 a second (GetLogEvents)
    bucket = TokenBucket.full(rate=10, burst=10, now=0.0)
    for _ in range(10):
        assert bucket.take(0.0)
    # When 0.25 s pass, Then two calls pass (2.5 tokens) and the third waits 0.05 s for its token
    assert bucket.take(0.25) and bucket.take(0.25)
    assert not bucket.take(0.25)
    assert bucket.wait(0.25) == pytest.approx(0.05)
    # When an hour passes, Then it holds its burst, not 36,000 tokens
    assert sum(bucket.take(3600.25) for _ in range(20)) == 10


def test_a_throttled_call_takes_nothing_and_time_never_runs_backwards() -> None:
    # Given a bucket with half a token
    bucket = TokenBucket(rate=1, burst=1, tokens=0.5, updated=10.0)
    # When a call is throttled, Then the half token is still there for later
    assert not bucket.take(10.0)
    assert bucket.take(10.5)
    # When a caller's clock is behind the bucket's, Then nothing is refilled
    assert not bucket.take(9.0)


def test_the_sustained_rate_is_its_refill_rate() -> None:
    # Given a bucket of 100 refilled at 20 a second (RunTask), and calls offered as fast as it takes them
    bucket = TokenBucket.full(rate=20, burst=100, now=0.0)
    admitted = sum(bucket.take(step / 1000) for step in range(60_000) for _ in range(2))
    # Then over 60 s it admitted its burst plus 20 a second, no more
    assert admitted == pytest.approx(100 + 20 * 60, abs=1)


@pytest.mark.parametrize(("rate", "burst"), [(0, 10), (-1, 10), (5, 0.5)])
def test_a_bucket_that_can_never_admit_a_call_is_refused(rate: float, burst: float) -> None:
    with pytest.raises(ValueError, match="bucket"):
        TokenBucket(rate=rate, burst=burst)


def test_a_caller_that_sleeps_each_wait_on_an_epoch_clock_gets_its_token() -> None:
    # Given a bucket on a clock of epoch seconds, half a millionth of a token short (as the load simulation left
    # one: its wait, 9.5e-8 s, is less than the clock can add to 1.8e9)
    now = 1_767_604_326.6
    bucket = TokenBucket(rate=5.0, burst=5.0, tokens=0.9999995231628418, updated=now)
    # When a caller sleeps each wait() and asks again (as the simulation's timers do)
    asks = 0
    while not bucket.take(now):
        asks += 1
        assert asks < 5, "the wait never moves the clock"
        now += bucket.wait(now)
    # Then it gets its token at once: a shortfall the clock cannot express counts as none
    assert asks == 0
