"""A run's lifecycle in one place: which status each write may start from and where it leads, what is left to do
for a run, and when the reconciler should look at it. Pure.

The table is the diagram. Every adapter write names its edge and is conditioned on the status it read: a write
the table does not allow from that status is refused before it is tried, and one whose status changed meanwhile
loses the conditional write. A run's end (`END`) is written once: whoever loses that race adopts the recorded end.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from ecsrun.domain.models.record import RunRecord, RunStatus

S = RunStatus


class Edge(StrEnum):
    RESUME = "resume"  # a retried start state brings its own token
    RECORD_TASK = "record_task"  # RunTask named the attempt's task
    START_FAILED = "start_failed"  # RunTask refused: no task exists
    SETTLE = "settle"  # the recorded task stopped: its verdict is recorded
    STOP = "stop"  # the start state ended without a verdict: a stop state stops the task
    RETRY = "retry"  # the failed attempt joins the history; the next one starts
    ABORT = "abort"  # the execution ended before the run did
    END = "end"  # the run's outcome, once


UNENDED = frozenset({S.STARTING, S.RUNNING, S.START_FAILED, S.STOPPING, S.STOPPED, S.ABORTED})

# edge: (the statuses it may start from, the status it leads to; None keeps the status read)
EDGES: Mapping[Edge, tuple[frozenset[RunStatus], RunStatus | None]] = {
    Edge.RESUME: (frozenset({S.STARTING, S.RUNNING, S.STOPPED, S.START_FAILED}), None),
    Edge.RECORD_TASK: (frozenset({S.STARTING, S.STOPPING, S.ABORTED}), None),
    Edge.START_FAILED: (frozenset({S.STARTING}), S.START_FAILED),
    Edge.SETTLE: (frozenset({S.RUNNING, S.STOPPING}), S.STOPPED),
    # A retried stop state (its function died after the first write) brings its own token to a STOPPING run.
    Edge.STOP: (frozenset({S.STARTING, S.RUNNING, S.STOPPING}), S.STOPPING),
    Edge.RETRY: (frozenset({S.STOPPED, S.START_FAILED}), S.STARTING),
    Edge.ABORT: (frozenset({S.STARTING, S.RUNNING, S.STOPPING, S.STOPPED, S.START_FAILED}), S.ABORTED),
    # The status an end leads to depends on the outcome: end_status().
    Edge.END: (UNENDED, None),
}


def allow(status: RunStatus, edge: Edge) -> bool:
    """May `edge` be taken from `status`?"""
    return status in EDGES[edge][0]


def end_status(outcome: Mapping[str, Any], *, aborted: bool) -> RunStatus:
    """The status a run ends in: ABORTED for a run its execution's abort ended, else as its outcome says."""
    if aborted:
        return S.ABORTED
    return S.SUCCEEDED if outcome.get("status") == "SUCCEEDED" else S.FAILED


# ---- what is left for a run, and when the reconciler looks ----

# The overdue index's partition key is one of OPEN_SHARDS values, from a hash of the runId, so no single partition
# takes every open run (DynamoDB: 1,000 writes/s per partition key value). The reconciler queries each. Changing it
# strands runs written under the old count: it is a constant, not a parameter.
OPEN_SHARDS = 16
# A run the reconciler found still going is looked at again after half its age, at least its grace and at most this:
# a day-long run is checked a few dozen times, not every pass; a lost event is found within this much.
MAX_RECHECK = timedelta(minutes=30)


def open_shard(run_id: str) -> str:
    """The overdue index's partition key for this run: `open#<0..OPEN_SHARDS-1>`."""
    digest = hashlib.sha256(run_id.encode()).digest()
    return f"open#{int.from_bytes(digest[:4], 'big') % OPEN_SHARDS}"


def all_shards() -> list[str]:
    return [f"open#{n}" for n in range(OPEN_SHARDS)]


def recheck_after(created: datetime, now: datetime, grace: timedelta) -> timedelta:
    """How long until the reconciler looks again at a run it found still going (added to its grace)."""
    return max(timedelta(0), min((now - created) / 2, MAX_RECHECK) - grace) if now > created else timedelta(0)


class Chore(StrEnum):
    """What is left for a run; the reconciler finishes each, and a run with none leaves the overdue index."""

    END = "end"  # no outcome yet: someone must end it (its execution may have ended unheard)
    STOP = "stop"  # ended, but its task is not known to have stopped
    COPY = "copy"  # ended, its task stopped, but its logs are not copied (it ended before its task stopped)
    ANNOUNCE = "announce"  # ended, but its completion event was not taken by EventBridge yet
    ANSWER = "answer"  # ended, with a caller's token not answered yet


def chores(record: RunRecord) -> list[Chore]:
    """What is left for this run (nothing: it needs nobody any more)."""
    if record.outcome is None:
        return [Chore.END]
    left = []
    if not record.task_known_stopped:
        left.append(Chore.STOP)
    elif record.task is not None and not record.logsCopied:
        left.append(Chore.COPY)
    if not record.announced:
        left.append(Chore.ANNOUNCE)
    if record.run.callbackTaskToken and record.callerAnswer is None:
        left.append(Chore.ANSWER)
    return left


__all__ = [
    "EDGES",
    "MAX_RECHECK",
    "OPEN_SHARDS",
    "Chore",
    "Edge",
    "all_shards",
    "allow",
    "chores",
    "end_status",
    "open_shard",
    "recheck_after",
]
