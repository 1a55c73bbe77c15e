"""Settle a run when its task has stopped: judge the task, record the verdict once, wake the waiting state.

The event handler and the reconciler both settle through here, so a run is settled the same way however
ECS's news arrives.
"""

from __future__ import annotations

import json
from typing import Any

from ecsrun.adapters.dynamodb import RunsTable
from ecsrun.adapters.stepfunctions import Callbacks
from ecsrun.domain.errors import StaleRecord
from ecsrun.domain.models.ecs import EcsTask
from ecsrun.domain.models.record import WAITING, RunRecord, RunStatus
from ecsrun.domain.models.verdict import Verdict
from ecsrun.domain.runtask import run_id_from_started_by
from ecsrun.domain.verdict import judge
from ecsrun.plumbing.settings import Settings

SETTLE_ATTEMPTS = 5

# The task of a run whose execution had ended has stopped: its logs still need copying.
ABORTED_TASK_STOPPED = "recorded: execution had ended; logs to copy"


def failure_cause(record: RunRecord, message: str, **extra: Any) -> str:
    return json.dumps({"runId": record.runId, "message": message, "taskArn": record.taskArn, **extra})


def deliver(callbacks: Callbacks, record: RunRecord, verdict: Verdict) -> bool:
    """Wake the waiting state. A stop state waits for the stop only; a start state gets the verdict."""
    assert record.taskToken is not None
    if record.status == RunStatus.STOPPING or verdict.succeeded:
        return callbacks.succeed(record.taskToken, {"runId": record.runId, "verdict": verdict.model_dump(mode="json")})
    assert verdict.error is not None
    return callbacks.fail(record.taskToken, verdict.error.value, failure_cause(record, verdict.reason))


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
        if record.taskArn and record.taskArn != task.taskArn:
            return "ignored: event is for another task of this run"
        if record.taskVersion is not None and task.version is not None and task.version < record.taskVersion:
            return f"ignored: version {task.version} is older than the recorded {record.taskVersion}"
        if record.status == RunStatus.ABORTED and record.task is None:
            try:
                store.record_task(record, task, judge(task, record.essential, record.run.successExitCodes))
            except StaleRecord:
                continue
            return ABORTED_TASK_STOPPED
        if record.status not in WAITING:
            return "ignored: already settled"
        verdict = judge(task, record.essential, record.run.successExitCodes)
        try:
            return settle_once(record, task, verdict, store=store, callbacks=callbacks, settled_by=settled_by)
        except StaleRecord:
            continue  # a stop or a retried start changed the token: read again
    raise StaleRecord(run_id)


def settle_once(
    record: RunRecord, task: EcsTask, verdict: Verdict, *, store: RunsTable, callbacks: Callbacks, settled_by: str
) -> str:
    """Conditional write first, callback second: a second settler loses the write and never calls back."""
    store.settle(record, task, verdict, settled_by)
    if not deliver(callbacks, record, verdict):
        store.mark_callback_closed(record.runId)
        return "settled: token already closed"
    return "settled"
