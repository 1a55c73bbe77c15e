"""Build the RunTask call, and name a run so its ECS events lead back to it. Pure."""

from __future__ import annotations

import hashlib
import re
import uuid
from typing import Any

from ecsrun.domain import cost, firelens
from ecsrun.domain.models.request import RUN_ID_PATTERN, RUNNER_FIELDS, RetryPolicy, RunRequest, default_run_id
from ecsrun.domain.models.run import ContainerSpec, LogTarget, ResolvedDefinition, Run

MAX_STARTED_BY = 128
MAX_CLIENT_TOKEN = 64


def resolve_run(request: RunRequest, execution_name: str, default_timeout_seconds: int) -> Run:
    fields = request.model_dump(exclude_none=True, mode="json")
    timeout = request.timeoutSeconds or default_timeout_seconds
    return Run(
        runId=request.runId or default_run_id(execution_name),
        timeoutSeconds=timeout,
        waitSeconds=timeout,
        maxCostUsd=request.maxCostUsd,
        successExitCodes=request.successExitCodes or [0],
        retry=(request.retry or RetryPolicy()).model_dump(),
        request={k: v for k, v in fields.items() if k not in RUNNER_FIELDS and k != "count"},
        callbackTaskToken=request.callbackTaskToken,
    )


def price_run(run: Run, described: dict[str, Any] | None, region: str) -> Run:
    """The run with what prices its task (from the described task definition and the request) and, under a
    maxCostUsd, the wait cut to the second the cap is reached when that comes before timeoutSeconds."""
    if described is None:
        return run
    task_size = cost.size(described, run.request, region)
    limit = cost.cost_limit_seconds(run.maxCostUsd, task_size, cost.prices()) if run.maxCostUsd else None
    binds = limit is not None and limit < run.timeoutSeconds
    return run.model_copy(
        update={
            "costSize": task_size,
            "costLimitSeconds": limit if binds else None,
            "waitSeconds": limit if binds else run.timeoutSeconds,
        }
    )


def run_id_for_execution(request: Any, execution_name: str) -> str | None:
    """The runId an execution's input leads to (the validator's rule), or None if the input names none validly."""
    given = request.get("runId") if isinstance(request, dict) else None
    if given is None:
        return default_run_id(execution_name)
    return given if isinstance(given, str) and re.fullmatch(RUN_ID_PATTERN, given) else None


def started_by(prefix: str, run_id: str) -> str:
    """startedBy allows letters, digits, '-', '_' and '/': a runId's '.' becomes '/', which runIds never contain."""
    value = prefix + run_id.replace(".", "/")
    if len(value) > MAX_STARTED_BY:
        raise ValueError(f"startedBy would be {len(value)} characters; ECS allows {MAX_STARTED_BY}")
    return value


def run_id_from_started_by(prefix: str, value: str | None) -> str | None:
    """The runId a task belongs to, or None for tasks this stack did not start."""
    if not value or not value.startswith(prefix) or len(value) == len(prefix):
        return None
    return value[len(prefix) :].replace("/", ".")


def client_token(run_id: str, attempt: int) -> str:
    """RunTask's idempotency token: the same run and attempt never start a second task."""
    return hashlib.sha256(f"{run_id}#{attempt}".encode()).hexdigest()[:MAX_CLIENT_TOKEN]


def run_task_args(run: Run, prefix: str, attempt: int = 1, fields: dict[str, Any] | None = None) -> dict[str, Any]:
    """RunTask's arguments: the request as given, but for the task definition, which is the revision validated
    when the run carries it (a family name alone would run whichever revision is the latest at RunTask), and
    `fields`: what the attempt's escalation replaced (RunRecord.attemptFields). The same attempt always gets the
    same arguments, as its clientToken requires."""
    pinned = {"taskDefinition": run.definition.arn} if run.definition is not None else {}
    return {
        **run.request,
        **(fields or {}),
        **pinned,
        "count": 1,
        "startedBy": started_by(prefix, run.runId),
        "clientToken": client_token(run.runId, attempt),
    }


def container_specs(task_definition: dict[str, Any], default_region: str) -> list[ContainerSpec]:
    """Which containers are essential, and where each one's awslogs stream (or FireLens files) are, from a task
    definition."""
    specs = []
    definitions = task_definition.get("containerDefinitions", [])
    router = next((c.get("name") for c in definitions if c.get("firelensConfiguration")), None)
    for container in definitions:
        log_config = container.get("logConfiguration") or {}
        driver = log_config.get("logDriver")
        options = log_config.get("options") or {}
        target = None
        if driver == "awslogs" and options.get("awslogs-group"):
            target = LogTarget(
                group=options["awslogs-group"],
                region=options.get("awslogs-region") or default_region,
                stream_prefix=options.get("awslogs-stream-prefix"),
            )
        routed = firelens.target(options, router, default_region) if driver == "awsfirelens" and router else None
        specs.append(
            ContainerSpec(
                name=container["name"],
                essential=container.get("essential", True),
                log=target,
                log_driver=driver,
                firelens=routed,
                memory=container.get("memory") if isinstance(container.get("memory"), int) else None,
            )
        )
    return specs


def resolve_definition(task_definition: dict[str, Any], default_region: str) -> ResolvedDefinition:
    """The little of a described task definition that travels with the run: its ARN with revision, and its
    containers (essential flags and log configurations)."""
    cpu, memory = task_definition.get("cpu"), task_definition.get("memory")
    return ResolvedDefinition(
        arn=task_definition["taskDefinitionArn"],
        containers=container_specs(task_definition, default_region),
        cpu=str(cpu) if cpu else None,
        memory=str(memory) if memory else None,
    )


def log_stream_name(stream_prefix: str, container: str, task_id: str) -> str:
    return f"{stream_prefix}/{container}/{task_id}"


def execution_name(request: Any) -> str:
    """A unique execution name for a request: its runId (or "run") and a random suffix; '.' is not allowed."""
    run_id = request.get("runId") if isinstance(request, dict) else None
    base = run_id if isinstance(run_id, str) and run_id else "run"
    return f"{base[:40]}-{uuid.uuid4().hex[:8]}".replace(".", "-")
