"""The shared pace's arithmetic: slots on one timeline, and backoff with full jitter."""

from __future__ import annotations

from ecsrun.domain.pacing import BACKOFF_CAP_SECONDS, backoff_seconds, interval_ms, slot


def test_a_rate_becomes_the_interval_between_two_requests() -> None:
    # Given CloudWatch Logs' 10 a second and the stack's default 8, When turned into intervals, Then 100 and 125 ms
    assert interval_ms(10) == 100
    assert interval_ms(8) == 125
    # And no rate gives an interval under a millisecond
    assert interval_ms(10_000) == 1


def test_a_slot_is_never_before_now_nor_before_the_timeline() -> None:
    # Given a new timeline, When a request arrives, Then it goes now
    assert slot(None, 5_000) == 5_000
    # Given a timeline booked until 5,250, When a request arrives at 5,000, Then it waits for 5,250
    assert slot(5_250, 5_000) == 5_250
    # Given a timeline idle since 4,000, When a request arrives at 5,000, Then it goes now: no saved-up burst
    assert slot(4_000, 5_000) == 5_000


def test_backoff_is_full_jitter_under_a_doubling_ceiling_with_a_cap() -> None:
    # Given a uniform draw that reports its bounds, When each attempt's backoff is drawn
    bounds: list[tuple[float, float]] = []

    def uniform(low: float, high: float) -> float:
        bounds.append((low, high))
        return high / 2

    waits = [backoff_seconds(attempt, uniform=uniform) for attempt in (1, 2, 3, 10, 1_000)]
    # Then each is drawn from zero up to base * 2**attempt, never above the cap
    assert [high for _, high in bounds] == [0.5, 1.0, 2.0, BACKOFF_CAP_SECONDS, BACKOFF_CAP_SECONDS]
    assert all(low == 0.0 for low, _ in bounds)
    assert waits == [0.25, 0.5, 1.0, BACKOFF_CAP_SECONDS / 2, BACKOFF_CAP_SECONDS / 2]


def test_real_backoff_draws_stay_in_bounds() -> None:
    # Given many draws with the real random source, Then every one is within [0, its ceiling)
    for attempt in range(1, 12):
        for _ in range(50):
            assert 0.0 <= backoff_seconds(attempt) <= min(BACKOFF_CAP_SECONDS, 0.25 * 2**attempt)
