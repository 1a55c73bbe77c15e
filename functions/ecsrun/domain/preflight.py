"""The preflight: what ECS would fail on after a provisioning cycle, predicted from the task definition and the
request before RunTask. Pure: `plan` lists what to ask AWS, the `*_problems` functions judge the answers.

Each problem names the field, the ECS error it predicts (as a stopped task's `stoppedReason` or RunTask's API
error starts) and a message a person can act on; a secret's value is never read, only whether the execution role
may read it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

# The ECS errors a preflight problem predicts.
CANNOT_PULL = "CannotPullContainerError"
RESOURCE_INITIALIZATION = "ResourceInitializationError"
INVALID_PARAMETER = "InvalidParameterException"

# <account>.dkr.ecr[-fips].<region>.amazonaws.com[.cn]/<repository>[:tag][@digest] (ECR's private registry URI).
_ECR = re.compile(
    r"(?P<registry>\d{12})\.dkr\.ecr(?:-fips)?\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(?:\.cn)?/"
    r"(?P<repository>[a-z0-9][a-z0-9._/-]*?)(?::(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?"
    r"(?:@(?P<digest>sha256:[0-9a-f]{64}))?"
)
_SECRET_ARN = re.compile(r"arn:(aws[a-z-]*):secretsmanager:([a-z0-9-]+):(\d{12}):secret:[^:]+")
_S3_ARN = re.compile(r"arn:(aws[a-z-]*):s3:::([^/]+)/(.+)")
# IAM simulation decisions (SimulatePrincipalPolicy's EvalDecision).
ALLOWED = "allowed"


@dataclass(frozen=True)
class EcrImage:
    """A private ECR image: DescribeImages finds it by registry, repository and tag or digest."""

    registry: str
    region: str
    repository: str
    tag: str | None
    digest: str | None


def ecr_image(image: str) -> EcrImage | None:
    """The ECR image an `image` names (no tag: `latest`, as Docker pulls it); None for any other registry."""
    match = _ECR.fullmatch(image or "")
    if match is None:
        return None
    tag, digest = match["tag"], match["digest"]
    return EcrImage(
        match["registry"], match["region"], match["repository"], tag or (None if digest else "latest"), digest
    )


@dataclass(frozen=True)
class Permission:
    """An action the execution role must be allowed on a resource, and the problem if it is not."""

    field: str
    action: str
    resource: str
    what: str  # "secret DB_PASSWORD (arn:...)", "environment file s3://bucket/key"


@dataclass(frozen=True)
class LogGroup:
    field: str
    container: str
    group: str
    region: str
    create: bool


@dataclass(frozen=True)
class Plan:
    """What the preflight asks AWS about one run."""

    role: str | None
    images: list[tuple[str, str, str]] = field(default_factory=list)  # (field, container, image)
    permissions: list[Permission] = field(default_factory=list)
    log_groups: list[LogGroup] = field(default_factory=list)
    subnets: list[str] = field(default_factory=list)
    security_groups: list[str] = field(default_factory=list)


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def secret_permission(field_name: str, name: str, value_from: str, region: str, account: str) -> Permission:
    """A container secret: Secrets Manager's GetSecretValue on the secret's ARN (its JSON key, stage and version
    suffixes dropped), or SSM's GetParameters on the parameter's ARN (a name is in the task's account and Region)."""
    what = f"secret {name} ({value_from})"
    found = _SECRET_ARN.match(value_from)
    if found:
        return Permission(field_name, "secretsmanager:GetSecretValue", found.group(0), what)
    if value_from.startswith("arn:"):
        return Permission(field_name, "ssm:GetParameters", value_from, what)
    arn = f"arn:aws:ssm:{region}:{account}:parameter/{value_from.lstrip('/')}"
    return Permission(field_name, "ssm:GetParameters", arn, what)


def plan(request: Mapping[str, Any], definition: Mapping[str, Any], region: str, account: str) -> Plan:
    """What to check for `request` run with `definition` (DescribeTaskDefinition's taskDefinition)."""
    overrides = _dict(request.get("overrides"))
    role = overrides.get("executionRoleArn") or definition.get("executionRoleArn")
    by_name = {o.get("name"): o for o in _list(overrides.get("containerOverrides")) if isinstance(o, dict)}
    found = Plan(role=str(role) if role else None)
    for index, container in enumerate(_list(definition.get("containerDefinitions"))):
        if not isinstance(container, dict):
            continue
        name = str(container.get("name") or f"#{index}")
        at = f"taskDefinition.containerDefinitions[{index}]"
        if isinstance(container.get("image"), str):
            found.images.append((f"{at}.image", name, container["image"]))
        override = _dict(by_name.get(name))
        files = override.get("environmentFiles") or container.get("environmentFiles")
        for number, entry in enumerate(_list(files)):
            match = _S3_ARN.fullmatch(str(_dict(entry).get("value") or ""))
            if match is None:
                continue
            partition, bucket, key = match.groups()
            what = f"environment file s3://{bucket}/{key} of container {name}"
            place = f"{at}.environmentFiles[{number}]"
            found.permissions.append(Permission(place, "s3:GetObject", f"arn:{partition}:s3:::{bucket}/{key}", what))
            found.permissions.append(Permission(place, "s3:GetBucketLocation", f"arn:{partition}:s3:::{bucket}", what))
        for number, secret in enumerate(_list(container.get("secrets"))):
            value_from = _dict(secret).get("valueFrom")
            if isinstance(value_from, str) and value_from:
                place = f"{at}.secrets[{number}]"
                secret_name = str(_dict(secret).get("name"))
                found.permissions.append(secret_permission(place, secret_name, value_from, region, account))
        config = _dict(container.get("logConfiguration"))
        options = _dict(config.get("options"))
        if config.get("logDriver") == "awslogs" and isinstance(options.get("awslogs-group"), str):
            create = str(options.get("awslogs-create-group", "false")).lower() == "true"
            group_region = str(options.get("awslogs-region") or region)
            place = f"{at}.logConfiguration.options"
            found.log_groups.append(LogGroup(place, name, options["awslogs-group"], group_region, create))
    network = _dict(_dict(request.get("networkConfiguration")).get("awsvpcConfiguration"))
    found.subnets.extend(s for s in _list(network.get("subnets")) if isinstance(s, str))
    found.security_groups.extend(g for g in _list(network.get("securityGroups")) if isinstance(g, str))
    return found


def problem(field_name: str, predicts: str, message: str) -> dict[str, str]:
    return {"field": field_name, "predicts": predicts, "message": message}


def image_problems(images: Iterable[tuple[str, str, str]], exists: Mapping[str, bool | None]) -> list[dict[str, str]]:
    """`exists[image]`: True found, False not found, None not checked (another registry). One problem per
    missing image."""
    return [
        problem(
            at,
            CANNOT_PULL,
            f"container {container}'s image {image} does not exist in its ECR repository: ECS would stop the task "
            "with CannotPullContainerError (push the image, or fix the tag or digest)",
        )
        for at, container, image in images
        if exists.get(image) is False
    ]


def permission_problems(
    role: str, permissions: Iterable[Permission], decisions: Mapping[tuple[str, str], str]
) -> list[dict[str, str]]:
    """`decisions[(action, resource)]`: SimulatePrincipalPolicy's EvalDecision for the execution role; a missing
    one was not simulated. One problem per refused field and action."""
    found: list[dict[str, str]] = []
    for need in permissions:
        decision = decisions.get((need.action, need.resource))
        if decision is None or decision == ALLOWED:
            continue
        found.append(
            problem(
                need.field,
                RESOURCE_INITIALIZATION,
                f"the execution role {role} may not read the {need.what}: {need.action} on {need.resource} is "
                f"{decision}; ECS would stop the task with ResourceInitializationError",
            )
        )
    return found


def log_group_arn(group: LogGroup, account: str) -> str:
    return f"arn:aws:logs:{group.region}:{account}:log-group:{group.group}"


def log_group_problems(
    role: str | None,
    groups: Iterable[LogGroup],
    exists: Mapping[tuple[str, str], bool],
    may_create: Mapping[tuple[str, str], str],
) -> list[dict[str, str]]:
    """`exists[(region, group)]`; `may_create[(region, group)]`: the execution role's decision on
    logs:CreateLogGroup (only asked for groups to create that do not exist)."""
    found: list[dict[str, str]] = []
    for group in groups:
        key = (group.region, group.group)
        if exists.get(key, True):
            continue
        if not group.create:
            found.append(
                problem(
                    group.field,
                    RESOURCE_INITIALIZATION,
                    f"container {group.container} logs to {group.group} in {group.region}, which does not exist "
                    "and awslogs-create-group is not true: ECS would stop the task with ResourceInitializationError "
                    "(create the log group, or set awslogs-create-group to true)",
                )
            )
        elif role is not None and may_create.get(key, ALLOWED) != ALLOWED:
            # Without an execution role (EC2), the container instance's role creates it: not known here.
            found.append(
                problem(
                    group.field,
                    RESOURCE_INITIALIZATION,
                    f"container {group.container}'s log group {group.group} does not exist and the execution role "
                    f"{role} may not create it (logs:CreateLogGroup): ECS would stop the task with "
                    "ResourceInitializationError",
                )
            )
    return found


def network_problems(
    subnets: list[str],
    security_groups: list[str],
    subnet_vpcs: Mapping[str, str],
    group_vpcs: Mapping[str, str],
) -> list[dict[str, str]]:
    """`subnet_vpcs` and `group_vpcs`: the VPC of each subnet and security group found (DescribeSubnets,
    DescribeSecurityGroups). Missing ones, then more than one VPC among them."""
    base = "networkConfiguration.awsvpcConfiguration"
    found: list[dict[str, str]] = []
    for key, kind, names, known in (
        ("subnets", "subnet", subnets, subnet_vpcs),
        ("securityGroups", "security group", security_groups, group_vpcs),
    ):
        found += [
            problem(
                f"{base}.{key}[{index}]",
                INVALID_PARAMETER,
                f"{kind} {name} does not exist in this account and Region: RunTask would fail with "
                "InvalidParameterException",
            )
            for index, name in enumerate(names)
            if name not in known
        ]
    vpcs: dict[str, list[str]] = {}
    for name in [*subnets, *security_groups]:
        vpc = subnet_vpcs.get(name) or group_vpcs.get(name)
        if vpc and name not in vpcs.get(vpc, []):
            vpcs.setdefault(vpc, []).append(name)
    if len(vpcs) > 1:
        listed = "; ".join(f"{vpc}: {', '.join(names)}" for vpc, names in sorted(vpcs.items()))
        found.append(
            problem(
                base,
                RESOURCE_INITIALIZATION,
                f"the subnets and security groups are in {len(vpcs)} VPCs ({listed}); they must share one: ECS "
                "could not attach the task's network interface (ResourceInitializationError)",
            )
        )
    return found


def report(problems: list[dict[str, str]]) -> dict[str, Any]:
    """The RunRequest.WillNotStart cause: one message, then each problem with the ECS error it predicts."""
    noun = "problem" if len(problems) == 1 else "problems"
    predicted = ", ".join(dict.fromkeys(p["predicts"] for p in problems))
    return {
        "message": f"the run would not start: {len(problems)} {noun} ECS would fail on ({predicted}); "
        "no task was started",
        "problems": problems,
    }
