"""Where a run's objects live in the logs bucket: every key ecsrun writes or reads, in one place. Pure.

Everything of a run sits under `runs/<runId>/`, so one prefix (and one IAM resource pattern) covers it.
"""

from __future__ import annotations


def run_prefix(run_id: str) -> str:
    return f"runs/{run_id}/"


def log_key(run_id: str, container: str) -> str:
    return f"{run_prefix(run_id)}logs/{container}.log.gz"


def manifest_key(run_id: str) -> str:
    return f"{run_prefix(run_id)}manifest.json"


def children_key(run_id: str) -> str:
    """An array run's child requests, read by the Distributed Map."""
    return f"{run_prefix(run_id)}array/children.json"


def summary_key(run_id: str) -> str:
    """An array run's verdict over its children."""
    return f"{run_prefix(run_id)}array/summary.json"


def staging_prefix(run_id: str) -> str:
    """A paused log copy's checkpoint and staged bytes."""
    return f"{run_prefix(run_id)}.copy/"


def checkpoint_key(run_id: str) -> str:
    return f"{staging_prefix(run_id)}checkpoint.json"


def pending_key(run_id: str, container: str, seq: int) -> str:
    return f"{staging_prefix(run_id)}{container}.{seq}.pending"
