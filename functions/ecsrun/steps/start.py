"""Start a run: write its record, then RunTask; a retried start never starts a second task."""

from __future__ import annotations

from typing import Any

from ecsrun.adapters.dynamodb import RunExists, RunsTable, new_record
from ecsrun.adapters.ecs import Ecs, RunTaskRefused
from ecsrun.adapters.stepfunctions import Callbacks
from ecsrun.domain.errors import ErrorName, StaleRecord, StartInterrupted, Throttled
from ecsrun.domain.models.record import Callback, RunRecord, RunStatus
from ecsrun.domain.models.run import Run
from ecsrun.domain.models.verdict import Verdict
from ecsrun.domain.runtask import client_token, container_specs, run_task_args, started_by
from ecsrun.plumbing.observability import logger
from ecsrun.plumbing.settings import Settings
from ecsrun.plumbing.throttling import as_throttled
from ecsrun.steps.settle import SETTLE_ATTEMPTS, complete_callback, failure_cause, settle_stopped_task
from ecsrun.steps.tasks import record_attempt_task


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
    """Write the record, then RunTask. The record exists before the task, so no task is ever unaccounted for.

    Every failure is StartInterrupted, which the state machine retries: the retry calls RunTask again with the same
    clientToken and parameters, so ECS answers with the task the first call started. A failure while the record is
    written (or read back, on a retry) is one too: the write may have taken effect, and a retry finds out. A
    throttled call (RunTask, DynamoDB, Step Functions) is Throttled instead, retried the same way but for as long
    as it takes: throttling makes the run wait, never fail.
    """
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
        try:
            store.create(record)
            resuming = False
        except RunExists as exists:
            first = exists.existing
            if first.executionArn != execution_arn:
                message = (
                    f"runId {run.runId!r} is already used by execution {first.executionArn} ({first.status.value})"
                )
                callbacks.fail(
                    token,
                    ErrorName.DUPLICATE.value,
                    failure_cause(first, message, firstExecutionArn=first.executionArn),
                )
                return {"runId": run.runId, "started": False, "duplicateOf": first.executionArn}
            resuming = True
        if resuming:
            resumed = _resume(run.runId, token, store=store, callbacks=callbacks, settings=settings)
            if resumed is not None:
                return resumed
            record = store.get(run.runId) or record
        return _start_attempt(record, store=store, ecs=ecs, callbacks=callbacks, settings=settings, region=region)
    except (StartInterrupted, Throttled):
        raise
    except Exception as exc:
        throttled = as_throttled(exc, f"start of run {run.runId}")
        if throttled is not None:
            raise throttled from exc
        # The record may exist and a task too: the retried start sorts out which, by the attempt's clientToken.
        # Only the exception's type is named: an SDK message may quote a parameter (an environment value).
        raise StartInterrupted(f"start of run {run.runId} interrupted: {type(exc).__name__}") from exc


def _start_attempt(
    record: RunRecord, *, store: RunsTable, ecs: Ecs, callbacks: Callbacks, settings: Settings, region: str
) -> dict[str, Any]:
    run, attempt = record.run, record.attempt
    if record.run_task_may_have_run and record.containers:
        # An interrupted start of this attempt may have called RunTask: its task, if any, is named by RunTask with
        # the attempt's clientToken, never refused on a second look at the task definition.
        containers = record.containers
    elif run.definition is not None:
        containers = run.definition.containers  # what ValidateRequest learned: ECS is not asked again
    else:
        try:  # a run validated before the definition travelled with it
            definition = ecs.describe_task_definition(run.request["taskDefinition"])
            containers = container_specs(definition, region)
        except RunTaskRefused as refused:
            if refused.error == ErrorName.THROTTLED:
                raise Throttled(f"start of run {run.runId}: DescribeTaskDefinition throttled") from refused
            return _refused(record, refused, store=store, callbacks=callbacks)
    try:
        store.begin_start(run.runId, attempt, containers)
    except StaleRecord:
        # A stop or an abort began first (or the attempt moved on): no RunTask may follow.
        logger.info("the run stopped being started before RunTask; nothing started")
        return {"runId": run.runId, "started": False}
    try:
        args = run_task_args(run, settings.started_by_prefix, attempt=attempt, fields=record.attemptFields)
        task = ecs.run_task(args)
    except RunTaskRefused as refused:
        if refused.error == ErrorName.THROTTLED:
            # A throttled RunTask started nothing, but an earlier call with this clientToken may have: the attempt
            # is not over. The record stays STARTING and the state machine retries Throttled with a long backoff;
            # the retry calls RunTask again with the same clientToken. Throttling never ends a run.
            raise Throttled(
                f"start of run {run.runId}: RunTask throttled ({refused.code})", code=refused.code or ""
            ) from refused
        return _refused(record, refused, store=store, callbacks=callbacks)
    now = record_attempt_task(run.runId, attempt, task, store=store, ecs=ecs, callbacks=callbacks, settings=settings)
    logger.info("task started", extra={"taskArn": task["taskArn"], "status": now.status.value})
    return {"runId": run.runId, "started": True, "taskArn": task["taskArn"]}


def _refused(record: RunRecord, refused: RunTaskRefused, *, store: RunsTable, callbacks: Callbacks) -> dict[str, Any]:
    """ECS refused: no task exists. The verdict and its pending callback are recorded, then delivered."""
    verdict = Verdict(succeeded=False, error=refused.error, reason=str(refused), retryable=refused.retryable)
    try:
        store.mark_start_failed(record, verdict)
    except StaleRecord:
        logger.info("RunTask refused, but the run is no longer starting", extra={"reason": str(refused)})
        return {"runId": record.runId, "started": False}
    failed = store.get(record.runId)
    if failed is not None and failed.callback == Callback.PENDING:
        complete_callback(failed, store=store, callbacks=callbacks)
    return {"runId": record.runId, "started": False}


def _resume(
    run_id: str, token: str, *, store: RunsTable, callbacks: Callbacks, settings: Settings
) -> dict[str, Any] | None:
    """This execution's start state ran again (a Lambda retry, or StartInterrupted). Never start a second task.

    Returns None when the attempt still has to be started: the caller then calls RunTask, with the attempt's
    clientToken, which names the task an interrupted call may have started.
    """
    for _ in range(SETTLE_ATTEMPTS):
        first = store.get(run_id)
        if first is None:
            raise StaleRecord(run_id)
        resumable = (RunStatus.STARTING, RunStatus.RUNNING, RunStatus.STOPPED, RunStatus.START_FAILED)
        if (
            first.outcome is not None
            or first.status not in resumable
            or (first.status in (RunStatus.STOPPED, RunStatus.START_FAILED) and first.verdict is None)
        ):
            # Stopping, aborted or ended (or claimed by CopyLogs): this start state is not waited on any more.
            return {"runId": run_id, "started": False, "resumed": True, "taskArn": first.taskArn}
        try:
            now = store.set_token(first, token)
        except StaleRecord:
            continue
        if now.status in (RunStatus.STOPPED, RunStatus.START_FAILED):
            # Settled (or refused) while no state was listening: hand the recorded verdict to this state.
            complete_callback(now, store=store, callbacks=callbacks)
            return {"runId": run_id, "started": False, "resumed": True, "taskArn": now.taskArn}
        if now.status == RunStatus.STARTING:
            return None
        early = (now.earlyEvents or {}).get(now.taskArn or "")
        if early is not None:
            # The start recorded its task, found the task's STOPPED event waiting, and died before settling.
            settle_stopped_task(early, store=store, callbacks=callbacks, settings=settings)
        return {"runId": run_id, "started": False, "resumed": True, "taskArn": now.taskArn}
    raise StaleRecord(run_id)


def claim_unstarted_run(run: Run, execution_arn: str, *, store: RunsTable, settings: Settings) -> RunRecord:
    """The start never wrote the run's record (it died before, every time it was tried) and the state machine went
    on to copy the logs: write the record now, as a start that called no RunTask (START_FAILED), so the run still
    ends once, with an outcome, and a start still running late can no longer call RunTask (that needs STARTING).
    If a record exists after all, it is returned as it is."""
    record = new_record(
        runId=run.runId,
        executionArn=execution_arn,
        startedBy=started_by(settings.started_by_prefix, run.runId),
        clientToken=client_token(run.runId, 1),
        run=run,
        ttl_days=settings.run_record_ttl_days,
    ).model_copy(update={"status": RunStatus.START_FAILED})
    try:
        return store.create(record)
    except RunExists as exists:
        return exists.existing
