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


class ContainerSpec(Model):
    name: str
    essential: bool = True
    log: LogTarget | None = None
    log_driver: str | None = None


class Run(Model):
    """A validated request with every default resolved; the state machine carries this as `$.run`."""

    runId: str
    timeoutSeconds: int
    successExitCodes: list[int]
    retry: dict[str, Any] = field(default_factory=lambda: {"maxAttempts": 3, "intervalSeconds": 10, "backoffRate": 2.0})
    request: dict[str, Any]  # the RunTask fields, exactly as the user gave them
    callbackTaskToken: str | None = None  # the caller's token, answered when the run ends (domain/callback.py)
