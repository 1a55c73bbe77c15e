"""End to end on the local engine: retry.on rules decide by exit code, and retry.escalate raises the memory of the
attempt after an out-of-memory kill (the local agent kills a container over its memory limit as ECS reports it)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from ecsrun.cli import main


def _ecsrun(capsys: pytest.CaptureFixture[str], tmp_path: Path, request: Any, definition: Any) -> tuple[int, Any]:
    request_file, definition_file = tmp_path / "r.json", tmp_path / "td.json"
    request_file.write_text(json.dumps(request))
    definition_file.write_text(json.dumps(definition))
    code = main(["local", "run", str(request_file), "--task-definition", str(definition_file), "--output", "json"])
    out = capsys.readouterr().out
    return code, json.loads(out) if out.strip() else None


def _fargate(family: str, script: str, *, memory: str = "512") -> dict[str, Any]:
    options = {
        "awslogs-group": "/ecs/e2e-retry",
        "awslogs-region": "us-east-1",
        "awslogs-stream-prefix": "ecs",
        "awslogs-create-group": "true",
    }
    return {
        "family": family,
        "networkMode": "awsvpc",
        "requiresCompatibilities": ["FARGATE"],
        "cpu": "256",
        "memory": memory,
        "containerDefinitions": [
            {
                "name": "app",
                "image": "busybox",
                "essential": True,
                "command": [sys.executable, "-u", "-c", script],
                "logConfiguration": {"logDriver": "awslogs", "options": options},
            }
        ],
    }


def _request(family: str, run_id: str, retry: dict[str, Any]) -> dict[str, Any]:
    return {
        "taskDefinition": family,
        "launchType": "FARGATE",
        "networkConfiguration": {
            "awsvpcConfiguration": {"subnets": ["subnet-0123456789abcdef0"], "securityGroups": ["sg-0123456789abcdef0"]}
        },
        "runId": run_id,
        "timeoutSeconds": 120,
        "retry": retry,
    }


def _counting_exit(counter: Path, codes: list[int]) -> str:
    """A program that exits with codes[n] on its n-th run (the counter file survives the attempts)."""
    return (
        "import pathlib, sys\n"
        f"p = pathlib.Path({str(counter)!r})\n"
        "n = int(p.read_text()) if p.exists() else 0\n"
        "p.write_text(str(n + 1))\n"
        f"codes = {codes!r}\n"
        "print('attempt', n + 1, 'exits', codes[min(n, len(codes) - 1)], flush=True)\n"
        "sys.exit(codes[min(n, len(codes) - 1)])\n"
    )


def test_a_retry_rule_on_exit_75_retries_until_success(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    # Given a task that exits 75 twice and then 0, under a rule that retries exit code 75
    definition = _fargate("e2e-exit75", _counting_exit(tmp_path / "count", [75, 75, 0]))
    retry = {"maxAttempts": 3, "intervalSeconds": 1, "backoffRate": 1, "on": [{"exitCodes": [75], "action": "RETRY"}]}
    # When it runs on the local engine
    code, result = _ecsrun(capsys, tmp_path, _request("e2e-exit75", "exit-75", retry), definition)
    # Then it succeeds on attempt 3, each retry saying which rule decided and why
    assert code == 0, result
    assert result["status"] == "SUCCEEDED"
    attempts = result["output"]["attempts"]
    assert [a["attempt"] for a in attempts] == [1, 2, 3]
    assert [a["error"] for a in attempts] == ["ECS.ContainerExitedNonZero", "ECS.ContainerExitedNonZero", None]
    assert attempts[1]["retriedBy"] == "retry.on[0]"
    assert attempts[1]["because"] == "ECS.ContainerExitedNonZero: exit code 75"
    assert attempts[2]["changed"] == {}
    assert (tmp_path / "count").read_text() == "3"


def test_an_exit_rule_fails_at_once(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    # Given a task that exits 2, under a rule that says EXIT for 2 before a catch-all RETRY
    definition = _fargate("e2e-exit2", _counting_exit(tmp_path / "count", [2]))
    rules = [{"exitCodes": [2], "action": "EXIT"}, {"action": "RETRY"}]
    retry = {"maxAttempts": 3, "intervalSeconds": 1, "backoffRate": 1, "on": rules}
    # When it runs
    code, result = _ecsrun(capsys, tmp_path, _request("e2e-exit2", "exit-2", retry), definition)
    # Then it fails on its first attempt: no retry
    assert code == 1
    assert result["error"] == "ECS.ContainerExitedNonZero"
    assert [a["attempt"] for a in result["cause"]["attempts"]] == [1]
    assert (tmp_path / "count").read_text() == "1"


def test_an_out_of_memory_attempt_is_retried_with_doubled_memory(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # Given a Fargate task of 512 MiB whose program holds ~600 MiB, and an escalation doubling memory up to 2 GiB
    script = (
        "import time\nblock = bytearray(600 * 1024 * 1024)\nprint('holding', len(block), flush=True)\ntime.sleep(2)\n"
    )
    definition = _fargate("e2e-oom", script)
    retry = {
        "maxAttempts": 3,
        "intervalSeconds": 1,
        "backoffRate": 1,
        "escalate": {"memoryFactor": 2, "maxMemoryMiB": 2048},
    }
    # When it runs on the local engine
    code, result = _ecsrun(capsys, tmp_path, _request("e2e-oom", "oom", retry), definition)
    # Then attempt 1 was killed as ECS reports an OOM kill, and attempt 2 ran with 1024 MiB and succeeded
    assert code == 0, result
    attempts = result["output"]["attempts"]
    assert [a["attempt"] for a in attempts] == [1, 2]
    assert attempts[0]["error"] == "ECS.ContainerExitedNonZero"
    assert "OutOfMemoryError: Container killed due to memory usage" in attempts[0]["reason"]
    assert attempts[1]["changed"] == {"memory": "512 -> 1024"}
    assert attempts[1]["because"].startswith("OutOfMemoryError: Container killed due to memory usage")
    assert "exit code 137" in attempts[1]["because"]
    assert attempts[1]["retriedBy"] == "retry.escalate"
