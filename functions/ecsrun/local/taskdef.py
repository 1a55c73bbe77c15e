"""What ECS makes of a task definition, for the local engine: the registration rules moto gets wrong, the
resources a task reserves, container dependencies, environment files, secret references. Pure.

Sources: botocore's ECS model (ContainerDefinition.memory / memoryReservation / dependsOn / environmentFiles /
startTimeout, RegisterTaskDefinition.memory) and aws-facts §11.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ecsrun.domain.request_rules import CONTAINER_NAME, parse_cpu, parse_memory

# ContainerDefinition.name, as ECS documents it.
NAME_RULE = "up to 255 letters (uppercase and lowercase), numbers, underscores and hyphens are allowed"
CONDITIONS = ("START", "COMPLETE", "SUCCESS", "HEALTHY")
# ECS gives up on a dependency after the dependency container's startTimeout; without one, after the agent's
# ECS_CONTAINER_START_TIMEOUT, whose default on Linux is 3 minutes.
DEFAULT_START_TIMEOUT = 180
# ECS's health check defaults (HealthCheck in botocore's model): interval 30 s, timeout 5 s, 3 retries.
HEALTH_DEFAULTS = {"interval": 30, "timeout": 5, "retries": 3, "startPeriod": 0}


class TaskDefinitionInvalid(ValueError):
    """A task definition RegisterTaskDefinition would refuse (ClientException)."""


def _name(container: dict[str, Any]) -> str:
    return str(container.get("name", ""))


# Fields DescribeTaskDefinition returns that RegisterTaskDefinition does not take (a console export has them).
_DESCRIBE_ONLY = (
    "taskDefinitionArn", "revision", "status", "requiresAttributes", "compatibilities",
    "registeredAt", "registeredBy", "deregisteredAt",
)  # fmt: skip
# ECS: "Up to 255 letters (uppercase and lowercase), numbers, underscores, and hyphens are allowed."


def registration_input(document: dict[str, Any]) -> dict[str, Any]:
    """A RegisterTaskDefinition input, or DescribeTaskDefinition's output (whole, or its `taskDefinition`: a
    console export), as RegisterTaskDefinition takes it."""
    if isinstance(document.get("taskDefinition"), dict):
        document = document["taskDefinition"]
    return {k: v for k, v in document.items() if k not in _DESCRIBE_ONLY}


def definition_problems(document: Any) -> list[tuple[str, str]]:
    """Everything RegisterTaskDefinition would refuse, as (field path, message) in ecsrun's words, for `ecsrun
    validate --task-definition` and `ecsrun local run` alike: the API's types and required fields (botocore's
    model: task-level `cpu` is a string), then ECS's rules (container names, memory, dependsOn)."""
    from ecsrun.domain.apishape import check, operation_input

    if not isinstance(document, dict):
        return [("(task definition)", "must be a JSON object (a RegisterTaskDefinition input)")]
    given = registration_input(document)
    problems = list(check(operation_input("ecs", "RegisterTaskDefinition"), given))
    if problems:  # the rules below read fields of the right types
        return problems
    return registration_issues(given)


def registration_problems(document: dict[str, Any]) -> list[str]:
    """registration_issues as `field: message` lines (what the local ECS's RegisterTaskDefinition answers)."""
    return [f"{field}: {message}" for field, message in registration_issues(document)]


def registration_issues(document: dict[str, Any]) -> list[tuple[str, str]]:
    """What RegisterTaskDefinition refuses that moto lets through, or refuses when ECS would not.

    moto requires container-level `memory` for EC2 and sums container memory even when only the task has
    one; ECS asks only that a task without task-level memory give each container `memory` or
    `memoryReservation`, and Fargate takes task-level cpu and memory alone.
    """
    problems: list[tuple[str, str]] = []
    containers = [c for c in document.get("containerDefinitions") or [] if isinstance(c, dict)]
    task_memory = document.get("memory")
    if "FARGATE" in (document.get("requiresCompatibilities") or []):
        for field in ("cpu", "memory"):
            if not document.get(field):
                problems.append((field, f"Fargate requires task-level {field}"))
    seen: set[str] = set()
    for index, container in enumerate(containers):
        where = f"containerDefinitions[{index}]"
        name = _name(container)
        if not CONTAINER_NAME.fullmatch(name):
            problems.append((f"{where}.name", f"{name!r} is not a container name: {NAME_RULE}"))
        elif name in seen:
            problems.append((f"{where}.name", f"two containers are named {name}"))
        seen.add(name)
        if not task_memory and not container.get("memory") and not container.get("memoryReservation"):
            problems.append(
                (f"{where}.memory", f"container {name}: give memory or memoryReservation (or memory at the task level)")
            )
        memory, reservation = container.get("memory"), container.get("memoryReservation")
        if isinstance(memory, int) and isinstance(reservation, int) and memory <= reservation:
            problems.append((f"{where}.memory", f"container {name}: memory must be greater than memoryReservation"))
    problems += _dependency_problems(containers)
    return problems


def _dependency_problems(containers: list[dict[str, Any]]) -> list[tuple[str, str]]:
    problems = []
    by_name = {_name(c): c for c in containers}
    for index, container in enumerate(containers):
        for number, dependency in enumerate(container.get("dependsOn") or []):
            where = f"containerDefinitions[{index}].dependsOn[{number}]"
            target, condition = dependency.get("containerName"), dependency.get("condition")
            if target not in by_name:
                problems.append(
                    (
                        f"{where}.containerName",
                        f"container {_name(container)} depends on {target!r}, which is not in the task",
                    )
                )
            elif condition not in CONDITIONS:
                problems.append(
                    (
                        f"{where}.condition",
                        f"container {_name(container)}: dependsOn condition must be one of {', '.join(CONDITIONS)}",
                    )
                )
            elif condition in ("COMPLETE", "SUCCESS") and by_name[target].get("essential", True):
                problems.append(
                    (
                        f"{where}.condition",
                        f"container {_name(container)}: condition {condition} can't be set on essential "
                        f"container {target}",
                    )
                )
    if not problems and _has_cycle(
        {_name(c): [d.get("containerName") for d in c.get("dependsOn") or []] for c in containers}
    ):
        problems.append(("containerDefinitions", "the containers' dependsOn form a cycle"))
    return problems


def registered_as(request: dict[str, Any], document: dict[str, Any]) -> dict[str, Any] | None:
    """The task definition as `local run` registers it (revision 1 of its family, or the revision it gives),
    if the request's `taskDefinition` names it; None when the request names another (then RunTask finds none)."""
    given = registration_input(document)
    revision = document.get("taskDefinition", document).get("revision") or 1
    named = str(request.get("taskDefinition") or "")
    name = named.rsplit("task-definition/", 1)[-1] if named.startswith("arn:") else named
    family, _, wanted = name.partition(":")
    if family != given.get("family") or (wanted and wanted != str(revision)):
        return None
    return {**given, "revision": revision}


def _has_cycle(graph: dict[str, list[Any]]) -> bool:
    visiting: set[str] = set()
    done: set[str] = set()

    def visit(node: str) -> bool:
        if node in done:
            return False
        if node in visiting:
            return True
        visiting.add(node)
        cyclic = any(visit(str(n)) for n in graph.get(node, []) if n in graph)
        visiting.discard(node)
        done.add(node)
        return cyclic

    return any(visit(node) for node in graph)


def resource_requirements(document: dict[str, Any]) -> dict[str, Any]:
    """CPU units, MiB and host ports a task reserves on its container instance: the task-level values when
    given, else each container's cpu and memoryReservation (or memory), summed, as ECS places tasks."""
    containers = [c for c in document.get("containerDefinitions") or [] if isinstance(c, dict)]
    cpu = parse_cpu(str(document["cpu"])) if document.get("cpu") else None
    memory = parse_memory(str(document["memory"])) if document.get("memory") else None
    ports = [
        mapping["hostPort"]
        for c in containers
        for mapping in c.get("portMappings") or []
        if isinstance(mapping, dict) and mapping.get("hostPort")
    ]
    return {
        "CPU": cpu if cpu is not None else sum(int(c.get("cpu") or 0) for c in containers),
        "MEMORY": memory
        if memory is not None
        else sum(int(c.get("memoryReservation") or c.get("memory") or 0) for c in containers),
        "PORTS": ports,
        "PORTS_UDP": [],
    }


def parse_env_file(text: str) -> dict[str, str]:
    """An environment file as Docker's --env-file reads it (ECS on Fargate: "handled like a native Docker
    env-file ... no support for shell escape handling"): VARIABLE=VALUE lines, `#` comments and blank lines
    skipped, values taken literally. A line with no `=` would copy the host's variable; a task has none."""
    found: dict[str, str] = {}
    for line in text.splitlines():
        stripped = line.lstrip()
        if not stripped or stripped.startswith("#"):
            continue
        name, sep, value = stripped.partition("=")
        if sep and name.strip():
            found[name.strip()] = value
    return found


@dataclass(frozen=True)
class S3Object:
    bucket: str
    key: str

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


def env_file_object(value: Any) -> S3Object | None:
    """arn:aws:s3:::bucket/key (any partition) -> the object; None if it is not an S3 object ARN."""
    match = re.fullmatch(r"arn:[a-z-]+:s3:::([^/]+)/(.+)", str(value or ""))
    return S3Object(match.group(1), match.group(2)) if match else None


@dataclass(frozen=True)
class SecretRef:
    """Where a container secret's value lives: an SSM parameter, or a Secrets Manager secret (optionally one
    JSON key of it, a version stage or a version id: `arn:...:secret:name:json-key:version-stage:version-id`)."""

    service: str  # "ssm" or "secretsmanager"
    id: str  # the parameter's name or ARN; the secret's ARN (without the suffixes)
    json_key: str | None = None
    version_stage: str | None = None
    version_id: str | None = None


def secret_ref(value_from: str) -> SecretRef:
    if value_from.startswith("arn:") and ":secretsmanager:" in value_from:
        parts = value_from.split(":")
        base = ":".join(parts[:7])
        extra = [*parts[7:], "", "", ""][:3]
        return SecretRef("secretsmanager", base, extra[0] or None, extra[1] or None, extra[2] or None)
    return SecretRef("ssm", value_from)


def health_command(check: dict[str, Any]) -> list[str] | None:
    """HealthCheck.command as Docker runs it: ["CMD-SHELL", "cmd"] through the shell, ["CMD", argv...] as is."""
    command = [str(part) for part in check.get("command") or []]
    if len(command) >= 2 and command[0] == "CMD-SHELL":
        return ["/bin/sh", "-c", " ".join(command[1:])]
    if len(command) >= 2 and command[0] == "CMD":
        return command[1:]
    return None
