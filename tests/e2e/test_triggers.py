"""End to end: every way a run is triggered, through the rules and the schedule the templates declare.

The request bus (template.yaml's RunRequested rule), an S3 `Object Created` event through the example stack
(examples/s3-trigger/template.yaml, input transformer), and the optional EventBridge Scheduler schedule.
"""

from __future__ import annotations

import copy
import gzip
import json
import re
import shlex
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from ecsrun.cli import main
from ecsrun.local.engine import follow
from ecsrun.local.runtime import LocalAws

from tests.conftest import EVENTS, ROOT

S3_EXAMPLE = ROOT / "examples" / "s3-trigger" / "template.yaml"
S3_EVENT = EVENTS / "triggers" / "s3-object-created.json"
PUT_EVENTS = EVENTS / "requests" / "eventbridge-put-events.json"
S3_PARAMETERS = {
    "BucketName": "example-bucket",
    "TaskDefinition": "ecsrun-object-processor",
    "Container": "app",
    "Subnets": "subnet-0123456789abcdef0,subnet-0fedcba9876543210",
    "SecurityGroups": "sg-0123456789abcdef0",
}


def _json(path: Any) -> Any:
    return json.loads(path.read_text())


def _td(name: str) -> dict[str, Any]:
    return _json(EVENTS / "task-definitions" / f"{name}.json")


def _log(aws: LocalAws, run_id: str, container: str = "app") -> list[str]:
    body = aws.objects(f"runs/{run_id}/")[f"runs/{run_id}/logs/{container}.log.gz"]
    return [line.split(" ", 1)[1] for line in gzip.decompress(body).decode().splitlines()]


def _tasks(aws: LocalAws) -> set[str]:
    ecs = aws.client("ecs")
    return {arn for status in ("RUNNING", "STOPPED") for arn in ecs.list_tasks(desiredStatus=status)["taskArns"]}


def _input(aws: LocalAws, arn: str) -> Any:
    return json.loads(aws.client("stepfunctions").describe_execution(executionArn=arn)["input"])


# ---- the request bus ----


def test_a_run_requested_event_on_the_stack_bus_starts_a_run_with_the_detail_as_input() -> None:
    entries = _json(PUT_EVENTS)
    with LocalAws() as aws:
        aws.register_task_definition(_td("hello"))
        # When the sample entries are put as `aws events put-events --entries file://...` puts them
        [arn] = aws.put_events(entries)
        result = follow(aws, arn)
        # Then the execution's input is the event's detail, and the run succeeds under the runId it names
        assert _input(aws, arn) == json.loads(entries[0]["Detail"])
        assert result.status == "SUCCEEDED", result.cause
        assert result.output["runId"] == "hello-demo"
        assert _log(aws, "hello-demo")[0] == "hello from ecsrun-hello"


def test_a_run_requested_event_on_the_default_bus_or_of_another_type_starts_nothing() -> None:
    [entry] = _json(PUT_EVENTS)
    with LocalAws() as aws:
        assert aws.put_events([{**entry, "EventBusName": "default"}]) == []
        assert aws.put_events([{**entry, "DetailType": "ecsrun.RunSucceeded"}]) == []
        assert aws.started_executions == []


def test_a_run_requested_event_delivered_twice_starts_one_task() -> None:
    with LocalAws() as aws:
        aws.register_task_definition(_td("hello"))
        aws.event_faults = lambda event: [event, event]  # at-least-once delivery
        arns = aws.put_events(_json(PUT_EVENTS))
        results = sorted((follow(aws, arn) for arn in arns), key=lambda r: r.status)
        assert [(r.status, r.error) for r in results] == [("FAILED", "Run.Duplicate"), ("SUCCEEDED", None)]
        assert len(_tasks(aws)) == 1


# ---- any AWS event: S3 Object Created through the example stack's input transformer ----


def test_an_object_created_event_runs_the_task_with_the_object_key_in_its_environment() -> None:
    event = _json(S3_EVENT)
    with LocalAws(parameters=S3_PARAMETERS) as aws:
        aws.register_task_definition(_td("object-processor"))
        aws.add_triggers(S3_EXAMPLE)
        [arn] = aws.deliver_event(event)
        result = follow(aws, arn)
        request = _input(aws, arn)
        run_id = f"s3-{event['id']}"
        # The input transformer made a FARGATE request from the event: runId from the event id, the key and
        # the bucket in the container's environment, the list parameters expanded
        assert request["runId"] == run_id
        assert request["overrides"]["containerOverrides"] == [
            {
                "name": "app",
                "environment": [
                    {"name": "INPUT_BUCKET", "value": "example-bucket"},
                    {"name": "INPUT_KEY", "value": "incoming/2026-11-21/orders.csv"},
                ],
            }
        ]
        assert request["networkConfiguration"]["awsvpcConfiguration"]["subnets"] == [
            "subnet-0123456789abcdef0",
            "subnet-0fedcba9876543210",
        ]
        # And the container saw them
        assert result.status == "SUCCEEDED", result.cause
        assert _log(aws, run_id) == ["processing s3://example-bucket/incoming/2026-11-21/orders.csv", "done"]


@pytest.mark.parametrize(
    "change",
    [
        {"detail": {"bucket": {"name": "another-bucket"}}},
        {"detail": {"object": {"key": "archive/orders.csv"}}},
        {"detail-type": "Object Deleted"},
    ],
    ids=["other bucket", "other prefix", "other event"],
)
def test_objects_outside_the_rule_start_nothing(change: dict[str, Any]) -> None:
    event = _json(S3_EVENT)
    for key, value in change.items():
        if isinstance(value, dict):
            for inner, fields in value.items():
                event[key][inner] |= fields
        else:
            event[key] = value
    with LocalAws(parameters=S3_PARAMETERS) as aws:
        aws.add_triggers(S3_EXAMPLE)
        assert aws.deliver_event(event) == []


def test_an_object_created_event_delivered_twice_starts_one_task() -> None:
    with LocalAws(parameters=S3_PARAMETERS) as aws:
        aws.register_task_definition(_td("object-processor"))
        aws.add_triggers(S3_EXAMPLE)
        aws.event_faults = lambda event: [event, copy.deepcopy(event)]
        arns = aws.deliver_event(_json(S3_EVENT))
        results = sorted((follow(aws, arn) for arn in arns), key=lambda r: r.status)
        assert [(r.status, r.error) for r in results] == [("FAILED", "Run.Duplicate"), ("SUCCEEDED", None)]
        assert len(_tasks(aws)) == 1


def test_the_example_stack_lets_its_rule_start_only_the_ecsrun_state_machine() -> None:
    from ecsrun.local.template import Template

    resources = Template(S3_EXAMPLE).resources
    [policy] = resources["StartRunRole"]["Properties"]["Policies"]
    assert policy["PolicyDocument"]["Statement"] == [
        {"Effect": "Allow", "Action": "states:StartExecution", "Resource": {"Ref": "StateMachineArn"}}
    ]
    [target] = resources["ObjectCreatedRule"]["Properties"]["Targets"]
    assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]}}
    assert target["RetryPolicy"]["MaximumRetryAttempts"] > 0


# ---- the schedule ----


def test_the_schedule_starts_a_run_with_its_request_and_a_unique_run_id() -> None:
    request = _json(EVENTS / "triggers" / "schedule-request.json")  # docs/starting-runs.md's ScheduleRequest
    assert "runId" not in request
    with LocalAws(parameters={"ScheduleRequest": json.dumps(request)}) as aws:
        aws.register_task_definition(_td("hello"))
        # When the schedule fires twice
        first = aws.fire_schedule("RunSchedule", scheduled_time=datetime(2026, 11, 21, 3, tzinfo=UTC))
        second = aws.fire_schedule("RunSchedule", scheduled_time=datetime(2026, 11, 22, 3, tzinfo=UTC))
        results = [follow(aws, first), follow(aws, second)]
        # Then each is a run of its own, named after its execution
        assert [r.status for r in results] == ["SUCCEEDED", "SUCCEEDED"]
        run_ids = [r.output["runId"] for r in results]
        assert run_ids == [first.rsplit(":", 1)[-1], second.rsplit(":", 1)[-1]]
        assert _input(aws, first) == request
        assert len(_tasks(aws)) == 2


def test_a_schedule_with_no_request_cannot_be_fired() -> None:
    with LocalAws() as aws, pytest.raises(LookupError, match="NoSuchSchedule"):
        aws.fire_schedule("NoSuchSchedule")


# ---- the CLI ----


def test_ecsrun_local_event_runs_the_s3_example_as_documented(capsys: pytest.CaptureFixture[str]) -> None:
    parameters = [arg for key, value in S3_PARAMETERS.items() for arg in ("--parameter", f"{key}={value}")]
    code = main(
        [
            "local",
            "event",
            str(S3_EVENT),
            "--rules",
            str(S3_EXAMPLE),
            *parameters,
            "--task-definition",
            str(EVENTS / "task-definitions" / "object-processor.json"),
            "--output",
            "json",
        ]
    )
    [result] = json.loads(capsys.readouterr().out)
    assert code == 0
    assert result["status"] == "SUCCEEDED"
    assert result["output"]["runId"] == "s3-17793124-05d4-b198-2fde-7ededc63b103"


def test_ecsrun_local_event_exits_1_when_a_run_fails(capsys: pytest.CaptureFixture[str], tmp_path: Any) -> None:
    [entry] = _json(PUT_EVENTS)
    failing = _json(EVENTS / "requests" / "failing.json")
    path = tmp_path / "entries.json"
    path.write_text(json.dumps([{**entry, "Detail": json.dumps(failing)}]))
    code = main(["local", "event", str(path), "--task-definition", str(EVENTS / "task-definitions" / "failing.json")])
    assert code == 1
    assert "ECS.ContainerExitedNonZero" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"source": "aws.s3", "detail-type": "Object Deleted", "detail": {}}, "matched no rule"),
        ({"hello": "world"}, "is not an EventBridge event"),
        ([{"Source": "x"}], "PutEvents entries"),
    ],
)
def test_ecsrun_local_event_exits_2_when_nothing_can_start(
    capsys: pytest.CaptureFixture[str], tmp_path: Any, document: Any, message: str
) -> None:
    path = tmp_path / "event.json"
    path.write_text(json.dumps(document))
    assert main(["local", "event", str(path)]) == 2
    assert message in capsys.readouterr().err


def test_ecsrun_local_event_rejects_a_malformed_parameter(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["local", "event", str(S3_EVENT), "--parameter", "NoEquals"]) == 2
    assert "is not KEY=VALUE" in capsys.readouterr().err


def test_the_put_events_sample_is_what_the_put_events_api_accepts() -> None:
    """The sample's entries pass botocore's PutEvents model (what `aws events put-events` sends)."""
    client = boto3.client("events", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    from botocore.stub import Stubber

    entries = _json(PUT_EVENTS)
    with Stubber(client) as stub:
        stub.add_response("put_events", {"FailedEntryCount": 0, "Entries": [{"EventId": "1"}]}, {"Entries": entries})
        assert client.put_events(Entries=entries)["FailedEntryCount"] == 0


# ---- the docs' examples, run as written ----


def _doc_commands(doc: str, prefix: str) -> list[list[str]]:
    """Every shell command in `doc`'s code blocks that starts with `prefix`, continuation lines joined."""
    text = (ROOT / doc).read_text()
    commands = []
    for block in re.findall(r"```sh\n(.*?)```", text, flags=re.S):
        pending = ""
        for line in re.sub(r"\\\n\s*", " ", block).splitlines():
            pending = f"{pending}\n{line}" if pending else line
            try:
                words = shlex.split(pending, comments=True)
            except ValueError:  # a quote still open: the command goes on
                continue
            if pending.startswith(prefix):
                commands.append(words)
            pending = ""
    return commands


def test_the_docs_inline_put_events_example_runs() -> None:
    [command] = [
        c for c in _doc_commands("docs/starting-runs.md", "aws events put-events --entries '") if c[-1].startswith("[")
    ]
    entries = json.loads(command[-1])
    assert entries[0]["EventBusName"] == "ecsrun-runs"  # the bus of a stack named ecsrun
    with LocalAws() as aws:
        aws.register_task_definition(_td("hello"))
        [arn] = aws.put_events(entries)
        result = follow(aws, arn)
        assert result.status == "SUCCEEDED", result.cause
        assert _log(aws, "orders-2026-11-21") == ["42"]


def test_the_docs_local_event_examples_run(capsys: pytest.CaptureFixture[str]) -> None:
    commands = _doc_commands("docs/local-engine.md", ".venv/bin/ecsrun local event ")
    assert len(commands) == 2
    for command in commands:
        assert main([*command[1:], "--output", "json"]) == 0, command
        assert [r["status"] for r in json.loads(capsys.readouterr().out)] == ["SUCCEEDED"]
