"""After a failed attempt: try again after a backoff with full jitter, or give up."""

from __future__ import annotations

import random
from typing import Any

from ecsrun.adapters.dynamodb import RunsTable
from ecsrun.domain import limits
from ecsrun.domain.errors import StaleRecord
from ecsrun.domain.runtask import client_token
from ecsrun.plumbing.observability import logger


def plan_retry(run_id: str, execution_arn: str, *, store: RunsTable) -> dict[str, Any]:
    """After a failed attempt: start another one (after a backoff with full jitter), or give up.

    Only failures that mean "not now" are retried: no capacity, throttling, or a transient failed start.
    """
    record = store.get(run_id)
    if record is None or record.executionArn != execution_arn or record.verdict is None:
        return {"retry": False, "attempt": record.attempt if record else 0, "waitSeconds": 0}
    verdict = record.verdict
    policy = record.run.retry
    if not verdict.retryable or record.attempt >= int(policy["maxAttempts"]):
        return {"retry": False, "attempt": record.attempt, "waitSeconds": 0}
    ceiling = float(policy["intervalSeconds"]) * float(policy["backoffRate"]) ** (record.attempt - 1)
    # A Wait state takes at most 99,999,999 seconds (validation keeps a policy's waits within a year anyway).
    wait = limits.clamp_wait(random.uniform(0, ceiling))  # noqa: S311 - jitter, not security
    attempt = record.attempt + 1
    try:
        store.begin_attempt(record, attempt, client_token(run_id, attempt))
    except StaleRecord:
        return {"retry": False, "attempt": record.attempt, "waitSeconds": 0}
    logger.info("retrying run", extra={"attempt": attempt, "waitSeconds": wait, "error": verdict.error})
    return {"retry": True, "attempt": attempt, "waitSeconds": wait}
