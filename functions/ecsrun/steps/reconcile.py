"""The safety net: whatever an event, a callback or a stop failed to do, the reconciler does, through the same
code as the handlers that missed it.

It reads only overdue runs: the sparse `overdue` index holds every run that something is still left for
(domain.lifecycle.chores), sharded by runId, sorted by `dueAt` (its last change, or when a check found it still
going and put it off); a run is overdue once `dueAt` is more than the grace period ago. For each:
- a run without an outcome: is its execution still running (DescribeExecution, at most `max_execution_checks` a
  pass, oldest first)? If so, it is looked at again later (after half its age, at most lifecycle.MAX_RECHECK). If
  not, the run is ended through ExecutionEnded's code (that event is best effort): aborted, or, judged already,
  ended with the execution's error;
- a verdict's callback is pending: delivered again, from the record;
- its task is recorded but not known to have stopped: DescribeTasks (100 a call). Stopped: settled (or, for a
  run nobody waits for, recorded). ECS no longer knows it: lost. Still running for a run that is stopping,
  aborted or ended: StopTask again;
- an aborted (or ended) run whose task RunTask may have started without anyone recording it: named by RunTask
  with the attempt's clientToken, then stopped;
- an aborted run whose task stopped but whose logs are not all copied: the copy continues from its checkpoint;
- an ended run not announced: its completion event, derived from the recorded end, is published; a caller not
  answered is answered from the recorded end;
- a run with nothing left leaves the index.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from ecsrun.adapters.dynamodb import RunsTable, iso_utc
from ecsrun.adapters.ecs import Ecs
from ecsrun.adapters.stepfunctions import MISSING, Callbacks, Executions
from ecsrun.domain.callback import recorded_answer
from ecsrun.domain.completion import recorded_summary
from ecsrun.domain.errors import ErrorName, StaleRecord
from ecsrun.domain.lifecycle import Chore, chores
from ecsrun.domain.models.ecs import EcsTask
from ecsrun.domain.models.record import WAITING, Callback, RunRecord, RunStatus
from ecsrun.domain.models.verdict import Verdict
from ecsrun.plumbing.observability import logger
from ecsrun.plumbing.settings import Settings
from ecsrun.steps.abort import abort_run, cleanup_aborted
from ecsrun.steps.announce import announce
from ecsrun.steps.callback import answer_caller
from ecsrun.steps.settle import complete_callback, settle_once, settle_stopped_task
from ecsrun.steps.tasks import record_attempt_task, resolve_attempt_task, stop_recorded_task

COUNTS = (
    "checked",
    "settled",
    "lost",
    "running",
    "callbacks",
    "aborted",
    "stopped",
    "copied",
    "executionsChecked",
    "announced",
    "answered",
    "released",
    "errors",
)
STILL_RUNNING = ("RUNNING", "PENDING_REDRIVE")
# The ECS API is eventually consistent: right after RunTask, DescribeTasks may not know the task yet. AWS advises
# retrying DescribeTasks "starting with a couple of seconds of wait time and increasing gradually up to five minutes"
# (RunTask, ECS API Reference). A task recorded less than this long ago and reported MISSING is not lost yet.
CONSISTENCY_WINDOW = timedelta(minutes=5)
_T = TypeVar("_T")


def reconcile(
    *,
    store: RunsTable,
    ecs: Ecs,
    callbacks: Callbacks,
    executions: Executions,
    settings: Settings,
    grace_seconds: int,
    max_execution_checks: int,
    publish: Callable[[dict[str, Any]], None],
    copy_logs: Callable[[RunRecord], bool],
    read_manifest: Callable[[str], dict[str, Any] | None] = lambda run_id: None,
) -> dict[str, int]:
    """One pass. A non-zero `settled` means STOPPED events were missed; `lost` counts tasks ECS no longer knows.
    `copy_logs(record)` copies an aborted run's logs (True when finished, False when it paused);
    `read_manifest(run_id)` reads a run's manifest (for an announcement derived from its recorded end)."""
    grace = timedelta(seconds=grace_seconds)
    for run_id in store.retired_waiting():  # runs from before the overdue index: moved into it, due now
        store.reopen_retired(run_id)
    found = sorted(store.overdue(iso_utc(datetime.now(UTC) - grace)), key=lambda r: r.dueAt or "")
    work = _Pass(store, ecs, callbacks, executions, settings, publish, copy_logs)
    work.grace, work.read_manifest = grace, read_manifest
    work.counts["checked"] = len(found)
    for record in [r for r in found if r.outcome is None][:max_execution_checks]:
        work.counts["executionsChecked"] += 1
        work.guarded(record, work.check_execution)
    current = [r for r in (work.guarded(r, work.reread) for r in found) if r is not None and r.openShard]
    for record in current:
        if record.callback == Callback.PENDING and record.status in (RunStatus.STOPPED, RunStatus.START_FAILED):
            work.guarded(record, work.redeliver)
    work.ask_ecs([r for r in current if r.taskArn and r.task is None and r.status != RunStatus.STARTING])
    for record in current:
        if record.taskArn is None and (record.status == RunStatus.ABORTED or record.outcome is not None):
            work.guarded(record, work.name_unrecorded_task)
    for record in current:
        work.guarded(record, work.copy_if_unwaited)
    for record in current:
        work.guarded(record, work.tell_the_end)
    return work.counts


class _Pass:
    """One reconciler pass: what it does to each run, and what it counted."""

    def __init__(
        self,
        store: RunsTable,
        ecs: Ecs,
        callbacks: Callbacks,
        executions: Executions,
        settings: Settings,
        publish: Callable[[dict[str, Any]], None],
        copy_logs: Callable[[RunRecord], bool],
    ):
        self.store, self.ecs, self.callbacks, self.executions = store, ecs, callbacks, executions
        self.settings, self.publish, self.copy_logs = settings, publish, copy_logs
        self.counts = dict.fromkeys(COUNTS, 0)
        self.grace = timedelta(0)
        self.read_manifest: Callable[[str], dict[str, Any] | None] = lambda run_id: None

    def guarded(self, record: RunRecord, action: Callable[[RunRecord], _T]) -> _T | None:
        try:
            return action(record)
        except Exception:  # noqa: BLE001 - one run's trouble must not stop the pass; the next pass tries again
            self.counts["errors"] += 1
            logger.exception("reconciling a run failed", extra={"runId": record.runId})
            return None

    def reread(self, record: RunRecord) -> RunRecord | None:
        return self.store.get(record.runId)

    def check_execution(self, record: RunRecord) -> None:
        """A run without an outcome: does its execution still run? If not, end the run as its execution ended."""
        described = self.executions.describe(record.executionArn)
        status = str(described["status"]) if described else MISSING
        if status in STILL_RUNNING or status == "SUCCEEDED":
            # Still going (a SUCCEEDED execution's run is ended by its CopyLogs): look again later, not every pass.
            self.store.recheck_later(record, self.grace)
            return
        result = abort_run(
            record.runId,
            record.executionArn,
            status,
            store=self.store,
            ecs=self.ecs,
            callbacks=self.callbacks,
            settings=self.settings,
            publish=self.publish,
            error=described.get("error") if described else None,
            cause=described.get("cause") if described else None,
        )
        self.counts["aborted"] += result["result"] == "aborted"

    def redeliver(self, record: RunRecord) -> None:
        complete_callback(record, store=self.store, callbacks=self.callbacks)
        self.counts["callbacks"] += 1

    def ask_ecs(self, records: list[RunRecord]) -> None:
        """Recorded tasks not known to have stopped: DescribeTasks, then settle, stop again, or call them lost."""
        by_cluster: dict[str, list[RunRecord]] = {}
        for record in records:
            by_cluster.setdefault(record.clusterArn or record.run.request.get("cluster") or "", []).append(record)
        for cluster, group in by_cluster.items():
            by_task: dict[str, RunRecord] = {r.taskArn: r for r in group if r.taskArn}
            try:
                described, missing = self.ecs.describe_tasks(cluster or None, list(by_task))
            except Exception:  # noqa: BLE001 - the next pass asks again
                self.counts["errors"] += 1
                logger.exception("DescribeTasks failed", extra={"cluster": cluster})
                continue
            for raw in described:
                task = EcsTask.model_validate(raw)
                owner = by_task.get(task.taskArn)
                if owner is None:
                    continue
                if task.lastStatus == "STOPPED":
                    self.guarded(owner, functools.partial(self.settle, task))
                    continue
                self.counts["running"] += 1
                if owner.status != RunStatus.RUNNING:  # stopping, aborted or ended: the task must not run on
                    self.guarded(owner, self.stop_again)
            for arn in missing:
                if _recently_recorded(by_task[arn]):
                    logger.info("ECS does not know the run's task yet; asking again next pass", extra={"taskArn": arn})
                    continue
                self.guarded(by_task[arn], self.lost)

    def settle(self, task: EcsTask, record: RunRecord) -> None:
        result = settle_stopped_task(
            task, store=self.store, callbacks=self.callbacks, settings=self.settings, settled_by="reconciler"
        )
        self.counts["settled"] += result.startswith("settled")

    def stop_again(self, record: RunRecord) -> None:
        self.counts["stopped"] += stop_recorded_task(record, ecs=self.ecs, store=self.store)

    def lost(self, record: RunRecord) -> None:
        self.counts["lost"] += _lost(record, store=self.store, callbacks=self.callbacks)

    def name_unrecorded_task(self, record: RunRecord) -> None:
        """An aborted or ended run whose task RunTask may have started, unrecorded: name it by the attempt's
        clientToken and stop it (or end an aborted run that never had one)."""
        now = self.store.get(record.runId)
        if now is None or now.taskArn is not None:
            return
        if now.status == RunStatus.ABORTED and now.outcome is None:
            cleanup_aborted(
                now,
                store=self.store,
                ecs=self.ecs,
                callbacks=self.callbacks,
                settings=self.settings,
                publish=self.publish,
            )
            return
        task = None if now.task_known_stopped else resolve_attempt_task(now, ecs=self.ecs, settings=self.settings)
        if task is None:
            self.store.mark_no_task(now)  # RunTask refused the attempt's clientToken: no task exists
            return
        record_attempt_task(
            now.runId,
            now.attempt,
            task,
            store=self.store,
            ecs=self.ecs,
            callbacks=self.callbacks,
            settings=self.settings,
        )

    def copy_if_unwaited(self, record: RunRecord) -> None:
        """A run nobody waits for whose task has stopped: copy its logs (continuing a paused or failed copy)."""
        now = self.store.get(record.runId)
        if now is None or not now.openShard or now.task is None or now.logsCopied:
            return
        if now.status == RunStatus.ABORTED or now.outcome is not None:
            self.counts["copied"] += self.copy_logs(now)

    def tell_the_end(self, record: RunRecord) -> None:
        """An ended run: its completion event and its caller's answer, derived from the recorded end, until the
        record says each was taken; then, with nothing left, the run leaves the index."""
        now = self.store.get(record.runId)
        if now is None or not now.openShard or now.outcome is None:
            return
        left = chores(now)
        if Chore.ANNOUNCE in left and Chore.COPY not in left and Chore.STOP not in left:
            manifest = self.read_manifest(now.runId) if now.outcome.get("manifestKey") else None
            self.counts["announced"] += announce(
                recorded_summary(now, manifest), run_id=now.runId, store=self.store, publish=self.publish
            )
        if Chore.ANSWER in left:
            answer_caller(
                now.run.callbackTaskToken,
                recorded_answer(now),
                callbacks=self.callbacks,
                store=self.store,
                run_id=now.runId,
            )
            self.counts["answered"] += 1
        self.counts["released"] += self.store.release_if_done(now.runId)


def _recently_recorded(record: RunRecord, now: datetime | None = None) -> bool:
    """The task was recorded (else, for records written before taskRecordedAt, RunTask was first called) within
    ECS's consistency window."""
    moment = record.taskRecordedAt or record.runTaskAt
    if not moment:
        return False
    recorded = datetime.fromisoformat(moment.replace("Z", "+00:00"))
    return (now or datetime.now(UTC)) - recorded < CONSISTENCY_WINDOW


def _lost(record: RunRecord, *, store: RunsTable, callbacks: Callbacks) -> bool:
    """ECS no longer knows the task (stopped over an hour ago, event missed): its end is unknowable."""
    task = EcsTask(taskArn=record.taskArn or "", clusterArn=record.clusterArn, lastStatus="MISSING")
    reason = f"ECS no longer knows task {record.taskArn}: it stopped long ago and its STOPPED event was missed"
    verdict = Verdict.failed(ErrorName.TASK_LOST, reason)
    try:
        if record.status in WAITING:
            settle_once(record, task, verdict, store=store, callbacks=callbacks, settled_by="reconciler")
        else:
            store.record_task(record, task, verdict)
    except StaleRecord:
        return False  # settled meanwhile by its event
    return True
