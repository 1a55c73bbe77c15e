"""Reading the runs table: one record, many records (an array's children), and the overdue runs the reconciler
looks at. The index is eventually consistent, so each run it names is read again from the table."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

from ecsrun.adapters.runs_codec import from_item
from ecsrun.domain import lifecycle
from ecsrun.domain.models.record import OVERDUE_INDEX, RunRecord

# Retired: runs written before the overdue index carry `waiting = "W"` instead of `openShard`.
RETIRED_INDEX = "waiting"


class RunQueries:
    _table: Any

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
        return from_item(item) if item else None

    def overdue(self, before: str, per_shard: int = 1000) -> Iterator[RunRecord]:
        """Open runs whose `dueAt` is at or before `before` (ISO time), each shard oldest first, at most `per_shard`
        from each a pass (the rest next pass). Only these are read: the index is sparse and keyed by time."""
        for shard in lifecycle.all_shards():
            kwargs: dict[str, Any] = {
                "IndexName": OVERDUE_INDEX,
                "KeyConditionExpression": "openShard = :shard AND dueAt <= :before",
                "ExpressionAttributeValues": {":shard": shard, ":before": before},
            }
            read = 0
            while read < per_shard:
                page = self._table.query(**kwargs, Limit=min(per_shard - read, 1000))
                for item in page.get("Items", []):
                    read += 1
                    record = self.get(item["runId"])  # the index is eventually consistent; the table is not
                    if record is not None and record.openShard is not None:
                        yield record
                if "LastEvaluatedKey" not in page:
                    break
                kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def retired_waiting(self, limit: int = 1000) -> list[str]:
        """RunIds still in the retired `waiting` index (written before the overdue index existed)."""
        page = self._table.query(
            IndexName=RETIRED_INDEX,
            KeyConditionExpression="waiting = :w",
            ExpressionAttributeValues={":w": "W"},
            Limit=limit,
        )
        return [str(item["runId"]) for item in page.get("Items", [])]
