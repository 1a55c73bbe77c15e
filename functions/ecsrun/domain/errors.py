"""Error names that cross the state machine boundary.

They are a contract: the ASL matches them exactly, docs/outcomes.md lists them, and users'
own `Retry`/`Catch` blocks rely on them. Add names; never rename one.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class ErrorName(StrEnum):
    REQUEST_INVALID = "RunRequest.Invalid"
    # The preflight found what ECS would fail on (a missing image, a secret the execution role may not read, ...):
    # no task was started.
    REQUEST_WILL_NOT_START = "RunRequest.WillNotStart"
    RUN_TASK_FAILED = "ECS.RunTaskFailed"
    CAPACITY_UNAVAILABLE = "ECS.CapacityUnavailable"
    THROTTLED = "ECS.Throttled"
    TASK_FAILED_TO_START = "ECS.TaskFailedToStart"
    CONTAINER_EXITED_NON_ZERO = "ECS.ContainerExitedNonZero"
    TASK_STOPPED = "ECS.TaskStopped"
    TASK_LOST = "ECS.TaskLost"
    TIMED_OUT = "Run.TimedOut"
    # The task's estimated cost reached the request's maxCostUsd: ecsrun stopped it (domain/cost.py).
    COST_LIMIT_REACHED = "Run.CostLimitReached"
    DUPLICATE = "Run.Duplicate"
    # Recorded in the table and manifest, and the error a caller's token gets: the execution ended (aborted,
    # failed, timed out) before the run did. Never the execution's own error.
    ABORTED = "Run.Aborted"
    LOG_COPY_FAILED = "Logs.CopyFailed"
    # An array run's children failed beyond its toleratedFailurePercentage.
    ARRAY_FAILED = "Run.ArrayFailed"
    # An error ecsrun did not classify (a Lambda crash, a States.* runtime error).
    INTERNAL = "Run.InternalError"


# The verdicts a stopped task can get; a subset of the names above.
TASK_VERDICT_ERRORS = (
    ErrorName.CAPACITY_UNAVAILABLE,
    ErrorName.THROTTLED,
    ErrorName.TASK_LOST,
    ErrorName.TASK_FAILED_TO_START,
    ErrorName.CONTAINER_EXITED_NON_ZERO,
    ErrorName.TASK_STOPPED,
    ErrorName.RUN_TASK_FAILED,
)


class EcsrunError(Exception):
    """Base class for ecsrun's domain errors."""


class RunNotFound(EcsrunError):
    """No run record exists for this run id."""


class StaleRecord(EcsrunError):
    """The run record changed between read and conditional write. `current` is the record as the write found it,
    when the store says (a loser acts on the record that won)."""

    def __init__(self, run_id: str, current: Any = None):
        super().__init__(run_id)
        self.current = current


class StartInterrupted(EcsrunError):
    """The start function failed after the run's record was written; the state machine retries it.

    The retry finds the record and calls RunTask again with the attempt's clientToken: ECS answers with the task
    the interrupted call started, so no second task starts.
    """


class Throttled(EcsrunError):
    """An AWS call stayed throttled after the SDK's own retries. The invocation fails with this error name
    (`Throttled`), which every state of the state machine retries with a long backoff: throttling makes a run
    wait, never fail. Raised only where trying the whole step again is safe (each step is idempotent)."""

    def __init__(self, message: str, *, code: str = "ThrottlingException"):
        super().__init__(message)
        self.code = code


class StopFailed(EcsrunError):
    """StopTask (or the RunTask that names an unrecorded task by its clientToken) failed after the SDK's own
    retries; the state machine retries the stop state, and the reconciler keeps at it for ended runs."""
