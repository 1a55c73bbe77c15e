"""The task execution role, checked as ECS uses it before any container starts.

The ECS agent acts as the task definition's `executionRoleArn` to read `environmentFiles` from S3
(`s3:GetObject`, `s3:GetBucketLocation`), `secrets` from Secrets Manager (`secretsmanager:GetSecretValue`) or
SSM Parameter Store (`ssm:GetParameters`), and, for the awslogs driver with `awslogs-create-group: true` when the
group does not exist yet, to create it (`logs:CreateLogGroup`). A call the role does not allow stops the task
with a `ResourceInitializationError` stoppedReason, in ECS's words (texts as tasks report them, e.g. aws/copilot-cli
issues 4504 and 5752, terraform-aws-modules/terraform-aws-ecs#313).

Which policies the role has: a role of that name in the local stack's IAM is read (inline and attached
policies), and every need is checked against them. A role the local stack does not hold is an account's role whose
policies the local engine cannot know: it is taken to have at least ECS's managed task execution policy
(`AmazonECSTaskExecutionRolePolicy`: pulling images and writing log streams, not `logs:CreateLogGroup`), so a
log group to create is refused as ECS would refuse it, while its reads of secrets and environment files, which
accounts grant their roles on purpose, are not checked. A task definition without an execution role is not
checked (on EC2 the container instance's role acts; the local engine does not model it).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

from ecsrun.local.iam import ALLOW, Request, denial, evaluate
from ecsrun.local.taskdef import env_file_object, secret_ref

# AmazonECSTaskExecutionRolePolicy, as AWS publishes it.
MANAGED_EXECUTION_POLICY: tuple[dict[str, Any], ...] = (
    {
        "Effect": "Allow",
        "Action": [
            "ecr:GetAuthorizationToken",
            "ecr:BatchCheckLayerAvailability",
            "ecr:GetDownloadUrlForLayer",
            "ecr:BatchGetImage",
            "logs:CreateLogStream",
            "logs:PutLogEvents",
        ],
        "Resource": "*",
    },
)
_PULL = "ResourceInitializationError: unable to pull secrets or registry auth: execution resource retrieval failed"


def statements_for(iam: Any, role_arn: str) -> tuple[dict[str, Any], ...] | None:
    """The identity-policy statements of the role named `role_arn` in the local stack's IAM; None when the local
    stack has no such role (its policies are the account's, unknown here)."""
    name = role_arn.rsplit("/", 1)[-1]
    try:
        iam.get_role(RoleName=name)
    except iam.exceptions.NoSuchEntityException:
        return None
    documents: list[Any] = []
    for policy in iam.list_role_policies(RoleName=name)["PolicyNames"]:
        documents.append(iam.get_role_policy(RoleName=name, PolicyName=policy)["PolicyDocument"])
    for attached in iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]:
        if attached["PolicyName"] == "AmazonECSTaskExecutionRolePolicy":
            documents.append({"Statement": list(MANAGED_EXECUTION_POLICY)})
            continue
        version = iam.get_policy(PolicyArn=attached["PolicyArn"])["Policy"]["DefaultVersionId"]
        documents.append(
            iam.get_policy_version(PolicyArn=attached["PolicyArn"], VersionId=version)["PolicyVersion"]["Document"]
        )
    return policy_statements(documents)


def policy_statements(documents: list[Any]) -> tuple[dict[str, Any], ...]:
    """The statements of IAM policy documents (JSON text or parsed), a lone statement object included."""
    statements: list[dict[str, Any]] = []
    for document in documents:
        parsed = json.loads(document) if isinstance(document, str) else document
        found = parsed.get("Statement", [])
        statements += found if isinstance(found, list) else [found]
    return tuple(statements)


def start_failure(
    task_definition: dict[str, Any],
    overrides: dict[str, Any],
    *,
    task_id: str,
    statements: tuple[dict[str, Any], ...] | None,
    region: str,
    account: str,
    group_exists: Callable[[str], bool],
) -> str | None:
    """Why ECS would stop this task before starting it for want of its execution role's permissions; None when
    the role allows what the task needs. Checked in the agent's order: environment files, secrets, log groups."""
    role_arn = task_definition.get("executionRoleArn")
    if not role_arn:
        return None
    known = statements is not None
    statements = statements if statements is not None else MANAGED_EXECUTION_POLICY
    session = f"arn:aws:sts::{account}:assumed-role/{str(role_arn).rsplit('/', 1)[-1]}/{task_id}"

    def refused(service: str, action: str, resource: str) -> str | None:
        request = Request(action, resource, {"aws:requestedregion": region})
        decision = evaluate(statements, request)
        return None if decision == ALLOW else denial(service, session, request, decision)[1]

    by_name = {o.get("name"): o for o in overrides.get("containerOverrides") or [] if isinstance(o, dict)}
    containers = [c for c in task_definition.get("containerDefinitions") or [] if isinstance(c, dict)]
    for container in containers if known else ():
        override = by_name.get(container.get("name")) or {}
        for entry in override.get("environmentFiles") or container.get("environmentFiles") or []:
            where = env_file_object(entry.get("value"))
            if where is None:
                continue  # the agent says what is wrong with it
            for action, resource in (
                ("s3:GetBucketLocation", f"arn:aws:s3:::{where.bucket}"),
                ("s3:GetObject", f"arn:aws:s3:::{where.bucket}/{where.key}"),
            ):
                if refused("s3", action, resource):
                    return (
                        "ResourceInitializationError: failed to download env files: file download command: non empty "
                        "error stream: service call has been retried 5 time(s): AccessDenied: Access Denied "
                        f"status code: 403, request id: {_request_id()}"
                    )
    for container in containers if known else ():
        for secret in container.get("secrets") or []:
            ref = secret_ref(str(secret.get("valueFrom")))
            if ref.service == "secretsmanager":
                why = refused("secretsmanager", "secretsmanager:GetSecretValue", ref.id)
                if why:
                    return (
                        f"{_PULL}: unable to retrieve secret from asm: service call has been retried 1 time(s): "
                        f"failed to fetch secret {ref.id} from secrets manager: AccessDeniedException: {why} "
                        f"status code: 400, request id: {_request_id()}"
                    )
            else:
                why = refused("ssm", "ssm:GetParameters", _parameter_arn(ref.id, region, account))
                if why:
                    return (
                        f"{_PULL}: unable to retrieve secrets from ssm: service call has been retried 1 time(s): "
                        f"AccessDeniedException: {why} status code: 400, request id: {_request_id()}"
                    )
    for container in containers:
        config = container.get("logConfiguration") or {}
        options = config.get("options") or {}
        group = options.get("awslogs-group")
        create = str(options.get("awslogs-create-group", "false")).lower() == "true"
        if config.get("logDriver") != "awslogs" or not group or not create or group_exists(group):
            continue
        group_region = options.get("awslogs-region") or region
        resource = f"arn:aws:logs:{group_region}:{account}:log-group:{group}:log-stream:"
        why = refused("logs", "logs:CreateLogGroup", resource)
        if why:
            return (
                "ResourceInitializationError: failed to validate logger args: create stream has been retried 1 "
                f"times: failed to create Cloudwatch log group: AccessDeniedException: {why} : exit status 1"
            )
    return None


def _parameter_arn(name_or_arn: str, region: str, account: str) -> str:
    if name_or_arn.startswith("arn:"):
        return name_or_arn
    return f"arn:aws:ssm:{region}:{account}:parameter/{name_or_arn.lstrip('/')}"


def _request_id() -> str:
    return str(uuid.uuid4())
