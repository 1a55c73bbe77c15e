"""Function configuration, parsed once per invocation from the environment the template sets."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from ecsrun.domain.array import MAX_ARRAY_SIZE


class Settings(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    runs_table: Annotated[str, Field(alias="RUNS_TABLE", min_length=1)]
    logs_bucket: Annotated[str, Field(alias="LOGS_BUCKET", min_length=1)]
    started_by_prefix: Annotated[
        str, Field(alias="STARTED_BY_PREFIX", pattern=r"^[A-Za-z0-9_-][A-Za-z0-9_/-]{0,62}/$")
    ] = "ecsrun/"
    default_timeout_seconds: Annotated[int, Field(alias="DEFAULT_TIMEOUT_SECONDS", ge=1)] = 3600
    run_record_ttl_days: Annotated[int, Field(alias="RUN_RECORD_TTL_DAYS", ge=1)] = 90
    log_tail_lines: Annotated[int, Field(alias="LOG_TAIL_LINES", ge=0, le=200)] = 20
    log_settle_seconds: Annotated[int, Field(alias="LOG_SETTLE_SECONDS", ge=0, le=120)] = 10
    # A log copy pauses at a checkpoint when less than this much of the invocation's time is left: enough to
    # finish a page (GetLogEvents retries included), upload a part, and save the checkpoint.
    copy_reserve_seconds: Annotated[int, Field(alias="COPY_RESERVE_SECONDS", ge=1)] = 120
    reconcile_grace_seconds: Annotated[int, Field(alias="RECONCILE_GRACE_SECONDS", ge=0)] = 300
    # DescribeExecution calls a reconciler pass makes at most (oldest waiting runs first; the rest next pass).
    reconcile_execution_checks: Annotated[int, Field(alias="RECONCILE_EXECUTION_CHECKS", ge=0)] = 100

    # The clusters and task definition families this runner may use (patterns, comma-separated), as IAM allows.
    allowed_clusters: Annotated[str, Field(alias="ALLOWED_CLUSTERS", min_length=1)] = "*"
    allowed_task_definition_families: Annotated[str, Field(alias="ALLOWED_TASK_DEFINITION_FAMILIES", min_length=1)] = (
        "*"
    )

    # The roles a run may make ECS assume (template parameter PassRoleArns: ARNs, wildcards * and ?).
    pass_role_arns: Annotated[str, Field(alias="PASS_ROLE_ARNS")] = ""

    # The most children an array run may have (template parameter MaxArraySize, at most 10,000).
    max_array_size: Annotated[int, Field(alias="MAX_ARRAY_SIZE", ge=1, le=MAX_ARRAY_SIZE)] = MAX_ARRAY_SIZE

    # The stack's bus: runs start from it, and every run's end is put on it (ecsrun.RunSucceeded / RunFailed).
    event_bus_name: Annotated[str | None, Field(alias="EVENT_BUS_NAME")] = None
    # Values of sensitive fields (container environment) are masked in problems, logs and causes.
    redact_secrets: Annotated[bool, Field(alias="REDACT_SECRETS")] = True

    @property
    def cluster_patterns(self) -> list[str]:
        return [p.strip() for p in self.allowed_clusters.split(",") if p.strip()]

    @property
    def pass_role_patterns(self) -> list[str]:
        return [p.strip() for p in self.pass_role_arns.split(",") if p.strip()]

    @property
    def family_patterns(self) -> list[str]:
        return [p.strip() for p in self.allowed_task_definition_families.split(",") if p.strip()]

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        return cls.model_validate(dict(os.environ if environ is None else environ))
