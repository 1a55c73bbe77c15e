"""Judge a stopped task: did the run succeed, and if not, which named error is it?

Pure: no AWS. The stop code is judged before exit codes, because a task that failed to
start, or was stopped from outside, did not get to finish whatever its exit codes say.
Empty strings and nulls count as missing.

Order:
1. stop code `TaskFailedToStart`, or no containers at all: `ECS.TaskFailedToStart`;
2. the EC2 host stopped or terminated (whatever the stop code), or a stop code meaning the task
   was stopped from outside: `ECS.TaskStopped`;
3. the exit codes of essential containers only: `ECS.ContainerExitedNonZero`.

`retryable` says whether running the same request again may well succeed: the cause was
transient (capacity, networking, an image pull, a reclaimed or lost host), not the request,
the task definition or the program.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from ecsrun.domain.errors import ErrorName
from ecsrun.domain.models.ecs import EcsTask, TaskContainer
from ecsrun.domain.models.verdict import Verdict

# Stop codes that mean something other than the task's own containers ended the task,
# with what each means and whether running the task again may succeed.
EXTERNAL_STOP_CODES: Mapping[str, tuple[str, bool]] = {
    "UserInitiated": ("stopped by a StopTask call", False),
    "ServiceSchedulerInitiated": ("stopped by the ECS service scheduler", False),
    "SpotInterruption": ("its Spot capacity was reclaimed", True),
    "TerminationNotice": ("its host got a termination notice", True),
    # ECS stopped the task because its host or its platform became unhealthy (botocore TaskStopCode).
    "InfrastructureHealth": ("ECS stopped it for an infrastructure health problem", True),
}
HOST_STOPPED = re.compile(r"Host EC2 \(instance ([^)]+)\) (stopped|terminated)", re.IGNORECASE)
OUT_OF_MEMORY = re.compile(r"^\s*OutOfMemoryError\b", re.IGNORECASE)

# A failed start whose reason matches one of these is not worth retrying, even when it also
# matches a transient pattern: "ResourceInitializationError: unable to retrieve secret ...
# AccessDeniedException" needs a permission, not another attempt.
PERMANENT_START = re.compile(
    r"CannotStartContainerError|invalid|AccessDenied|access denied|not authorized|unauthorized"
    r"|unable to retrieve secrets?\b|ResourceNotFoundException",
    re.IGNORECASE,
)
# An image pull that failed because the image or repository does not exist.
MISSING_IMAGE = re.compile(
    r"CannotPullContainerError.*(not found|manifest unknown|does not exist|name unknown)", re.IGNORECASE
)
TRANSIENT_START = re.compile(
    r"ResourceInitializationError|CannotPullContainerError|DockerTimeoutError"
    r"|network interface provisioning|\bENI\b|elastic network interface|network interface"
    r"|capacity is unavailable|RESOURCE:[A-Z_]+|ephemeral storage|Spot|TerminationNotice"
    r"|Host EC2 \(instance [^)]+\) (?:stopped|terminated)",
    re.IGNORECASE,
)

# Exit code 128+N: the process died of signal N (Linux numbering, as in containers; 64 signals).
LAST_SIGNAL = 64
SIGNALS: Mapping[int, tuple[str, str]] = {
    1: ("hung up", "SIGHUP"),
    2: ("interrupted", "SIGINT"),
    3: ("quit", "SIGQUIT"),
    4: ("illegal instruction", "SIGILL"),
    5: ("trapped", "SIGTRAP"),
    6: ("aborted", "SIGABRT"),
    7: ("bus error", "SIGBUS"),
    8: ("floating-point exception", "SIGFPE"),
    9: ("killed", "SIGKILL"),
    10: ("user signal 1", "SIGUSR1"),
    11: ("segmentation fault", "SIGSEGV"),
    12: ("user signal 2", "SIGUSR2"),
    13: ("broken pipe", "SIGPIPE"),
    14: ("alarm", "SIGALRM"),
    15: ("terminated", "SIGTERM"),
}


def _text(value: str | None) -> str | None:
    """The value on one line, or None when it is missing (null, empty or blank)."""
    if value is None:
        return None
    return " ".join(value.split()) or None


def describe_exit_code(code: int) -> str | None:
    """What an exit code above 128 says about how the process died, e.g. 137 -> "killed: SIGKILL"."""
    if not 128 < code <= 128 + LAST_SIGNAL:
        return None
    number = code - 128
    if number in SIGNALS:
        what, name = SIGNALS[number]
        return f"{what}: {name}"
    return f"killed by signal {number}"


def is_out_of_memory(container: TaskContainer) -> bool:
    return OUT_OF_MEMORY.match(container.reason or "") is not None


def start_failure_is_transient(task: EcsTask) -> bool:
    """Whether the reasons ECS gave for a failed start point at a cause that may pass."""
    texts = [_text(task.stopCode), _text(task.stoppedReason), *(_text(c.reason) for c in task.containers)]
    reasons = " | ".join(t for t in texts if t)
    if PERMANENT_START.search(reasons) or MISSING_IMAGE.search(reasons):
        return False
    return TRANSIENT_START.search(reasons) is not None


def _failed_to_start(task: EcsTask, essential: Mapping[str, bool]) -> Verdict:
    with_reason = [c for c in task.containers if _text(c.reason)]
    # Name an essential container's cause first: that is the one that stopped the task.
    with_reason.sort(key=lambda c: not essential.get(c.name, True))
    stopped_reason = _text(task.stoppedReason)
    if with_reason:
        first = with_reason[0]
        detail = f"container {first.name!r}: {_text(first.reason)}"
        others = len({c.name for c in with_reason[1:]})
        if others:
            detail += f" (and {others} other container{'s' if others > 1 else ''})"
    elif stopped_reason:
        detail = stopped_reason
    else:
        detail = "no reason given"
    if not task.containers:
        detail += " (no container was created)"
    return Verdict.failed(
        ErrorName.TASK_FAILED_TO_START, f"task failed to start: {detail}", retryable=start_failure_is_transient(task)
    )


def _stopped_from_outside(task: EcsTask) -> Verdict | None:
    stop_code = _text(task.stopCode)
    stopped_reason = _text(task.stoppedReason)
    host = HOST_STOPPED.search(stopped_reason or "")
    if host:
        instance, what = host.group(1), host.group(2).lower()
        code = f" (stop code {stop_code})" if stop_code else ""
        return Verdict.failed(
            ErrorName.TASK_STOPPED,
            f"task was stopped before it finished: its EC2 host, instance {instance}, was {what}{code}",
            retryable=True,
        )
    if stop_code is not None and stop_code in EXTERNAL_STOP_CODES:
        meaning, retryable = EXTERNAL_STOP_CODES[stop_code]
        why = f": {stopped_reason}" if stopped_reason else ""
        return Verdict.failed(
            ErrorName.TASK_STOPPED,
            f"task was stopped before it finished ({stop_code}, {meaning}){why}",
            retryable=retryable,
        )
    return None


def _essential_failure(container: TaskContainer, ok_codes: set[int], stopped_reason: str | None) -> Verdict | None:
    name, code, reason = container.name, container.exitCode, _text(container.reason)
    if is_out_of_memory(container) and (code is None or code not in ok_codes):
        tail = "; it has no exit code" if code is None else f"; exit code {code}"
        why = f"essential container {name!r} was killed for using too much memory ({reason}){tail}"
        return Verdict.failed(ErrorName.CONTAINER_EXITED_NON_ZERO, why, name)
    if code is None:
        extra = f" ({reason})" if reason else f" (task: {stopped_reason})" if stopped_reason else ""
        why = f"essential container {name!r} has no exit code{extra}"
        return Verdict.failed(ErrorName.CONTAINER_EXITED_NON_ZERO, why, name)
    if code not in ok_codes:
        notes = [note for note in (describe_exit_code(code), reason) if note]
        extra = f" ({'; '.join(notes)})" if notes else ""
        why = f"essential container {name!r} exited with code {code}{extra}"
        return Verdict.failed(ErrorName.CONTAINER_EXITED_NON_ZERO, why, name)
    return None


def judge(task: EcsTask, essential: Mapping[str, bool], success_exit_codes: Iterable[int]) -> Verdict:
    """`essential` maps container name to the task definition's flag; unknown names count as essential."""
    ok_codes = set(success_exit_codes)

    if _text(task.stopCode) == "TaskFailedToStart" or not task.containers:
        return _failed_to_start(task, essential)

    stopped = _stopped_from_outside(task)
    if stopped is not None:
        return stopped

    # Sidecars (essential: false) never fail a run; their exit codes are not part of the verdict.
    stopped_reason = _text(task.stoppedReason)
    for container in task.containers:
        if not essential.get(container.name, True):
            continue
        failure = _essential_failure(container, ok_codes, stopped_reason)
        if failure is not None:
            return failure

    return Verdict(succeeded=True, reason="every essential container exited with a success code")
