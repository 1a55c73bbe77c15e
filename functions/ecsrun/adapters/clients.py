"""boto3 clients, created once per process and region (Lambda reuses them across invocations)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import boto3
from botocore.config import Config

_CONFIG = Config(retries={"mode": "adaptive", "max_attempts": 8})


@lru_cache(maxsize=32)
def client(service: str, region: str | None = None) -> Any:
    return boto3.client(service, region_name=region, config=_CONFIG)  # type: ignore[call-overload]


@lru_cache(maxsize=4)
def table(name: str, region: str | None = None) -> Any:
    return boto3.resource("dynamodb", region_name=region, config=_CONFIG).Table(name)


def reset() -> None:
    """Forget cached clients (the local engine calls this between runs)."""
    client.cache_clear()
    table.cache_clear()
