"""Function configuration, parsed once per invocation from the environment the template sets."""

from __future__ import annotations

import dataclasses
import os
import re
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from ecsrun.domain.array import MAX_ARRAY_SIZE
from ecsrun.domain.models.base import model_fields_of

_TRUE = frozenset({"1", "true", "t", "yes", "y", "on"})
_FALSE = frozenset({"0", "false", "f", "no", "n", "off"})


class SettingsError(ValueError):
    """The environment does not configure the function validly: names the variable and what it must be."""


def _env(
    alias: str,
    default: Any = dataclasses.MISSING,
    *,
    low: int | None = None,
    high: int | None = None,
    min_length: int | None = None,
    pattern: str | None = None,
) -> Any:
    rules = {"low": low, "high": high, "min_length": min_length, "pattern": pattern}
    return dataclasses.field(default=default, metadata={"alias": alias, **rules})


@dataclass(frozen=True, kw_only=True)
class Settings:
    model_fields: ClassVar[Any] = model_fields_of()

    runs_table: str = _env("RUNS_TABLE", min_length=1)
    logs_bucket: str = _env("LOGS_BUCKET", min_length=1)
    started_by_prefix: str = _env("STARTED_BY_PREFIX", "ecsrun/", pattern=r"^[A-Za-z0-9_-][A-Za-z0-9_/-]{0,62}/$")
    default_timeout_seconds: int = _env("DEFAULT_TIMEOUT_SECONDS", 3600, low=1)
    run_record_ttl_days: int = _env("RUN_RECORD_TTL_DAYS", 90, low=1)
    log_tail_lines: int = _env("LOG_TAIL_LINES", 20, low=0, high=200)
    log_settle_seconds: int = _env("LOG_SETTLE_SECONDS", 10, low=0, high=120)
    # A log copy pauses at a checkpoint when less than this much of the invocation's time is left: enough to
    # finish a page (GetLogEvents retries included), upload a part, and save the checkpoint.
    copy_reserve_seconds: int = _env("COPY_RESERVE_SECONDS", 120, low=1)
    # GetLogEvents requests a second this stack's copies send at most, together (CloudWatch Logs allows 10 per
    # account and Region, not adjustable), on a shared pace kept in PACING_TABLE; 0, or no table, paces nothing.
    log_reads_per_second: int = _env("LOG_READS_PER_SECOND", 8, low=0, high=25)
    pacing_table: str | None = _env("PACING_TABLE", None)
    reconcile_grace_seconds: int = _env("RECONCILE_GRACE_SECONDS", 300, low=0)
    # DescribeExecution calls a reconciler pass makes at most (oldest waiting runs first; the rest next pass).
    reconcile_execution_checks: int = _env("RECONCILE_EXECUTION_CHECKS", 100, low=0)

    # The clusters and task definition families this runner may use (patterns, comma-separated), as IAM allows.
    allowed_clusters: str = _env("ALLOWED_CLUSTERS", "*", min_length=1)
    allowed_task_definition_families: str = _env("ALLOWED_TASK_DEFINITION_FAMILIES", "*", min_length=1)

    # The roles a run may make ECS assume (template parameter PassRoleArns: ARNs, wildcards * and ?).
    pass_role_arns: str = _env("PASS_ROLE_ARNS", "")

    # The most children an array run may have (template parameter MaxArraySize, at most 10,000).
    max_array_size: int = _env("MAX_ARRAY_SIZE", MAX_ARRAY_SIZE, low=1, high=MAX_ARRAY_SIZE)

    # The buckets FireLens routers write to that log copies may read (template parameter FirelensLogBuckets).
    firelens_log_buckets: str = _env("FIRELENS_LOG_BUCKETS", "")

    # The stack's bus: runs start from it, and every run's end is put on it (ecsrun.RunSucceeded / RunFailed).
    event_bus_name: str | None = _env("EVENT_BUS_NAME", None)
    # Values of sensitive fields (container environment) are masked in problems, logs and causes.
    redact_secrets: bool = _env("REDACT_SECRETS", True)
    # The preflight before RunTask (template parameter Preflight): "enabled" or "disabled".
    preflight: str = _env("PREFLIGHT", "enabled", pattern=r"^(enabled|disabled)$")

    @property
    def cluster_patterns(self) -> list[str]:
        return [p.strip() for p in self.allowed_clusters.split(",") if p.strip()]

    @property
    def pass_role_patterns(self) -> list[str]:
        return [p.strip() for p in self.pass_role_arns.split(",") if p.strip()]

    @property
    def firelens_buckets(self) -> frozenset[str]:
        return frozenset(b.strip() for b in self.firelens_log_buckets.split(",") if b.strip())

    @property
    def family_patterns(self) -> list[str]:
        return [p.strip() for p in self.allowed_task_definition_families.split(",") if p.strip()]

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Each field from its variable (a missing optional one keeps its default); SettingsError names the first
        variable that is missing or not what the field must be."""
        environ = os.environ if environ is None else environ
        hints = typing.get_type_hints(cls)
        values: dict[str, Any] = {}
        for field in dataclasses.fields(cls):
            alias = field.metadata["alias"]
            raw = environ.get(alias)
            if raw is None:
                if field.default is dataclasses.MISSING:
                    raise SettingsError(f"{alias} is not set")
                continue
            values[field.name] = _parse(alias, raw, hints[field.name], field.metadata)
        return cls(**values)


def _parse(alias: str, raw: str, hint: Any, rules: Mapping[str, Any]) -> Any:
    if hint is bool:
        if raw.strip().lower() not in _TRUE | _FALSE:
            raise SettingsError(f"{alias} must be true or false; got {raw!r}")
        return raw.strip().lower() in _TRUE
    if hint is int:
        try:
            number = int(raw.strip())
        except ValueError:
            raise SettingsError(f"{alias} must be an integer; got {raw!r}") from None
        if rules["low"] is not None and number < rules["low"]:
            raise SettingsError(f"{alias} must be at least {rules['low']}; got {number}")
        if rules["high"] is not None and number > rules["high"]:
            raise SettingsError(f"{alias} must be at most {rules['high']}; got {number}")
        return number
    if rules["min_length"] is not None and len(raw) < rules["min_length"]:
        raise SettingsError(f"{alias} must not be empty")
    if rules["pattern"] is not None and not re.search(rules["pattern"], raw):
        raise SettingsError(f"{alias} must match {rules['pattern']}; got {raw!r}")
    return raw
