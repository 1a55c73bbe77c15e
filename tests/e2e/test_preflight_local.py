"""End to end on the local engine: the preflight in ValidateRequest ends a run that would not start
`RunRequest.WillNotStart`, before any RunTask, with each problem and the ECS error it predicts."""

from __future__ import annotations

import json
from typing import Any

from ecsrun.local.engine import run_local
from ecsrun.local.runtime import ACCOUNT, LocalAws

MISSING_IMAGE = f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/never-pushed:1.0"


def _definition(family: str, image: str, **options: str) -> dict[str, Any]:
    logs = {"awslogs-group": "/ecs/preflight", "awslogs-stream-prefix": "ecs", "awslogs-create-group": "true"}
    return {
        "family": family,
        "networkMode": "bridge",
        "requiresCompatibilities": ["EC2"],
        "containerDefinitions": [
            {
                "name": "app",
                "image": image,
                "essential": True,
                "memory": 64,
                "command": ["sh", "-c", "echo ran"],
                "logConfiguration": {"logDriver": "awslogs", "options": {**logs, **options}},
            }
        ],
    }


def _run_task_calls(aws: LocalAws) -> list[str]:
    return list(aws.client("ecs").list_tasks(cluster="default", desiredStatus="STOPPED")["taskArns"]) + list(
        aws.client("ecs").list_tasks(cluster="default")["taskArns"]
    )


def test_a_missing_image_ends_will_not_start_without_a_task() -> None:
    # Given a task definition registered in the local stack's ECS whose ECR image was never pushed
    request = {"taskDefinition": "preflight-missing", "launchType": "EC2", "runId": "preflight-missing"}
    with LocalAws() as aws:
        aws.register_task_definition(_definition("preflight-missing", MISSING_IMAGE), push_images=False)
        # When it is run
        result = run_local(request, [], aws=aws)
        tasks = _run_task_calls(aws)
        records = aws.client("dynamodb").scan(TableName="ecsrun-local-runs")["Items"]
    # Then it ends RunRequest.WillNotStart, predicting CannotPullContainerError for the image, and no task started
    assert (result.status, result.error) == ("FAILED", "RunRequest.WillNotStart")
    cause = json.loads(result.cause or "{}")
    [problem] = cause["problems"]
    assert problem["field"] == "taskDefinition.containerDefinitions[0].image"
    assert problem["predicts"] == "CannotPullContainerError"
    assert MISSING_IMAGE in problem["message"]
    assert tasks == [] and records == []
    assert [s.name for s in result.states] == ["ValidateRequest", "IsRequestValid", "RunRequestWillNotStart"]


def test_an_image_the_local_stack_was_given_is_found_and_the_run_succeeds() -> None:
    # Given the same image, in a task definition handed to the local engine (its images are pushed to local ECR)
    request = {"taskDefinition": "preflight-pushed", "launchType": "EC2", "runId": "preflight-pushed"}
    with LocalAws() as aws:
        # When it is run
        result = run_local(request, [_definition("preflight-pushed", MISSING_IMAGE)], aws=aws)
    # Then the preflight finds nothing wrong and the task runs
    assert result.status == "SUCCEEDED", result.cause


def test_the_stack_parameter_turns_the_preflight_off() -> None:
    # Given a stack deployed with Preflight=disabled and a task definition whose image was never pushed
    request = {"taskDefinition": "preflight-off", "launchType": "EC2", "runId": "preflight-off"}
    with LocalAws(parameters={"Preflight": "disabled"}) as aws:
        aws.register_task_definition(_definition("preflight-off", MISSING_IMAGE), push_images=False)
        # When it is run
        result = run_local(request, [], aws=aws)
    # Then nothing is predicted: the task is started (the local agent never pulls an image, so it runs)
    assert result.error != "RunRequest.WillNotStart"
    assert result.status == "SUCCEEDED", result.cause


def test_a_log_group_the_execution_role_may_not_create_and_a_foreign_network_are_each_listed() -> None:
    # Given a role in the local IAM allowed nothing, a log group that does not exist and must be created by it,
    # and a subnet and security group from two VPCs
    with LocalAws() as aws:
        iam = aws.client("iam")
        role = iam.create_role(RoleName="preflight-exec", AssumeRolePolicyDocument=json.dumps({"Statement": []}))
        definition = _definition("preflight-many", "public.ecr.aws/docker/library/busybox:1.36")
        definition["executionRoleArn"] = role["Role"]["Arn"]
        definition["containerDefinitions"][0]["secrets"] = [
            {"name": "TOKEN", "valueFrom": f"arn:aws:ssm:us-east-1:{ACCOUNT}:parameter/preflight/token"}
        ]
        definition["requiresCompatibilities"] = ["FARGATE"]
        definition["networkMode"] = "awsvpc"
        definition.update(cpu="256", memory="512")
        ec2 = aws.client("ec2")
        other = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
        group = ec2.create_security_group(GroupName="preflight", Description="other vpc", VpcId=other)["GroupId"]
        subnet = ec2.describe_subnets()["Subnets"][0]["SubnetId"]
        network = {"awsvpcConfiguration": {"subnets": [subnet], "securityGroups": [group]}}
        request = {
            "taskDefinition": "preflight-many",
            "launchType": "FARGATE",
            "runId": "preflight-many",
            "networkConfiguration": network,
        }
        # When it is run
        result = run_local(request, [definition], aws=aws)
        tasks = _run_task_calls(aws)
    # Then every problem is listed with the ECS error it predicts, and no task started
    assert result.error == "RunRequest.WillNotStart"
    problems = {p["field"]: p for p in json.loads(result.cause or "{}")["problems"]}
    base = "taskDefinition.containerDefinitions[0]"
    assert problems[f"{base}.secrets[0]"]["predicts"] == "ResourceInitializationError"
    assert "ssm:GetParameters" in problems[f"{base}.secrets[0]"]["message"]
    assert "logs:CreateLogGroup" in problems[f"{base}.logConfiguration.options"]["message"]
    subnets = "networkConfiguration.awsvpcConfiguration"
    assert "2 VPCs" in problems[subnets]["message"]
    assert tasks == []
