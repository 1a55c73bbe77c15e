"""Announce a run's end on the bus, at least once, without ever changing it: a refused or failed PutEvents leaves
the record's `announced` mark unset, and a retried state, a later state or the reconciler publishes until it is set.
Consumers deduplicate on `runId`."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

from ecsrun.adapters.dynamodb import RunsTable
from ecsrun.plumbing.observability import logger, metrics


def announce(
    detail: dict[str, Any], *, run_id: str, store: RunsTable, publish: Callable[[dict[str, Any]], None]
) -> bool:
    """Put the run's completion event (a run_summary of its recorded end); True once EventBridge took it."""
    try:
        publish(detail)
    except Exception:  # noqa: BLE001 - an announcement never changes a verdict; whoever comes next publishes it
        logger.warning("completion event not taken; it is published again later", exc_info=True)
        metrics.add_metric(name="AnnouncementsDeferred", unit="Count", value=1)
        return False
    store.mark_announced(run_id)
    return True


def publish_quietly(detail: dict[str, Any], publish: Callable[[dict[str, Any]], None]) -> bool:
    """For an end with no record to mark (an invalid request): resent by the publisher, then given up, logged."""
    try:
        publish(detail)
    except Exception:  # noqa: BLE001 - the request is still invalid, whatever EventBridge says
        logger.error("completion event not taken after its resends; dropped", exc_info=True)
        metrics.add_metric(name="AnnouncementsDropped", unit="Count", value=1)
        return False
    return True


@contextlib.contextmanager
def best_effort(what: str) -> Iterator[None]:
    """Work after a run's end is recorded (marks, answers, leaving the index): its failure is logged, never raised,
    so it cannot fail the state that recorded the end and make the execution end differently; the reconciler
    finishes it from the record."""
    try:
        yield
    except Exception:  # noqa: BLE001 - see above
        logger.warning(f"{what} failed after the run's end was recorded; the reconciler finishes it", exc_info=True)
