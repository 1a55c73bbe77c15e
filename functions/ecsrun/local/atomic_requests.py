"""DynamoDB and CloudWatch Logs requests served whole on the local engine, one at a time per service, as AWS
serves each request.

moto's backends are not thread-safe: an UpdateItem adding an attribute in one thread changes the item's attribute
dict while a GetItem with a projection in another iterates it, and the reader fails with "RuntimeError: dictionary
changed size during iteration", an answer DynamoDB never gives (CloudWatch Logs' log groups and streams are dicts
iterated the same way). On the local engine the caller, the functions, the container agent, EventBridge's
deliveries and the reconciler are threads of one process, so each request to these two services runs under its
service's lock. Neither service's requests call another service in moto (ecsrun makes no subscription filter), so
holding a lock never waits on another thread.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from ecsrun.local.moto_responses import package_of

Patch = Callable[[Any, str, Any], None]

SERIALIZED = ("dynamodb", "logs")  # moto's package names


def install(patch: Patch) -> None:
    """Serve each request to the services in SERIALIZED under its service's lock, through `patch(owner, name,
    replacement)`."""
    from moto.core.responses import BaseResponse

    original = BaseResponse.call_action
    locks = {service: threading.Lock() for service in SERIALIZED}

    def call_action(response: Any) -> Any:
        lock = locks.get(package_of(response) or "")
        if lock is None:
            return original(response)
        with lock:
            return original(response)

    patch(BaseResponse, "call_action", call_action)


__all__ = ["SERIALIZED", "install"]
