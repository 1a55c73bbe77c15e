"""ECS's view of a task: the `ECS Task State Change` event and a DescribeTasks `task` both map here."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from pydantic import BaseModel, ConfigDict, field_validator


def _iso(value: Any) -> Any:
    # Events carry ISO strings; DescribeTasks (through boto3) carries datetimes or epoch numbers.
    if isinstance(value, datetime):
        value = value if value.tzinfo else value.replace(tzinfo=UTC)
        return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return _iso(datetime.fromtimestamp(value, tz=UTC))
    return value


class TaskContainer(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: str
    containerArn: str | None = None
    lastStatus: str | None = None
    exitCode: int | None = None
    reason: str | None = None


class EcsTask(BaseModel):
    """The fields of a task that judging and reporting need."""

    model_config = ConfigDict(extra="ignore")

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
    containers: list[TaskContainer] = []

    @field_validator("createdAt", "startedAt", "stoppingAt", "stoppedAt", "executionStoppedAt", mode="before")
    @classmethod
    def _timestamps(cls, value: Any) -> Any:
        return _iso(value)

    @property
    def task_id(self) -> str:
        return self.taskArn.rsplit("/", 1)[-1]


class TaskStateChangeEvent(EventBridgeModel):
    """`aws.ecs` / `ECS Task State Change`, as EventBridge delivers it."""

    detail: EcsTask
