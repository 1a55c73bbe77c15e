"""AWS's default rate quotas on the local engine, on request (`ecsrun local run --quotas`, `local serve --quotas`).

Each quota of ecsrun.domain.ratequotas that an API call takes from is a token bucket on the wall clock, shared by
every caller in the process (the handlers, the containers' log drivers, the CLI, clients of `local serve`), as
AWS's are shared by everything in an account and Region. A call that finds its bucket empty is answered as AWS
answers it: HTTP 400 with the quota's error code (`ThrottlingException` for ECS, CloudWatch Logs, Step Functions
and EventBridge), and the SDK's own retries take it from there. Off by default: a local run then never waits for a
quota. Not throttled here: state transitions and Lambda invocations inside moto's interpreter, and DynamoDB (whose
quotas are per partition and per table: the simulation models them).
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from ecsrun.domain.ratequotas import BY_KEY, DEFAULT_REGION, RateQuota, throttled_by
from ecsrun.domain.tokenbucket import TokenBucket
from ecsrun.local.moto_responses import package_of

Patch = Callable[[Any, str, Any], None]
THROTTLED_SERVICES = {"ecs": "ecs", "logs": "logs", "stepfunctions": "stepfunctions", "events": "events"}
MESSAGE = "Rate exceeded"


class RateQuotas:
    """The buckets, created full on first use; thread-safe (handlers and the agent call from many threads)."""

    def __init__(self, region: str = DEFAULT_REGION, clock: Callable[[], float] = time.monotonic):
        self.region, self.clock = region, clock
        self._buckets: dict[str, TokenBucket] = {}
        self._lock = threading.Lock()
        self.throttled: Counter[str] = Counter()

    def admit(self, service: str, operation: str) -> RateQuota | None:
        """Take a token from each quota the call counts against: None when admitted, else the quota that refused
        it (and nothing taken)."""
        quotas = throttled_by(service, operation)
        if not quotas:
            return None
        with self._lock:
            now = self.clock()
            buckets = [self._bucket(q, now) for q in quotas]
            for quota, bucket in zip(quotas, buckets, strict=True):
                if bucket.wait(now) > 0:
                    self.throttled[quota.key] += 1
                    return quota
            for bucket in buckets:
                bucket.take(now)
        return None

    def _bucket(self, quota: RateQuota, now: float) -> TokenBucket:
        found = self._buckets.get(quota.key)
        if found is None:
            found = TokenBucket.full(rate=quota.per_second(self.region), burst=quota.bucket(self.region), now=now)
            self._buckets[quota.key] = found
        return found


def service_of(response: Any) -> str | None:
    """The service a moto response class answers for ('moto.ecs.responses' -> 'ecs'), if it is throttled here."""
    package = package_of(response)
    return THROTTLED_SERVICES.get(package) if package else None


def enforce(patch: Patch, quotas: RateQuotas) -> None:
    """Answer a call over its quota with AWS's throttling error, through `patch(owner, name, replacement)`."""
    from moto.core.exceptions import JsonRESTError
    from moto.core.responses import BaseResponse

    original = BaseResponse.call_action

    def call_action(response: Any) -> Any:
        service = service_of(response)
        refused = quotas.admit(service, response._get_action()) if service else None
        if refused is None:
            return original(response)
        error = JsonRESTError(refused.error, MESSAGE)
        answer = error.description, {"status": error.code}
        status, headers, body = response._transform_response(response.response_headers, answer)
        headers, body = response._enrich_response(headers, body)
        return status, headers, body

    patch(BaseResponse, "call_action", call_action)


__all__ = ["BY_KEY", "RateQuotas", "enforce", "service_of"]
