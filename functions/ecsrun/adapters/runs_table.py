"""The runs table. Every transition is a conditional write, so concurrent handlers and duplicate
events can never move a run backwards or settle it twice."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from ecsrun.errors import EcsrunError, StaleRecord
from ecsrun.models.ecs import EcsTask
from ecsrun.models.record import WAITING, RunRecord, RunStatus
from ecsrun.models.run import ContainerSpec
from ecsrun.verdict import Verdict

# Attributes kept as JSON text: nested, float-free and read whole.
_JSON_ATTRS = ("run", "containers", "task", "verdict", "outcome")


class RunExists(EcsrunError):
    """A record for this runId exists already."""

    def __init__(self, existing: RunRecord):
        super().__init__(f"run {existing.runId} exists (execution {existing.executionArn})")
        self.existing = existing


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _is_conditional_failure(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


def _dump(value: Any) -> Any:
    if isinstance(value, list):
        return json.dumps([v.model_dump(mode="json") if hasattr(v, "model_dump") else v for v in value])
    if hasattr(value, "model_dump"):
        return json.dumps(value.model_dump(mode="json"))
    return json.dumps(value)


class RunsTable:
    def __init__(self, table: Any):
        self._table = table

    def _to_item(self, record: RunRecord) -> dict[str, Any]:
        item = record.model_dump(mode="json", exclude_none=True)
        for attr in _JSON_ATTRS:
            if attr in item:
                item[attr] = json.dumps(item[attr])
        return item

    def _from_item(self, item: dict[str, Any]) -> RunRecord:
        data = dict(item)
        for attr in _JSON_ATTRS:
            if isinstance(data.get(attr), str):
                data[attr] = json.loads(data[attr])
        for key in ("attempt", "expiresAt"):
            if key in data:
                data[key] = int(data[key])
        return RunRecord.model_validate(data)

    def get(self, run_id: str) -> RunRecord | None:
        item = self._table.get_item(Key={"runId": run_id}, ConsistentRead=True).get("Item")
        return self._from_item(item) if item else None

    def create(self, record: RunRecord) -> RunRecord:
        try:
            self._table.put_item(Item=self._to_item(record), ConditionExpression="attribute_not_exists(runId)")
        except ClientError as exc:
            if not _is_conditional_failure(exc):
                raise
            existing = self.get(record.runId)
            if existing is None:  # deleted in between: vanishingly rare, let the caller retry
                raise StaleRecord(record.runId) from exc
            raise RunExists(existing) from exc
        return record

    def _update(self, run_id: str, sets: dict[str, Any], condition: str, values: dict[str, Any]) -> None:
        sets = {**sets, "updatedAt": now_iso()}
        names = {f"#{k}": k for k in sets}
        expression = "SET " + ", ".join(f"#{k} = :{k}" for k in sets)
        attr_values = {f":{k}": (_dump(v) if k in _JSON_ATTRS else v) for k, v in sets.items()}
        attr_values.update(values)
        if "#status" in condition:
            names["#status"] = "status"
        try:
            self._table.update_item(
                Key={"runId": run_id},
                UpdateExpression=expression,
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=attr_values,
            )
        except ClientError as exc:
            if _is_conditional_failure(exc):
                raise StaleRecord(run_id) from exc
            raise

    def set_token(self, run_id: str, token: str) -> None:
        """A retried start state brings a new token; the task, if any, stays the same."""
        self._update(
            run_id,
            {"taskToken": token},
            "#status IN (:starting, :running)",
            {":starting": RunStatus.STARTING.value, ":running": RunStatus.RUNNING.value},
        )

    def set_containers(self, run_id: str, containers: list[ContainerSpec]) -> None:
        self._update(run_id, {"containers": containers}, "attribute_exists(runId)", {})

    def mark_started(self, run_id: str, task_arn: str, cluster_arn: str | None) -> None:
        """STARTING → RUNNING. If the STOPPED event won the race, only the task's identity is added."""
        sets: dict[str, Any] = {"taskArn": task_arn, "clusterArn": cluster_arn or ""}
        try:
            self._update(
                run_id, {**sets, "status": RunStatus.RUNNING.value}, "#status = :s", {":s": RunStatus.STARTING.value}
            )
        except StaleRecord:
            self._update(run_id, sets, "attribute_exists(runId)", {})

    def mark_start_failed(self, run_id: str, verdict: Verdict) -> None:
        self._update(
            run_id,
            {"status": RunStatus.START_FAILED.value, "verdict": verdict},
            "#status = :s",
            {":s": RunStatus.STARTING.value},
        )

    def settle(self, read: RunRecord, task: EcsTask, verdict: Verdict) -> None:
        """Record the STOPPED task once: only from the status and token that were read."""
        self._update(
            read.runId,
            {
                "status": RunStatus.STOPPED.value,
                "task": task,
                "verdict": verdict,
                "taskArn": task.taskArn,
                "clusterArn": task.clusterArn or read.clusterArn or "",
            },
            "#status = :s AND taskToken = :t",
            {":s": read.status.value, ":t": read.taskToken},
        )

    def begin_stop(self, read: RunRecord, token: str, reason: str) -> None:
        """A timed-out run: the stop state's token replaces the start state's."""
        self._update(
            read.runId,
            {"status": RunStatus.STOPPING.value, "taskToken": token, "timedOut": True, "stopReason": reason},
            "#status = :s AND taskToken = :t",
            {":s": read.status.value, ":t": read.taskToken},
        )

    def mark_timed_out(self, run_id: str, reason: str) -> None:
        """The run timed out but its task had already stopped (or never started)."""
        self._update(run_id, {"timedOut": True, "stopReason": reason}, "attribute_exists(runId)", {})

    def finish(self, run_id: str, outcome: dict[str, Any]) -> None:
        status = RunStatus.SUCCEEDED if outcome.get("status") == "SUCCEEDED" else RunStatus.FAILED
        self._update(run_id, {"status": status.value, "outcome": outcome}, "attribute_exists(runId)", {})


def new_record(**fields: Any) -> RunRecord:
    stamp = now_iso()
    ttl_days = fields.pop("ttl_days")
    return RunRecord(
        status=RunStatus.STARTING,
        createdAt=stamp,
        updatedAt=stamp,
        expiresAt=int(time.time()) + ttl_days * 86400,
        **fields,
    )


__all__ = ["WAITING", "RunExists", "RunsTable", "new_record", "now_iso"]
