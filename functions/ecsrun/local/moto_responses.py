"""Which moto package answers a request: the key by which the local engine's wrappers of moto's
`BaseResponse.call_action` (rate quotas, whole requests) pick the services they act on."""

from __future__ import annotations

from typing import Any


def package_of(response: Any) -> str | None:
    """The moto package of a response handler ('moto.dynamodb.responses' -> 'dynamodb'), None if not moto's."""
    parts = type(response).__module__.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "moto" else None


__all__ = ["package_of"]
