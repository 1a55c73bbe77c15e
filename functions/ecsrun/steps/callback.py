"""Answer the caller's task token (`callbackTaskToken`) with the run's end, once, from the function that
decided it. A closed token (already answered, timed out, its execution gone) is recorded, not retried."""

from __future__ import annotations

from typing import Any

from ecsrun.adapters.dynamodb import RunsTable
from ecsrun.adapters.stepfunctions import Callbacks
from ecsrun.domain.callback import answer_for, fingerprint
from ecsrun.plumbing.observability import logger

DELIVERED = "delivered"


def answer_caller(
    token: str | None,
    outcome: dict[str, Any],
    *,
    callbacks: Callbacks,
    store: RunsTable | None = None,
    run_id: str | None = None,
) -> str | None:
    """SendTaskSuccess (the run's output) or SendTaskFailure (its error name and cause) for `outcome`.

    Returns "delivered", "closed: <code>", or None when there is no token. With `store`, the result is written on
    the run's record (only ever the record of the execution the token came with), so the execution's end does
    not answer again. Raises on any other error: the caller is retried as the function's trigger retries it.
    """
    if not token:
        return None
    answer = answer_for(outcome)
    closed = callbacks.answer(token, answer)
    result = DELIVERED if closed is None else f"closed: {closed}"
    logger.info("caller answered", extra={"token": fingerprint(token), "result": result, "error": answer.error})
    if store is not None and run_id is not None:
        store.record_caller_answer(run_id, result)
    return result
