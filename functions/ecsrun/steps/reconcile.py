"""The safety net: settle runs whose STOPPED event never came, through the same path as the event handler."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ecsrun.adapters.dynamodb import RunsTable, iso_utc
from ecsrun.adapters.ecs import Ecs
from ecsrun.adapters.stepfunctions import Callbacks
from ecsrun.domain.errors import ErrorName, StaleRecord
from ecsrun.domain.models.ecs import EcsTask
from ecsrun.domain.models.record import RunRecord
from ecsrun.domain.models.verdict import Verdict
from ecsrun.plumbing.settings import Settings
from ecsrun.steps.settle import settle_once, settle_stopped_task


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
        settle_once(record, task, verdict, store=store, callbacks=callbacks, settled_by="reconciler")
    except StaleRecord:
        return 0  # settled meanwhile by its event
    return 1
