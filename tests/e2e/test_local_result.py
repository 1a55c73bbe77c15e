"""End to end: a task hands back a result by printing `::ecsrun-result::{...}`, on the local engine (the real ASL,
handlers and log read-back; containers are host processes)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from ecsrun.cli import main
from ecsrun.local.engine import run_local
from ecsrun.local.runtime import BUS, LocalAws

from tests.conftest import listen_for_completions


def _definition(family: str, script: str, *, sidecar: str | None = None) -> dict[str, Any]:
    options = {
        "awslogs-group": "/ecs/e2e",
        "awslogs-region": "us-east-1",
        "awslogs-stream-prefix": "ecs",
        "awslogs-create-group": "true",
    }

    def container(name: str, command: str, essential: bool) -> dict[str, Any]:
        return {
            "name": name,
            "image": "busybox",
            "essential": essential,
            "memory": 64,
            "command": ["sh", "-c", command],
            "logConfiguration": {"logDriver": "awslogs", "options": options},
        }

    containers = [container("app", script, True)]
    if sidecar is not None:
        containers.append(container("sidecar", sidecar, False))
    return {
        "family": family,
        "networkMode": "bridge",
        "requiresCompatibilities": ["EC2"],
        "containerDefinitions": containers,
    }


def _run(definition: dict[str, Any], run_id: str, **request: Any) -> tuple[Any, list[dict[str, Any]]]:
    with LocalAws() as aws:
        completions = listen_for_completions(aws.client, BUS)
        body = {"taskDefinition": definition["family"], "launchType": "EC2", "runId": run_id, **request}
        result = run_local(body, [definition], aws=aws)
        return result, completions()


def test_a_printed_result_is_in_the_output_and_the_completion_event() -> None:
    # Given a task that prints an earlier result line, then the one that counts, and exits 0
    script = "echo working; echo '::ecsrun-result::{\"rows\": 1}'; echo '::ecsrun-result::{\"rows\": 42}'; echo done"
    # When it runs on the local engine
    result, events = _run(_definition("e2e-result", script), "result-rows")
    # Then the last result line is the run's result, in its output and in its completion event
    assert result.status == "SUCCEEDED"
    assert result.output["result"] == {"rows": 42}
    assert "resultError" not in result.output
    [event] = events
    assert event["detail-type"] == "ecsrun.RunSucceeded"
    assert event["detail"]["result"] == {"rows": 42}
    # And the manifest holds it too, without the raw line in its container entries
    manifest = json.loads(result.objects["runs/result-rows/manifest.json"])
    assert manifest["result"] == {"rows": 42}
    assert all("resultLine" not in entry for entry in manifest["logs"]["containers"])


def test_a_malformed_result_leaves_the_verdict_and_says_why() -> None:
    # Given a task that prints a result line that is not a JSON object, and succeeds
    script = "echo '::ecsrun-result::[1, 2]'"
    # When it runs
    result, events = _run(_definition("e2e-result-bad", script), "result-bad")
    # Then the run still succeeds, with no result and the reason in resultError (output and event alike)
    assert result.status == "SUCCEEDED"
    assert "result" not in result.output
    assert result.output["resultError"] == "the result is an array, not a JSON object"
    assert events[0]["detail"]["resultError"] == result.output["resultError"]


def test_a_failed_run_keeps_its_result_and_a_sidecar_line_is_not_the_result() -> None:
    # Given an essential container that hands back a result then exits 3, and a sidecar printing a later line
    script = "echo '::ecsrun-result::{\"partial\": true}'; sleep 0.2; exit 3"
    sidecar = "sleep 0.5; echo '::ecsrun-result::{\"sidecar\": true}'"
    # When it runs
    result, events = _run(_definition("e2e-result-fail", script, sidecar=sidecar), "result-fail")
    # Then the verdict is the exit code's, and the essential container's result rides in the cause and the event
    assert (result.status, result.error) == ("FAILED", "ECS.ContainerExitedNonZero")
    assert json.loads(result.cause)["result"] == {"partial": True}
    assert events[0]["detail"]["result"] == {"partial": True}


def test_a_result_holding_an_override_value_is_scrubbed() -> None:
    # Given a task that puts an environment override's value into its result
    secret = "t0ken-in-result"
    script = 'echo "::ecsrun-result::{\\"token\\": \\"$TOKEN\\"}"'
    overrides = {"containerOverrides": [{"name": "app", "environment": [{"name": "TOKEN", "value": secret}]}]}
    # When it runs
    result, events = _run(_definition("e2e-result-secret", script), "result-secret", overrides=overrides)
    # Then the result is there, the value masked as in every other output
    assert result.output["result"] == {"token": "***"}
    assert secret not in json.dumps(events)


def test_local_run_json_and_text_show_the_result(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    # Given a request and task definition whose task prints a result
    definition = _definition("e2e-result-cli", "echo '::ecsrun-result::{\"rows\": 42}'")
    td = tmp_path / "td.json"
    td.write_text(json.dumps(definition))
    request = tmp_path / "r.json"
    request.write_text(json.dumps({"taskDefinition": "e2e-result-cli", "launchType": "EC2", "runId": "result-cli"}))
    # When `ecsrun local run --output json` runs it
    code = main(["local", "run", str(request), "--task-definition", str(td), "--output", "json"])
    document = json.loads(capsys.readouterr().out)
    # Then the document has the result at its top level and in its output
    assert code == 0
    assert document["result"] == {"rows": 42} and document["output"]["result"] == {"rows": 42}
    # And the text output prints it
    request.write_text(json.dumps({"taskDefinition": "e2e-result-cli", "launchType": "EC2", "runId": "result-cli-2"}))
    assert main(["local", "run", str(request), "--task-definition", str(td)]) == 0
    assert 'result {"rows": 42}' in capsys.readouterr().out
