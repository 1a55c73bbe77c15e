"""Shared fixtures: sample events by name, moto-backed AWS for handler tests, a stubbed Step Functions."""

from __future__ import annotations

import contextlib
import copy
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from ecsrun.adapters import clients
from ecsrun.local import ecs_idempotency, role_simulation
from ecsrun.local.runtime import LocalContext
from ecsrun.local.template import Template
from moto import mock_aws

ROOT = Path(__file__).resolve().parents[1]
EVENTS = ROOT / "events"
REGION = "us-east-1"
TABLE = "runs-test"
BUCKET = "logs-test"
PREFIX = "ecsrun/"


def load_event(relative: str) -> Any:
    """A sample from events/, e.g. load_event("ecs-events/stopped-success.json")."""
    return json.loads((EVENTS / relative).read_text())


def context(name: str = "test-function") -> LocalContext:
    return LocalContext(
        function_name=name, invoked_function_arn=f"arn:aws:lambda:{REGION}:123456789012:function:{name}"
    )


TEST_ENV = {
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "RUNS_TABLE": TABLE,
    "LOGS_BUCKET": BUCKET,
    "STARTED_BY_PREFIX": PREFIX,
    "DEFAULT_TIMEOUT_SECONDS": "900",
    # The role every sample task definition names (PassRoleArns of a stack that runs them).
    "PASS_ROLE_ARNS": "arn:aws:iam::123456789012:role/ecsTaskExecutionRole",
    # Handler tests of other behaviour name placeholder images and networks; the preflight's own tests turn it on
    # (tests/handlers/test_preflight.py), and the local engine runs it as deployed (Preflight: enabled).
    "PREFLIGHT": "disabled",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_METRICS_DISABLED": "true",
    "POWERTOOLS_SERVICE_NAME": "ecsrun",
    "POWERTOOLS_METRICS_NAMESPACE": "ecsrun",
}


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in TEST_ENV.items():
        monkeypatch.setenv(key, value)


@dataclass
class Stack:
    """The stack's resources on moto, as template.yaml declares them."""

    subnet: str
    security_group: str

    @property
    def ecs(self) -> Any:
        return boto3.client("ecs", region_name=REGION)

    @property
    def logs(self) -> Any:
        return boto3.client("logs", region_name=REGION)

    @property
    def s3(self) -> Any:
        return boto3.client("s3", region_name=REGION)

    @property
    def table(self) -> Any:
        return boto3.resource("dynamodb", region_name=REGION).Table(TABLE)

    def register(self, relative: str) -> str:
        document = load_event(f"task-definitions/{relative}")
        return str(self.ecs.register_task_definition(**document)["taskDefinition"]["taskDefinitionArn"])

    def request(self, relative: str = "hello.json", **changes: Any) -> dict[str, Any]:
        request = load_event(f"requests/{relative}")
        if "networkConfiguration" in request:
            vpc = request["networkConfiguration"]["awsvpcConfiguration"]
            vpc["subnets"], vpc["securityGroups"] = [self.subnet], [self.security_group]
        request.update(changes)
        return request


@pytest.fixture
def stack(env: None) -> Iterator[Stack]:
    with moto_stack() as made:
        yield made


@pytest.fixture(scope="module")
def module_stack() -> Iterator[Stack]:
    """One stack for a whole module, for tests that only read it (each builds in about 0.7 s)."""
    with pytest.MonkeyPatch.context() as patch:
        for key, value in TEST_ENV.items():
            patch.setenv(key, value)
        with moto_stack() as made:
            yield made


@contextlib.contextmanager
def moto_stack() -> Iterator[Stack]:
    with mock_aws(), contextlib.ExitStack() as undo:
        # RunTask keeps its clientToken as ECS does (moto ignores it); ecsrun relies on it to name a task.
        def patch(owner: Any, name: str, replacement: Any) -> None:
            original = getattr(owner, name, None)
            undo.callback(setattr, owner, name, original) if original is not None else undo.callback(
                delattr, owner, name
            )
            setattr(owner, name, replacement)

        ecs_idempotency.install(patch)
        role_simulation.install(patch, REGION)  # IAM's SimulatePrincipalPolicy, which moto lacks
        clients.reset()
        table = Template(ROOT / "template.yaml").table_definition("RunsTable")
        boto3.client("dynamodb", region_name=REGION).create_table(TableName=TABLE, **table)
        boto3.client("s3", region_name=REGION).create_bucket(Bucket=BUCKET)
        boto3.client("ecs", region_name=REGION).create_cluster(
            clusterName="default", capacityProviders=["FARGATE", "FARGATE_SPOT"]
        )
        ec2 = boto3.client("ec2", region_name=REGION)
        subnet = ec2.describe_subnets()["Subnets"][0]["SubnetId"]
        group = ec2.describe_security_groups()["SecurityGroups"][0]["GroupId"]
        yield Stack(subnet=subnet, security_group=group)
        clients.reset()


@pytest.fixture
def sfn(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stubber]:
    """Step Functions with every call checked against the API model; an unexpected call fails the test."""
    client = boto3.client("stepfunctions", region_name=REGION)
    stubber = Stubber(client)
    real = clients.client

    def pick(service: str, region: str | None = None) -> Any:
        return client if service == "stepfunctions" else real(service, region)

    with monkeypatch.context() as patch, stubber:
        patch.setattr(clients, "client", pick)
        yield stubber


def ecs_event(relative: str, **detail: Any) -> dict[str, Any]:
    """A sample `ECS Task State Change` event with some detail fields replaced."""
    event = copy.deepcopy(load_event(f"ecs-events/{relative}"))
    event["detail"].update(detail)
    if "taskArn" in detail:
        event["resources"] = [detail["taskArn"]]
    return event


def listen_for_completions(client: Any, bus: str) -> Any:
    """A rule sending the bus's completion events to a queue; returns a reader of what has arrived so far.
    `client(service)` makes the clients: LocalAws.client, or boto3's inside a moto stack."""
    sqs, events = client("sqs"), client("events")
    queue = sqs.create_queue(QueueName="completions")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    pattern = {"source": ["ecsrun"], "detail-type": ["ecsrun.RunSucceeded", "ecsrun.RunFailed"]}
    events.put_rule(Name="completions", EventBusName=bus, EventPattern=json.dumps(pattern))
    events.put_targets(Rule="completions", EventBusName=bus, Targets=[{"Id": "q", "Arn": arn}])
    seen: list[dict[str, Any]] = []

    def read() -> list[dict[str, Any]]:
        messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
        seen.extend(json.loads(m["Body"]) for m in messages)
        return seen

    return read
