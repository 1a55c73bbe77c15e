"""`ecsrun local serve` with real clients, and `ecsrun smoke` against it: the smoke test a user runs against a
deployed stack runs here against the local stack, driven by the real AWS CLI (awscli v1, the dev extras)."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

ROOT = Path(__file__).resolve().parents[2]
ECSRUN = str(Path(sys.executable).parent / "ecsrun")
ROLE = "arn:aws:iam::123456789012:role/ecsTaskExecutionRole"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}


class Served:
    def __init__(self, process: subprocess.Popen[str], endpoint: str, stacks: dict[str, object]):
        self.process, self.endpoint, self.stacks = process, endpoint, stacks

    def env(self) -> dict[str, str]:
        return {**os.environ, **CREDENTIALS, "AWS_ENDPOINT_URL": self.endpoint}


def _serve(*args: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    return subprocess.Popen(
        [ECSRUN, "local", "serve", *args], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    # Given `ecsrun local serve` on any free port, in its own process
    process = _serve("--port", "0", "--task-definition", "events/task-definitions/hello.json")
    assert process.stderr is not None and process.stdout is not None
    first = process.stderr.readline()  # "ecsrun local serve: http://127.0.0.1:PORT (Ctrl-C stops it)"
    match = re.search(r"http://127\.0\.0\.1:\d+", first)
    assert match, first + process.stderr.read()
    process.stderr.readline()  # the export line
    document = ""
    while not document.rstrip().endswith("}") or document.count("{") != document.count("}"):
        document += process.stdout.readline()
    yield Served(process, match.group(0), json.loads(document))
    if process.poll() is None:
        process.kill()
        process.wait(timeout=30)


def test_it_prints_the_stack_as_describe_stacks_shows_it(served: Served) -> None:
    [stack] = served.stacks["Stacks"]  # type: ignore[index]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    assert stack["StackName"] == "ecsrun-local"
    assert outputs == {
        "StateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:ecsrun-local",
        "LogsBucketName": "ecsrun-local-logs",
        "RunsTableName": "ecsrun-local-runs",
        "EventBusName": "ecsrun-local-runs",
    }
    # And the endpoint answers DescribeStacks with the same outputs (what `ecsrun start --stack-name` reads)
    cloudformation = boto3.client("cloudformation", endpoint_url=served.endpoint, **_keys())
    described = cloudformation.describe_stacks(StackName="ecsrun-local")["Stacks"][0]["Outputs"]
    assert {o["OutputKey"]: o["OutputValue"] for o in described} == outputs


def test_the_smoke_test_passes_against_the_local_stack_through_the_aws_cli(served: Served) -> None:
    # When the smoke test runs against the served stack, as it would against a deployed one
    done = subprocess.run(
        [
            ECSRUN,
            "smoke",
            "--stack-name",
            "ecsrun-local",
            "--endpoint-url",
            served.endpoint,
            "--execution-role-arn",
            ROLE,
            "--timeout-seconds",
            "3",
            "--wait-seconds",
            "180",
        ],
        env=served.env(),
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    # Then every scenario passes, each said on its own line, and it exits 0
    report = done.stdout
    assert done.returncode == 0, report + done.stderr
    for scenario in ("success", "non-zero exit", "timeout", "invalid request", "put-events trigger", "log retrieval"):
        assert re.search(rf"^  PASS  {scenario}\s", report, re.MULTILINE), report
    assert report.rstrip().endswith("6 passed, 0 failed")
    # And it cleaned up its task definition
    ecs = boto3.client("ecs", endpoint_url=served.endpoint, **_keys())
    assert ecs.list_task_definitions(familyPrefix="ecsrun-smoke", status="ACTIVE")["taskDefinitionArns"] == []


def test_ecsrun_start_finds_the_served_stack_by_name_and_runs_to_the_end(served: Served) -> None:
    # Given the CLI pointed at the endpoint with AWS_ENDPOINT_URL, as at an account
    request = ROOT / "events" / "requests" / "hello.json"
    done = subprocess.run(
        [ECSRUN, "start", str(request), "--stack-name", "ecsrun-local", "--wait", "--poll-seconds", "1"],
        env=served.env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    # Then it reads the stack's outputs, starts the run and follows it to its success (exit 0)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCEEDED" in done.stdout


def test_a_port_in_use_is_one_line_and_exit_2() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        process = _serve("--port", str(port))
        _, err = process.communicate(timeout=300)
    assert process.returncode == 2
    assert err.strip().splitlines() == [
        f"ecsrun: port {port} on 127.0.0.1 is in use (Address already in use); give another with --port"
    ]


def test_ctrl_c_stops_it_with_130_one_line_and_no_traceback(served: Served) -> None:
    # Runs last in this module: it stops the shared server
    served.process.send_signal(signal.SIGINT)
    started = time.monotonic()
    code = served.process.wait(timeout=120)
    rest = served.process.stderr.read() if served.process.stderr else ""
    assert code == 130
    assert rest.strip().splitlines() == ["ecsrun local serve: stopped"]
    assert "Traceback" not in rest
    assert time.monotonic() - started < 120


def _keys() -> dict[str, str]:
    return {
        "aws_access_key_id": "testing",
        "aws_secret_access_key": "testing",
        "region_name": "us-east-1",
    }
