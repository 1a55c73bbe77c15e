"""AWS's rate quotas on the simulation's virtual clock: one token bucket per quota (ecsrun.domain.ratequotas), each
call a handler makes taking a token first, and a call that finds its bucket empty answering as AWS answers it
(ECS, CloudWatch Logs, Step Functions and EventBridge `ThrottlingException`; DynamoDB's hot partition
`ProvisionedThroughputExceededException`; Lambda `TooManyRequestsException`).

The handlers' clients retry as botocore's do (ecsrun's clients, ecsrun.adapters.clients.max_attempts: `adaptive`
mode, 8 attempts, ECS 4, CloudWatch Logs 1 (PacedLogReader retries on the account's pace); standard back-off, a
random fraction of 2^attempt seconds, at most 20 s), in virtual time: a throttled call reaches the handler only
when every attempt was throttled. So throttling is a fault like any other: it delays a run, and the run must still
end with its task's verdict.

`scale` divides every quota (a load that cannot run at full rate on this machine runs at rate / scale against
quotas / scale: the same utilisation, the same binding quota).
"""

from __future__ import annotations

import random
import re
from collections import Counter
from collections.abc import Callable

from botocore.exceptions import ClientError
from ecsrun.domain.ratequotas import BY_KEY, DEFAULT_REGION, RateQuota, throttled_by
from ecsrun.domain.tokenbucket import TokenBucket

MAX_ATTEMPTS = 8  # ecsrun.adapters.clients.MAX_ATTEMPTS: a service's own count is clients.max_attempts(service)
MAX_BACKOFF = 20.0  # botocore's standard retry mode caps a back-off at 20 seconds
MESSAGES = {
    "ThrottlingException": "Rate exceeded",
    "ProvisionedThroughputExceededException": "The level of configured provisioned throughput for the index was "
    "exceeded. Consider increasing your provisioning level with the UpdateTable API.",
    "TooManyRequestsException": "Rate Exceeded.",
}
STATUS = {"TooManyRequestsException": 429}


def operation_name(method: str) -> str:
    """A boto3 method's API operation name: get_log_events -> GetLogEvents, list_objects_v2 -> ListObjectsV2."""
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"_", method))


def throttling_error(quota: RateQuota, operation: str) -> ClientError:
    """The error AWS answers a throttled call with, as botocore raises it."""
    error = {"Code": quota.error, "Message": MESSAGES[quota.error]}
    response: dict[str, object] = {
        "Error": error,
        "ResponseMetadata": {"HTTPStatusCode": STATUS.get(quota.error, 400)},
    }
    if quota.error == "ProvisionedThroughputExceededException":
        response["ThrottlingReasons"] = [{"reason": "IndexWriteKeyRangeThroughputExceeded", "resource": "waiting"}]
    return ClientError(response, operation)  # type: ignore[arg-type]


class Quotas:
    """Every rate quota as a bucket on the clock `now` (virtual seconds), full at the start."""

    def __init__(
        self,
        now: Callable[[], float],
        *,
        scale: float = 1.0,
        region: str = DEFAULT_REGION,
        raised: dict[str, float] | None = None,
    ):
        self.now, self.scale, self.region = now, scale, region
        self.raised = dict(raised or {})  # quota key -> the rate a second AWS Support granted (before scaling)
        self.buckets: dict[str, TokenBucket] = {}
        self.throttled: Counter[str] = Counter()  # quota key -> calls it throttled (each attempt)
        self.gave_up: Counter[str] = Counter()  # quota key -> calls whose every attempt was throttled
        self.taken: Counter[str] = Counter()

    def bucket(self, key: str) -> TokenBucket:
        found = self.buckets.get(key)
        if found is None:
            quota = BY_KEY[key]
            rate = max(quota.per_second(self.region), self.raised.get(key, 0.0))
            burst = max(quota.bucket(self.region), self.raised.get(key, 0.0))
            found = TokenBucket.full(rate=rate / self.scale, burst=max(1.0, burst / self.scale), now=self.now())
            self.buckets[key] = found
        return found

    def admit(self, service: str, operation: str) -> ClientError | None:
        """Take a token from every quota the call counts against; None when admitted, else AWS's error (and
        nothing taken)."""
        return self.admit_key([q.key for q in throttled_by(service, operation)], operation)

    def admit_key(self, keys: list[str], operation: str) -> ClientError | None:
        now = self.now()
        for key in keys:
            if self.bucket(key).wait(now) > 0:
                self.throttled[key] += 1
                return throttling_error(BY_KEY[key], operation)
        for key in keys:
            self.bucket(key).take(now)
            self.taken[key] += 1
        return None

    def wait(self, key: str) -> float:
        """Seconds until the quota `key` has a token (for the services that delay rather than refuse)."""
        return self.bucket(key).wait(self.now())


def backoff(attempt: int, rng: random.Random) -> float:
    """botocore's standard back-off before retry `attempt` (1-based): a random fraction of 2^attempt s, ≤ 20 s."""
    return min(MAX_BACKOFF, rng.random() * (2**attempt))


__all__ = ["MAX_ATTEMPTS", "Quotas", "backoff", "operation_name", "throttling_error"]
