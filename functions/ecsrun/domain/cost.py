"""What a Fargate task cost, and when a run's cost cap is reached. Pure: prices come from the table shipped as
data (domain/data/fargate-prices.json, with its date and source), times from the task's startedAt/stoppedAt.

Fargate bills per second, with a one-minute minimum, for the task-level vCPU and memory (overrides included) and
for ephemeral storage above the 20 GiB included. The rate is known before the task starts, so a cap becomes a
deadline: the run's wait ends at min(timeoutSeconds, the second its cost reaches the cap)."""

from __future__ import annotations

import json
import math
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

PRICES_FILE = Path(__file__).parent / "data" / "fargate-prices.json"
MIN_BILLED_SECONDS = 60
INCLUDED_STORAGE_GIB = 20
MIN_COST_USD, MAX_COST_USD = 0.0001, 100_000.0  # the bounds of a request's maxCostUsd
FARGATE, FARGATE_SPOT = "FARGATE", "FARGATE_SPOT"
ARCHITECTURES = ("X86_64", "ARM64")


@cache
def prices() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(PRICES_FILE.read_text())
    return data


def prices_label(table: dict[str, Any]) -> str:
    return f"AWS Fargate on-demand prices of {table['date']} ({table['source']})"


def _number(value: Any) -> float | None:
    try:
        return float(str(value).strip()) if value is not None else None
    except ValueError:
        return None


def _vcpu(cpu: Any) -> float | None:
    """Task cpu as ECS gives it: CPU units ("1024"), or "1 vCPU"/"0.5 vcpu" in a task definition."""
    text = str(cpu).strip().lower() if cpu is not None else ""
    if text.endswith("vcpu"):
        return _number(text[:-4])
    units = _number(text)
    return units / 1024 if units is not None else None


def _gib(memory: Any) -> float | None:
    """Task memory: MiB ("2048"), or "2 GB"/"2gb" in a task definition."""
    text = str(memory).strip().lower() if memory is not None else ""
    if text.endswith("gb"):
        return _number(text[:-2])
    mib = _number(text)
    return mib / 1024 if mib is not None else None


def size(definition: dict[str, Any], request: dict[str, Any], region: str) -> dict[str, Any]:
    """What prices a run, known before it starts: from the described task definition and the request's
    overrides (task-level cpu/memory/ephemeralStorage win), its launch type or capacity provider, and the Region.
    `launch` is FARGATE, FARGATE_SPOT, or what else the task runs on (EC2, EXTERNAL, a provider name)."""
    overrides = request.get("overrides") or {}
    platform = definition.get("runtimePlatform") or {}
    architecture = str(platform.get("cpuArchitecture") or "X86_64").upper()
    storage = (overrides.get("ephemeralStorage") or definition.get("ephemeralStorage") or {}).get("sizeInGiB")
    strategy = request.get("capacityProviderStrategy") or []
    if strategy:
        # The provider with the largest base or weight; a mixed strategy is priced by its first FARGATE_SPOT.
        names = [str(s.get("capacityProvider")) for s in strategy if isinstance(s, dict)]
        launch = FARGATE_SPOT if FARGATE_SPOT in names else (names[0] if names else FARGATE)
    else:
        launch = str(request.get("launchType") or _default_launch(definition))
    return {
        "vcpu": _vcpu(overrides.get("cpu") or definition.get("cpu")),
        "memoryGiB": _gib(overrides.get("memory") or definition.get("memory")),
        "ephemeralStorageGiB": int(storage) if isinstance(storage, int) else INCLUDED_STORAGE_GIB,
        "architecture": architecture,
        "launch": launch,
        "region": region,
    }


def _default_launch(definition: dict[str, Any]) -> str:
    compatible = definition.get("requiresCompatibilities") or definition.get("compatibilities") or []
    return FARGATE if FARGATE in compatible and "EC2" not in compatible else ("EC2" if compatible else FARGATE)


def rates(task_size: dict[str, Any], table: dict[str, Any]) -> dict[str, float] | str:
    """USD per second for the task's vCPU, memory and extra storage; or why there is no price."""
    launch = task_size.get("launch")
    if launch not in (FARGATE, FARGATE_SPOT):
        return f"launch type {launch}: the cost of EC2 or EXTERNAL capacity cannot be known from the task"
    region = task_size.get("region")
    regional = table["regions"].get(region)
    if regional is None:
        return f"unknown Region {region}: the price table has no figures for it"
    architecture = task_size.get("architecture")
    row = regional.get(architecture)
    if row is None:
        return f"unknown CPU architecture {architecture}: the price table has {', '.join(ARCHITECTURES)}"
    vcpu, memory = task_size.get("vcpu"), task_size.get("memoryGiB")
    if not vcpu or not memory:
        return "the task definition gives no task-level cpu and memory"
    extra = max(0, int(task_size.get("ephemeralStorageGiB") or 0) - INCLUDED_STORAGE_GIB)
    return {
        "vcpu": vcpu * row["vcpuHour"] / 3600,
        "memory": memory * row["gbHour"] / 3600,
        "storage": extra * regional["storageGbHour"] / 3600,
    }


def cost_limit_seconds(max_cost_usd: float, task_size: dict[str, Any], table: dict[str, Any]) -> int | None:
    """The second of the task's life at which its estimated cost reaches the cap (at least 1: a cap below the
    one-minute minimum is reached at once), or None when the task has no price."""
    per_second = rates(task_size, table)
    if isinstance(per_second, str):
        return None
    rate = sum(per_second.values())
    if rate * MIN_BILLED_SECONDS >= max_cost_usd:
        return 1
    return max(1, math.floor(max_cost_usd / rate))


def _seconds(started: str | None, stopped: str | None) -> float | None:
    if not started or not stopped:
        return None
    begin = datetime.fromisoformat(started.replace("Z", "+00:00"))
    end = datetime.fromisoformat(stopped.replace("Z", "+00:00"))
    return max(0.0, (end - begin).total_seconds())


def receipt(
    task_size: dict[str, Any] | None, started_at: str | None, stopped_at: str | None, table: dict[str, Any]
) -> dict[str, Any]:
    """`cost`: {"usd", "currency", "estimate", "basis", "prices"}; without `usd`, a `note` says why it cannot be
    known (EC2 or EXTERNAL capacity, an unknown Region, a task that never started)."""
    label = prices_label(table)
    if not task_size:
        return {"currency": "USD", "estimate": True, "note": "the run's task size is unknown", "prices": label}
    spot = task_size.get("launch") == FARGATE_SPOT
    basis: dict[str, Any] = {
        "region": task_size.get("region"),
        "architecture": task_size.get("architecture"),
        "launch": task_size.get("launch"),
        "spot": spot,
        "vcpu": task_size.get("vcpu"),
        "memoryGiB": task_size.get("memoryGiB"),
        "ephemeralStorageGiB": task_size.get("ephemeralStorageGiB"),
    }
    per_second = rates(task_size, table)
    if isinstance(per_second, str):
        return {"currency": "USD", "estimate": True, "note": per_second, "basis": basis, "prices": label}
    ran = _seconds(started_at, stopped_at)
    if ran is None:
        note = "the task never started (no startedAt): Fargate bills from then"
        return {"usd": 0.0, "currency": "USD", "estimate": spot, "note": note, "basis": basis, "prices": label}
    billed = max(MIN_BILLED_SECONDS, math.ceil(ran))
    extra = max(0, int(basis["ephemeralStorageGiB"] or 0) - INCLUDED_STORAGE_GIB)
    basis.update(
        seconds=round(ran, 3),
        billedSeconds=billed,
        vcpuSeconds=round(billed * basis["vcpu"], 3),
        gbSeconds=round(billed * basis["memoryGiB"], 3),
        storageGbSeconds=billed * extra,
    )
    usd = round(billed * sum(per_second.values()), 8)
    out: dict[str, Any] = {"usd": usd, "currency": "USD", "estimate": spot, "basis": basis, "prices": label}
    if spot:
        out["note"] = "Fargate Spot prices vary; priced at on-demand figures, an upper bound"
    return out
