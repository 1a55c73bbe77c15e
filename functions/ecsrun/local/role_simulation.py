"""IAM's SimulatePrincipalPolicy for a role, answered by the local IAM evaluator (moto has no simulator).

As IAM simulates it: each action in ActionNames against each resource in ResourceArns, through the role's identity
policies (inline and attached), an explicit Deny winning; EvalDecision is `allowed`, `explicitDeny` or
`implicitDeny`. A role the local stack does not hold is judged as the local engine judges an account's execution
role when a task starts (local/execution_role.py): ECS's managed task execution policy, and the reads of secrets
and environment files an account grants its roles on purpose allowed. So the preflight and the local agent agree.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ecsrun.local.execution_role import MANAGED_EXECUTION_POLICY, policy_statements
from ecsrun.local.iam import ALLOW, EXPLICIT_DENY, Request, evaluate

Patch = Callable[[Any, str, Any], None]
# What an account's execution role is taken to be allowed beyond the managed policy (not checked locally).
ACCOUNT_GRANTED = frozenset(
    {"secretsmanager:GetSecretValue", "ssm:GetParameters", "s3:GetObject", "s3:GetBucketLocation"}
)
_DECISIONS = {ALLOW: "allowed", EXPLICIT_DENY: "explicitDeny"}


def role_statements(backend: Any, role_arn: str) -> tuple[dict[str, Any], ...] | None:
    """The role's identity-policy statements from moto's IAM backend; None when the local stack has no such role."""
    name = role_arn.rsplit("/", 1)[-1]
    role = next((r for r in backend.roles.values() if r.name == name), None)
    if role is None:
        return None
    documents: list[Any] = list(role.policies.values())
    for policy in role.managed_policies.values():
        if policy.name == "AmazonECSTaskExecutionRolePolicy":
            documents.append({"Statement": list(MANAGED_EXECUTION_POLICY)})
            continue
        version = next((v for v in policy.versions if v.version_id == policy.default_version_id), None)
        documents.append(version.document if version is not None else {})
    return policy_statements(documents)


def decision(statements: tuple[dict[str, Any], ...] | None, action: str, resource: str, region: str) -> str:
    """One EvalDecision."""
    if statements is None and action in ACCOUNT_GRANTED:
        return "allowed"
    found = evaluate(
        statements if statements is not None else MANAGED_EXECUTION_POLICY,
        Request(action, resource, {"aws:requestedregion": region}),
    )
    return _DECISIONS.get(found, "implicitDeny")


def install(patch: Patch, region: str) -> None:
    """Give moto's IAM responses a SimulatePrincipalPolicy (IAM's answer shape, botocore's model)."""
    from moto.core.responses import ActionResult
    from moto.iam.responses import IamResponse

    def simulate_principal_policy(response: Any) -> Any:
        source = str(response._get_param("PolicySourceArn"))
        actions = response._get_param("ActionNames") or []
        resources = response._get_param("ResourceArns") or ["*"]
        statements = role_statements(response.backend, source)
        results = [
            {
                "EvalActionName": action,
                "EvalResourceName": resource,
                "EvalDecision": decision(statements, action, resource, region),
                "MatchedStatements": [],
                "MissingContextValues": [],
            }
            for action in actions
            for resource in resources
        ]
        return ActionResult({"EvaluationResults": results, "IsTruncated": False})

    patch(IamResponse, "simulate_principal_policy", simulate_principal_policy)
