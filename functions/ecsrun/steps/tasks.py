"""An attempt's task: named only by RunTask's answer to the attempt's clientToken, recorded once, stopped when
nobody waits for it any more.

ECS makes RunTask idempotent per cluster: the same clientToken with the same parameters, within 24 hours, returns
the task the first call started (different parameters: ConflictException). `run_task_args(run, prefix, attempt)`
is deterministic, so whoever must know attempt N's task (a retried start, the stop function, an abort, the
reconciler) asks RunTask again with attempt N's token. That never starts a second task; it starts the first one
only if the first call never reached ECS, and then the caller stops it if the run no longer wants it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from ecsrun.adapters.dynamodb import RunsTable
from ecsrun.adapters.ecs import Ecs, RunTaskRefused
from ecsrun.adapters.stepfunctions import Callbacks
from ecsrun.domain.errors import ErrorName, StopFailed
from ecsrun.domain.models.record import RunRecord, RunStatus
from ecsrun.domain.runtask import run_task_args
from ecsrun.plumbing.observability import logger
from ecsrun.plumbing.settings import Settings
from ecsrun.steps.settle import same_cluster, settle_stopped_task

# ECS keeps a RunTask clientToken for 24 hours; past that, the same token would start a new task. Leave a margin.
CLIENT_TOKEN_WINDOW = timedelta(hours=23)


class TokenExpired(Exception):
    """The attempt's clientToken is too old to name its task safely."""


def within_token_window(record: RunRecord, now: datetime | None = None) -> bool:
    if not record.runTaskAt:
        return True
    began = datetime.fromisoformat(record.runTaskAt.replace("Z", "+00:00"))
    return (now or datetime.now(UTC)) - began < CLIENT_TOKEN_WINDOW


def resolve_attempt_task(record: RunRecord, *, ecs: Ecs, settings: Settings) -> dict[str, Any] | None:
    """The task RunTask started for the record's current attempt, asked of RunTask with the same clientToken and
    parameters; None when ECS refuses (then no call with this token started a task). Throttling raises."""
    if not within_token_window(record):
        raise TokenExpired(
            f"run {record.runId}: attempt {record.attempt}'s clientToken is older than {CLIENT_TOKEN_WINDOW}; "
            "its task cannot be named safely (find it by startedBy and stop it by hand)"
        )
    try:
        return ecs.run_task(
            run_task_args(record.run, settings.started_by_prefix, attempt=record.attempt, fields=record.attemptFields)
        )
    except RunTaskRefused as refused:
        if refused.error == ErrorName.THROTTLED:
            raise
        logger.info("RunTask refused the attempt's clientToken: no task", extra={"reason": str(refused)})
        return None


def record_attempt_task(
    run_id: str,
    attempt: int,
    task: dict[str, Any],
    *,
    store: RunsTable,
    ecs: Ecs,
    callbacks: Callbacks,
    settings: Settings,
) -> RunRecord:
    """Record the task RunTask named for the attempt's clientToken, once. A STOPPED event that came first for
    exactly this task settles the run now; a run that no longer waits for its task (stopping, aborted, ended)
    gets it stopped. Returns the record as it stands."""
    arn = str(task["taskArn"])
    now = store.record_task_arn(run_id, attempt, arn, task.get("clusterArn"))
    early = (now.earlyEvents or {}).get(arn)
    if early is not None and now.task is None and same_cluster(early, now):
        result = settle_stopped_task(early, store=store, callbacks=callbacks, settings=settings, settled_by="event")
        logger.info("settled with the STOPPED event that came before the task was recorded", extra={"result": result})
        return store.get(run_id) or now
    if now.task is None and now.status not in (RunStatus.STARTING, RunStatus.RUNNING):
        stop_recorded_task(now, ecs=ecs, store=store)
    return now


def stop_recorded_task(record: RunRecord, *, ecs: Ecs, store: RunsTable) -> bool:
    """StopTask for the record's task, with the record's stop reason. False when ECS no longer knows the task.
    A failure after the SDK's retries raises StopFailed: the caller's retry, or the reconciler, tries again."""
    assert record.taskArn is not None
    reason = record.stopReason or f"ecsrun: run {record.runId} no longer waits for this task"
    cluster = record.clusterArn or record.run.request.get("cluster")
    try:
        known = ecs.stop_task(cluster, record.taskArn, reason)
    except Exception as exc:
        raise StopFailed(f"StopTask for run {record.runId} failed: {type(exc).__name__}") from exc
    if known:
        store.mark_stop_requested(record.runId, record.taskArn)
    return known
