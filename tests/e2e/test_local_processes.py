"""The local engine stops a container's whole process group with its task.

In a container, the main process is PID 1 of its own PID namespace: when it exits, the kernel SIGKILLs every
process left in the namespace (pid_namespaces(7)), and `docker stop` signals the container, not one process.
Locally each container is a process group: StopTask and an essential exit signal the group, and when the main
process exits whatever it left behind is killed at once, so nothing outlives the task and no pipe it holds keeps
the task from stopping.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ecsrun.local.engine import run_local
from ecsrun.local.runtime import LocalAws

LOGS = {
    "logDriver": "awslogs",
    "options": {
        "awslogs-group": "/ecs/processes",
        "awslogs-region": "us-east-1",
        "awslogs-stream-prefix": "ecs",
        "awslogs-create-group": "true",
    },
}


def _definition(family: str, script: str, **container: Any) -> dict[str, Any]:
    return {
        "family": family,
        "networkMode": "awsvpc",
        "requiresCompatibilities": ["FARGATE"],
        "cpu": "256",
        "memory": "512",
        "containerDefinitions": [
            {"name": "app", "image": "busybox", "command": ["sh", "-c", script], "logConfiguration": LOGS, **container}
        ],
    }


def _request(family: str, **extra: Any) -> dict[str, Any]:
    network = {"awsvpcConfiguration": {"subnets": ["subnet-0123456789abcdef0"]}}
    return {"runId": family, "taskDefinition": family, "launchType": "FARGATE", "networkConfiguration": network} | extra


def _alive(pid: int) -> bool:
    """Running, or stopped but not yet a zombie (a killed orphan waits as a zombie for init to reap it)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")


@pytest.fixture
def left_behind() -> Iterator[list[int]]:
    """PIDs a test's container leaves; killed afterwards whatever the test found."""
    pids: list[int] = []
    yield pids
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def test_processes_a_container_forked_die_with_its_main_process(tmp_path: Path, left_behind: list[int]) -> None:
    # Given a container whose main process starts a background process that keeps its output pipe open, then exits
    pidfile = tmp_path / "child.pid"
    script = f"sleep 300 & echo $! > {pidfile}; echo started"
    with LocalAws() as aws:
        result = run_local(_request("forks"), [_definition("forks", script)], aws=aws)
    left_behind.append(int(pidfile.read_text()))
    # Then the run ends with the main process's verdict and its lines, and the forked process is gone
    assert result.status == "SUCCEEDED", result.cause
    assert [line.split(" ", 1)[1] for line in result.log_lines("runs/forks/logs/app.log.gz")] == ["started"]
    assert not _alive(left_behind[0])


def test_stop_task_stops_the_whole_group_even_a_process_that_ignores_sigterm(
    tmp_path: Path, left_behind: list[int]
) -> None:
    # Given a container with a process that ignores SIGTERM, whose main process waits for it, and a short timeout
    pidfile = tmp_path / "stubborn.pid"
    script = f"(trap '' TERM; exec sleep 300) & echo $! > {pidfile}; echo started; wait"
    definition = _definition("stubborn", script, stopTimeout=2)
    with LocalAws() as aws:
        result = run_local(_request("stubborn", timeoutSeconds=2), [definition], aws=aws)
    left_behind.append(int(pidfile.read_text()))
    # Then the run times out, and when its task is stopped nothing of it is left running
    assert result.error == "Run.TimedOut", result.cause
    assert not _alive(left_behind[0])
