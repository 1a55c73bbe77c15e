"""The local agent's memory limit: a container whose processes use more memory than its limit is killed, as the
kernel's OOM killer kills a container over its cgroup's limit, and reported as ECS reports it: exit code 137 and
the container reason "OutOfMemoryError: Container killed due to memory usage".

The limit is the container's hard `memory` (its containerOverrides entry, else its definition), else the task's
`memory` (the RunTask overrides, else the task definition): a Linux container without its own limit shares the
task's. Usage is the resident set of the container's process group, read from /proc (Linux); where /proc is not
there, no limit is enforced.
"""

from __future__ import annotations

import os
from typing import Any

from ecsrun.domain.request_rules import parse_memory

OUT_OF_MEMORY_REASON = "OutOfMemoryError: Container killed due to memory usage"
MIB = 1024 * 1024


def limit_mib(definition: dict[str, Any], override: dict[str, Any] | None, task_memory: Any) -> int | None:
    """The container's memory limit in MiB, or None when neither it nor the task has one."""
    own = (override or {}).get("memory") or definition.get("memory")
    if isinstance(own, int) and own > 0:
        return own
    return parse_memory(str(task_memory)) if task_memory else None


def task_memory(task_definition: dict[str, Any], overrides: dict[str, Any]) -> Any:
    return overrides.get("memory") or task_definition.get("memory")


def group_rss_bytes(pgid: int) -> int:
    """The resident memory of every process in the process group `pgid` (0 when /proc cannot say)."""
    total = 0
    try:
        entries = os.listdir("/proc")
    except OSError:
        return 0
    page = os.sysconf("SC_PAGE_SIZE")
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
            if int(fields[2]) != pgid:  # field 5 (pgrp); fields[0] is field 3 (state)
                continue
            with open(f"/proc/{entry}/statm", encoding="ascii") as statm:
                total += int(statm.read().split()[1]) * page
        except (OSError, IndexError, ValueError):
            continue
    return total


def over_limit(pgid: int, limit: int | None) -> bool:
    return limit is not None and group_rss_bytes(pgid) > limit * MIB
