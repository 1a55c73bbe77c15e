"""What happens to a run at each step: start it, settle it when it stops, stop it when it times out.

Handlers call these; so will anything else that must act on a run the same way (the local engine,
a reconciler). AWS is reached only through the adapters passed in.
"""

from __future__ import annotations

import json
from typing import Any

from ecsrun.adapters.callbacks import Callbacks
from ecsrun.adapters.ecs import Ecs, RunTaskRefused
from ecsrun.adapters.runs_table import RunExists, RunsTable, new_record
from ecsrun.errors import ErrorName, StaleRecord
from ecsrun.models.ecs import EcsTask
from ecsrun.models.record import WAITING, RunRecord, RunStatus
from ecsrun.models.run import Run
from ecsrun.observability import logger
from ecsrun.runtask import client_token, container_specs, run_id_from_started_by, run_task_args, started_by
from ecsrun.settings import Settings
from ecsrun.verdict import Verdict, judge

SETTLE_ATTEMPTS = 5


def _cause(record: RunRecord, message: str, **extra: Any) -> str:
    return json.dumps({"runId": record.runId, "message": message, "taskArn": record.taskArn, **extra})


def _deliver(callbacks: Callbacks, record: RunRecord, verdict: Verdict) -> bool:
    """Wake the waiting state. A stop state waits for the stop only; a start state gets the verdict."""
    assert record.taskToken is not None
    if record.status == RunStatus.STOPPING or verdict.succeeded:
        return callbacks.succeed(record.taskToken, {"runId": record.runId, "verdict": verdict.model_dump(mode="json")})
    assert verdict.error is not None
    return callbacks.fail(record.taskToken, verdict.error.value, _cause(record, verdict.reason))


def start_run(
    run: Run,
    token: str,
    execution_arn: str,
    *,
    store: RunsTable,
    ecs: Ecs,
    callbacks: Callbacks,
    settings: Settings,
    region: str,
) -> dict[str, Any]:
    """Write the record, then RunTask. The record exists before the task, so no task is ever unaccounted for."""
    record = new_record(
        runId=run.runId,
        executionArn=execution_arn,
        taskToken=token,
        startedBy=started_by(settings.started_by_prefix, run.runId),
        clientToken=client_token(run.runId, 1),
        run=run,
        ttl_days=settings.run_record_ttl_days,
    )
    try:
        store.create(record)
    except RunExists as exists:
        first = exists.existing
        if first.executionArn != execution_arn:
            message = (
                f"runId {run.runId!r} is already used by execution {first.executionArn} (status {first.status.value})"
            )
            callbacks.fail(
                token, ErrorName.DUPLICATE.value, _cause(first, message, firstExecutionArn=first.executionArn)
            )
            return {"runId": run.runId, "started": False, "duplicateOf": first.executionArn}
        # This execution's start state ran again (a Lambda retry): never start a second task.
        if first.status in (RunStatus.STARTING, RunStatus.RUNNING):
            store.set_token(first.runId, token)
        elif first.verdict is not None:
            _deliver(callbacks, first.model_copy(update={"taskToken": token}), first.verdict)
        if first.status != RunStatus.STARTING or first.taskArn is not None:
            return {"runId": run.runId, "started": False, "resumed": True, "taskArn": first.taskArn}
        # The earlier attempt died before RunTask answered: asking again with the same clientToken is safe.
        record = first.model_copy(update={"taskToken": token})

    try:
        definition = ecs.describe_task_definition(run.request["taskDefinition"])
        store.set_containers(run.runId, container_specs(definition, region))
        task = ecs.run_task(run_task_args(run, settings.started_by_prefix))
    except RunTaskRefused as refused:
        verdict = Verdict.failed(ErrorName.RUN_TASK_FAILED, str(refused))
        store.mark_start_failed(run.runId, verdict)
        callbacks.fail(token, ErrorName.RUN_TASK_FAILED.value, _cause(record, str(refused), failures=refused.failures))
        return {"runId": run.runId, "started": False}
    store.mark_started(run.runId, task["taskArn"], task.get("clusterArn"))
    logger.info("task started", extra={"runId": run.runId, "taskArn": task["taskArn"]})
    return {"runId": run.runId, "started": True, "taskArn": task["taskArn"]}


def settle_stopped_task(task: EcsTask, *, store: RunsTable, callbacks: Callbacks, settings: Settings) -> str:
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
        if record.status not in WAITING:
            return "ignored: already settled"
        verdict = judge(task, record.essential, record.run.successExitCodes)
        try:
            store.settle(record, task, verdict)
        except StaleRecord:
            continue  # a stop or a retry changed the token; read again
        delivered = _deliver(callbacks, record, verdict)
        return "settled" if delivered else "settled: token already closed"
    raise StaleRecord(run_id)


def stop_run(
    run_id: str, token: str, reason: str, *, store: RunsTable, ecs: Ecs, callbacks: Callbacks
) -> dict[str, Any]:
    """The run timed out: stop its task and wait (on `token`) for ECS to say it stopped."""
    for _ in range(SETTLE_ATTEMPTS):
        record = store.get(run_id)
        if record is None or record.status not in WAITING:
            # It stopped on its own first, or never started: nothing to wait for.
            callbacks.succeed(token, {"runId": run_id, "stopped": False})
            return {"runId": run_id, "stopRequested": False}
        if record.taskArn is None:
            store.mark_timed_out(run_id, reason)
            callbacks.succeed(token, {"runId": run_id, "stopped": False})
            return {"runId": run_id, "stopRequested": False}
        try:
            store.begin_stop(record, token, reason)
        except StaleRecord:
            continue
        cluster = record.clusterArn or record.run.request.get("cluster")
        if not ecs.stop_task(cluster, record.taskArn, reason):
            callbacks.succeed(token, {"runId": run_id, "stopped": False})
        return {"runId": run_id, "stopRequested": True, "taskArn": record.taskArn}
    raise StaleRecord(run_id)
