"""Stop a run whose start state ended without a verdict (its time was up, or its start was interrupted beyond
its retries), and wait (on the stop state's token) for ECS to say its task stopped, so its logs are copied whole.

RunTask may be in flight, or may have started a task nobody recorded. The stop state's first write makes the
run STOPPING, after which no start may call RunTask; what that write returns says whether RunTask may have been
called for the attempt. If so and no task is recorded, the task is named by RunTask with the attempt's clientToken.
"""

from __future__ import annotations

import contextlib
from typing import Any

from ecsrun.adapters.dynamodb import RunsTable
from ecsrun.adapters.ecs import Ecs
from ecsrun.adapters.stepfunctions import Callbacks
from ecsrun.domain.errors import ErrorName, StaleRecord, StopFailed
from ecsrun.domain.models.ecs import EcsTask
from ecsrun.domain.models.record import WAITING, RunRecord, RunStatus, TokenState
from ecsrun.domain.models.verdict import Verdict
from ecsrun.plumbing.settings import Settings
from ecsrun.steps.settle import SETTLE_ATTEMPTS, same_cluster, settle_once, settle_stopped_task
from ecsrun.steps.tasks import record_attempt_task, resolve_attempt_task, stop_recorded_task

TIMEOUT, INTERRUPTED = "timeout", "interrupted"


def stop_run(
    run_id: str,
    token: str,
    reason: str,
    *,
    stop_for: str = TIMEOUT,
    execution_arn: str | None = None,
    store: RunsTable,
    ecs: Ecs,
    callbacks: Callbacks,
    settings: Settings,
) -> dict[str, Any]:
    """Stop the run's task and wait (on `token`) for ECS to say it stopped; answer at once when there is none.

    Every failure is StopFailed, which the state machine retries: stopping is safe to redo. Any other error would be
    caught by the stop state and go on to copy the logs of a task that may still be running (found by
    tests/simulation: a DynamoDB error while reading the record)."""
    try:
        state = TokenState.STOP_TIMED_OUT if stop_for == TIMEOUT else TokenState.STOP_INTERRUPTED
        stopping: RunRecord | None = None
        for _ in range(SETTLE_ATTEMPTS):
            record = store.get(run_id)
            if (
                record is None
                or (execution_arn and record.executionArn != execution_arn)
                or record.status not in WAITING
            ):
                # Settled, refused, aborted, another execution's, or never recorded: nothing to stop or wait for.
                return _answer(callbacks, token, run_id)
            try:
                stopping = store.begin_stop(record, token, reason, state, timed_out=stop_for == TIMEOUT)
            except StaleRecord:
                continue
            break
        if stopping is None:
            raise StaleRecord(run_id)
        return _stop(stopping, token, store=store, ecs=ecs, callbacks=callbacks, settings=settings)
    except StopFailed:
        raise
    except Exception as exc:  # the state machine retries StopFailed; the record stays as it was, or STOPPING
        raise StopFailed(f"stop of run {run_id} failed: {type(exc).__name__}") from exc


def _stop(
    record: RunRecord, token: str, *, store: RunsTable, ecs: Ecs, callbacks: Callbacks, settings: Settings
) -> dict[str, Any]:
    if record.taskArn is None and record.run_task_may_have_run:
        task = resolve_attempt_task(record, ecs=ecs, settings=settings)
        if task is not None:
            # Recording it also stops it (the run is STOPPING), or settles with its STOPPED event if that came.
            now = record_attempt_task(
                record.runId, record.attempt, task, store=store, ecs=ecs, callbacks=callbacks, settings=settings
            )
            return {"runId": record.runId, "stopRequested": now.status == RunStatus.STOPPING, "taskArn": now.taskArn}
    if record.taskArn is None:
        # No RunTask was called for this attempt (and none can be now), or ECS refused it: no task exists.
        return _answer(callbacks, token, record.runId)
    early = (record.earlyEvents or {}).get(record.taskArn)
    if early is not None and record.task is None and same_cluster(early, record):
        # Its STOPPED event came before the task was recorded, and whoever recorded it died before settling with
        # it: the event will not come again. Settling now answers this state's token.
        result = settle_stopped_task(early, store=store, callbacks=callbacks, settings=settings, settled_by="event")
        if result.startswith("settled"):
            return {"runId": record.runId, "stopRequested": False, "taskArn": record.taskArn}
    if not stop_recorded_task(record, ecs=ecs, store=store):
        # ECS no longer knows the task: it stopped long ago and its event was missed. Its end is unknowable.
        lost = EcsTask(taskArn=record.taskArn, clusterArn=record.clusterArn, lastStatus="MISSING")
        verdict = Verdict.failed(ErrorName.TASK_LOST, f"ECS no longer knows task {record.taskArn}")
        with contextlib.suppress(StaleRecord):  # its STOPPED event settled it meanwhile, and answered this state
            settle_once(record, lost, verdict, store=store, callbacks=callbacks, settled_by="stop")
        return {"runId": record.runId, "stopRequested": False, "taskArn": record.taskArn}
    return {"runId": record.runId, "stopRequested": True, "taskArn": record.taskArn}


def _answer(callbacks: Callbacks, token: str, run_id: str) -> dict[str, Any]:
    try:
        callbacks.succeed(token, {"runId": run_id, "stopped": False})
    except Exception as exc:
        raise StopFailed(f"stop of run {run_id}: the callback failed: {type(exc).__name__}") from exc
    return {"runId": run_id, "stopRequested": False}


__all__ = ["INTERRUPTED", "TIMEOUT", "stop_run"]
