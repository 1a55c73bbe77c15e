"""A token bucket, the algorithm AWS documents for its API rate quotas. Pure: the caller supplies the time.

ECS's request-throttling page says it in so many words ("Amazon ECS uses the token bucket algorithm"): a bucket
holds up to `burst` tokens, refills at `rate` tokens a second, and each request takes one; a request that finds
the bucket empty is throttled and takes nothing. Step Functions documents its API quotas the same way (a bucket
size and a refill rate per second). The local engine and the simulation both throttle with this one class, the
local engine on the wall clock and the simulation on its virtual clock.
"""

from __future__ import annotations

from dataclasses import dataclass

# A shortfall this small counts as none, in `take` and `wait` alike. On a clock of epoch seconds (about 1.8e9),
# a double resolves about 2.4e-7 s: a wait for a shortfall of a few billionths of a token would not move the clock
# at all, and a caller that sleeps `wait()` and asks again would ask for ever (seen in the load simulation).
EPSILON = 1e-6


@dataclass
class TokenBucket:
    """`rate` tokens a second, at most `burst` held; full at `now` when created."""

    rate: float
    burst: float
    tokens: float = -1.0
    updated: float = 0.0

    def __post_init__(self) -> None:
        if self.rate <= 0 or self.burst < 1:
            raise ValueError(
                f"a bucket needs a positive rate and room for one token (rate {self.rate}, burst {self.burst})"
            )
        if self.tokens < 0:
            self.tokens = float(self.burst)

    @classmethod
    def full(cls, rate: float, burst: float, now: float) -> TokenBucket:
        return cls(rate=rate, burst=burst, tokens=float(burst), updated=now)

    def _refill(self, now: float) -> None:
        if now > self.updated:
            self.tokens = min(float(self.burst), self.tokens + (now - self.updated) * self.rate)
            self.updated = now

    def take(self, now: float, count: float = 1.0) -> bool:
        """Take `count` tokens if the bucket holds them at `now` (True), else take nothing (False: throttled).
        Time never runs backwards for a bucket: an earlier `now` than the last one refills nothing."""
        self._refill(now)
        if self.tokens + EPSILON >= count:
            self.tokens = max(0.0, self.tokens - count)
            return True
        return False

    def wait(self, now: float, count: float = 1.0) -> float:
        """Seconds from `now` until `count` tokens are there (0 when they are now). Takes nothing."""
        self._refill(now)
        missing = count - self.tokens
        return 0.0 if missing <= EPSILON else missing / self.rate


__all__ = ["TokenBucket"]
