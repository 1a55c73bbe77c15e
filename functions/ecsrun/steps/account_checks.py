"""A request checked against this runner's allowlists and against the account, before RunTask.

The allowlists are the same ones IAM enforces (template parameters AllowedClusters and
AllowedTaskDefinitionFamilies), checked here first so a refusal names the field instead of surfacing as
AccessDenied. The account checks turn what RunTask would reject into problems a person can act on.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterator
from typing import Any, NamedTuple

from ecsrun.domain.request_rules import CLUSTER, TASK_DEFINITION, as_dict, strategy_providers

Problem = tuple[str, str]

DEFAULT_CLUSTER = "default"
RUNNABLE_STATUS = "ACTIVE"


def cluster_name(cluster: str | None) -> str:
    """'default' when the request names none (as RunTask does); the name, given a name or an ARN."""
    if not cluster:
        return DEFAULT_CLUSTER
    return cluster.rsplit("cluster/", 1)[-1] if cluster.startswith("arn:") else cluster


def task_definition_family(task_definition: str) -> str:
    """The family of 'family', 'family:revision' or a task definition ARN."""
    name = task_definition.rsplit("task-definition/", 1)[-1] if task_definition.startswith("arn:") else task_definition
    return name.split(":", 1)[0]


def _allowed(name: str, patterns: list[str]) -> bool:
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns)


def allowlist_problems(request: dict[str, Any], clusters: list[str], families: list[str]) -> Iterator[Problem]:
    """Pure: the cluster and task definition family must match one of the runner's patterns."""
    name = cluster_name(request.get("cluster"))
    if not _allowed(name, clusters):
        yield "cluster", f"cluster {name!r} is not one this runner may use (AllowedClusters: {', '.join(clusters)})"
    definition = request.get("taskDefinition")
    if isinstance(definition, str) and not _allowed(task_definition_family(definition), families):
        family = task_definition_family(definition)
        yield (
            "taskDefinition",
            f"task definition family {family!r} is not one this runner may run "
            f"(AllowedTaskDefinitionFamilies: {', '.join(families)})",
        )


def home_problems(request: dict[str, Any], region: str, account: str) -> Iterator[Problem]:
    """Pure: a cluster or task definition given as an ARN must be in the runner's own account and Region (RunTask
    runs nothing elsewhere, and a lookup by name alone would find a namesake here)."""
    for field, kind in (("cluster", "cluster"), ("taskDefinition", "task definition")):
        value = request.get(field)
        if not (isinstance(value, str) and value.startswith("arn:")):
            continue
        parts = value.split(":")
        arn_region, arn_account = parts[3], parts[4]
        if (arn_region, arn_account) != (region, account):
            yield (
                field,
                f"{kind} {value!r} is in account {arn_account}, Region {arn_region}; this runner starts tasks in "
                f"account {account}, Region {region} only",
            )


def role_problems(request: dict[str, Any], definition: dict[str, Any], pass_roles: list[str]) -> Iterator[Problem]:
    """Pure: RunTask makes the runner pass the task's roles to ECS (iam:PassRole), which IAM allows only for the
    stack's PassRoleArns: each role of the task definition, or of the request's overrides, must be one of them."""
    revision = f"{definition.get('family')}:{definition.get('revision')}"
    overrides = as_dict(request.get("overrides"))
    roles = [
        ("taskDefinition", definition.get("taskRoleArn"), f"{revision}'s taskRoleArn"),
        ("taskDefinition", definition.get("executionRoleArn"), f"{revision}'s executionRoleArn"),
        ("overrides.taskRoleArn", overrides.get("taskRoleArn"), "the task role override"),
        ("overrides.executionRoleArn", overrides.get("executionRoleArn"), "the execution role override"),
    ]
    for field, role, what in roles:
        if isinstance(role, str) and role and not any(fnmatch.fnmatchcase(role, p) for p in pass_roles):
            listed = ", ".join(pass_roles) if pass_roles else "empty"
            yield (
                field,
                f"{what} {role} is not one this runner may pass to ECS: add it to the stack's PassRoleArns "
                f"parameter (now {listed})",
            )


def task_definition_problems(
    request: dict[str, Any], definition: dict[str, Any] | None, pass_roles: list[str] | None = None
) -> Iterator[Problem]:
    """Pure: what RunTask would refuse about the task definition `request` names (None: it does not exist).
    `pass_roles` (the PassRoleArns patterns) also checks the roles RunTask would pass; None skips that."""
    name = request["taskDefinition"]
    if definition is None:
        yield "taskDefinition", f"no task definition {name!r} in this account and region"
        return
    if pass_roles is not None:
        yield from role_problems(request, definition, pass_roles)
    revision = f"{definition.get('family')}:{definition.get('revision')}"
    status = definition.get("status", RUNNABLE_STATUS)
    if status != RUNNABLE_STATUS:
        yield "taskDefinition", f"{revision} is {status}: ECS runs only ACTIVE task definitions"
    compatible = definition.get("compatibilities") or definition.get("requiresCompatibilities")
    launch = request.get("launchType")
    providers = strategy_providers(request)
    wants_fargate = launch == "FARGATE" or any(p in ("FARGATE", "FARGATE_SPOT") for p in providers)
    if compatible and launch and launch not in compatible:
        yield "launchType", f"{revision} is compatible with {', '.join(compatible)}, not {launch}"
    elif compatible and wants_fargate and not launch and "FARGATE" not in compatible:
        yield "capacityProviderStrategy", f"{revision} is compatible with {', '.join(compatible)}, not FARGATE"
    if wants_fargate and definition.get("networkMode", "awsvpc") != "awsvpc":
        yield "taskDefinition", f"{revision} uses network mode {definition.get('networkMode')}; Fargate needs awsvpc"
    containers = [c.get("name") for c in definition.get("containerDefinitions", [])]
    overrides = as_dict(request.get("overrides")).get("containerOverrides")
    for index, override in enumerate(overrides if isinstance(overrides, list) else []):
        if isinstance(override, dict) and isinstance(override.get("name"), str) and override["name"] not in containers:
            yield (
                f"overrides.containerOverrides[{index}].name",
                f"{revision} has no container {override.get('name')!r} (its containers: {', '.join(containers)})",
            )


def cluster_problems(request: dict[str, Any], cluster: dict[str, Any] | None) -> Iterator[Problem]:
    """Pure: what RunTask would refuse about the cluster (None: it does not exist)."""
    name = cluster_name(request.get("cluster"))
    if cluster is None:
        yield "cluster", f"no cluster {name!r} in this account and region"
        return
    status = cluster.get("status")
    if status != RUNNABLE_STATUS:
        yield "cluster", f"cluster {name!r} is {status}: tasks run only on ACTIVE clusters"
    available = cluster.get("capacityProviders") or []
    for index, provider in enumerate(strategy_providers(request)):
        if isinstance(provider, str) and provider not in available:
            listed = ", ".join(available) or "none"
            yield (
                f"capacityProviderStrategy[{index}].capacityProvider",
                f"cluster {name!r} has no capacity provider {provider!r} (it has: {listed})",
            )
    launch = request.get("launchType")
    if launch in ("EC2", "EXTERNAL") and not cluster.get("registeredContainerInstancesCount"):
        yield "launchType", f"cluster {name!r} has no registered container instances to place an {launch} task on"


class AccountCheck(NamedTuple):
    """The problems found, and the task definition ECS described (None: not looked up, or not found)."""

    problems: list[Problem]
    definition: dict[str, Any] | None = None


def account_check(
    request: dict[str, Any],
    clusters: list[str],
    families: list[str],
    ecs: Any,
    *,
    pass_roles: list[str],
    region: str,
    account: str,
    described: bool = False,
) -> AccountCheck:
    """The runner's account and Region, and the allowlists, first; then, only for what they allow (IAM lets the
    runner describe nothing else), ask ECS about the task definition and the cluster (one Describe call each;
    a cluster given as an ARN is looked up by that ARN) and judge, the roles the task would be passed included.
    `described`: ECS was asked already for this run (an array's child: its parent was), so only the pure
    checks run and no Describe call is made.

    Runs on requests with other problems too, so one answer lists everything; a task definition or cluster
    whose name is itself malformed is not looked up (that problem is already reported)."""
    definition_name, cluster = request.get("taskDefinition"), request.get("cluster")
    definition_ok = isinstance(definition_name, str) and bool(TASK_DEFINITION.match(definition_name))
    cluster_ok = cluster is None or (isinstance(cluster, str) and bool(CLUSTER.match(cluster)))
    if not (definition_ok and cluster_ok):
        return AccountCheck([])
    refused = [*home_problems(request, region, account), *allowlist_problems(request, clusters, families)]
    if refused or described:
        return AccountCheck(refused)
    definition = ecs.find_task_definition(definition_name)
    found = ecs.find_cluster(cluster or DEFAULT_CLUSTER)
    problems = [*task_definition_problems(request, definition, pass_roles), *cluster_problems(request, found)]
    return AccountCheck(problems, definition)


def account_problems(
    request: dict[str, Any],
    clusters: list[str],
    families: list[str],
    ecs: Any,
    *,
    pass_roles: list[str],
    region: str,
    account: str,
) -> list[Problem]:
    """account_check's problems alone."""
    return account_check(
        request, clusters, families, ecs, pass_roles=pass_roles, region=region, account=account
    ).problems
