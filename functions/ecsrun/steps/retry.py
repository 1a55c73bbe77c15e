"""After a failed attempt: try again after a backoff with full jitter, or give up."""

from __future__ import annotations

import random
from typing import Any

from ecsrun.adapters.dynamodb import RunsTable
from ecsrun.domain import escalation, limits, retry_rules
from ecsrun.domain.errors import StaleRecord
from ecsrun.domain.models.record import RunRecord
from ecsrun.domain.runtask import client_token
from ecsrun.plumbing.observability import logger


def _sizes(record: RunRecord, request: dict[str, Any]) -> escalation.Sizes:
    definition = record.run.definition
    specs = record.containers or (definition.containers if definition else [])
    memories = {c.name: c.memory for c in specs if c.memory is not None}
    return escalation.sizes(
        request, definition.cpu if definition else None, definition.memory if definition else None, memories
    )


def plan_retry(run_id: str, execution_arn: str, *, store: RunsTable) -> dict[str, Any]:
    """After a failed attempt: start another one (after a backoff with full jitter), or give up.

    `retry.on`'s first matching rule decides; else only failures that mean "not now" are retried (no capacity,
    throttling, a transient failed start), and an out-of-memory kill when `retry.escalate` can raise the memory.
    The next attempt runs with what `retry.escalate` changed, recorded on the run with why.
    """
    record = store.get(run_id)
    if record is None or record.executionArn != execution_arn or record.verdict is None:
        return {"retry": False, "attempt": record.attempt if record else 0, "waitSeconds": 0}
    verdict = record.verdict
    policy = record.run.retry
    spec = policy.get("escalate") or None
    request = {**record.run.request, **(record.attemptFields or {})}  # what the failed attempt ran with
    failure = retry_rules.failure_of(verdict, record.task, record.essential)
    sizes = _sizes(record, request)
    change = escalation.escalate(spec, failure, request, sizes)
    decision = retry_rules.decide(policy.get("on"), failure, memory_can_grow=bool(change.changed))
    if not decision.retry or record.attempt >= int(policy["maxAttempts"]):
        return {"retry": False, "attempt": record.attempt, "waitSeconds": 0}
    ceiling = float(policy["intervalSeconds"]) * float(policy["backoffRate"]) ** (record.attempt - 1)
    # A Wait state takes at most 99,999,999 seconds (validation keeps a policy's waits within a year anyway).
    wait = limits.clamp_wait(random.uniform(0, ceiling))  # noqa: S311 - jitter, not security
    attempt = record.attempt + 1
    note: dict[str, Any] = {"changed": change.changed, "because": failure.summary, "retriedBy": decision.by}
    if change.notes:
        note["notChanged"] = change.notes
    fields = {**(record.attemptFields or {}), **change.fields}
    try:
        store.begin_attempt(record, attempt, client_token(run_id, attempt), fields=fields, note=note)
    except StaleRecord:
        return {"retry": False, "attempt": record.attempt, "waitSeconds": 0}
    logger.info(
        "retrying run",
        extra={"attempt": attempt, "waitSeconds": wait, "error": verdict.error, "changed": change.changed},
    )
    return {"retry": True, "attempt": attempt, "waitSeconds": wait}
