"""RunTask's clientToken, as ECS keeps it and moto does not.

ECS ("Ensuring idempotency", ECS developer guide): a RunTask with a clientToken already used in the same cluster,
and the same parameters, returns the original call's result and starts nothing; with different parameters it
fails with ConflictException. A token is kept 24 hours (not emulated: a local stack lives minutes). ecsrun relies
on this to name an attempt's task (see ecsrun.steps.tasks), so the local engine and the tests must keep it too.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

Patch = Callable[[Any, str, Any], None]


def install(patch: Patch) -> None:
    """Wrap moto's RunTask response handler (before the backend, so a repeated call launches nothing).
    `patch(owner, name, replacement)` records the original for the caller to restore."""
    from moto.core.exceptions import JsonRESTError
    from moto.core.responses import ActionResult
    from moto.ecs.responses import EC2ContainerServiceResponse

    original = EC2ContainerServiceResponse.run_task
    guard = threading.Lock()
    locks: dict[tuple[str, ...], threading.Lock] = {}
    seen: dict[tuple[str, ...], tuple[Any, list[str]]] = {}

    def run_task(response: Any) -> Any:
        params = json.loads(response.body or "{}")
        token = params.get("clientToken")
        if not token:
            return original(response)
        cluster = str(params.get("cluster") or "default").rsplit("/", 1)[-1]  # the token is scoped per cluster
        key = (response.current_account, response.region, cluster, str(token))
        with guard:
            lock = locks.setdefault(key, threading.Lock())
        with lock:
            if key in seen:
                first, arns = seen[key]
                if first != params:
                    raise JsonRESTError(
                        "ConflictException",
                        "The provided clientToken is already in use with a different RunTask request.",
                    )
                tasks = response.ecs_backend.describe_tasks(cluster, arns) if arns else []
                return ActionResult({"tasks": tasks, "failures": []})
            answer = original(response)
            tasks = answer.result.get("tasks", []) if isinstance(answer.result, dict) else []
            arns = [task.task_arn for task in tasks]
            if arns:  # a call that started nothing leaves the token unused
                seen[key] = (params, arns)
            return answer

    patch(EC2ContainerServiceResponse, "run_task", run_task)
