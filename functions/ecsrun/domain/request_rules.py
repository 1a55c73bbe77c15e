"""Rules across RunTask fields that ECS enforces but its API model cannot say. Pure.

Each rule reads the request defensively: a field of the wrong type is reported by the shape check, not here.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

MAX_OVERRIDES_CHARS = 8192  # RunTask: "up to 8192 characters" of overrides JSON
MAX_SUBNETS = 16
MAX_SECURITY_GROUPS = 5
FARGATE_PROVIDERS = frozenset({"FARGATE", "FARGATE_SPOT"})

# Fargate task sizes: CPU units → the memory values (MiB) allowed with them.
FARGATE_SIZES: dict[int, tuple[int, ...]] = {
    256: (512, 1024, 2048),
    512: tuple(range(1024, 4097, 1024)),
    1024: tuple(range(2048, 8193, 1024)),
    2048: tuple(range(4096, 16385, 1024)),
    4096: tuple(range(8192, 30721, 1024)),
    8192: tuple(range(16384, 61441, 4096)),
    16384: tuple(range(32768, 122881, 8192)),
}


# Names as ECS documents them (the API model gives no pattern for these).
NAME = r"[A-Za-z0-9_-]{1,255}"
TASK_DEFINITION = re.compile(
    rf"^(?:{NAME}(?::[1-9][0-9]{{0,9}})?|arn:aws[a-z-]*:ecs:[a-z0-9-]+:\d{{12}}:task-definition/{NAME}(?::[1-9][0-9]{{0,9}})?)$"
)
CLUSTER = re.compile(rf"^(?:{NAME}|arn:aws[a-z-]*:ecs:[a-z0-9-]+:\d{{12}}:cluster/{NAME})$")
CONTAINER_NAME = re.compile(rf"^{NAME}$")
EPHEMERAL_GIB = (21, 200)
MAX_NESTING = 32  # deeper than any RunTask request can be; stops hostile input before json.dumps recurses

Problem = tuple[str, str]


def _depth(value: Any, limit: int) -> int:
    """Nesting depth of `value`, counting no further than `limit` (and never recursing deeper than that)."""
    depth, level = 0, [value]
    while level and depth <= limit:
        children = [c for v in level for c in (v.values() if isinstance(v, dict) else v if isinstance(v, list) else ())]
        level = [c for c in children if isinstance(c, (dict, list))]
        depth += 1
    return depth


def _names(request: dict[str, Any]) -> Iterator[Problem]:
    definition, cluster = request.get("taskDefinition"), request.get("cluster")
    if isinstance(definition, str) and not TASK_DEFINITION.match(definition):
        yield (
            "taskDefinition",
            "must be family, family:revision or a task definition ARN (family: 1-255 letters, digits, - and _); "
            f"got {definition[:80]!r}",
        )
    if isinstance(cluster, str) and not CLUSTER.match(cluster):
        yield "cluster", f"must be a cluster name (1-255 letters, digits, - and _) or ARN; got {cluster[:80]!r}"
    containers = _list(as_dict(request.get("overrides")).get("containerOverrides"))
    for index, override in enumerate(containers):
        name = as_dict(override).get("name")
        if isinstance(override, dict) and "name" not in override:
            # ECS: "This parameter is required if any override is specified" (botocore ContainerOverride.name).
            yield f"overrides.containerOverrides[{index}].name", "required: the container this override is for"
        if isinstance(name, str) and not CONTAINER_NAME.match(name):
            yield f"overrides.containerOverrides[{index}].name", f"is not a container name; got {name[:80]!r}"


def as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def strategy_providers(request: dict[str, Any]) -> list[Any]:
    """The strategy's provider names by position (None where an item is malformed)."""
    return [as_dict(item).get("capacityProvider") for item in _list(request.get("capacityProviderStrategy"))]


def _providers(request: dict[str, Any]) -> set[str]:
    return {p for p in strategy_providers(request) if isinstance(p, str)}


def is_fargate(request: dict[str, Any]) -> bool:
    return request.get("launchType") == "FARGATE" or bool(_providers(request) & FARGATE_PROVIDERS)


def not_fargate(request: dict[str, Any]) -> bool:
    """Certainly not Fargate: another launch type, or a strategy with only EC2 (Auto Scaling) providers.
    With neither given, the cluster's default strategy decides, which only the account check can see."""
    launch = request.get("launchType")
    if launch is not None:
        return launch != "FARGATE"
    providers = _providers(request)
    return bool(providers) and not providers & FARGATE_PROVIDERS


def _scaled(value: str, unit: str) -> int | None:
    """A whole number of base units from "N" (base units) or "N <unit>" (1024 of them), as ECS reads sizes."""
    match = re.fullmatch(rf"\s*(\d+(?:\.\d+)?)\s*({unit})?\s*", value, re.IGNORECASE)
    if not match:
        return None
    number = float(match.group(1)) * (1024 if match.group(2) else 1)
    return int(number) if number == int(number) else None


def parse_cpu(value: str) -> int | None:
    """Task CPU as ECS accepts it: CPU units ("1024") or vCPUs ("1 vCPU", "0.25 vcpu")."""
    return _scaled(value, "vcpu")


def parse_memory(value: str) -> int | None:
    """Task memory as ECS accepts it: MiB ("2048") or GB ("2 GB", "0.5GB")."""
    return _scaled(value, "gb")


def _fargate_size(overrides: dict[str, Any]) -> Iterator[Problem]:
    cpu_text, memory_text = overrides.get("cpu"), overrides.get("memory")
    cpu = parse_cpu(cpu_text) if isinstance(cpu_text, str) else None
    memory = parse_memory(memory_text) if isinstance(memory_text, str) else None
    if isinstance(cpu_text, str) and cpu is None:
        yield "overrides.cpu", f'must be CPU units ("1024") or vCPUs ("1 vCPU"); got {cpu_text!r}'
    if isinstance(memory_text, str) and memory is None:
        yield "overrides.memory", f'must be MiB ("2048") or GB ("2 GB"); got {memory_text!r}'
    if cpu is not None and cpu not in FARGATE_SIZES:
        allowed = ", ".join(map(str, FARGATE_SIZES))
        yield "overrides.cpu", f"Fargate tasks take {allowed} CPU units; got {cpu}"
    elif cpu is not None and memory is not None and memory not in FARGATE_SIZES[cpu]:
        choices = FARGATE_SIZES[cpu]
        listed = ", ".join(map(str, choices))
        span = listed if cpu <= 512 else f"{choices[0]}-{choices[-1]} in steps of {choices[1] - choices[0]}"
        yield "overrides.memory", f"Fargate with {cpu} CPU units takes {span} MiB; got {memory}"
    elif cpu is None and memory is not None and not any(memory in sizes for sizes in FARGATE_SIZES.values()):
        yield "overrides.memory", f"no Fargate task size has {memory} MiB of memory"


def _network(request: dict[str, Any]) -> Iterator[Problem]:
    awsvpc = as_dict(as_dict(request.get("networkConfiguration")).get("awsvpcConfiguration"))
    subnets = awsvpc.get("subnets")
    if is_fargate(request) and "subnets" not in awsvpc:
        yield (
            "networkConfiguration",
            "Fargate tasks use awsvpc networking: give networkConfiguration.awsvpcConfiguration.subnets",
        )
    if isinstance(subnets, list) and not subnets:
        yield "networkConfiguration.awsvpcConfiguration.subnets", "must name at least one subnet"
    if isinstance(subnets, list) and len(subnets) > MAX_SUBNETS:
        yield "networkConfiguration.awsvpcConfiguration.subnets", f"at most {MAX_SUBNETS} subnets; got {len(subnets)}"
    groups = awsvpc.get("securityGroups")
    if isinstance(groups, list) and len(groups) > MAX_SECURITY_GROUPS:
        yield (
            "networkConfiguration.awsvpcConfiguration.securityGroups",
            f"at most {MAX_SECURITY_GROUPS} security groups; got {len(groups)}",
        )
    launch = request.get("launchType")
    if "assignPublicIp" in awsvpc and launch in ("EC2", "EXTERNAL"):
        yield (
            "networkConfiguration.awsvpcConfiguration.assignPublicIp",
            f"applies only to Fargate tasks; leave it out for {launch}",
        )


def problems(request: dict[str, Any]) -> Iterator[Problem]:
    """Every cross-field problem in the RunTask part of a request."""
    if _depth(request, MAX_NESTING) > MAX_NESTING:
        yield "(request)", f"nested more than {MAX_NESTING} levels deep; no RunTask request is"
        return
    yield from _names(request)
    count = request.get("count")
    if type(count) is int and count != 1:
        yield "count", f"ecsrun runs exactly one task per run: count must be 1; got {count}"
    if request.get("launchType") is not None and request.get("capacityProviderStrategy") is not None:
        yield "capacityProviderStrategy", "give launchType or capacityProviderStrategy, not both (ECS rejects the pair)"
    if "platformVersion" in request and not_fargate(request):
        yield "platformVersion", "applies only to Fargate tasks; leave it out for EC2, EXTERNAL and EC2 capacity"
    yield from _network(request)
    overrides = request.get("overrides")
    if isinstance(overrides, dict):
        size = len(json.dumps(overrides, separators=(",", ":"), ensure_ascii=False))
        if size > MAX_OVERRIDES_CHARS:
            yield "overrides", f"at most {MAX_OVERRIDES_CHARS} characters of JSON; got {size}"
        if is_fargate(request):
            yield from _fargate_size(overrides)
        storage = as_dict(overrides.get("ephemeralStorage")).get("sizeInGiB")
        low, high = EPHEMERAL_GIB
        if type(storage) is int and not low <= storage <= high:
            yield "overrides.ephemeralStorage.sizeInGiB", f"must be {low}-{high} GiB; got {storage}"
    for index, tag in enumerate(_list(request.get("tags"))):
        key = as_dict(tag).get("key")
        if isinstance(key, str) and key.lower().startswith("aws:"):
            yield f"tags[{index}].key", f"the aws: prefix is reserved for AWS; got {key!r}"
