"""A run whose execution ended (aborted, failed, timed out) must not leave its task running."""

from __future__ import annotations

from typing import Any

from ecsrun.adapters.dynamodb import RunsTable
from ecsrun.adapters.ecs import Ecs
from ecsrun.domain.errors import StaleRecord
from ecsrun.domain.models.record import WAITING
from ecsrun.steps.settle import SETTLE_ATTEMPTS


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
