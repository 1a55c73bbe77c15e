"""The run record: what ecsrun remembers about a run long after ECS has forgotten the task."""

from __future__ import annotations

from dataclasses import field
from enum import StrEnum
from typing import Any

from ecsrun.domain.models.base import Model
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
# The sparse index the reconciler reads: a run carries `openShard` (its partition key, sharded from the runId:
# domain.lifecycle.open_shard) while anything is left for it (lifecycle.chores: no outcome yet, a task not known
# stopped, logs to copy, an end not announced, a caller not answered), and `dueAt` (its sort key): the reconciler
# reads a run once `dueAt` is more than its grace ago.
OVERDUE_INDEX = "overdue"
# At most this many STOPPED events wait on a record for the start to record its task (see RunRecord.earlyEvents).
MAX_EARLY_EVENTS = 10


class Callback(StrEnum):
    """The settled verdict's callback to the record's task token: recorded once, delivered at least once."""

    PENDING = "PENDING"  # written with the verdict; SendTask* not yet acknowledged
    DELIVERED = "DELIVERED"  # Step Functions took it (or the state machine moved on: CopyLogs ran)
    CLOSED = "CLOSED"  # the token was closed already (TaskTimedOut, TaskDoesNotExist, InvalidToken)


class TokenState(StrEnum):
    """Which state of the state machine waits on the record's task token."""

    START = "StartTaskAndWait"  # answered with the task's verdict
    STOP_TIMED_OUT = "StopTimedOutTask"  # answered with success once the task stopped
    STOP_INTERRUPTED = "StopInterruptedStart"  # likewise, for a start interrupted beyond its retries


class RunRecord(Model):
    runId: str
    executionArn: str
    status: RunStatus
    taskToken: str | None = None
    startedBy: str
    clientToken: str
    attempt: int = 1
    attempts: list[dict[str, Any]] = field(
        default_factory=list
    )  # earlier attempts of this run: attempt, taskArn, error, reason
    run: Run
    containers: list[ContainerSpec] = field(default_factory=list)
    taskArn: str | None = None
    clusterArn: str | None = None
    task: EcsTask | None = None
    verdict: Verdict | None = None
    timedOut: bool = False
    stopReason: str | None = None
    openShard: str | None = None  # present while anything is left for the run (see OVERDUE_INDEX)
    dueAt: str | None = None  # when the reconciler's grace starts counting: the last change, or a recheck's time
    taskVersion: int | None = None  # detail.version of the ECS event (or DescribeTasks task) that settled it
    settledBy: str | None = None  # "event" or "reconciler"
    callbackClosed: bool = False  # the execution had moved on when the task stopped
    callerAnswer: str | None = None  # the caller's token (run.callbackTaskToken): "delivered" or "closed: <code>"
    callback: Callback | None = None
    tokenState: TokenState = TokenState.START
    # RunTask may have been called for this attempt (written just before it): with no taskArn, a task may exist
    # that only RunTask with the attempt's clientToken can name.
    runTaskAttempt: int | None = None
    runTaskAt: str | None = None  # when, for ECS's 24-hour clientToken window
    # When taskArn was recorded: for a while after RunTask, DescribeTasks may not know the task yet.
    taskRecordedAt: str | None = None
    # STOPPED events that came while taskArn was unknown, by taskArn (current attempt, at most MAX_EARLY_EVENTS).
    # Never trusted: only the one for the ARN RunTask returns, on the run's cluster, settles the run.
    earlyEvents: dict[str, EcsTask] | None = None
    interrupted: bool = False  # the start was interrupted beyond its retries; StopInterruptedStart stopped its task
    stopRequestedAt: str | None = None  # StopTask was sent for the current task
    # How the execution ended, when it ended before the run did (ABORTED, FAILED, TIMED_OUT), and its error.
    executionStatus: str | None = None
    executionError: str | None = None
    outcome: dict[str, Any] | None = None  # the run's end: written once, conditionally on the status read
    announced: bool = False  # EventBridge took the run's completion event (until then, someone publishes it)
    logsCopied: bool = False  # the manifest describes the task as it ended (its logs are in S3)
    # The RunTask fields this attempt uses instead of the run's (retry.escalate: overrides,
    # capacityProviderStrategy), and what its retry changed and why (changed, because, retriedBy).
    attemptFields: dict[str, Any] | None = None
    attemptNote: dict[str, Any] | None = None
    array: dict[str, Any] | None = None  # an array run's parent: size, maxConcurrency, where its children are
    createdAt: str
    updatedAt: str
    expiresAt: int

    @property
    def essential(self) -> dict[str, bool]:
        return {c.name: c.essential for c in self.containers}

    @property
    def ended_by_abort(self) -> bool:
        """The run is ABORTED because its execution was aborted (not because it failed or timed out)."""
        return self.status == RunStatus.ABORTED and self.executionStatus in (None, "ABORTED")

    @property
    def run_task_may_have_run(self) -> bool:
        """RunTask may have been called for the current attempt (its answer may not be recorded)."""
        return self.runTaskAttempt == self.attempt

    @property
    def earlier_task_arns(self) -> set[str]:
        return {str(a["taskArn"]) for a in self.attempts if a.get("taskArn")}

    @property
    def task_known_stopped(self) -> bool:
        """No task of the current attempt can be running: it is recorded stopped (or lost), or none was started
        (RunTask was not called for this attempt, or ECS refused it)."""
        if self.task is not None:
            return True
        if self.taskArn is None:
            return not self.run_task_may_have_run or self.status == RunStatus.START_FAILED
        return False
