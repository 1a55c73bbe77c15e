"""Stop a run whose time is up, and wait (on the stop state's token) for ECS to say its task stopped."""

from __future__ import annotations

from typing import Any

from ecsrun.adapters.dynamodb import RunsTable
from ecsrun.adapters.ecs import Ecs
from ecsrun.adapters.stepfunctions import Callbacks
from ecsrun.domain.errors import StaleRecord
from ecsrun.domain.models.record import WAITING
from ecsrun.steps.settle import SETTLE_ATTEMPTS


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
