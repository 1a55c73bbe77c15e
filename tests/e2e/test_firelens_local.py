"""End to end: a FireLens task definition on the local engine. Its router (Fluent Bit's s3 output, emulated) writes
the app's records to S3; the run's log is assembled from them, readable by run id, with no CloudWatch Logs call."""

from __future__ import annotations

import copy
import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.client import BaseClient
from ecsrun.cli import main

from tests.conftest import EVENTS

DEFINITION = json.loads((EVENTS / "task-definitions" / "firelens-s3.json").read_text())
BUCKET = DEFINITION["containerDefinitions"][1]["logConfiguration"]["options"]["bucket"]
REQUEST = str(EVENTS / "requests" / "firelens-s3.json")


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[Counter[str]]:
    """Every AWS call made in this process (handlers, local agent, router), by service:operation."""
    counted: Counter[str] = Counter()
    real = BaseClient._make_api_call

    def counting(self: Any, operation: str, params: Any) -> Any:
        counted[f"{self.meta.service_model.service_name}:{operation}"] += 1
        return real(self, operation, params)

    monkeypatch.setattr(BaseClient, "_make_api_call", counting)
    yield counted


def _run(capsys: pytest.CaptureFixture[str], definition: str, artifacts: Path) -> tuple[int, dict[str, Any]]:
    code = main(
        [
            "local", "run", REQUEST, "--task-definition", definition,
            "--parameter", f"FirelensLogBuckets={BUCKET}", "--artifacts", str(artifacts), "--output", "json",
        ]
    )  # fmt: skip
    out = capsys.readouterr().out
    return code, json.loads(out)


def _manifest(artifacts: Path) -> dict[str, Any]:
    return dict(json.loads((artifacts / "firelens-demo" / "runs" / "firelens-demo" / "manifest.json").read_text()))


def _app(manifest: dict[str, Any]) -> dict[str, Any]:
    return next(e for e in manifest["logs"]["containers"] if e["name"] == "app")


def _logged(capsys: pytest.CaptureFixture[str], artifacts: Path) -> list[str]:
    capsys.readouterr()
    assert main(["logs", "firelens-demo", "--local", str(artifacts), "--container", "app"]) == 0
    return [line.split(" ", 1)[1] for line in capsys.readouterr().out.splitlines()]


def test_the_firelens_sample_logs_are_read_back_by_run_id_with_no_cloudwatch_logs_call(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, calls: Counter[str]
) -> None:
    # Given the FireLens sample (app -> log_router -> Fluent Bit s3 output), the stack allowed to read its bucket
    # When it runs on the local engine
    code, result = _run(capsys, str(EVENTS / "task-definitions" / "firelens-s3.json"), tmp_path)
    # Then it succeeds
    assert code == 0 and result["status"] == "SUCCEEDED", result
    # And the app's log, read back by run id, is every line it wrote, stdout and stderr
    lines = _logged(capsys, tmp_path)
    assert lines[0] == "hello from ecsrun-firelens-s3"
    assert sorted(lines[1:]) == sorted([*(f"processing item {i}" for i in range(1, 6)), "a warning on stderr", "done"])
    # And the manifest says it came from the router's files, complete
    entry = _app(_manifest(tmp_path))
    assert entry["source"] == "firelens-s3" and entry["complete"] is True and entry["reason"] is None
    assert entry["sourceBucket"] == BUCKET and entry["sourceObjects"] >= 1
    # And not one CloudWatch Logs call was made, by anyone (the router itself has no awslogs configuration), but
    # the local stack's own set-up: the demo log group every shipped awslogs task definition writes to
    assert [call for call in calls if call.startswith("logs:")] in ([], ["logs:CreateLogGroup"]), calls
    assert calls["logs:CreateLogGroup"] <= 1
    # While the router did write to S3 and the copy did read it there
    assert calls["s3:PutObject"] >= 1 and calls["s3:ListObjectsV2"] >= 1 and calls["s3:ListMultipartUploads"] >= 1


def test_a_router_killed_before_its_last_flush_leaves_the_log_incomplete(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # Given the sample with a router that ignores SIGTERM (so ECS kills it when its 1-second stopTimeout ends)
    # and uploads whatever it has buffered for 3 seconds
    definition = copy.deepcopy(DEFINITION)
    router, app = definition["containerDefinitions"]
    ignores_sigterm = ["trap '' TERM; while :; do sleep 1; done"]
    router.update({"stopTimeout": 1, "entryPoint": ["sh", "-c"], "command": ignores_sigterm})
    app["logConfiguration"]["options"]["upload_timeout"] = "3s"
    app["command"] = [
        "python3", "-u", "-c",
        "import time\nfor i in range(8):\n    print(f'line {i}', flush=True)\n    time.sleep(0.5)\n"
        "print('last line')\n",
    ]  # fmt: skip
    path = tmp_path / "killed.json"
    path.write_text(json.dumps(definition))
    # When it runs on the local engine
    _run(capsys, str(path), tmp_path / "artifacts")
    # Then the manifest says the app's log is not complete, and why
    entry = _app(_manifest(tmp_path / "artifacts"))
    assert entry["source"] == "firelens-s3"
    assert entry["complete"] is False
    assert "log_router exited 137" in entry["reason"]
    # And the log holds what the router uploaded before it was killed, not what it still had buffered
    lines = _logged(capsys, tmp_path / "artifacts")
    assert lines[:2] == ["line 0", "line 1"]
    assert "last line" not in lines
