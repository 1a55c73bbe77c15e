"""Escalation: what the next attempt changes after an out-of-memory kill or a Spot interruption. Pure: no AWS.

The next attempt's RunTask fields are the run's, with `overrides` and `capacityProviderStrategy` replaced by what
the escalation chose (cumulatively: a third attempt raises the second's memory). Each change is said as
`{"memory": "2048 -> 4096"}`, for the attempt's entry in the run's output.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from typing import Any

from ecsrun.domain.request_rules import FARGATE_SIZES, is_fargate, parse_cpu, parse_memory, strategy_providers
from ecsrun.domain.retry_rules import Failure


@dataclass(frozen=True)
class Sizes:
    """The attempt's size as ECS would run it: task-level cpu (units) and memory (MiB), and the hard `memory` of
    each container that has one; the overrides win over the task definition."""

    cpu: int | None
    memory: int | None
    containers: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Escalation:
    fields: dict[str, Any]  # the RunTask fields the next attempt uses instead of the run's ({} for none)
    changed: dict[str, str]  # what changed, e.g. {"memory": "2048 -> 4096"}
    notes: list[str]  # what could not change, and why (capped at maxMemoryMiB, no Spot strategy)


def sizes(request: dict[str, Any], task_cpu: str | None, task_memory: str | None, containers: dict[str, int]) -> Sizes:
    """The size of an attempt run with `request` (the RunTask fields), on a definition with these sizes."""
    given = request.get("overrides")
    overrides: dict[str, Any] = given if isinstance(given, dict) else {}
    cpu_text = overrides.get("cpu") or task_cpu
    memory_text = overrides.get("memory") or task_memory
    memories = dict(containers)
    for entry in overrides.get("containerOverrides") or []:
        if isinstance(entry, dict) and isinstance(entry.get("memory"), int) and entry.get("name"):
            memories[entry["name"]] = entry["memory"]
    return Sizes(
        cpu=parse_cpu(str(cpu_text)) if cpu_text else None,
        memory=parse_memory(str(memory_text)) if memory_text else None,
        containers=memories,
    )


def fargate_size(cpu: int | None, memory: int, wanted: int, most: int) -> tuple[int, int] | None:
    """The smallest valid Fargate (cpu, memory) with at least `wanted` MiB (else the largest above `memory`), within
    `most` MiB and never less cpu than now; None when no valid size has more memory than now."""
    sizes = [(c, m) for c, ms in FARGATE_SIZES.items() if c >= (cpu or 0) for m in ms if memory < m <= most]
    if not sizes:
        return None
    enough = [s for s in sizes if s[1] >= wanted]
    if enough:
        return min(enough, key=lambda s: (s[1], s[0]))
    return max(sizes, key=lambda s: (s[1], -s[0]))


def raise_memory(request: dict[str, Any], now: Sizes, container: str, factor: float, most: int) -> Escalation:
    """After `container` was killed for its memory: the next attempt's memory times `factor`, within `most` MiB,
    on Fargate a valid task size (more cpu when the memory needs it)."""
    given = request.get("overrides")
    overrides: dict[str, Any] = copy.deepcopy(given) if isinstance(given, dict) else {}
    changed: dict[str, str] = {}
    notes: list[str] = []
    new_memory = now.memory
    if now.memory is not None:
        wanted = min(math.ceil(now.memory * factor), most)
        if is_fargate(request):
            size = fargate_size(now.cpu, now.memory, wanted, most)
            if size is None:
                notes.append(f"memory {now.memory} MiB not raised: no Fargate size above it within maxMemoryMiB {most}")
            else:
                cpu, new_memory = size
                if cpu != now.cpu:
                    overrides["cpu"] = str(cpu)
                    changed["cpu"] = f"{now.cpu} -> {cpu}"
        elif wanted > now.memory:
            new_memory = wanted
        else:
            notes.append(f"memory {now.memory} MiB not raised: at maxMemoryMiB {most}")
        if new_memory != now.memory:
            overrides["memory"] = str(new_memory)
            changed["memory"] = f"{now.memory} -> {new_memory}"
    limit = new_memory if new_memory is not None else most
    if container in now.containers:  # its hard limit killed it: raise it too, within the task's memory
        old = now.containers[container]
        raised = min(math.ceil(old * factor), limit, most)
        if raised > old:
            entries = [e for e in overrides.get("containerOverrides") or [] if isinstance(e, dict)]
            entry = next((e for e in entries if e.get("name") == container), None)
            if entry is None:
                entry = {"name": container}
                entries.append(entry)
            entry["memory"] = raised
            overrides["containerOverrides"] = entries
            changed[f"containers.{container}.memory"] = f"{old} -> {raised}"
        else:
            notes.append(f"container {container!r} memory {old} MiB not raised: at its bound {min(limit, most)}")
    elif now.memory is None:
        notes.append("memory not raised: neither the task nor the container has a memory size to raise")
    return Escalation(fields={"overrides": overrides} if changed else {}, changed=changed, notes=notes)


def memory_can_grow(request: dict[str, Any], now: Sizes, container: str, factor: float, most: int) -> bool:
    return bool(raise_memory(request, now, container, factor, most).changed)


def spot_fallback(request: dict[str, Any], provider: str) -> Escalation:
    """After a Spot interruption: the next attempt runs on `provider` (FARGATE) instead of FARGATE_SPOT."""
    providers = strategy_providers(request)
    if "FARGATE_SPOT" not in providers:
        return Escalation(fields={}, changed={}, notes=["no FARGATE_SPOT in capacityProviderStrategy: nothing to move"])
    strategy = [{"capacityProvider": provider, "weight": 1}]
    before = ",".join(str(p) for p in providers)
    return Escalation(
        fields={"capacityProviderStrategy": strategy},
        changed={"capacityProvider": f"{before} -> {provider}"},
        notes=[],
    )


def escalate(spec: dict[str, Any] | None, failure: Failure, request: dict[str, Any], now: Sizes) -> Escalation:
    """What `retry.escalate` changes for the attempt after `failure`, given the failed attempt's RunTask fields."""
    if not spec:
        return Escalation(fields={}, changed={}, notes=[])
    if failure.outOfMemory is not None and "memoryFactor" in spec:
        factor, most = float(spec["memoryFactor"]), int(spec["maxMemoryMiB"])
        return raise_memory(request, now, failure.outOfMemory, factor, most)
    if failure.spotInterrupted and spec.get("spotFallback"):
        return spot_fallback(request, str(spec["spotFallback"]))
    return Escalation(fields={}, changed={}, notes=[])
