"""The run record as DynamoDB stores it: nested fields as JSON text (float-free, read whole), the early-event store
as a map (one event added by key in a conditional write), numbers back to ints."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from boto3.dynamodb.types import TypeDeserializer

from ecsrun.domain.models.record import RunRecord

# Attributes kept as JSON text: nested, float-free and read whole.
JSON_ATTRS = ("run", "containers", "task", "verdict", "outcome", "attempts", "array", "attemptFields", "attemptNote")
_INTS = ("attempt", "expiresAt", "taskVersion", "runTaskAttempt")


def iso_utc(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def now_iso() -> str:
    return iso_utc(datetime.now(UTC))


def dump(value: Any) -> Any:
    """A JSON attribute's value: models by their JSON form."""
    if isinstance(value, list):
        return json.dumps([v.model_dump(mode="json") if hasattr(v, "model_dump") else v for v in value])
    if hasattr(value, "model_dump"):
        return json.dumps(value.model_dump(mode="json"))
    return json.dumps(value)


def to_item(record: RunRecord) -> dict[str, Any]:
    item = record.model_dump(mode="json", exclude_none=True)
    for attr in JSON_ATTRS:
        if attr in item:
            item[attr] = json.dumps(item[attr])
    if "earlyEvents" in item:  # a map, so one event can be added by key in a conditional write
        item["earlyEvents"] = {arn: json.dumps(task) for arn, task in item["earlyEvents"].items()}
    return item


def from_item(item: dict[str, Any]) -> RunRecord:
    data = dict(item)
    for attr in JSON_ATTRS:
        if isinstance(data.get(attr), str):
            data[attr] = json.loads(data[attr])
    if isinstance(data.get("earlyEvents"), dict):
        data["earlyEvents"] = {arn: json.loads(text) for arn, text in data["earlyEvents"].items()}
    for key in _INTS:
        if key in data:
            data[key] = int(data[key])
    return RunRecord.model_validate(data)


def from_wire(item: dict[str, Any]) -> RunRecord:
    """A record as a low-level answer carries it (attribute values typed: {"S": ...}), e.g. the ALL_OLD item of a
    conditional write that failed."""
    deserializer = TypeDeserializer()
    return from_item({key: deserializer.deserialize(value) for key, value in item.items()})


__all__ = ["JSON_ATTRS", "dump", "from_item", "from_wire", "iso_utc", "now_iso", "to_item"]
