"""What happens to a run at each step: start it, settle it when it stops, stop it when it times out.

Handlers call these; so will anything else that must act on a run the same way (the local engine,
a reconciler). AWS is reached only through the adapters passed in.
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from typing import Any

from ecsrun.adapters.callbacks import Callbacks
from ecsrun.adapters.ecs import Ecs, RunTaskRefused
from ecsrun.adapters.runs_table import RunExists, RunsTable, iso_utc, new_record
from ecsrun.errors import ErrorName, StaleRecord, StartInterrupted
from ecsrun.models.ecs import EcsTask
from ecsrun.models.record import WAITING, RunRecord, RunStatus
from ecsrun.models.run import Run
from ecsrun.observability import logger
from ecsrun.runtask import client_token, container_specs, run_id_from_started_by, run_task_args, started_by
from ecsrun.settings import Settings
from ecsrun.verdict import Verdict, judge

SETTLE_ATTEMPTS = 5
# The task of a run whose execution had ended has stopped: its logs still need copying.
ABORTED_TASK_STOPPED = "recorded: execution had ended; logs to copy"


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
            message = f"runId {run.runId!r} is already used by execution {first.executionArn} ({first.status.value})"
            callbacks.fail(
                token, ErrorName.DUPLICATE.value, _cause(first, message, firstExecutionArn=first.executionArn)
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
        callbacks.fail(token, refused.error.value, _cause(record, str(refused), failures=refused.failures))
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
                _deliver(callbacks, first.model_copy(update={"taskToken": token}), first.verdict)
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
            return _settle(record, task, verdict, store=store, callbacks=callbacks, settled_by=settled_by)
        except StaleRecord:
            continue  # a stop or a retried start changed the token: read again
    raise StaleRecord(run_id)


def _settle(
    record: RunRecord, task: EcsTask, verdict: Verdict, *, store: RunsTable, callbacks: Callbacks, settled_by: str
) -> str:
    """Conditional write first, callback second: a second settler loses the write and never calls back."""
    store.settle(record, task, verdict, settled_by)
    if not _deliver(callbacks, record, verdict):
        store.mark_callback_closed(record.runId)
        return "settled: token already closed"
    return "settled"


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


def reconcile(
    *, store: RunsTable, ecs: Ecs, callbacks: Callbacks, settings: Settings, grace_seconds: int
) -> dict[str, int]:
    """Settle runs whose STOPPED event never came, through the same path as the event handler.

    A non-zero `settled` means events were missed; `lost` counts tasks ECS no longer knows.
    """
    before = iso_utc(datetime.now(UTC) - timedelta(seconds=grace_seconds))
    stale = [r for r in store.waiting_since(before) if r.taskArn]
    counts = {"checked": len(stale), "settled": 0, "lost": 0, "running": 0}
    by_cluster: dict[str, list[RunRecord]] = {}
    for record in stale:
        by_cluster.setdefault(record.clusterArn or record.run.request.get("cluster") or "", []).append(record)
    for cluster, records in by_cluster.items():
        by_task = {r.taskArn: r for r in records if r.taskArn}
        described, missing = ecs.describe_tasks(cluster or None, list(by_task))
        for raw in described:
            task = EcsTask.model_validate(raw)
            if task.lastStatus != "STOPPED":
                counts["running"] += 1
                continue
            result = settle_stopped_task(
                task, store=store, callbacks=callbacks, settings=settings, settled_by="reconciler"
            )
            counts["settled"] += result.startswith("settled")
        for arn in missing:
            counts["lost"] += _settle_lost(by_task[arn], store=store, callbacks=callbacks)
    return counts


def _settle_lost(record: RunRecord, *, store: RunsTable, callbacks: Callbacks) -> int:
    """ECS no longer knows the task (stopped over an hour ago, event missed): its end is unknowable."""
    task = EcsTask(taskArn=record.taskArn or "", clusterArn=record.clusterArn, lastStatus="MISSING")
    reason = f"ECS no longer knows task {record.taskArn}: it stopped long ago and its STOPPED event was missed"
    verdict = Verdict.failed(ErrorName.TASK_LOST, reason)
    try:
        _settle(record, task, verdict, store=store, callbacks=callbacks, settled_by="reconciler")
    except StaleRecord:
        return 0  # settled meanwhile by its event
    return 1


def abort_run(run_id: str, execution_arn: str, status: str, *, store: RunsTable, ecs: Ecs) -> dict[str, Any]:
    """The execution ended (aborted, failed, timed out) while its run may still be going: stop the task."""
    reason = f"ecsrun: execution {execution_arn.rsplit(':', 1)[-1]} ended {status}"
    for _ in range(SETTLE_ATTEMPTS):
        record = store.get(run_id)
        if record is None or record.executionArn != execution_arn:
            return {"runId": run_id, "result": "ignored: not this execution's run"}
        if record.status not in WAITING:
            return {"runId": run_id, "result": f"ignored: run already {record.status.value}"}
        try:
            store.mark_aborted(record, reason)
        except StaleRecord:
            continue
        stopped = False
        if record.taskArn:
            stopped = ecs.stop_task(record.clusterArn or record.run.request.get("cluster"), record.taskArn, reason)
        return {"runId": run_id, "result": "aborted", "taskStopped": stopped, "taskArn": record.taskArn}
    raise StaleRecord(run_id)


def plan_retry(run_id: str, execution_arn: str, *, store: RunsTable) -> dict[str, Any]:
    """After a failed attempt: start another one (after a backoff with full jitter), or give up.

    Only failures that mean "not now" are retried: no capacity, throttling, or a transient failed start.
    """
    record = store.get(run_id)
    if record is None or record.executionArn != execution_arn or record.verdict is None:
        return {"retry": False, "attempt": record.attempt if record else 0, "waitSeconds": 0}
    verdict = record.verdict
    policy = record.run.retry
    if not verdict.retryable or record.attempt >= int(policy["maxAttempts"]):
        return {"retry": False, "attempt": record.attempt, "waitSeconds": 0}
    ceiling = float(policy["intervalSeconds"]) * float(policy["backoffRate"]) ** (record.attempt - 1)
    wait = max(1, round(random.uniform(0, ceiling)))  # noqa: S311 - jitter, not security
    attempt = record.attempt + 1
    try:
        store.begin_attempt(record, attempt, client_token(run_id, attempt))
    except StaleRecord:
        return {"retry": False, "attempt": record.attempt, "waitSeconds": 0}
    logger.info("retrying run", extra={"attempt": attempt, "waitSeconds": wait, "error": verdict.error})
    return {"retry": True, "attempt": attempt, "waitSeconds": wait}
