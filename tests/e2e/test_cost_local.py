"""End to end on the local engine: a Fargate run's cost receipt, and a cost cap that stops the task."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest
from ecsrun.cli import main

from tests.conftest import EVENTS


def _ecsrun(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, Any]:
    code = main(["local", "run", *args, "--output", "json"])
    out = capsys.readouterr().out
    return code, json.loads(out) if out.strip() else None


def _request(tmp_path: Path, name: str, **changes: Any) -> str:
    path = tmp_path / f"{name}-request.json"
    path.write_text(json.dumps(json.loads((EVENTS / "requests" / f"{name}.json").read_text()) | changes))
    return str(path)


def _td(name: str) -> list[str]:
    return ["--task-definition", str(EVENTS / "task-definitions" / f"{name}.json")]


def test_a_fargate_run_carries_its_cost(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    # Given the demo's Fargate request (0.25 vCPU, 0.5 GB, us-east-1)
    # When it runs on the local engine
    code, result = _ecsrun(capsys, _request(tmp_path, "hello"), *_td("hello"), "--artifacts", str(tmp_path))
    # Then its output carries a cost receipt priced from the shipped table: one minute billed at least
    assert code == 0, result
    cost = result["output"]["cost"]
    assert cost["usd"] > 0 and cost["currency"] == "USD" and cost["estimate"] is False
    assert cost["basis"]["billedSeconds"] == 60
    assert (cost["basis"]["vcpuSeconds"], cost["basis"]["gbSeconds"]) == (15, 30)
    assert (cost["basis"]["region"], cost["basis"]["architecture"]) == ("us-east-1", "X86_64")
    assert cost["usd"] == pytest.approx(60 * (0.25 * 0.04048 + 0.5 * 0.004445) / 3600, rel=1e-3)
    assert "https://aws.amazon.com/fargate/pricing/" in cost["prices"]
    # And the manifest carries it too
    manifest = json.loads((tmp_path / "hello-demo/runs/hello-demo/manifest.json").read_text())
    assert manifest["cost"] == cost


def test_a_tiny_cost_cap_stops_the_task(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    # Given a task that would sleep 120 s, a long timeout and a cap below the one-minute minimum's cost
    request = _request(tmp_path, "timeout", timeoutSeconds=300, maxCostUsd=0.0001)
    # When it runs
    code, result = _ecsrun(capsys, request, *_td("slow"), "--artifacts", str(tmp_path))
    # Then the run ends Run.CostLimitReached, the task stopped by ecsrun, with its receipt
    assert code == 1, result
    assert result["error"] == "Run.CostLimitReached"
    cause = result["cause"]
    assert "maxCostUsd=0.0001" in cause["message"]
    assert cause["task"]["stopCode"] == "UserInitiated"
    assert cause["retryable"] is False
    assert cause["cost"]["usd"] > 0
    # And its logs so far were still copied
    log = gzip.decompress((tmp_path / "timeout-demo/runs/timeout-demo/logs/app.log.gz").read_bytes()).decode()
    assert "starting" in log and "finished" not in log


def test_a_cap_that_does_not_bind_leaves_the_timeout(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    # Given a 2 s timeout and a cap far above what 2 s cost
    request = _request(tmp_path, "timeout", maxCostUsd=100)
    # When it runs
    code, result = _ecsrun(capsys, request, *_td("slow"))
    # Then the timeout binds: Run.TimedOut
    assert code == 1 and result["error"] == "Run.TimedOut", result
