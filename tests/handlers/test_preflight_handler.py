"""ValidateRequest's preflight on moto: a run ECS would fail to start ends RunRequest.WillNotStart, its caller
answered from that end, without RunTask; the stack parameter turns it off."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from ecsrun.handlers import execution_ended

from tests.conftest import REGION, Stack, context
from tests.handlers.helpers import execution_event, validate

ACCOUNT = "123456789012"
IMAGE = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/orders:1.0"


def _register(stack: Stack, image: str = IMAGE, **container: Any) -> None:
    stack.ecs.register_task_definition(
        family="ecsrun-preflight",
        requiresCompatibilities=["FARGATE"],
        networkMode="awsvpc",
        cpu="256",
        memory="512",
        containerDefinitions=[{"name": "app", "image": image, **container}],
    )


def _request(stack: Stack, **extra: Any) -> dict[str, Any]:
    network = {"awsvpcConfiguration": {"subnets": [stack.subnet], "securityGroups": [stack.security_group]}}
    return {"taskDefinition": "ecsrun-preflight", "launchType": "FARGATE", "networkConfiguration": network, **extra}


def _push(image_tag: str = "1.0") -> None:
    ecr = boto3.client("ecr", region_name=REGION)
    ecr.create_repository(repositoryName="orders")
    manifest = {"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json", "layers": []}
    ecr.put_image(repositoryName="orders", imageManifest=json.dumps(manifest), imageTag=image_tag)


@pytest.fixture
def preflight(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PREFLIGHT", "enabled")


def test_an_image_missing_from_ecr_ends_will_not_start(stack: Stack, preflight: None) -> None:
    # Given a task definition whose ECR repository holds another tag
    _push("0.9")
    _register(stack)
    # When validated
    result = validate(_request(stack, runId="missing-image"))
    # Then the run will not start, the problem predicting CannotPullContainerError, and no task exists
    assert (result["valid"], result["error"]) == (False, "RunRequest.WillNotStart")
    [problem] = json.loads(result["cause"])["problems"]
    assert problem["predicts"] == "CannotPullContainerError"
    assert stack.ecs.list_tasks(cluster="default")["taskArns"] == []


def test_a_run_that_would_start_is_valid(stack: Stack, preflight: None) -> None:
    # Given the image pushed, and a log group that exists
    _push()
    stack.logs.create_log_group(logGroupName="/ecs/preflight")
    logs = {"logDriver": "awslogs", "options": {"awslogs-group": "/ecs/preflight", "awslogs-stream-prefix": "ecs"}}
    _register(stack, logConfiguration=logs)
    # When validated, Then it is valid
    assert validate(_request(stack))["valid"] is True


def test_the_caller_is_answered_with_will_not_start_when_the_execution_fails(
    stack: Stack, preflight: None, sfn: Stubber
) -> None:
    # Given a caller's token and a run whose image does not exist, validated (ValidateRequest answers nobody:
    # any Step Functions call would fail the stub)
    _register(stack)
    request = _request(stack, callbackTaskToken="token-1")
    result = validate(request)
    sfn.add_response(
        "send_task_failure", {}, {"taskToken": "token-1", "error": "RunRequest.WillNotStart", "cause": result["cause"]}
    )
    # When the execution fails RunRequest.WillNotStart with that cause
    event = execution_event("FAILED", request, error="RunRequest.WillNotStart", cause=result["cause"])
    execution_ended.handler(event, context())
    # Then the caller is answered FAILED with the same error name and cause
    sfn.assert_no_pending_responses()


def test_preflight_disabled_asks_nothing(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given the stack parameter Preflight=disabled and an image that does not exist
    monkeypatch.setenv("PREFLIGHT", "disabled")
    _register(stack)
    # When validated, Then the run is valid (ECS will be the one to find the image missing)
    assert validate(_request(stack))["valid"] is True
