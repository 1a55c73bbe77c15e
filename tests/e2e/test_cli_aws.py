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

    def __init__(self, outputs: dict[str, dict[str, str]], parameters: dict[str, dict[str, str]] | None = None):
        self._outputs = outputs
        self.parameters = parameters or {}

    def describe_stacks(self, *, StackName: str) -> dict[str, Any]:
        if StackName not in self._outputs:
            error = {"Code": "ValidationError", "Message": f"Stack with id {StackName} does not exist"}
            raise ClientError({"Error": error}, "DescribeStacks")
        outputs = [{"OutputKey": k, "OutputValue": v} for k, v in self._outputs[StackName].items()]
        stack = {"StackName": StackName, "CreationTime": "2026-11-21T10:00:00Z", "StackStatus": "CREATE_COMPLETE"}
        parameters = [{"ParameterKey": k, "ParameterValue": v} for k, v in self.parameters.get(StackName, {}).items()]
        return {"Stacks": [stack | {"Outputs": outputs, "Parameters": parameters}]}


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalAws]:
    with LocalAws() as local:
        outputs = {
            "StateMachineArn": local.state_machine_arn,
            "RunsTableName": TABLE,
            "LogsBucketName": BUCKET,
            "EventBusName": BUS,
        }
        stacks = DeployedStacks({STACK: outputs}, {STACK: {"PassRoleArns": "arn:aws:iam::123456789012:role/ecsTask*"}})
        real = boto3.session.Session.client

        def client(session: Any, *args: Any, **kwargs: Any) -> Any:
            service = args[0] if args else kwargs.get("service_name")
            return stacks if service == "cloudformation" else real(session, *args, **kwargs)

        monkeypatch.setattr(boto3.session.Session, "client", client)
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
    assert lines[-1].startswith("SUCCEEDED  exit codes: app 0  logs s3://")  # read as English, not a Python dict
    assert not any("RunSucceeded" in line for line in progress)  # a choice or an end is not what the run does


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


# ---- watching a run, stopping it, listing, its picture ----


def _write(tmp_path: Path, name: str, document: Any) -> str:
    path = tmp_path / name
    path.write_text(json.dumps(document))
    return str(path)


def _cli_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every AWS operation the CLI's own session calls, in order (the pipeline's handlers run in this process
    too, with clients of their own: their calls are not the CLI's)."""
    from ecsrun.cli import common, stack

    seen: list[str] = []
    real = common.aws_session

    def session(args: Any) -> Any:
        made = real(args)
        made.events.register("before-call", lambda model, **_: seen.append(model.name))
        return made

    monkeypatch.setattr(stack, "aws_session", session)
    return seen


def test_start_follow_tails_the_logs_without_polling_the_state_machine(
    aws: LocalAws, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from ecsrun.cli import stack as stack_commands

    monkeypatch.setattr(stack_commands, "RECORD_CHECK_SECONDS", 0.5)
    calls = _cli_calls(monkeypatch)
    # When a run is started with --follow
    code, out, err = _cli(capsys, "start", _request("hello"), "--follow", "--poll-seconds", "0.2")
    lines = out.splitlines()
    # Then each line the container wrote appears as it is written, prefixed with its name, in order
    tailed = [line.split("| ", 1)[1] for line in lines if line.startswith("app  | ")]
    assert tailed == ["hello from ecsrun-hello", *[f"processing item {i}" for i in range(1, 6)], "done"]
    # And then it says where the S3 copy is, and ends with the run's result
    pointer = next(line for line in lines if "task stopped" in line)
    assert f"s3://{BUCKET}/runs/hello-demo/logs/" in pointer
    assert lines.index(pointer) > max(i for i, line in enumerate(lines) if line.startswith("app  | "))
    assert (code, lines[-1].split()[0]) == (0, "SUCCEEDED")
    # And while it tailed (GetLogEvents), it never asked Step Functions anything
    first = calls.index("GetLogEvents")
    last = len(calls) - 1 - calls[::-1].index("GetLogEvents")
    assert not {"DescribeExecution", "GetExecutionHistory"} & set(calls[first:last])
    # (the pipeline's handlers share this process and its stderr: only the CLI's own lines are checked)
    assert not [line for line in err.splitlines() if line.startswith("ecsrun")]


def test_stop_stops_the_execution_then_the_task_and_still_copies_its_logs(
    aws: LocalAws, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # Given a run whose task would run for a minute
    request = json.loads(Path(_request("hello")).read_text())
    request["runId"] = "long-one"
    command = ["python3", "-u", "-c", "import time; print('started', flush=True); time.sleep(60)"]
    request["overrides"] = {"containerOverrides": [{"name": "app", "command": command}]}
    assert _cli(capsys, "start", _write(tmp_path, "long.json", request))[0] == 0
    table = aws.client("dynamodb")

    def record() -> dict[str, Any]:
        key = {"runId": {"S": "long-one"}}
        return table.get_item(TableName=TABLE, Key=key, ConsistentRead=True).get("Item", {})

    _until(lambda: "taskArn" in record() and any(t.started_at for t in aws.agent.tasks()))
    # When it is stopped with a reason
    code, out, err = _cli(capsys, "stop", "long-one", "--reason", "wrong input file")
    # Then the execution is aborted, the task is stopped with that reason, and the logs are still copied
    assert code == 0, err
    assert not [line for line in err.splitlines() if line.startswith("ecsrun")]
    assert out.startswith("stopped arn:aws:states:") and "wrong input file" in out
    # (as on Step Functions, the execution is ABORTED as soon as StopExecution has answered)
    stopped = aws.client("stepfunctions").describe_execution(executionArn=out.split()[1].rstrip(":"))
    assert stopped["status"] == "ABORTED"
    _until(lambda: "runs/long-one/manifest.json" in aws.objects("runs/long-one/"))
    manifest = json.loads(aws.objects("runs/long-one/")["runs/long-one/manifest.json"])
    assert manifest["error"] == "Run.Aborted"
    assert "wrong input file" in manifest["task"]["stoppedReason"]
    [entry] = manifest["logs"]["containers"]
    assert entry["events"] == 1
    assert record()["status"]["S"] == "ABORTED"
    # And stopping it again says it has already ended
    code, _, err = _cli(capsys, "stop", "long-one")
    said = [line for line in err.splitlines() if line.startswith("ecsrun")]  # the handlers log here too
    assert code == 1 and said == ["ecsrun: run long-one has already ended (ABORTED)"]
    assert _cli(capsys, "stop", "nobody")[0] == 1


def _until(check: Any, seconds: float = 60) -> None:
    import time

    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_list_shows_the_error_name_and_duration_and_has_json(aws: LocalAws, capsys: pytest.CaptureFixture[str]) -> None:
    _cli(capsys, "start", _request("hello"), "--wait", "--poll-seconds", "0.2")
    _cli(capsys, "start", _request("failing"), "--wait", "--poll-seconds", "0.2")
    # When listed as text
    code, out, _ = _cli(capsys, "list")
    failed, succeeded = out.splitlines()
    # Then the failed run shows its error name, and each its duration
    assert code == 0
    assert failed.endswith("ECS.ContainerExitedNonZero") and "FAILED" in failed
    assert re.search(r"SUCCEEDED\s+\d+\.\ds  hello-demo-", succeeded)
    # When listed as JSON: one document, its runs under "runs", each in the shape every command shares
    code, out, _ = _cli(capsys, "list", "--output", "json")
    runs = json.loads(out)["runs"]
    assert [r["runId"] for r in runs] == ["failing-demo", "hello-demo"]
    assert runs[0]["error"] == "ECS.ContainerExitedNonZero"
    assert runs[0]["message"] == "essential container 'app' exited with code 3"
    assert runs[0]["cause"]["task"]["containers"][0]["exitCode"] == 3  # the cause parsed
    assert runs[1]["output"]["runId"] == "hello-demo" and runs[1]["cause"] is None
    assert all(r["durationSeconds"] > 0 and r["startDate"] and r["stopDate"] for r in runs)


def test_list_shows_an_array_run_by_its_children(aws: LocalAws, capsys: pytest.CaptureFixture[str]) -> None:
    aws.register_task_definition(json.loads((EVENTS / "task-definitions" / "array.json").read_text()))
    _cli(capsys, "start", _request("array"), "--wait", "--poll-seconds", "0.2")
    code, out, _ = _cli(capsys, "list", "--output", "json")
    assert code == 0
    parent = next(r for r in json.loads(out)["runs"] if r["runId"] == "array-demo")
    assert parent["array"] == {"size": 4, "succeeded": 4, "failed": 0}
    _, out, _ = _cli(capsys, "list")
    assert any("children 4/4 succeeded, 0 failed" in line for line in out.splitlines())


def test_timeline_draws_the_run_from_its_history_and_record(
    aws: LocalAws, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    import xml.etree.ElementTree as ET

    _cli(capsys, "start", _request("hello"), "--wait", "--poll-seconds", "0.2")
    # When the run's timeline is drawn
    svg = tmp_path / "hello.svg"
    code, out, _ = _cli(capsys, "timeline", "hello-demo", "--out", str(svg))
    # Then the SVG holds, in the order they began: the execution, its states, the attempt, the task, its
    # container (first to last log line, from the manifest), the log copy
    assert code == 0 and out.splitlines()[-1] == f"wrote {svg} ({out.count(chr(10)) - 2} spans)"
    spans = [g for g in ET.parse(svg).getroot().iter("{http://www.w3.org/2000/svg}g") if g.get("class") == "span"]
    labels = [g.get("data-label") for g in spans]
    assert labels[0].startswith("execution hello-demo-")
    assert [label for label in labels if not label.startswith("task ")][1:] == [
        "ValidateRequest", "StartTaskAndWait (attempt 1)", "container app", "CopyLogs",
    ]  # fmt: skip
    title = ET.parse(svg).getroot().find("{http://www.w3.org/2000/svg}title")
    assert title is not None and title.text == "ecsrun run hello-demo  SUCCEEDED · exit codes: app 0"
    starts = [float(g.get("data-start")) for g in spans]
    assert starts == sorted(starts)
    kinds = {g.get("data-label"): g.get("data-kind") for g in spans}
    assert (kinds["CopyLogs"], kinds["container app"]) == ("logs", "container")
    task = next(g for g in spans if g.get("data-kind") == "task")
    attempt = next(g for g in spans if g.get("data-kind") == "attempt")
    assert float(attempt.get("data-start")) <= float(task.get("data-start")) <= float(task.get("data-end"))
    assert float(task.get("data-end")) <= float(attempt.get("data-end"))


def test_timeline_without_out_writes_to_a_temporary_folder_and_says_where(
    aws: LocalAws, capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tempfile

    # Given a failed run, and a temporary folder of this test's own (never the current directory)
    request = json.loads(Path(_request("failing")).read_text()) | {"runId": "timeline-default"}
    _cli(capsys, "start", _write(tmp_path, "r.json", request), "--wait", "--poll-seconds", "0.2")
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    monkeypatch.chdir(tmp_path)
    # When its timeline is drawn without --out
    code, out, _ = _cli(capsys, "timeline", "timeline-default")
    # Then it is written under the temporary folder, in the run's own folder, and the last line says where
    expected = tmp_path / "tmp" / "ecsrun" / "timeline-default" / "timeline.svg"
    assert code == 0 and out.splitlines()[-1].startswith(f"wrote {expected} (")
    assert not (tmp_path / "timeline.svg").exists()
    # And its title carries the outcome: the status, the error name and the exit code
    assert "FAILED · ECS.ContainerExitedNonZero · exit codes: app 3" in expected.read_text()


def test_validate_with_the_stack_reads_the_task_definition_for_its_warnings(
    aws: LocalAws, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # Given a registered task definition whose sidecar has no log configuration
    definition = json.loads((EVENTS / "task-definitions" / "hello.json").read_text())
    definition["family"] = "with-quiet-sidecar"
    definition["containerDefinitions"].append({"name": "quiet", "image": "busybox", "essential": False})
    aws.register_task_definition(definition)
    request = json.loads(Path(_request("hello")).read_text()) | {"taskDefinition": "with-quiet-sidecar"}
    # When the request is validated against the stack's account (DescribeTaskDefinition)
    code, out, _ = _cli(
        capsys, "validate", _write(tmp_path, "r.json", request), "--stack-name", STACK, "--output", "json"
    )
    report = json.loads(out)
    # Then it is valid, with a warning naming the sidecar
    assert (code, report["valid"]) == (0, True)
    assert [w["container"] for w in report["warnings"]] == ["quiet"]


def test_a_running_array_shows_its_childrens_progress(
    aws: LocalAws, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # Given an array of 4 children, one at a time, each running a few seconds
    aws.register_task_definition(json.loads((EVENTS / "task-definitions" / "array.json").read_text()))
    request = json.loads(Path(_request("array")).read_text()) | {"runId": "slow-array", "maxConcurrency": 1}
    command = ["python3", "-c", "import time; time.sleep(1.5)"]
    request["overrides"] = {"containerOverrides": [{"name": "app", "command": command}]}
    assert _cli(capsys, "start", _write(tmp_path, "array.json", request))[0] == 0
    # When its status is asked once the first child has finished, while the others have not
    table = aws.client("dynamodb")

    def finished(run_id: str) -> bool:
        item = table.get_item(TableName=TABLE, Key={"runId": {"S": run_id}}, ConsistentRead=True).get("Item", {})
        return item.get("status", {}).get("S") in ("SUCCEEDED", "FAILED")

    _until(lambda: finished("slow-array-0"))
    code, out, _ = _cli(capsys, "status", "slow-array", "--output", "json")
    array = json.loads(out)["array"]
    # Then it counts the children from their records: done, running, waiting, adding up to the size
    assert code == 0 and array["status"] == "RUNNING" and array["size"] == 4
    assert array["succeeded"] >= 1 and array["pending"] >= 1
    assert array["succeeded"] + array["failed"] + array["running"] + array["pending"] == 4
    _, out, _ = _cli(capsys, "list")
    assert "children " in out and " waiting" in out
    _until(lambda: finished("slow-array"))


def test_validate_with_the_stack_warns_about_roles_it_may_not_pass(
    aws: LocalAws, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # Given a stack that may pass only arn:...:role/ecsTask* roles, and a task definition with another task role
    definition = json.loads((EVENTS / "task-definitions" / "hello.json").read_text())
    definition |= {"family": "other-role", "taskRoleArn": "arn:aws:iam::123456789012:role/admin"}
    aws.register_task_definition(definition)
    request = json.loads(Path(_request("hello")).read_text()) | {"taskDefinition": "other-role"}
    # When validated against the stack
    code, out, _ = _cli(capsys, "validate", _write(tmp_path, "r.json", request), "--stack-name", STACK)
    # Then it is valid here (exit 0), with a warning naming the role and the parameter; the execution role
    # (arn:...:role/ecsTaskExecutionRole) is one the stack may pass
    lines = out.splitlines()
    assert code == 0 and lines[0].endswith("a valid run request")
    [warning] = lines[1:]
    assert warning.startswith(
        "warning: taskDefinition: other-role:1's taskRoleArn arn:aws:iam::123456789012:role/admin"
    )
    assert "PassRoleArns" in warning and "will refuse this run" in warning


def test_status_shows_the_result_the_task_handed_back(
    aws: LocalAws, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # Given a run whose command prints a result line
    request = json.loads(Path(_request("hello")).read_text())
    command = ["sh", "-c", "echo '::ecsrun-result::{\"rows\": 42}'"]
    request |= {"runId": "status-result", "overrides": {"containerOverrides": [{"name": "app", "command": command}]}}
    path = tmp_path / "request.json"
    path.write_text(json.dumps(request))
    _cli(capsys, "start", str(path), "--wait", "--poll-seconds", "0.2")
    # When its status is asked for
    code, out, _ = _cli(capsys, "status", "status-result", "--output", "json")
    # Then the document has the result at its top level, read from the run's recorded end
    assert code == 0
    assert json.loads(out)["result"] == {"rows": 42}
    code, out, _ = _cli(capsys, "status", "status-result")
    assert 'result           {"rows": 42}' in out


def test_validate_with_the_stack_runs_the_preflight(
    aws: LocalAws, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # Given a task definition in the account whose ECR image was never pushed
    definition = json.loads((EVENTS / "task-definitions" / "hello.json").read_text())
    definition["family"] = "never-pushed"
    missing = "123456789012.dkr.ecr.us-east-1.amazonaws.com/never-pushed:1.0"
    definition["containerDefinitions"][0]["image"] = missing
    aws.register_task_definition(definition, push_images=False)
    request = _write(
        tmp_path, "r.json", json.loads(Path(_request("hello")).read_text()) | {"taskDefinition": "never-pushed"}
    )
    # When validated against the stack, in text and in JSON
    code, out, _ = _cli(capsys, "validate", request, "--stack-name", STACK)
    json_code, json_out, _ = _cli(capsys, "validate", request, "--stack-name", STACK, "--output", "json")
    # Then it fails as the run would, RunRequest.WillNotStart, naming the image and the ECS error, exit 2
    assert code == 2 and json_code == 2
    assert out.startswith("RunRequest.WillNotStart: ")
    assert "taskDefinition.containerDefinitions[0].image: CannotPullContainerError: " in out and missing in out
    report = json.loads(json_out)
    assert (report["error"], report["valid"]) == ("RunRequest.WillNotStart", False)
    assert [p["predicts"] for p in report["problems"]] == ["CannotPullContainerError"]
    # And the same request, its image pushed, is valid
    aws.register_task_definition(definition)
    assert _cli(capsys, "validate", request, "--stack-name", STACK)[0] == 0
