"""boto3 clients, created once per process and region (Lambda reuses them across invocations), each call
traced (ecsrun.plumbing.tracing)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import boto3
from botocore.config import Config

from ecsrun.plumbing.tracing import trace_calls

_CONFIG = Config(retries={"mode": "adaptive", "max_attempts": 8})
# CloudWatch Logs is read on the account's shared pace (adapters/cloudwatch_logs.PacedLogReader), which retries a
# throttled read itself, on a new slot: the SDK's own retries would resend outside the pace.
_LOGS_CONFIG = Config(retries={"mode": "standard", "total_max_attempts": 1})


@lru_cache(maxsize=32)
def client(service: str, region: str | None = None) -> Any:
    config = _LOGS_CONFIG if service == "logs" else _CONFIG
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
