"""The runs table. Every transition is a conditional write, so concurrent handlers and duplicate
events can never move a run backwards or settle it twice."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from ecsrun.domain.errors import EcsrunError, StaleRecord
from ecsrun.domain.models.ecs import EcsTask
from ecsrun.domain.models.record import WAITING, WAITING_INDEX, WAITING_MARK, RunRecord, RunStatus
from ecsrun.domain.models.run import ContainerSpec
from ecsrun.domain.models.verdict import Verdict

# Attributes kept as JSON text: nested, float-free and read whole.
_JSON_ATTRS = ("run", "containers", "task", "verdict", "outcome", "attempts", "array")


class RunExists(EcsrunError):
    """A record for this runId exists already."""

    def __init__(self, existing: RunRecord):
        super().__init__(f"run {existing.runId} exists (execution {existing.executionArn})")
        self.existing = existing


def iso_utc(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def now_iso() -> str:
    return iso_utc(datetime.now(UTC))


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
        for key in ("attempt", "expiresAt", "taskVersion"):
            if key in data:
                data[key] = int(data[key])
        return RunRecord.model_validate(data)

    def get_many(self, run_ids: list[str]) -> dict[str, dict[str, Any]]:
        """Records by runId, as plain items (outcome parsed): BatchGetItem, 100 keys a call, unprocessed keys
        asked again. Only the fields an array's verdict needs are read."""
        # The table resource's client (de)serializes attribute values, as the table's own methods do.
        client, name = self._table.meta.client, self._table.name
        found: dict[str, dict[str, Any]] = {}
        pending = [{"runId": run_id} for run_id in dict.fromkeys(run_ids)]
        while pending:
            batch, pending = pending[:100], pending[100:]
            request: dict[str, Any] = {
                name: {
                    "Keys": batch,
                    "ConsistentRead": True,
                    "ProjectionExpression": "runId, executionArn, #s, outcome",
                    "ExpressionAttributeNames": {"#s": "status"},
                }
            }
            attempt = 0
            while request:
                time.sleep(min(0.05 * attempt, 1.0))  # unprocessed keys mean throttling: back off a little
                answer = client.batch_get_item(RequestItems=request)
                for record in answer.get("Responses", {}).get(name, []):
                    if isinstance(record.get("outcome"), str):
                        record["outcome"] = json.loads(record["outcome"])
                    found[record["runId"]] = record
                request = answer.get("UnprocessedKeys") or {}
                attempt += 1
        return found

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

    def _update(
        self,
        run_id: str,
        sets: dict[str, Any],
        condition: str,
        values: dict[str, Any],
        removes: tuple[str, ...] = (),
    ) -> None:
        sets = {**sets, "updatedAt": now_iso()}
        names = {f"#{k}": k for k in (*sets, *removes)}
        expression = "SET " + ", ".join(f"#{k} = :{k}" for k in sets)
        if removes:
            expression += " REMOVE " + ", ".join(f"#{k}" for k in removes)
        attr_values = {f":{k}": (_dump(v) if k in _JSON_ATTRS else v) for k, v in sets.items()}
        attr_values.update(values)
        if "#status" in condition:
            names["#status"] = "status"
        if "#taskToken" in condition:
            names["#taskToken"] = "taskToken"
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

    def _from_state(self, read: RunRecord) -> tuple[str, dict[str, Any]]:
        """A condition that holds only while the record is as `read` saw it (same status, same token)."""
        if read.taskToken is None:  # an array's parent never has one
            return "#status = :read_status AND attribute_not_exists(#taskToken)", {":read_status": read.status.value}
        return "#status = :read_status AND #taskToken = :read_token", {
            ":read_status": read.status.value,
            ":read_token": read.taskToken,
        }

    def set_token(self, read: RunRecord, token: str) -> None:
        """A retried start state brings a new token; the task, if any, stays the same."""
        condition, values = self._from_state(read)
        self._update(read.runId, {"taskToken": token}, condition, values)

    def set_containers(self, run_id: str, containers: list[ContainerSpec]) -> None:
        self._update(run_id, {"containers": containers}, "attribute_exists(runId)", {})

    def mark_started(self, run_id: str, task_arn: str, cluster_arn: str | None) -> bool:
        """STARTING → RUNNING. If something else won the race (the STOPPED event, an abort), only the task's
        identity is added, and False says the run is no longer starting."""
        sets: dict[str, Any] = {"taskArn": task_arn, "clusterArn": cluster_arn or ""}
        try:
            self._update(
                run_id, {**sets, "status": RunStatus.RUNNING.value}, "#status = :s", {":s": RunStatus.STARTING.value}
            )
        except StaleRecord:
            self._update(run_id, sets, "attribute_exists(runId)", {})
            return False
        return True

    def mark_start_failed(self, run_id: str, verdict: Verdict) -> None:
        self._update(
            run_id,
            {"status": RunStatus.START_FAILED.value, "verdict": verdict},
            "#status = :s",
            {":s": RunStatus.STARTING.value},
            removes=("waiting",),
        )

    def settle(self, read: RunRecord, task: EcsTask, verdict: Verdict, settled_by: str) -> None:
        """Record the STOPPED task once: only from the status and token that were read."""
        condition, values = self._from_state(read)
        sets: dict[str, Any] = {
            "status": RunStatus.STOPPED.value,
            "task": task,
            "verdict": verdict,
            "taskArn": task.taskArn,
            "clusterArn": task.clusterArn or read.clusterArn or "",
            "settledBy": settled_by,
        }
        if task.version is not None:
            sets["taskVersion"] = task.version
        self._update(read.runId, sets, condition, values, removes=("waiting",))

    def record_task(self, read: RunRecord, task: EcsTask, verdict: Verdict) -> None:
        """The stopped task of a run nobody waits for any more: kept, once, for the manifest."""
        self._update(
            read.runId,
            {"task": task, "verdict": verdict, "taskArn": task.taskArn, "clusterArn": task.clusterArn or ""},
            "#status = :read_status AND attribute_not_exists(task)",
            {":read_status": read.status.value},
        )

    def begin_attempt(self, read: RunRecord, attempt: int, token: str) -> None:
        """The failed attempt joins the history; the record starts over for the next one."""
        verdict = read.verdict
        earlier = {
            "attempt": read.attempt,
            "taskArn": read.taskArn,
            "error": verdict.error.value if verdict and verdict.error else None,
            "reason": verdict.reason if verdict else None,
        }
        self._update(
            read.runId,
            {
                "status": RunStatus.STARTING.value,
                "attempt": attempt,
                "clientToken": token,
                "attempts": [*read.attempts, earlier],
                "waiting": WAITING_MARK,
            },
            "#status = :read_status AND attempt = :read_attempt",
            {":read_status": read.status.value, ":read_attempt": read.attempt},
            removes=("taskArn", "clusterArn", "task", "verdict", "taskVersion", "settledBy"),
        )

    def mark_callback_closed(self, run_id: str) -> None:
        self._update(run_id, {"callbackClosed": True}, "attribute_exists(runId)", {})

    def record_caller_answer(self, run_id: str, result: str) -> None:
        """The caller's token was answered ("delivered") or found closed ("closed: <code>"): never again."""
        self._update(run_id, {"callerAnswer": result}, "attribute_exists(runId)", {})

    def begin_stop(self, read: RunRecord, token: str, reason: str) -> None:
        """A timed-out run: the stop state's token replaces the start state's."""
        condition, values = self._from_state(read)
        self._update(
            read.runId,
            {"status": RunStatus.STOPPING.value, "taskToken": token, "timedOut": True, "stopReason": reason},
            condition,
            values,
        )

    def mark_timed_out(self, run_id: str, reason: str) -> None:
        """The run timed out but its task had already stopped (or never started)."""
        self._update(run_id, {"timedOut": True, "stopReason": reason}, "attribute_exists(runId)", {})

    def mark_aborted(self, read: RunRecord, reason: str) -> None:
        """The execution ended first: nobody waits for this run any more."""
        condition, values = self._from_state(read)
        self._update(
            read.runId,
            {"status": RunStatus.ABORTED.value, "stopReason": reason},
            condition,
            values,
            removes=("waiting",),
        )

    def finish(self, run_id: str, outcome: dict[str, Any], *, aborted: bool = False) -> None:
        status = RunStatus.SUCCEEDED if outcome.get("status") == "SUCCEEDED" else RunStatus.FAILED
        if aborted:
            status = RunStatus.ABORTED
        self._update(
            run_id, {"status": status.value, "outcome": outcome}, "attribute_exists(runId)", {}, removes=("waiting",)
        )

    def waiting_since(self, before: str) -> Iterator[RunRecord]:
        """Runs still waiting whose record has not changed since `before` (ISO time), oldest first."""
        kwargs: dict[str, Any] = {
            "IndexName": WAITING_INDEX,
            "KeyConditionExpression": "waiting = :w AND updatedAt < :before",
            "ExpressionAttributeValues": {":w": WAITING_MARK, ":before": before},
        }
        while True:
            page = self._table.query(**kwargs)
            for item in page.get("Items", []):
                record = self.get(item["runId"])  # the index is eventually consistent; the table is not
                if record is not None and record.status in WAITING:
                    yield record
            if "LastEvaluatedKey" not in page:
                return
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


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


__all__ = ["RunExists", "RunsTable", "iso_utc", "new_record", "now_iso"]
