"""Start a run: write its record, then RunTask; a retried start never starts a second task."""

from __future__ import annotations

from typing import Any

from ecsrun.adapters.dynamodb import RunExists, RunsTable, new_record
from ecsrun.adapters.ecs import Ecs, RunTaskRefused
from ecsrun.adapters.stepfunctions import Callbacks
from ecsrun.domain.errors import ErrorName, StaleRecord, StartInterrupted
from ecsrun.domain.models.record import RunStatus
from ecsrun.domain.models.run import Run
from ecsrun.domain.models.verdict import Verdict
from ecsrun.domain.runtask import client_token, container_specs, run_task_args, started_by
from ecsrun.plumbing.observability import logger
from ecsrun.plumbing.settings import Settings
from ecsrun.steps.settle import SETTLE_ATTEMPTS, deliver, failure_cause


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
            message = f"runId {run.runId!r} is already used by execution {first.executionArn} ({first.status.value})"
            callbacks.fail(
                token, ErrorName.DUPLICATE.value, failure_cause(first, message, firstExecutionArn=first.executionArn)
            )
            return {"runId": run.runId, "started": False, "duplicateOf": first.executionArn}
        resumed = _resume(first.runId, token, store=store, ecs=ecs, callbacks=callbacks)
        if resumed is not None:
            return resumed
        record = first.model_copy(update={"taskToken": token})

    try:
        definition = ecs.describe_task_definition(run.request["taskDefinition"])
        store.set_containers(run.runId, container_specs(definition, region))
        task = ecs.run_task(run_task_args(run, settings.started_by_prefix, attempt=record.attempt))
    except RunTaskRefused as refused:
        verdict = Verdict(succeeded=False, error=refused.error, reason=str(refused), retryable=refused.retryable)
        store.mark_start_failed(run.runId, verdict)
        callbacks.fail(token, refused.error.value, failure_cause(record, str(refused), failures=refused.failures))
        return {"runId": run.runId, "started": False}
    except Exception as exc:
        # The record exists and a task may too: the retried start (see _resume) sorts out which.
        raise StartInterrupted(f"start of run {run.runId} interrupted: {exc!r}") from exc
    if not _record_started(store, run.runId, task["taskArn"], task.get("clusterArn")):
        now = store.get(run.runId)
        if now is not None and now.status == RunStatus.ABORTED:
            # The execution ended while RunTask was in flight: nobody will wait for this task.
            ecs.stop_task(task.get("clusterArn"), task["taskArn"], now.stopReason or "ecsrun: execution ended")
    logger.info("task started", extra={"runId": run.runId, "taskArn": task["taskArn"]})
    return {"runId": run.runId, "started": True, "taskArn": task["taskArn"]}


def _record_started(store: RunsTable, run_id: str, task_arn: str, cluster_arn: str | None) -> bool:
    try:
        return store.mark_started(run_id, task_arn, cluster_arn)
    except Exception as exc:
        raise StartInterrupted(f"task {task_arn} of run {run_id} started but not recorded: {exc!r}") from exc


def _resume(run_id: str, token: str, *, store: RunsTable, ecs: Ecs, callbacks: Callbacks) -> dict[str, Any] | None:
    """This execution's start state ran again (a Lambda retry). Never start a second task.

    Returns None when no task exists yet, so the caller starts one (RunTask's clientToken makes that safe).
    """
    for _ in range(SETTLE_ATTEMPTS):
        first = store.get(run_id)
        if first is None:
            raise StaleRecord(run_id)
        if first.status not in (RunStatus.STARTING, RunStatus.RUNNING):
            # Settled (or refused) while no state was listening: hand the outcome to this state.
            if first.verdict is not None:
                deliver(callbacks, first.model_copy(update={"taskToken": token}), first.verdict)
            return {"runId": run_id, "started": False, "resumed": True, "taskArn": first.taskArn}
        try:
            store.set_token(first, token)
        except StaleRecord:
            continue
        if first.taskArn is None:
            # The earlier attempt may have started a task and died before recording it: ECS knows it by startedBy.
            cluster = first.run.request.get("cluster")
            earlier = {a.get("taskArn") for a in first.attempts}
            found = [arn for arn in ecs.tasks_started_by(cluster, first.startedBy) if arn not in earlier]
            if not found:
                return None
            _record_started(store, run_id, found[0], None)
            logger.warning("adopted a task started by an interrupted attempt", extra={"taskArn": found[0]})
            return {"runId": run_id, "started": False, "resumed": True, "taskArn": found[0]}
        return {"runId": run_id, "started": False, "resumed": True, "taskArn": first.taskArn}
    raise StaleRecord(run_id)
