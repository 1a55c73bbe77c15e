"""A run's end, read from DescribeExecution, and how the Airflow task reports it. Pure.

ecsrun ends a failed execution with an error name (docs/outcomes.md) and a JSON cause that carries `message`,
`retryable` and `lastLogLines`; a succeeded execution's output is the run's output. An execution stopped from
outside, or failed by Step Functions itself, may carry a cause that is not JSON: it is kept as text.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

# ecsrun's error names this module treats specially (docs/outcomes.md).
REQUEST_INVALID = "RunRequest.Invalid"
# The preflight predicted the task would fail to start: the same request fails the same way until it is fixed.
REQUEST_WILL_NOT_START = "RunRequest.WillNotStart"
MAX_MESSAGE = 2000  # a cause that is not JSON, cut for the exception's first line


@dataclass(frozen=True)
class RunEnd:
    """How the run ended."""

    status: str  # Step Functions' execution status: RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED
    name: str
    error: str | None = None
    message: str | None = None
    output: dict[str, Any] | None = None
    cause: dict[str, Any] | None = None
    log_container: str | None = None
    last_lines: list[str] = field(default_factory=list)

    @property
    def running(self) -> bool:
        return self.status == "RUNNING"

    @property
    def succeeded(self) -> bool:
        return self.status == "SUCCEEDED"

    @property
    def retryable(self) -> bool:
        """Whether running the same request again may well succeed: ecsrun's `retryable` in the cause. A request
        ecsrun refused never is; an end without ecsrun's cause (stopped from outside) is not known not to be."""
        if self.error in (REQUEST_INVALID, REQUEST_WILL_NOT_START):
            return False
        if self.cause is not None and isinstance(self.cause.get("retryable"), bool):
            return bool(self.cause["retryable"])
        return True

    @property
    def logs(self) -> tuple[str, str] | None:
        """(bucket, manifest key) of the logs ecsrun copied, if it says."""
        document = self.output if self.succeeded else self.cause
        logs = (document or {}).get("logs") or {}
        bucket, key = logs.get("bucket"), logs.get("manifestKey")
        return (str(bucket), str(key)) if bucket and key else None

    def headline(self) -> str:
        """ecsrun's error name first, then its one-line reason: `ECS.ContainerExitedNonZero: essential container
        'app' exited with code 3`."""
        return f"{self.error or self.status}: {self.message or f'the execution ended {self.status}'}"

    def failure(self) -> str:
        """The Airflow task's failure: the headline first (ecsrun's error name leads, for alerts that match it),
        then the run, then the failing container's last log lines."""
        lines = [self.headline(), f"ecsrun run {self.name}"]
        if self.last_lines:
            lines.append(f"last log lines of {self.log_container}:")
            lines += [f"  {line}" for line in self.last_lines]
        return "\n".join(lines)

    def summary(self) -> list[str]:
        """What the task log says about the end: status, each container's exit code, where the logs are."""
        document = (self.output if self.succeeded else self.cause) or {}
        lines = [f"ecsrun run {self.name}: {self.status if self.succeeded else self.headline()}"]
        for container in (document.get("task") or {}).get("containers") or []:
            essential = "" if container.get("essential", True) else " (not essential)"
            code = container.get("exitCode")
            lines.append(
                f"  container {container.get('name')}{essential}: exit code {'none' if code is None else code}"
            )
        if self.logs:
            bucket, key = self.logs
            lines.append(f"  logs: s3://{bucket}/{key.rsplit('/', 1)[0]}/")
        return lines


def read_end(described: dict[str, Any]) -> RunEnd:
    """The run's end (or that it has none yet) from DescribeExecution."""
    status, name = str(described.get("status")), str(described.get("name"))
    if status == "SUCCEEDED":
        output = _json(described.get("output"))
        return RunEnd(status, name, output=output if isinstance(output, dict) else {"output": output})
    if status == "RUNNING":
        return RunEnd(status, name)
    text = str(described.get("cause") or "")
    cause = _json(text)
    if not isinstance(cause, dict):
        return RunEnd(status, name, error=described.get("error"), message=text[:MAX_MESSAGE] or None)
    tail = cause.get("lastLogLines") or {}
    return RunEnd(
        status,
        name,
        error=described.get("error") or cause.get("error"),
        message=cause.get("message"),
        cause=cause,
        log_container=tail.get("container"),
        last_lines=[str(line) for line in tail.get("lines") or []],
    )


def _json(text: Any) -> Any:
    try:
        return json.loads(text) if isinstance(text, str) and text else None
    except json.JSONDecodeError:
        return None
