"""ECS's view of a task: the `ECS Task State Change` event and a DescribeTasks `task` both map here."""

from __future__ import annotations

from dataclasses import field
from datetime import UTC, datetime
from typing import Any

from ecsrun.domain.models.base import Model

_TIMES = ("createdAt", "startedAt", "stoppingAt", "stoppedAt", "executionStoppedAt")


def _iso(value: Any) -> Any:
    # Events carry ISO strings; DescribeTasks (through boto3) carries datetimes or epoch numbers.
    if isinstance(value, datetime):
        value = value if value.tzinfo else value.replace(tzinfo=UTC)
        return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return _iso(datetime.fromtimestamp(value, tz=UTC))
    return value


class TaskContainer(Model):
    name: str
    containerArn: str | None = None
    lastStatus: str | None = None
    exitCode: int | None = None
    reason: str | None = None


class EcsTask(Model):
    """The fields of a task that judging and reporting need."""

    taskArn: str
    clusterArn: str | None = None
    taskDefinitionArn: str | None = None
    lastStatus: str | None = None
    desiredStatus: str | None = None
    launchType: str | None = None
    capacityProviderName: str | None = None
    startedBy: str | None = None
    group: str | None = None
    stopCode: str | None = None
    stoppedReason: str | None = None
    createdAt: str | None = None
    startedAt: str | None = None
    stoppingAt: str | None = None
    stoppedAt: str | None = None
    executionStoppedAt: str | None = None  # when the task's containers had all stopped (before stoppedAt)
    version: int | None = None
    containers: list[TaskContainer] = field(default_factory=list)

    @classmethod
    def _prepare(cls, data: dict[str, Any]) -> dict[str, Any]:
        return {**data, **{name: _iso(data[name]) for name in _TIMES if name in data}}

    @property
    def task_id(self) -> str:
        return self.taskArn.rsplit("/", 1)[-1]


class TaskStateChangeEvent(Model):
    """`aws.ecs` / `ECS Task State Change`, as EventBridge delivers it: the task is its `detail` (the envelope's
    other fields are not read)."""

    detail: EcsTask
