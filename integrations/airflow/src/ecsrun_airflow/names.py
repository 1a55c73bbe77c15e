"""One ecsrun run per Airflow try: its name, used as ecsrun's runId and as the execution name. Pure.

A try must be able to find its predecessors' runs without any state of its own (a retry may run on another
worker; XComs of the previous try are cleared), so the name is computed from what every try knows: the DAG, the
task, the DAG run, the map index, and the try number.
"""

from __future__ import annotations

import hashlib
import re

# ecsrun's runId: ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$. Step Functions allows 80 characters in an execution name, and
# only 0-9 A-Z a-z - _ keep its CloudWatch logging and metrics working: a name within both is usable as either.
MAX_NAME = 64
RUN_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
_UNSAFE = re.compile(r"[^A-Za-z0-9]+")
_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")


def run_name(dag_id: str, task_id: str, run_id: str, map_index: int, try_number: int) -> str:
    """The runId (and execution name) of the run this try starts: readable where it fits (DAG, task, the DAG run's
    date), unique by a hash of (dag_id, task_id, run_id, map_index), then the map index and the try number.

    `nightly-run_report-20261121-3f9c2a1b7d-t2`: try 2 of task run_report of the nightly DAG's run of 2026-11-21."""
    if try_number < 1:
        raise ValueError(f"try_number must be 1 or more, not {try_number}")
    digest = hashlib.sha256(f"{dag_id}\n{task_id}\n{run_id}\n{map_index}".encode()).hexdigest()[:10]
    date = _DATE.search(run_id)
    suffix = f"{digest}{f'-m{map_index}' if map_index >= 0 else ''}-t{try_number}"
    readable = [_slug(dag_id)[:20], _slug(task_id)[:16], "".join(date.groups()) if date else ""]
    head = "-".join(part for part in readable if part)[: MAX_NAME - len(suffix) - 1].strip("-")
    return f"{head}-{suffix}" if head else suffix


def earlier_names(dag_id: str, task_id: str, run_id: str, map_index: int, try_number: int) -> list[str]:
    """The names the earlier tries of this task instance would have started their runs under, newest first."""
    return [run_name(dag_id, task_id, run_id, map_index, n) for n in range(try_number - 1, 0, -1)]


def execution_arn(state_machine_arn: str, name: str) -> str:
    """The ARN an execution of `state_machine_arn` named `name` has (Standard workflows)."""
    prefix, sep, machine = state_machine_arn.partition(":stateMachine:")
    if not sep or not machine:
        raise ValueError(f"not a state machine ARN: {state_machine_arn}")
    return f"{prefix}:execution:{machine}:{name}"


def _slug(text: str) -> str:
    return _UNSAFE.sub("-", text).strip("-")
