"""The capacity model: how much of each AWS rate quota a number of runs a day uses, and which binds first. Pure.

The calls a run makes are measured, not typed: `make bench` counts them on the local engine for a typical run
(its containers, its megabytes of log each) and at other sizes, and keeps in one file, per log mode, the typical
run's calls and how each call count grows per container and per megabyte of a container's log. A run of C
containers with M MB each then makes

    calls(C, M) = typical + perContainer x (C - C0) + perContainerMB x (C x M - C0 x M0)

of each call (C0, M0 the typical run's). Calls spread evenly over the day: at N runs a day a call made k times
a run arrives at N x k / 86,400 a second, against the quota's sustained rate (bursts only help briefly).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ecsrun.domain.ratequotas import QUOTAS, RateQuota

SECONDS_A_DAY = 86_400
LOG_MODES = ("read-back", "firelens")


class CapacityDataError(ValueError):
    """The measured calls-per-run data is missing what the model needs."""


@dataclass(frozen=True)
class Usage:
    """One quota at N runs a day."""

    quota: RateQuota
    calls_per_run: float
    quota_per_second: float
    calls_per_second: float

    @property
    def utilization(self) -> float:
        return self.calls_per_second / self.quota_per_second

    @property
    def max_runs_per_day(self) -> float:
        """The runs a day at which this quota is used up (the calls alone: bursts aside)."""
        if self.calls_per_run <= 0:
            return float("inf")
        return self.quota_per_second * SECONDS_A_DAY / self.calls_per_run

    def document(self, region: str) -> dict[str, Any]:
        return {
            "api": self.quota.key,
            "name": self.quota.name,
            "caller": self.quota.caller,
            "callsPerRun": round(self.calls_per_run, 3),
            "callsPerSecond": round(self.calls_per_second, 3),
            "quotaPerSecond": self.quota_per_second,
            "burst": self.quota.bucket(region),
            "adjustable": self.quota.adjustable,
            "utilization": round(self.utilization, 6),
            "maxRunsPerDay": None if self.max_runs_per_day == float("inf") else int(self.max_runs_per_day),
            "throttlingError": self.quota.error,
            "source": self.quota.source,
        }


def calls_per_run(data: dict[str, Any], mode: str, containers: float, log_mb: float) -> dict[str, float]:
    """Every counted call of a run of `containers` containers with `log_mb` MB of log each, in `mode`."""
    modes = data.get("modes") or {}
    if mode not in modes:
        raise CapacityDataError(f"the measured calls have no '{mode}' mode (they have: {', '.join(modes) or 'none'})")
    typical = data.get("typical") or {}
    try:
        c0, m0 = float(typical["containers"]), float(typical["logMB"])
    except (KeyError, TypeError, ValueError) as exc:
        raise CapacityDataError("the measured calls do not say the typical run's containers and logMB") from exc
    scaling = (data.get("scaling") or {}).get(mode) or {}
    per_container = scaling.get("perContainer") or {}
    per_mb = scaling.get("perContainerMB") or {}
    counted: dict[str, float] = {}
    for key in set(modes[mode]) | set(per_container) | set(per_mb):
        value = (
            float(modes[mode].get(key, 0))
            + float(per_container.get(key, 0)) * (containers - c0)
            + float(per_mb.get(key, 0)) * (containers * log_mb - c0 * m0)
        )
        counted[key] = max(0.0, value)
    return counted


def usage(
    data: dict[str, Any], runs_per_day: float, *, mode: str, containers: float, log_mb: float, region: str
) -> list[Usage]:
    """Each quota the run touches at `runs_per_day`, most used first."""
    counted = calls_per_run(data, mode, containers, log_mb)
    rate = runs_per_day / SECONDS_A_DAY
    found: list[Usage] = []
    for quota in QUOTAS:
        per_run = sum(counted.get(key, 0.0) for key in quota.counted)
        if per_run <= 0:
            continue
        found.append(Usage(quota, per_run, float(quota.per_second(region)), rate * per_run))
    return sorted(found, key=lambda u: (-u.utilization, u.quota.key))


def binding(usages: list[Usage]) -> Usage | None:
    """The quota that binds first as runs grow: the most used one."""
    return usages[0] if usages else None


__all__ = ["LOG_MODES", "SECONDS_A_DAY", "CapacityDataError", "Usage", "binding", "calls_per_run", "usage"]
