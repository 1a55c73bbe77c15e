"""Judge a stopped task: did the run succeed, and if not, which named error is it?

Pure: no AWS. The stop code is judged before exit codes, because a task that failed to
start, or was stopped from outside, did not get to finish whatever its exit codes say.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from pydantic import BaseModel

from ecsrun.errors import ErrorName
from ecsrun.models.ecs import EcsTask, TaskContainer

# Stop codes that mean something other than the task's own containers ended the task.
EXTERNAL_STOP_CODES = frozenset({"UserInitiated", "SpotInterruption", "ServiceSchedulerInitiated", "TerminationNotice"})
HOST_STOPPED = re.compile(r"Host EC2 \(instance [^)]+\) (stopped|terminated)", re.IGNORECASE)


class Verdict(BaseModel):
    succeeded: bool
    error: ErrorName | None = None
    reason: str
    failingContainer: str | None = None

    @classmethod
    def failed(cls, error: ErrorName, reason: str, container: str | None = None) -> Verdict:
        return cls(succeeded=False, error=error, reason=reason, failingContainer=container)


def _missing(value: str | None) -> bool:
    return value is None or not value.strip()


def _container_reasons(containers: Iterable[TaskContainer]) -> str:
    return "; ".join(f"{c.name}: {c.reason}" for c in containers if not _missing(c.reason))


def judge(task: EcsTask, essential: Mapping[str, bool], success_exit_codes: Iterable[int]) -> Verdict:
    """`essential` maps container name to the task definition's flag; unknown names count as essential."""
    ok_codes = set(success_exit_codes)
    stopped_reason = (task.stoppedReason or "").strip()

    if task.stopCode == "TaskFailedToStart" or not task.containers:
        detail = _container_reasons(task.containers) or stopped_reason or "no reason given"
        return Verdict.failed(ErrorName.TASK_FAILED_TO_START, f"task failed to start: {detail}")

    if task.stopCode in EXTERNAL_STOP_CODES or HOST_STOPPED.search(stopped_reason):
        why = stopped_reason or task.stopCode or "stopped"
        return Verdict.failed(ErrorName.TASK_STOPPED, f"task was stopped before it finished ({task.stopCode}): {why}")

    for container in task.containers:
        if not essential.get(container.name, True):
            continue
        if container.exitCode is None:
            why = container.reason or stopped_reason or "no exit code reported"
            return Verdict.failed(
                ErrorName.CONTAINER_EXITED_NON_ZERO,
                f"essential container {container.name!r} has no exit code: {why}",
                container.name,
            )
        if container.exitCode not in ok_codes:
            extra = f" ({container.reason})" if not _missing(container.reason) else ""
            return Verdict.failed(
                ErrorName.CONTAINER_EXITED_NON_ZERO,
                f"essential container {container.name!r} exited with code {container.exitCode}{extra}",
                container.name,
            )

    return Verdict(succeeded=True, reason="every essential container exited with a success code")
