"""boto3 clients, created once per process and region (Lambda reuses them across invocations), each call
traced (ecsrun.plumbing.tracing)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import boto3
from botocore.config import Config

from ecsrun.plumbing.tracing import trace_calls

MAX_ATTEMPTS = 8
# Attempts per call where the SDK's default is not the right one:
# - CloudWatch Logs is read on the account's shared pace (adapters/cloudwatch_logs.PacedLogReader), which retries a
#   throttled read itself, on a new slot: the SDK's own retries would resend outside the pace.
# - ECS (DescribeTaskDefinition, RunTask: 20/s by default, 116/s at 10 M runs a day) throttles for minutes when the
#   account is busy: 8 attempts of back-off (up to ~90 s) can outlast a 60 s function. After 4 (at most ~14 s) the
#   step fails with Throttled and the state machine waits, for free, before trying it again.
ATTEMPTS = {"logs": 1, "ecs": 4}
_CONFIG = Config(retries={"mode": "adaptive", "max_attempts": MAX_ATTEMPTS})
_LOGS_CONFIG = Config(retries={"mode": "standard", "total_max_attempts": ATTEMPTS["logs"]})
_ECS_CONFIG = Config(retries={"mode": "adaptive", "max_attempts": ATTEMPTS["ecs"]})


def max_attempts(service: str) -> int:
    """How many times a call to `service` is sent before its error reaches the handler (the simulation's quotas
    retry as these clients do)."""
    return ATTEMPTS.get(service, MAX_ATTEMPTS)


@lru_cache(maxsize=32)
def client(service: str, region: str | None = None) -> Any:
    config = {"logs": _LOGS_CONFIG, "ecs": _ECS_CONFIG}.get(service, _CONFIG)
    return trace_calls(boto3.client(service, region_name=region, config=config))  # type: ignore[call-overload]


@lru_cache(maxsize=4)
def table(name: str, region: str | None = None) -> Any:
    resource = boto3.resource("dynamodb", region_name=region, config=_CONFIG)
    trace_calls(resource.meta.client)
    return resource.Table(name)


def reset() -> None:
    """Forget cached clients (the local engine calls this between runs)."""
    client.cache_clear()
    table.cache_clear()
