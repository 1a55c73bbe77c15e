"""Settle a run when its task has stopped: judge the task, record the verdict once, wake the waiting state.

The event handler, the reconciler and a start that finds a STOPPED event waiting for it all settle through here,
so a run is settled the same way however ECS's news arrives.

What is trusted. An `ECS Task State Change` event comes from ECS: EventBridge refuses PutEvents entries whose
source starts with `aws.` (NotAuthorizedForSourceException). But anyone allowed ecs:RunTask in the account can
start a task whose startedBy is `<prefix><runId>`, so startedBy only routes an event to a run; it never vouches
for the task. Only the task RunTask returned for the current attempt's clientToken, on the run's cluster, settles
the run. An event that comes before that ARN is recorded is kept on the record (never trusted, never dropped)
until the start records the ARN and settles with the event for exactly that task.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

from ecsrun.adapters.dynamodb import RunsTable
from ecsrun.adapters.stepfunctions import Callbacks
from ecsrun.domain.errors import StaleRecord
from ecsrun.domain.models.ecs import EcsTask
from ecsrun.domain.models.record import MAX_EARLY_EVENTS, Callback, RunRecord, RunStatus, TokenState
from ecsrun.domain.models.verdict import Verdict
from ecsrun.domain.runtask import run_id_from_started_by
from ecsrun.domain.verdict import judge
from ecsrun.plumbing.observability import logger
from ecsrun.plumbing.settings import Settings

SETTLE_ATTEMPTS = 5

# The task of a run nobody waits for any more (its execution ended) has stopped: its logs still need copying.
ABORTED_TASK_STOPPED = "recorded: execution had ended; logs to copy"
# An aborted run whose task is recorded but whose logs are not all copied yet (a copy that paused or died).
LOGS_TO_COPY = "logs to copy: the run's copy is not finished"
DEFERRED = "deferred: stored until the start records its task"
# Results after which the caller (one that may write S3) copies the run's logs.
COPY_RESULTS = (ABORTED_TASK_STOPPED, LOGS_TO_COPY)
# A run waits for its recorded task in these states.
AWAITING_TASK = (RunStatus.RUNNING, RunStatus.STOPPING)


def failure_cause(record: RunRecord, message: str, **extra: Any) -> str:
    return json.dumps({"runId": record.runId, "message": message, "taskArn": record.taskArn, **extra})


def deliver(callbacks: Callbacks, record: RunRecord, verdict: Verdict) -> bool:
    """Wake the waiting state: a stop state waits for the stop only; the start state gets the verdict.
    True if delivered, False if the token was closed already; raises on anything else."""
    assert record.taskToken is not None
    if record.tokenState != TokenState.START or verdict.succeeded:
        return callbacks.succeed(record.taskToken, {"runId": record.runId, "verdict": verdict.model_dump(mode="json")})
    assert verdict.error is not None
    return callbacks.fail(record.taskToken, verdict.error.value, failure_cause(record, verdict.reason))


def complete_callback(record: RunRecord, *, store: RunsTable, callbacks: Callbacks) -> str:
    """Deliver the recorded verdict's pending callback (never judging again), then record that it arrived.
    At least once: a failure raises and leaves it pending for a retry, a redelivered event or the reconciler."""
    assert record.verdict is not None and record.taskToken is not None
    delivered = deliver(callbacks, record, record.verdict)
    # StaleRecord: someone else recorded it (or the state machine moved on): it is not pending any more.
    with contextlib.suppress(StaleRecord):
        store.mark_callback(record.runId, record.taskToken, delivered=delivered)
    return "settled" if delivered else "settled: token already closed"


def same_cluster(task: EcsTask, record: RunRecord) -> bool:
    """The event's cluster is the run's: the one RunTask named, else the one the request named."""
    if not task.clusterArn:
        return False
    if record.clusterArn:
        return task.clusterArn == record.clusterArn
    wanted = str(record.run.request.get("cluster") or "default")
    return task.clusterArn == wanted or task.clusterArn.rsplit("/", 1)[-1] == wanted.rsplit("/", 1)[-1]


def settle_stopped_task(
    task: EcsTask, *, store: RunsTable, callbacks: Callbacks, settings: Settings, settled_by: str = "event"
) -> str:
    """Record a STOPPED task's verdict and wake the execution, exactly once however often ECS tells us."""
    run_id = run_id_from_started_by(settings.started_by_prefix, task.startedBy)
    if run_id is None:
        return "ignored: not started by this stack"
    if task.lastStatus != "STOPPED":
        return f"ignored: lastStatus {task.lastStatus}"
    for _ in range(SETTLE_ATTEMPTS):
        record = store.get(run_id)
        if record is None:
            return "ignored: no run record"
        if task.taskArn in record.earlier_task_arns:
            return "ignored: the task of an earlier attempt"
        if record.taskArn is None:
            if record.outcome is not None:
                return "ignored: the run ended without a task"
            try:
                return _defer(record, task, store)
            except StaleRecord:
                continue  # the task was recorded meanwhile (or the attempt moved on): judge it against that
        if task.taskArn != record.taskArn:
            return "ignored: event is for another task of this run"
        if not same_cluster(task, record):
            return "ignored: event is from another cluster"
        if record.taskVersion is not None and task.version is not None and task.version < record.taskVersion:
            return f"ignored: version {task.version} is older than the recorded {record.taskVersion}"
        try:
            return _settle_recorded(record, task, store=store, callbacks=callbacks, settled_by=settled_by)
        except StaleRecord:
            continue  # a stop, an abort or a retried start changed the record: read again
    raise StaleRecord(run_id)


def _defer(record: RunRecord, task: EcsTask, store: RunsTable) -> str:
    """Neither dropped nor trusted: kept on the record until the start knows its task."""
    early = record.earlyEvents or {}
    if task.taskArn in early:
        return DEFERRED + " (already stored)"
    if len(early) >= MAX_EARLY_EVENTS:
        # The reconciler asks ECS about the recorded task later, so nothing depends on keeping this one.
        logger.warning("early-event store full; event not kept", extra={"taskArn": task.taskArn})
        return "ignored: early-event store full"
    store.store_early_event(record, task)
    return DEFERRED


def _settle_recorded(
    record: RunRecord, task: EcsTask, *, store: RunsTable, callbacks: Callbacks, settled_by: str
) -> str:
    """The event is for the run's recorded task, on its cluster."""
    if record.status in AWAITING_TASK:
        verdict = judge(task, record.essential, record.run.successExitCodes)
        return settle_once(record, task, verdict, store=store, callbacks=callbacks, settled_by=settled_by)
    if record.task is None and (record.status == RunStatus.ABORTED or record.outcome is not None):
        # Nobody waits for it (the execution ended, or ended its run before the task was known to stop).
        store.record_task(record, task, judge(task, record.essential, record.run.successExitCodes))
        return ABORTED_TASK_STOPPED
    if record.callback == Callback.PENDING:
        result = complete_callback(record, store=store, callbacks=callbacks)
        return "callback completed" if result == "settled" else "callback closed"
    if record.status == RunStatus.ABORTED and record.outcome is None:
        return LOGS_TO_COPY
    return "ignored: already settled"


def settle_once(
    record: RunRecord, task: EcsTask, verdict: Verdict, *, store: RunsTable, callbacks: Callbacks, settled_by: str
) -> str:
    """Conditional write first (verdict and pending callback together), callback second: a second settler
    loses the write and never judges again; a failed callback stays pending and is delivered later."""
    store.settle(record, task, verdict, settled_by)
    settled = record.model_copy(update={"status": RunStatus.STOPPED, "task": task, "verdict": verdict})
    return complete_callback(settled, store=store, callbacks=callbacks)
