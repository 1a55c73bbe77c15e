"""The preflight's pure decisions: what to ask AWS about a run, and the problems its answers mean."""

from __future__ import annotations

from typing import Any

from ecsrun.domain import preflight as pf

REGION, ACCOUNT = "us-east-1", "123456789012"
IMAGE = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/orders:2026.11.3"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/ecsTaskExecutionRole"


def _definition(**container: Any) -> dict[str, Any]:
    base = {"name": "app", "image": IMAGE}
    return {"executionRoleArn": ROLE, "containerDefinitions": [{**base, **container}]}


def test_ecr_images_are_parsed_and_other_registries_are_not() -> None:
    # Given images by tag, by digest, without a tag, and from other registries
    digest = "sha256:" + "a" * 64
    # Then ECR private images name their registry, Region, repository and tag or digest; no tag is latest
    assert pf.ecr_image(IMAGE) == pf.EcrImage(ACCOUNT, REGION, "orders", "2026.11.3", None)
    assert pf.ecr_image(f"{ACCOUNT}.dkr.ecr.eu-west-1.amazonaws.com/team/app@{digest}") == pf.EcrImage(
        ACCOUNT, "eu-west-1", "team/app", None, digest
    )
    assert pf.ecr_image(f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/app") == pf.EcrImage(
        ACCOUNT, REGION, "app", "latest", None
    )
    assert pf.ecr_image("public.ecr.aws/docker/library/busybox:1.36") is None
    assert pf.ecr_image("busybox") is None


def test_a_missing_image_predicts_cannot_pull_and_an_unchecked_one_nothing() -> None:
    # Given two images, one missing in ECR and one not checked (another registry)
    images = [("f0", "app", IMAGE), ("f1", "side", "busybox")]
    # When judged
    found = pf.image_problems(images, {IMAGE: False, "busybox": None})
    # Then only the missing one is a problem, predicting CannotPullContainerError
    assert [(p["field"], p["predicts"]) for p in found] == [("f0", "CannotPullContainerError")]
    assert IMAGE in found[0]["message"]
    assert pf.image_problems(images, {IMAGE: True}) == []


def test_the_plan_lists_secrets_env_files_log_groups_and_network() -> None:
    # Given a container with an SSM name, a Secrets Manager JSON key, an env file and an awslogs group to create
    secret = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:prod/db-Xy12Ab:password::"
    definition = _definition(
        secrets=[{"name": "TOKEN", "valueFrom": "/app/token"}, {"name": "DB_PASSWORD", "valueFrom": secret}],
        environmentFiles=[{"value": "arn:aws:s3:::config-bucket/app.env", "type": "s3"}],
        logConfiguration={
            "logDriver": "awslogs",
            "options": {"awslogs-group": "/ecs/app", "awslogs-create-group": "true", "awslogs-region": "eu-west-1"},
        },
    )
    request = {"networkConfiguration": {"awsvpcConfiguration": {"subnets": ["subnet-1"], "securityGroups": ["sg-1"]}}}
    # When planned
    plan = pf.plan(request, definition, REGION, ACCOUNT)
    # Then each read the execution role needs is listed on its resource (the secret without its JSON key)
    needs = {(p.action, p.resource) for p in plan.permissions}
    assert needs == {
        ("ssm:GetParameters", f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/app/token"),
        ("secretsmanager:GetSecretValue", f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:prod/db-Xy12Ab"),
        ("s3:GetObject", "arn:aws:s3:::config-bucket/app.env"),
        ("s3:GetBucketLocation", "arn:aws:s3:::config-bucket"),
    }
    assert plan.role == ROLE
    assert plan.log_groups == [
        pf.LogGroup(
            "taskDefinition.containerDefinitions[0].logConfiguration.options", "app", "/ecs/app", "eu-west-1", True
        )
    ]
    assert (plan.subnets, plan.security_groups) == (["subnet-1"], ["sg-1"])


def test_overrides_change_the_role_and_the_env_files() -> None:
    # Given overrides of the execution role and of the container's environment files
    other = f"arn:aws:iam::{ACCOUNT}:role/other"
    overrides = {
        "executionRoleArn": other,
        "containerOverrides": [{"name": "app", "environmentFiles": [{"value": "arn:aws:s3:::b/o.env", "type": "s3"}]}],
    }
    definition = _definition(environmentFiles=[{"value": "arn:aws:s3:::b/d.env", "type": "s3"}])
    # When planned
    plan = pf.plan({"overrides": overrides}, definition, REGION, ACCOUNT)
    # Then the override's role and files are checked, not the definition's
    assert plan.role == other
    assert {p.resource for p in plan.permissions} == {"arn:aws:s3:::b/o.env", "arn:aws:s3:::b"}


def test_a_refused_read_predicts_resource_initialization_and_names_no_secret_value() -> None:
    # Given a secret the simulation refuses and an env file it allows
    definition = _definition(
        secrets=[{"name": "TOKEN", "valueFrom": "/app/token"}],
        environmentFiles=[{"value": "arn:aws:s3:::b/o.env", "type": "s3"}],
    )
    plan = pf.plan({}, definition, REGION, ACCOUNT)
    decisions = {(p.action, p.resource): pf.ALLOWED for p in plan.permissions}
    decisions[("ssm:GetParameters", f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/app/token")] = "implicitDeny"
    # When judged
    found = pf.permission_problems(ROLE, plan.permissions, decisions)
    # Then the secret is one problem, naming the role, the action and the decision
    [problem] = found
    assert problem["field"] == "taskDefinition.containerDefinitions[0].secrets[0]"
    assert problem["predicts"] == "ResourceInitializationError"
    assert "ssm:GetParameters" in problem["message"] and "implicitDeny" in problem["message"]
    assert ROLE in problem["message"]


def test_log_groups_missing_are_problems_unless_the_role_may_create_them() -> None:
    # Given a missing group not to be created, a missing group to create, and one that exists
    groups = [
        pf.LogGroup("a", "app", "/ecs/none", REGION, False),
        pf.LogGroup("b", "app", "/ecs/create", REGION, True),
        pf.LogGroup("c", "app", "/ecs/here", REGION, False),
    ]
    exists = {(REGION, "/ecs/none"): False, (REGION, "/ecs/create"): False, (REGION, "/ecs/here"): True}
    # When the role may not create it: both missing groups are problems
    denied = pf.log_group_problems(ROLE, groups, exists, {(REGION, "/ecs/create"): "implicitDeny"})
    assert [p["field"] for p in denied] == ["a", "b"]
    assert "awslogs-create-group" in denied[0]["message"] and "logs:CreateLogGroup" in denied[1]["message"]
    # When it may: only the group nobody will create
    allowed = pf.log_group_problems(ROLE, groups, exists, {(REGION, "/ecs/create"): pf.ALLOWED})
    assert [p["field"] for p in allowed] == ["a"]


def test_network_missing_ids_and_two_vpcs_are_problems() -> None:
    # Given a subnet that does not exist, and a subnet and security group in two VPCs
    subnets, groups = ["subnet-1", "subnet-gone"], ["sg-1"]
    # When judged
    found = pf.network_problems(subnets, groups, {"subnet-1": "vpc-a"}, {"sg-1": "vpc-b"})
    # Then the missing subnet (RunTask's InvalidParameterException) and the split network are each listed
    base = "networkConfiguration.awsvpcConfiguration"
    assert [(p["field"], p["predicts"]) for p in found] == [
        (f"{base}.subnets[1]", "InvalidParameterException"),
        (base, "ResourceInitializationError"),
    ]
    assert "vpc-a" in found[1]["message"] and "vpc-b" in found[1]["message"]
    # And one VPC is no problem
    assert pf.network_problems(["subnet-1"], ["sg-1"], {"subnet-1": "vpc-a"}, {"sg-1": "vpc-a"}) == []


def test_the_report_counts_the_problems_and_names_the_errors_predicted() -> None:
    # Given two problems
    problems = [pf.problem("f", pf.CANNOT_PULL, "m"), pf.problem("g", pf.RESOURCE_INITIALIZATION, "n")]
    # Then the cause says how many, which ECS errors, and that no task was started
    report = pf.report(problems)
    assert report["problems"] == problems
    assert (
        "2 problems" in report["message"]
        and "CannotPullContainerError, ResourceInitializationError" in (report["message"])
    )
    assert "no task was started" in report["message"]
