"""End to end: `ecsrun local run` drives the real ASL with the real handlers; containers are host processes."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from ecsrun.cli import main
from ecsrun.local.engine import run_local
from ecsrun.local.runtime import BUS, LocalAws

from tests.conftest import EVENTS, ROOT, listen_for_completions


def _ecsrun(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, Any]:
    """Run the CLI in-process with --output json; (exit status, parsed stdout)."""
    code = main(["local", "run", *args, "--output", "json"])
    out = capsys.readouterr().out
    return code, json.loads(out) if out.strip() else None


def _files(name: str) -> list[str]:
    return [str(EVENTS / "requests" / f"{name}.json")]


def _td(name: str) -> list[str]:
    return ["--task-definition", str(EVENTS / "task-definitions" / f"{name}.json")]


def _write(tmp_path: Path, name: str, document: Any) -> str:
    path = tmp_path / name
    path.write_text(json.dumps(document))
    return str(path)


def _definition(family: str, containers: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {
        "family": family,
        "networkMode": "bridge",
        "requiresCompatibilities": ["EC2"],
        "containerDefinitions": containers,
        **extra,
    }


def _container(name: str, command: list[str], *, essential: bool = True, create_group: bool = True) -> dict[str, Any]:
    options = {"awslogs-group": "/ecs/e2e", "awslogs-region": "us-east-1", "awslogs-stream-prefix": "ecs"}
    if create_group:
        options["awslogs-create-group"] = "true"
    return {
        "name": name,
        "image": "busybox",
        "essential": essential,
        "memory": 64,
        "command": command,
        "logConfiguration": {"logDriver": "awslogs", "options": options},
    }


def test_success_reports_the_task_and_its_logs(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    # Given the demo request and task definition, When run locally with artifacts
    code, result = _ecsrun(capsys, *_files("hello"), *_td("hello"), "--artifacts", str(tmp_path))
    # Then it succeeds with the contract's output
    assert code == 0
    assert result["status"] == "SUCCEEDED"
    output = result["output"]
    assert output["runId"] == "hello-demo"
    assert output["status"] == "SUCCEEDED"
    task = output["task"]
    assert set(task) == {
        "taskArn", "clusterArn", "taskDefinitionArn", "launchType", "stopCode", "stoppedReason",
        "startedAt", "stoppedAt", "containers",
    }  # fmt: skip
    assert task["launchType"] == "FARGATE"
    assert task["stopCode"] == "EssentialContainerExited"
    assert task["containers"] == [{"name": "app", "essential": True, "exitCode": 0, "reason": None}]
    logs = output["logs"]
    assert logs["manifestKey"] == "runs/hello-demo/manifest.json"
    entry = logs["containers"][0]
    assert entry["key"] == "runs/hello-demo/logs/app.log.gz"
    assert entry["events"] == 7
    assert entry["logStream"] == f"ecs/app/{task['taskArn'].rsplit('/', 1)[-1]}"
    # And the artifacts directory holds every object the run wrote, readable as the manifest says
    folder = tmp_path / "hello-demo"  # the run's own folder
    lines = gzip.decompress((folder / entry["key"]).read_bytes()).decode().splitlines()
    assert [line.split(" ", 1)[1] for line in lines] == [
        "hello from ecsrun-hello",
        *[f"processing item {i}" for i in range(1, 6)],
        "done",
    ]
    manifest = json.loads((folder / logs["manifestKey"]).read_text())
    assert manifest["logs"]["containers"][0]["events"] == 7
    assert manifest["task"]["taskArn"] == task["taskArn"]


def test_essential_non_zero_exit_fails_with_the_last_lines(capsys: pytest.CaptureFixture[str]) -> None:
    code, result = _ecsrun(capsys, *_files("failing"), *_td("failing"))
    assert code == 1
    assert result["status"] == "FAILED"
    assert result["error"] == "ECS.ContainerExitedNonZero"
    cause = result["cause"]  # --output json parses a JSON cause
    assert cause["message"] == "essential container 'app' exited with code 3"
    assert cause["task"]["containers"][0]["exitCode"] == 3
    assert cause["lastLogLines"]["container"] == "app"
    # stdout and stderr are separate pipes (on ECS too), so only membership is certain, not their interleaving
    assert any(line.endswith("error: could not open input") for line in cause["lastLogLines"]["lines"])
    assert cause["logs"]["containers"][0]["key"] == "runs/failing-demo/logs/app.log.gz"


def test_a_sidecar_exiting_non_zero_does_not_fail_the_run(capsys: pytest.CaptureFixture[str]) -> None:
    code, result = _ecsrun(capsys, *_files("sidecar"), *_td("sidecar"))
    assert code == 0
    containers = {c["name"]: c for c in result["output"]["task"]["containers"]}
    assert containers["log-router"] == {"name": "log-router", "essential": False, "exitCode": 137, "reason": None}
    assert containers["app"]["exitCode"] == 0


def test_two_containers_both_have_their_logs(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, result = _ecsrun(capsys, *_files("two-containers"), *_td("two-containers"), "--artifacts", str(tmp_path))
    assert code == 0
    by_name = {c["name"]: c for c in result["output"]["logs"]["containers"]}
    assert (by_name["app"]["events"], by_name["worker"]["events"]) == (5, 3)
    folder = tmp_path / "two-containers-demo"
    worker = gzip.decompress((folder / by_name["worker"]["key"]).read_bytes()).decode().splitlines()
    assert [line.split(" ", 1)[1] for line in worker] == ["worker line 1", "worker line 2", "worker line 3"]


def test_timeout_stops_the_task_and_still_copies_its_logs(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    # Given a task that would sleep 120 s and a 2 s timeout
    code, result = _ecsrun(capsys, *_files("timeout"), *_td("slow"), "--artifacts", str(tmp_path))
    # Then the run fails with Run.TimedOut, the task was stopped by ecsrun, and its output so far was kept
    assert code == 1
    assert result["error"] == "Run.TimedOut"
    cause = result["cause"]  # --output json parses a JSON cause
    assert cause["task"]["stopCode"] == "UserInitiated"
    assert cause["task"]["stoppedReason"] == "ecsrun: run timeout-demo exceeded timeoutSeconds=2"
    assert cause["task"]["containers"][0]["exitCode"] == 143  # SIGTERM
    log = gzip.decompress((tmp_path / "timeout-demo/runs/timeout-demo/logs/app.log.gz").read_bytes()).decode()
    assert "starting" in log
    assert "finished" not in log


def test_a_command_that_cannot_start_is_a_failed_start(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    definition = _definition("e2e-missing-binary", [_container("app", ["/nonexistent/bin/job"])])
    request = {"taskDefinition": "e2e-missing-binary", "launchType": "EC2", "runId": "no-binary"}
    code, result = _ecsrun(
        capsys, _write(tmp_path, "r.json", request), "--task-definition", _write(tmp_path, "td.json", definition)
    )
    assert code == 1
    assert result["error"] == "ECS.TaskFailedToStart"
    cause = result["cause"]  # --output json parses a JSON cause
    assert "CannotStartContainerError" in cause["message"]
    assert cause["task"]["stopCode"] == "TaskFailedToStart"
    assert cause["task"]["containers"][0]["exitCode"] is None


def test_a_missing_log_group_fails_the_start_as_on_ecs(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    # Given a container logging to a group that does not exist, on a stack without the preflight
    definition = _definition("e2e-no-group", [_container("app", ["sh", "-c", "echo hi"], create_group=False)])
    request = {"taskDefinition": "e2e-no-group", "launchType": "EC2", "runId": "no-group"}
    code, result = _ecsrun(
        capsys,
        _write(tmp_path, "r.json", request),
        "--task-definition",
        _write(tmp_path, "td.json", definition),
        "--parameter",
        "Preflight=disabled",
    )
    # Then the task fails to start, as ECS stops it
    assert code == 1
    assert result["error"] == "ECS.TaskFailedToStart"
    assert "ResourceInitializationError" in result["cause"]["message"]


def test_the_preflight_predicts_a_missing_log_group(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    # Given the same request on a stack with the preflight (the default)
    definition = _definition("e2e-no-group", [_container("app", ["sh", "-c", "echo hi"], create_group=False)])
    request = {"taskDefinition": "e2e-no-group", "launchType": "EC2", "runId": "no-group"}
    code, result = _ecsrun(
        capsys, _write(tmp_path, "r.json", request), "--task-definition", _write(tmp_path, "td.json", definition)
    )
    # Then it ends RunRequest.WillNotStart, predicting ResourceInitializationError, and exits 1 (a failed run)
    assert code == 1
    assert result["error"] == "RunRequest.WillNotStart"
    [problem] = result["cause"]["problems"]
    assert problem["predicts"] == "ResourceInitializationError"
    assert "/ecs/e2e" in problem["message"]


def test_an_invalid_request_starts_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    # Given a request with several problems, When run on a local stack
    request = json.loads((EVENTS / "requests" / "invalid.json").read_text())
    with LocalAws() as aws:
        result = run_local(request, [], aws=aws)
        tasks = aws.client("ecs").list_tasks(cluster="default")["taskArns"]
        records = aws.client("dynamodb").scan(TableName="ecsrun-local-runs")["Items"]
    # Then it fails with RunRequest.Invalid naming each problem, and no task or record exists
    assert result.status == "FAILED"
    assert result.error == "RunRequest.Invalid"
    fields = {p["field"] for p in json.loads(result.cause or "{}")["problems"]}
    assert {"taskDefinitionn", "count", "runId", "timeoutSeconds", "capacityProviderStrategy"} <= fields
    assert tasks == []
    assert records == []
    assert [s.name for s in result.states] == ["ValidateRequest", "IsRequestValid", "RunRequestInvalid"]


def test_invalid_request_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, result = _ecsrun(capsys, *_files("invalid"))
    assert code == 2
    # The document every command shares (cli/document.py), the cause parsed
    assert set(result) == {"runId", "executionArn", "status", "error", "message", "output", "cause"}
    assert (result["status"], result["error"], result["output"]) == ("FAILED", "RunRequest.Invalid", None)
    assert result["message"] == result["cause"]["message"]
    assert result["message"].startswith("the run request has ")


def test_a_second_run_with_the_same_run_id_is_a_duplicate() -> None:
    # Given a run that finished on a stack
    request = json.loads((EVENTS / "requests" / "hello.json").read_text())
    definition = json.loads((EVENTS / "task-definitions" / "hello.json").read_text())
    with LocalAws() as aws:
        first = run_local(request, [definition], aws=aws)
        # When another execution asks for the same runId
        second = run_local(request, [], aws=aws)
        tasks = aws.client("ecs").list_tasks(cluster="default", desiredStatus="STOPPED")["taskArns"]
    # Then it fails with Run.Duplicate naming the first execution, and only one task ever ran
    assert first.status == "SUCCEEDED"
    assert second.error == "Run.Duplicate"
    assert first.execution_arn in json.loads(second.cause or "{}")["message"]
    assert len(tasks) == 1


@pytest.mark.parametrize(
    ("request_file", "definition", "launch_type"),
    [("ec2", "hello", "EC2"), ("external", "external", "EXTERNAL"), ("capacity-provider", "hello", "FARGATE")],
)
def test_every_launch_style_runs_locally(
    capsys: pytest.CaptureFixture[str], request_file: str, definition: str, launch_type: str
) -> None:
    code, result = _ecsrun(capsys, *_files(request_file), *_td(definition))
    assert code == 0, result
    assert result["output"]["task"]["launchType"] == launch_type


def test_overrides_replace_the_command_and_add_environment(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _result = _ecsrun(capsys, *_files("fargate"), *_td("hello"), "--artifacts", str(tmp_path))
    assert code == 0
    log = gzip.decompress((tmp_path / "fargate-example/runs/fargate-example/logs/app.log.gz").read_bytes()).decode()
    assert "stage: dev" in log
    assert "processing item" not in log


def test_success_exit_codes_are_honoured(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    request = json.loads((EVENTS / "requests" / "failing.json").read_text()) | {"successExitCodes": [0, 3]}
    code, result = _ecsrun(capsys, _write(tmp_path, "r.json", request), *_td("failing"))
    assert code == 0
    assert result["output"]["task"]["containers"][0]["exitCode"] == 3


def test_text_output_shows_states_and_log_lines_read_back(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["local", "run", *_files("hello"), *_td("hello")])
    out = capsys.readouterr().out
    assert code == 0
    for state in ("ValidateRequest", "StartTaskAndWait", "CopyLogs"):
        assert state in out
    # The live lines name what the run does and how it ended, never a choice's name
    assert "RunSucceeded?" not in out and "  SUCCEEDED\n" in out
    assert "SUCCEEDED  run hello-demo" in out
    assert "first:" in out and "hello from ecsrun-hello" in out
    assert "last:" in out and out.rstrip().endswith("done")


@pytest.mark.parametrize(
    "args",
    [
        ["local", "run", "/no/such/request.json"],
        ["local", "run", str(ROOT / "README.md")],
        ["local", "run", str(EVENTS / "requests" / "hello.json"), "--task-definition", "/no/such/td.json"],
        [
            "local",
            "run",
            str(EVENTS / "requests" / "hello.json"),
            "--task-definition",
            str(EVENTS / "requests" / "hello.json"),
        ],
    ],
)
def test_unreadable_input_is_a_usage_error(capsys: pytest.CaptureFixture[str], args: list[str]) -> None:
    assert main(args) == 2
    assert capsys.readouterr().err.startswith("ecsrun: ")


def test_unknown_flags_are_a_usage_error() -> None:
    with pytest.raises(SystemExit) as exited:
        main(["local", "run", "x.json", "--bogus"])
    assert exited.value.code == 2


def test_the_installed_command_is_the_demo_entry_point(tmp_path: Path) -> None:
    # The `ecsrun` script that `make demo` runs, as a separate process
    script = Path(sys.executable).parent / "ecsrun"
    done = subprocess.run(
        [str(script), "local", "run", *_files("hello"), *_td("hello"), "--output", "json"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["status"] == "SUCCEEDED"


def test_a_task_definition_ecs_would_reject_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # Given a container with neither memory nor memoryReservation (RegisterTaskDefinition refuses it)
    container = _container("app", ["sh", "-c", "echo hi"])
    del container["memory"]
    definition = _write(tmp_path, "td.json", _definition("e2e-bad", [container]))
    request = _write(tmp_path, "r.json", {"taskDefinition": "e2e-bad", "launchType": "EC2"})
    # When run, Then the command exits 2 with one line in ecsrun's words, the one `validate` gives
    assert main(["local", "run", request, "--task-definition", definition]) == 2
    err = capsys.readouterr().err
    assert err == (
        f"ecsrun: task definition {definition}: containerDefinitions[0].memory: container app: give memory or "
        "memoryReservation (or memory at the task level)\n"
    )
    assert main(["validate", request, "--task-definition", definition]) == 2
    assert capsys.readouterr().err == err


def test_describe_task_definition_output_is_accepted_and_unlogged_containers_are_noted(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # Given a DescribeTaskDefinition response whose sidecar has no log configuration
    quiet = {"name": "quiet", "image": "busybox", "essential": False, "memory": 64, "command": ["sh", "-c", "echo x"]}
    described = {
        "taskDefinition": {
            **_definition("e2e-described", [_container("app", ["sh", "-c", "echo hello"]), quiet]),
            "taskDefinitionArn": "arn:aws:ecs:us-east-1:123456789012:task-definition/e2e-described:7",
            "revision": 7,
            "status": "ACTIVE",
            "compatibilities": ["EC2"],
        }
    }
    request = {"taskDefinition": "e2e-described", "launchType": "EC2", "runId": "described"}
    # When run
    code, result = _ecsrun(
        capsys, _write(tmp_path, "r.json", request), "--task-definition", _write(tmp_path, "td.json", described)
    )
    # Then it succeeds, and the container without awslogs is recorded as having no logs
    assert code == 0
    by_name = {c["name"]: c for c in result["output"]["logs"]["containers"]}
    assert by_name["app"]["events"] == 1
    assert by_name["quiet"]["key"] is None
    assert by_name["quiet"]["note"] == "no log configuration"


@pytest.mark.parametrize("name", ["hello", "failing"])
def test_environment_override_values_stay_out_of_the_output_cause_and_manifest(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, name: str
) -> None:
    # Given a run (one that succeeds, one that fails) with a secret in its environment overrides
    secret = "s3cr3t-" + name
    request = json.loads((EVENTS / "requests" / f"{name}.json").read_text())
    request["overrides"] = {
        "containerOverrides": [{"name": "app", "environment": [{"name": "TOKEN", "value": secret}]}]
    }
    code, result = _ecsrun(capsys, _write(tmp_path, "request.json", request), *_td(name), "--artifacts", str(tmp_path))
    # Then the run ends as usual, and neither its output, its cause nor its manifest holds the value
    assert code == (0 if name == "hello" else 1)
    assert secret not in json.dumps(result)
    manifests = list(tmp_path.glob("*/runs/*/manifest.json"))
    assert manifests and all(secret not in path.read_text() for path in manifests)


def test_a_local_run_puts_its_completion_event_on_the_bus() -> None:
    with LocalAws() as aws:
        # Given a queue listening for completion events on the stack's bus
        completions = listen_for_completions(aws.client, BUS)
        # When the hello run goes through the real state machine
        request = json.loads((EVENTS / "requests" / "hello.json").read_text())
        result = run_local(request, [json.loads((EVENTS / "task-definitions" / "hello.json").read_text())], aws=aws)
        # Then exactly one ecsrun.RunSucceeded names the run and its task
        events = completions()
    assert result.status == "SUCCEEDED"
    [event] = events
    assert event["detail-type"] == "ecsrun.RunSucceeded"
    assert event["detail"]["runId"] == "hello-demo" and event["detail"]["taskArn"] == result.output["task"]["taskArn"]


def test_a_task_that_echoes_its_environment_leaves_no_secret_in_the_cause_or_manifest(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # Given a failing task that prints its configuration as `set -x` does, an override value among it
    secret = "pa55-w0rd-echoed"
    script = 'set -x; echo "connecting with $DB_PASSWORD"; echo "password=$DB_PASSWORD" >&2; exit 3'
    definition = _definition("e2e-echo", [_container("app", ["sh", "-c", script])])
    request = {
        "taskDefinition": "e2e-echo",
        "launchType": "EC2",
        "runId": "echo-secret",
        "overrides": {
            "containerOverrides": [{"name": "app", "environment": [{"name": "DB_PASSWORD", "value": secret}]}]
        },
    }
    # When it runs locally
    code, result = _ecsrun(
        capsys,
        _write(tmp_path, "r.json", request),
        "--task-definition",
        _write(tmp_path, "td.json", definition),
        "--artifacts",
        str(tmp_path / "out"),
    )
    # Then it fails with its last log lines in the cause, the value masked there and in the manifest
    assert (code, result["error"]) == (1, "ECS.ContainerExitedNonZero")
    lines = result["cause"]["lastLogLines"]["lines"]
    assert any("connecting with ***" in line for line in lines), lines
    assert secret not in json.dumps(result)
    manifest = (tmp_path / "out" / "echo-secret" / "runs" / "echo-secret" / "manifest.json").read_text()
    assert "***" in manifest and secret not in manifest


def test_artifacts_are_written_only_inside_the_directory(tmp_path: Path) -> None:
    from ecsrun.local.engine import LocalResult, write_artifacts

    # Given a run's objects, some with keys that would climb out of the artifacts directory
    directory = tmp_path / "artifacts" / "here"
    (tmp_path / "artifacts" / "elsewhere").mkdir(parents=True)
    directory.mkdir()
    (directory / "runs").symlink_to(tmp_path / "artifacts" / "elsewhere")  # a link that leads out
    objects = {
        "runs/../../x": b"escaped",
        "runs/../../../../../tmp-escape": b"escaped",
        "runs/../../../artifacts/elsewhere/y": b"escaped",
        "runs/ok/manifest.json": b"{}",
        "/abs-key": b"kept",
        "fine/run/log.gz": b"kept",
    }
    refused: list[str] = []
    # When they are written as `--artifacts` writes them
    write_artifacts(LocalResult(execution_arn="", status="", objects=objects), directory, on_refused=refused.append)
    # Then nothing lands outside the directory (nor through the link),
    # and each refusal is reported (the CLI says it on stderr)
    outside = [p for p in tmp_path.rglob("*") if p.is_file() and not p.resolve().is_relative_to(directory.resolve())]
    assert outside == []
    assert (directory / "abs-key").read_bytes() == b"kept"
    assert (directory / "fine" / "run" / "log.gz").read_bytes() == b"kept"
    assert "runs/../../x" in refused and "runs/ok/manifest.json" in refused
