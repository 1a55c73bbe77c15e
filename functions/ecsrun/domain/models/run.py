"""The run as ecsrun keeps it: the resolved request and what the task definition says."""

from __future__ import annotations

from dataclasses import field
from typing import Any

from ecsrun.domain.models.base import Model


class LogTarget(Model):
    """Where a container's awslogs stream lives; `stream_prefix` None means no known stream name."""

    group: str
    region: str | None = None
    stream_prefix: str | None = None


class FirelensTarget(Model):
    """Where an `awsfirelens` container's records go: Fluent Bit's `s3` output, as the container's log options
    configure it, through the task's log router container (ecsrun.domain.firelens)."""

    router: str
    bucket: str
    region: str | None = None
    key_format: str = "/fluent-bit-logs/$TAG/%Y/%m/%d/%H/%M/%S"
    tag_delimiters: str = "."
    date_key: str | None = "date"
    date_format: str = "iso8601"
    log_key: str | None = None
    compression: str | None = None


class ContainerSpec(Model):
    name: str
    essential: bool = True
    log: LogTarget | None = None
    log_driver: str | None = None
    firelens: FirelensTarget | None = None  # set when its logs go to S3 through a FireLens router
    memory: int | None = None  # its hard memory limit (MiB), which retry.escalate raises after an OOM kill


class ResolvedDefinition(Model):
    """What ValidateRequest learned from DescribeTaskDefinition, carried with the run so that no later step asks
    again: the exact revision validated (RunTask runs that one, even if a newer one is registered meanwhile) and
    each container's essential flag and log configuration. Only what later steps read: the state machine's
    payloads are limited to 256 KiB, and a task definition can be far larger."""

    arn: str
    containers: list[ContainerSpec] = field(default_factory=list)
    cpu: str | None = None  # task-level, as registered: retry.escalate starts from it
    memory: str | None = None


class Run(Model):
    """A validated request with every default resolved; the state machine carries this as `$.run`."""

    runId: str
    timeoutSeconds: int
    successExitCodes: list[int]
    retry: dict[str, Any] = field(default_factory=lambda: {"maxAttempts": 3, "intervalSeconds": 10, "backoffRate": 2.0})
    request: dict[str, Any]  # the RunTask fields, exactly as the user gave them
    callbackTaskToken: str | None = None  # the caller's token, answered when the run ends (domain/callback.py)
    definition: ResolvedDefinition | None = None  # None: a run validated before definitions travelled
    maxCostUsd: float | None = None  # the request's cost cap (domain/cost.py)
    # What prices the task (domain/cost.size): known at validation, so the cap becomes a deadline.
    costSize: dict[str, Any] | None = None
    # The second at which the cap is reached, when it comes before timeoutSeconds; None: no cap binds.
    costLimitSeconds: int | None = None
    # How long StartTaskAndWait waits: min(timeoutSeconds, costLimitSeconds); the state machine reads it.
    waitSeconds: int | None = None
