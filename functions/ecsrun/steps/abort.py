"""A run whose execution ended (aborted, failed, timed out) must not leave its task running, nor its logs uncopied.

ExecutionEnded runs this on Step Functions' `Execution Status Change` event; the reconciler runs the same code
for a waiting run whose execution it finds no longer RUNNING (that event is delivered on a best-effort basis).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ecsrun.adapters.dynamodb import RunsTable
from ecsrun.adapters.ecs import Ecs
from ecsrun.adapters.stepfunctions import Callbacks
from ecsrun.domain.completion import aborted_without_task
from ecsrun.domain.errors import StaleRecord
from ecsrun.domain.models.record import WAITING, RunRecord, RunStatus
from ecsrun.plumbing.settings import Settings
from ecsrun.steps.announce import announce
from ecsrun.steps.settle import SETTLE_ATTEMPTS
from ecsrun.steps.tasks import record_attempt_task, resolve_attempt_task, stop_recorded_task


def abort_reason(execution_arn: str, status: str, cause: str | None = None) -> str:
    """The task's stopped reason. An aborted execution's cause (the reason `ecsrun stop --reason` gave
    StopExecution) ends it, so the task itself says why it was stopped."""
    reason = f"ecsrun: execution {execution_arn.rsplit(':', 1)[-1]} ended {status}"
    if cause and status == "ABORTED":
        reason += f": {' '.join(cause.split())}"
    return reason


def abort_run(
    run_id: str,
    execution_arn: str,
    status: str,
    *,
    store: RunsTable,
    ecs: Ecs,
    callbacks: Callbacks,
    settings: Settings,
    publish: Callable[[dict[str, Any]], None],
    error: str | None = None,
    cause: str | None = None,
) -> dict[str, Any]:
    """The execution ended while its run may still be going: mark the run ABORTED, then stop its task (naming
    it by the attempt's clientToken when RunTask may have been called and its answer was never recorded).
    A run that never had a task ends here, with its outcome recorded and announced."""
    reason = abort_reason(execution_arn, status, cause)
    for _ in range(SETTLE_ATTEMPTS):
        record = store.get(run_id)
        if record is None or record.executionArn != execution_arn:
            return {"runId": run_id, "result": "ignored: not this execution's run"}
        if record.status == RunStatus.ABORTED:
            break  # aborted already (a redelivered event, or the reconciler): finish the cleanup
        settled_unfinished = record.status in (RunStatus.STOPPED, RunStatus.START_FAILED) and not record.outcome
        if settled_unfinished and status != "ABORTED":
            # The execution failed after its run was judged (CopyLogs itself failed): the run ends now, named by
            # the execution's error; the reconciler copies the logs of a task that ran.
            return {"runId": run_id, **_end_judged_run(record, status, error, cause, store=store, publish=publish)}
        if record.status not in WAITING and not settled_unfinished:
            return {"runId": run_id, "result": f"ignored: run already {record.status.value}"}
        try:
            record = store.mark_aborted(record, reason, status, error)
        except StaleRecord:
            continue
        break
    else:
        raise StaleRecord(run_id)
    result = cleanup_aborted(
        record, store=store, ecs=ecs, callbacks=callbacks, settings=settings, publish=publish, cause=cause
    )
    return {"runId": run_id, "result": "aborted", **result}


def cleanup_aborted(
    record: RunRecord,
    *,
    store: RunsTable,
    ecs: Ecs,
    callbacks: Callbacks,
    settings: Settings,
    publish: Callable[[dict[str, Any]], None],
    cause: str | None = None,
) -> dict[str, Any]:
    """An ABORTED run: its task stopped (or named and stopped), or, if it never had one, its end recorded.
    Safe to repeat. What remains (the stopped task's logs) is copied by TaskStopped or the reconciler."""
    if record.task is not None:
        return {"taskStopped": True, "taskArn": record.taskArn}
    if record.taskArn is None and not record.task_known_stopped:
        task = resolve_attempt_task(record, ecs=ecs, settings=settings)
        if task is not None:
            # Recording it stops it (the run is ABORTED) or records it stopped (its STOPPED event came first).
            now = record_attempt_task(
                record.runId, record.attempt, task, store=store, ecs=ecs, callbacks=callbacks, settings=settings
            )
            return {"taskStopped": True, "taskArn": now.taskArn}
    if record.taskArn is None:
        # No task was ever started for this attempt, and none can be now: the run ends here.
        status = record.executionStatus or "ABORTED"
        summary, outcome = aborted_without_task(record, status, record.executionError, cause)
        if store.end(record, outcome, aborted=record.ended_by_abort).won:
            announce(summary, run_id=record.runId, store=store, publish=publish)
            store.release_if_done(record.runId)
            return {"taskStopped": False, "taskArn": None, "announced": outcome["error"]}
        return {"taskStopped": False, "taskArn": None}
    known = stop_recorded_task(record, ecs=ecs, store=store)
    return {"taskStopped": known, "taskArn": record.taskArn}


def _end_judged_run(
    record: RunRecord,
    status: str,
    error: str | None,
    cause: str | None,
    *,
    store: RunsTable,
    publish: Callable[[dict[str, Any]], None],
) -> dict[str, Any]:
    summary, outcome = aborted_without_task(record, status, error, cause)
    # A task that ran keeps the run open to the reconciler until its logs are copied (outcome unchanged).
    ended = store.end(record, outcome, close_callback=True)
    if not ended.won:
        return {"result": "ignored: the run has its outcome" if ended.outcome else "ignored: the run changed"}
    announce(summary, run_id=record.runId, store=store, publish=publish)
    store.release_if_done(record.runId)
    return {"result": "ended", "announced": outcome["error"], "taskArn": record.taskArn}
