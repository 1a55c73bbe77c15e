"""`ecsrun start | status | list` against a deployed stack: here the local engine's moto stack, whose
resources a CloudFormation stack's outputs name, as `sam deploy` leaves them."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from ecsrun.cli import main
from ecsrun.local.runtime import BUCKET, BUS, TABLE, LocalAws

from tests.conftest import EVENTS

STACK = "ecsrun-test"


class DeployedStacks:
    """DescribeStacks as CloudFormation answers it (moto's CloudFormation needs packages this project does not
    install): the stack with its outputs, or ValidationError for a stack that does not exist."""

    def __init__(self, outputs: dict[str, dict[str, str]]):
        self._outputs = outputs

    def describe_stacks(self, *, StackName: str) -> dict[str, Any]:
        if StackName not in self._outputs:
            error = {"Code": "ValidationError", "Message": f"Stack with id {StackName} does not exist"}
            raise ClientError({"Error": error}, "DescribeStacks")
        outputs = [{"OutputKey": k, "OutputValue": v} for k, v in self._outputs[StackName].items()]
        stack = {"StackName": StackName, "CreationTime": "2026-11-21T10:00:00Z", "StackStatus": "CREATE_COMPLETE"}
        return {"Stacks": [stack | {"Outputs": outputs}]}


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalAws]:
    with LocalAws() as local:
        outputs = {
            "StateMachineArn": local.state_machine_arn,
            "RunsTableName": TABLE,
            "LogsBucketName": BUCKET,
            "EventBusName": BUS,
        }
        stacks = DeployedStacks({STACK: outputs})
        real = boto3.client

        def client(*args: Any, **kwargs: Any) -> Any:
            service = args[0] if args else kwargs.get("service_name")
            return stacks if service == "cloudformation" else real(*args, **kwargs)

        monkeypatch.setattr(boto3, "client", client)
        local.register_task_definition(json.loads((EVENTS / "task-definitions" / "hello.json").read_text()))
        local.register_task_definition(json.loads((EVENTS / "task-definitions" / "failing.json").read_text()))
        monkeypatch.setenv("ECSRUN_STACK_NAME", STACK)
        yield local


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _request(name: str) -> str:
    return str(EVENTS / "requests" / f"{name}.json")


def test_start_wait_follows_a_run_to_success(aws: LocalAws, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _cli(capsys, "start", _request("hello"), "--wait", "--poll-seconds", "0.2")
    lines = out.splitlines()
    assert code == 0
    assert lines[0].startswith("started arn:aws:states:") and ":hello-demo-" in lines[0]
    # progress lines: elapsed time, the state, and the run's and task's status as they change
    progress = [line for line in lines if re.match(r"^  \+\s*\d+\.\ds  ", line)]
    assert any("StartTaskAndWait" in line for line in progress)
    assert any("task RUNNING" in line or "task STOPPED" in line for line in progress)
    assert lines[-1].startswith("SUCCEEDED  exit codes {'app': 0}")


def test_start_wait_exits_1_when_the_run_fails(aws: LocalAws, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _cli(capsys, "start", _request("failing"), "--wait", "--poll-seconds", "0.2")
    assert code == 1
    assert out.splitlines()[-1] == "FAILED  ECS.ContainerExitedNonZero: essential container 'app' exited with code 3"


def test_start_refuses_an_invalid_request_before_starting_anything(
    aws: LocalAws, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = _cli(capsys, "start", _request("invalid"), "--wait")
    assert code == 2 and out.startswith("RunRequest.Invalid: not started;")
    assert aws.client("stepfunctions").list_executions(stateMachineArn=aws.state_machine_arn)["executions"] == []


def test_start_without_wait_returns_at_once(aws: LocalAws, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _cli(capsys, "start", _request("hello"), "--name", "mine")
    assert (code, out.strip()) == (0, f"started {aws.state_machine_arn.replace(':stateMachine:', ':execution:')}:mine")


def test_status_by_run_id_and_by_execution_arn(aws: LocalAws, capsys: pytest.CaptureFixture[str]) -> None:
    _cli(capsys, "start", _request("hello"), "--wait", "--poll-seconds", "0.2")
    code, out, _ = _cli(capsys, "status", "hello-demo", "--output", "json")
    by_run = json.loads(out)
    assert code == 0
    assert (by_run["executionStatus"], by_run["runStatus"], by_run["taskStatus"]) == (
        "SUCCEEDED",
        "SUCCEEDED",
        "STOPPED",
    )
    assert by_run["manifestKey"] == "runs/hello-demo/manifest.json"
    code, out, _ = _cli(capsys, "status", by_run["executionArn"], "--output", "json")
    assert code == 0 and json.loads(out) == by_run
    code, out, _ = _cli(capsys, "status", "hello-demo")
    assert "runStatus        SUCCEEDED" in out


def test_status_of_an_unknown_run_exits_1(aws: LocalAws, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _cli(capsys, "status", "nobody")
    assert code == 1 and out.strip() == "ecsrun: no run nobody in the runs table"


def test_list_shows_recent_runs_filtered_by_status(aws: LocalAws, capsys: pytest.CaptureFixture[str]) -> None:
    _cli(capsys, "start", _request("hello"), "--wait", "--poll-seconds", "0.2")
    _cli(capsys, "start", _request("failing"), "--wait", "--poll-seconds", "0.2")
    code, out, _ = _cli(capsys, "list")
    assert code == 0 and len(out.splitlines()) == 2
    code, out, _ = _cli(capsys, "list", "--status", "FAILED")
    [line] = out.splitlines()
    assert "FAILED" in line and "failing-demo-" in line


def test_aws_errors_are_one_line_not_a_traceback(
    aws: LocalAws, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # No such stack
    code, out, err = _cli(capsys, "list", "--stack-name", "no-such-stack")
    assert code == 2 and out == "" and len(err.splitlines()) == 1 and "no-such-stack" in err
    # No stack named at all
    monkeypatch.delenv("ECSRUN_STACK_NAME")
    code, _, err = _cli(capsys, "list")
    assert code == 2 and err.strip() == "ecsrun: which stack? give --stack-name or set ECSRUN_STACK_NAME"


def test_missing_credentials_are_one_line_not_a_traceback(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # Given no credentials anywhere botocore looks (and a fresh default session, so none are cached)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)
    # When a command needs AWS, Then it says so in one line and exits 2
    code, out, err = _cli(capsys, "list", "--stack-name", STACK)
    assert (code, out) == (2, "")
    assert err == "ecsrun: no AWS credentials: set AWS_PROFILE, or run `aws configure` / `aws sso login`\n"


def test_start_wait_and_status_report_an_array_by_its_children(
    aws: LocalAws, capsys: pytest.CaptureFixture[str]
) -> None:
    aws.register_task_definition(json.loads((EVENTS / "task-definitions" / "array.json").read_text()))
    code, out, _ = _cli(capsys, "start", _request("array"), "--wait", "--poll-seconds", "0.2")
    assert code == 0
    assert out.splitlines()[-1] == (
        f"SUCCEEDED  4 of 4 children succeeded  summary s3://{BUCKET}/runs/array-demo/array/summary.json"
    )
    code, out, _ = _cli(capsys, "status", "array-demo", "--output", "json")
    report = json.loads(out)
    assert (code, report["runStatus"], report["taskArn"]) == (0, "SUCCEEDED", None)
    assert report["array"] == {
        "size": 4,
        "succeeded": 4,
        "failed": 0,
        "byOutcome": {"SUCCEEDED": 4},
        "summaryKey": "runs/array-demo/array/summary.json",
    }
    code, out, _ = _cli(capsys, "status", "array-demo-2", "--output", "json")
    assert (code, json.loads(out)["runStatus"]) == (0, "SUCCEEDED")  # each child is a run of its own
