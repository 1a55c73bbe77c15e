"""The run record: what ecsrun remembers about a run long after ECS has forgotten the task."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel

from ecsrun.domain.models.ecs import EcsTask
from ecsrun.domain.models.run import ContainerSpec, Run
from ecsrun.domain.models.verdict import Verdict


class RunStatus(StrEnum):
    STARTING = "STARTING"  # record written, RunTask not yet answered
    RUNNING = "RUNNING"  # task started; waiting for its STOPPED event
    START_FAILED = "START_FAILED"  # RunTask refused; no task exists
    STOPPING = "STOPPING"  # timed out; StopTask sent, waiting for STOPPED
    STOPPED = "STOPPED"  # STOPPED event recorded and judged
    SUCCEEDED = "SUCCEEDED"  # logs copied, run succeeded
    FAILED = "FAILED"  # logs copied, run failed
    ABORTED = "ABORTED"  # the execution ended (aborted, failed, timed out) before the run did


# A run in one of these states still has a task token waiting for the task to stop.
WAITING = (RunStatus.STARTING, RunStatus.RUNNING, RunStatus.STOPPING)
# The sparse index the reconciler reads: only waiting runs carry the attribute.
WAITING_INDEX = "waiting"
WAITING_MARK = "W"


class RunRecord(BaseModel):
    runId: str
    executionArn: str
    status: RunStatus
    taskToken: str | None = None
    startedBy: str
    clientToken: str
    attempt: int = 1
    attempts: list[dict[str, Any]] = []  # earlier attempts of this run: attempt, taskArn, error, reason
    run: Run
    containers: list[ContainerSpec] = []
    taskArn: str | None = None
    clusterArn: str | None = None
    task: EcsTask | None = None
    verdict: Verdict | None = None
    timedOut: bool = False
    stopReason: str | None = None
    waiting: str | None = WAITING_MARK
    taskVersion: int | None = None  # detail.version of the ECS event (or DescribeTasks task) that settled it
    settledBy: str | None = None  # "event" or "reconciler"
    callbackClosed: bool = False  # the execution had moved on when the task stopped
    callerAnswer: str | None = None  # the caller's token (run.callbackTaskToken): "delivered" or "closed: <code>"
    outcome: dict[str, Any] | None = None
    array: dict[str, Any] | None = None  # an array run's parent: size, maxConcurrency, where its children are
    createdAt: str
    updatedAt: str
    expiresAt: int

    @property
    def essential(self) -> dict[str, bool]:
        return {c.name: c.essential for c in self.containers}
