"""The preflight, run by ValidateRequest before RunTask and by `ecsrun validate --stack-name`: asks ECR, IAM,
CloudWatch Logs and EC2 what ECS would otherwise find out after a provisioning cycle (domain/preflight.py
judges). Read-only calls, a handful a run; a check AWS does not answer (access denied, throttled) is skipped and
named in `unchecked`, never a problem."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from ecsrun.adapters.cloudwatch_logs import log_group_exists
from ecsrun.adapters.ec2 import security_group_vpcs, subnet_vpcs
from ecsrun.adapters.ecr import image_exists
from ecsrun.adapters.iam import RoleMissing, simulate
from ecsrun.domain import preflight as checks

Client = Callable[[str, str | None], Any]  # (service, region or None) -> a boto3 client


class Preflight(NamedTuple):
    problems: list[dict[str, str]]
    unchecked: list[str]  # what could not be checked, and why


def run_preflight(
    request: dict[str, Any], definition: dict[str, Any], client: Client, *, region: str, account: str
) -> Preflight:
    """Every check, for one full answer: images, the execution role's reads, log groups, the network."""
    plan = checks.plan(request, definition, region, account)
    unchecked: list[str] = []
    problems: list[dict[str, str]] = []

    exists: dict[str, bool | None] = {}
    for _, _, image in plan.images:
        if image in exists:
            continue
        ref = checks.ecr_image(image)
        if ref is None:
            unchecked.append(f"image {image}: not in a private ECR registry")
            exists[image] = None
            continue
        exists[image] = image_exists(client("ecr", ref.region), ref.registry, ref.repository, ref.tag, ref.digest)
        if exists[image] is None:
            unchecked.append(f"image {image}: ECR did not answer DescribeImages")
    problems += checks.image_problems(plan.images, exists)

    groups: dict[tuple[str, str], bool] = {}
    for group in plan.log_groups:
        key = (group.region, group.group)
        if key not in groups:
            found = log_group_exists(client("logs", group.region), group.group)
            if found is None:
                unchecked.append(f"log group {group.group}: CloudWatch Logs did not answer DescribeLogGroups")
            groups[key] = True if found is None else found
    to_create = {(g.region, g.group): g for g in plan.log_groups if g.create and not groups[(g.region, g.group)]}

    decisions: dict[tuple[str, str], str] = {}
    create_arns = {key: checks.log_group_arn(g, account) for key, g in to_create.items()}
    pairs = [(p.action, p.resource) for p in plan.permissions]
    pairs += [("logs:CreateLogGroup", arn) for arn in create_arns.values()]
    if plan.role and pairs:
        try:
            simulated = simulate(client("iam", None), plan.role, pairs)
        except RoleMissing:
            simulated = {}
            problems.append(
                checks.problem(
                    "taskDefinition.executionRoleArn",
                    checks.RESOURCE_INITIALIZATION,
                    f"the execution role {plan.role} does not exist: ECS could not read the task's secrets, "
                    "environment files or create its log group (ResourceInitializationError)",
                )
            )
        if simulated is None:
            unchecked.append(f"execution role {plan.role}: IAM did not answer SimulatePrincipalPolicy")
        decisions = simulated or {}
    problems += checks.permission_problems(str(plan.role), plan.permissions, decisions)
    may_create = {key: decisions.get(("logs:CreateLogGroup", arn), checks.ALLOWED) for key, arn in create_arns.items()}
    problems += checks.log_group_problems(plan.role, plan.log_groups, groups, may_create)

    if plan.subnets or plan.security_groups:
        ec2 = client("ec2", None)
        subnets, security_groups = subnet_vpcs(ec2, plan.subnets), security_group_vpcs(ec2, plan.security_groups)
        if subnets is None or security_groups is None:
            unchecked.append("network: EC2 did not answer DescribeSubnets or DescribeSecurityGroups")
        else:
            problems += checks.network_problems(plan.subnets, plan.security_groups, subnets, security_groups)
    return Preflight(problems, unchecked)
