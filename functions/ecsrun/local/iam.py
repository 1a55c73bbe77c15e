"""IAM on the local engine: every AWS call a function makes is checked against that function's role, as `sam deploy`
would create it; so are the state machine's calls (Lambda invocations, nested executions, the Map's item reader)
and the EventBridge and Scheduler roles' StartExecution where the local engine plays those services.

What is checked, per call: the IAM action(s) the call needs (`<service>:<Operation>`, with AWS's exceptions: S3
multipart and list calls, Lambda Invoke, RunTask's dependent ecs:TagResource and iam:PassRole), against the
resource's ARN where it is known, through the role's identity policies (inline, AWS::IAM::Policy attachments, and
the AWS managed policies SAM attaches). Explicit Deny wins over Allow; no Allow is an implicit deny. Conditions are
evaluated for the keys the local engine knows the value of (EVALUATED_KEYS); a condition on any other key is not
evaluated (it counts as met). Not evaluated at all: service control policies, permission boundaries, session
policies, resource policies (a bucket policy, a Lambda permission, a key policy) and trust policies.

A denied call fails as AWS fails it: the service's AccessDenied error (`AccessDeniedException`, or `AccessDenied`
for S3 and the query-protocol services) with AWS's message, "User: <assumed role> is not authorized to perform:
<action> on resource: <ARN> because no identity-based policy allows the <action> action".

The pure parts (actions, ARNs, statement matching) are functions of their arguments; `Enforcer` is the part that
hooks botocore and knows who is calling.
"""

from __future__ import annotations

import re
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from ecsrun.local.cfn import Role

# Condition keys whose value the local engine knows for the calls it checks; a condition on another key counts as met.
EVALUATED_KEYS = frozenset(
    {
        "aws:requestedregion",
        "ecs:cluster",
        "ecs:createaction",
        "iam:passedtoservice",
        "s3:prefix",
        "events:source",
        "events:detail-type",
    }
)
# Calls IAM never refuses.
UNCHECKED = frozenset({("sts", "GetCallerIdentity")})


@dataclass(frozen=True)
class Request:
    """One authorization IAM makes for a call: an action on a resource, with the request's condition values."""

    action: str
    resource: str
    context: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Call:
    """An AWS API call as a client makes it: where, and with which parameters."""

    service: str  # botocore's service name: "stepfunctions", "dynamodb", ...
    signing_name: str  # the service's signing name: "states", "dynamodb", ...
    operation: str  # "SendTaskSuccess"
    params: Mapping[str, Any]
    region: str
    account: str
    partition: str = "aws"


# ---- actions and resources ----

# Operations whose IAM action is not <prefix>:<operation>.
_ACTIONS = {
    ("s3", "CreateMultipartUpload"): "s3:PutObject",
    ("s3", "UploadPart"): "s3:PutObject",
    ("s3", "CompleteMultipartUpload"): "s3:PutObject",
    ("s3", "ListParts"): "s3:ListMultipartUploadParts",
    ("s3", "ListMultipartUploads"): "s3:ListBucketMultipartUploads",
    ("s3", "ListObjectsV2"): "s3:ListBucket",
    ("s3", "ListObjects"): "s3:ListBucket",
    ("s3", "HeadBucket"): "s3:ListBucket",
    ("s3", "HeadObject"): "s3:GetObject",
    ("s3", "DeleteObjects"): "s3:DeleteObject",
    ("lambda", "Invoke"): "lambda:InvokeFunction",
    ("lambda", "InvokeAsync"): "lambda:InvokeFunction",
    ("lambda", "InvokeWithResponseStream"): "lambda:InvokeFunction",
}
_PREFIXES = {"monitoring": "cloudwatch"}  # signing names that are not the IAM prefix


def action_of(call: Call) -> str:
    return (
        _ACTIONS.get((call.service, call.operation))
        or f"{_PREFIXES.get(call.signing_name, call.signing_name)}:{call.operation}"
    )


def requests_for(
    call: Call, task_definition_roles: Callable[[str], tuple[str, list[str]]] | None = None
) -> list[Request]:
    """Every authorization `call` needs. `task_definition_roles(name)` gives a task definition's ARN and roles
    (RunTask passes them); without it, RunTask is checked on the definition's family (any revision) and passes
    only the overrides' roles."""
    p, region, account = call.partition, call.region, call.account
    base = {"aws:RequestedRegion": region}
    action = action_of(call)
    params = call.params
    arn = f"arn:{p}"

    def one(resource: str, **context: str) -> list[Request]:
        return [Request(action, resource, {**base, **context})]

    service, operation = call.service, call.operation
    if service == "dynamodb":
        if operation in ("BatchGetItem", "BatchWriteItem"):
            tables = list(params.get("RequestItems") or {})
            return [r for t in tables for r in one(_table_arn(arn, region, account, t))]
        if operation == "TransactWriteItems":
            return [
                r
                for item in params.get("TransactItems") or []
                for kind, body in item.items()
                for r in [
                    Request(
                        f"dynamodb:{_transact_action(kind)}", _table_arn(arn, region, account, body["TableName"]), base
                    )
                ]
            ]
        table = _table_arn(arn, region, account, params.get("TableName", ""))
        index = params.get("IndexName")
        return one(f"{table}/index/{index}" if index and operation in ("Query", "Scan") else table)
    if service == "ecs":
        return _ecs(call, action, base, task_definition_roles)
    if service == "stepfunctions":
        if operation in ("SendTaskSuccess", "SendTaskFailure", "SendTaskHeartbeat"):
            return one("*")  # no resource-level permissions: authorized by the token
        if operation in ("StartExecution", "StartSyncExecution", "ListExecutions", "DescribeStateMachine"):
            return one(str(params.get("stateMachineArn", "*")))
        if operation in ("DescribeMapRun", "UpdateMapRun"):
            return one(str(params.get("mapRunArn", "*")))
        if "executionArn" in params:
            return one(str(params["executionArn"]))
        return one("*")
    if service == "s3":
        bucket = params.get("Bucket", "")
        if action == "s3:ListBucket":
            prefix = {"s3:prefix": params["Prefix"]} if "Prefix" in params else {}
            return one(f"{arn}:s3:::{bucket}", **prefix)
        if operation == "DeleteObjects":
            keys = [o.get("Key", "") for o in (params.get("Delete") or {}).get("Objects", [])]
            return [r for key in keys for r in one(f"{arn}:s3:::{bucket}/{key}")]
        if operation == "CopyObject":
            source = params.get("CopySource")
            text = f"{source['Bucket']}/{source['Key']}" if isinstance(source, dict) else str(source).lstrip("/")
            return [
                Request("s3:GetObject", f"{arn}:s3:::{text}", base),
                *one(f"{arn}:s3:::{bucket}/{params.get('Key', '')}"),
            ]
        if "Key" in params:
            return one(f"{arn}:s3:::{bucket}/{params['Key']}")
        return one(f"{arn}:s3:::{bucket}" if bucket else "*")
    if service == "logs":
        group = params.get("logGroupName") or _group_of(params.get("logGroupIdentifier"))
        if group and params.get("logStreamName"):
            return one(f"{arn}:logs:{region}:{account}:log-group:{group}:log-stream:{params['logStreamName']}")
        if group:
            # Group-level calls are authorized on the group's streams (hence policies on "...:log-group:NAME:*").
            return one(f"{arn}:logs:{region}:{account}:log-group:{group}:log-stream:")
        return one("*")
    if service == "events" and operation == "PutEvents":
        found = []
        for entry in params.get("Entries") or []:
            bus = str(entry.get("EventBusName") or "default")
            resource = bus if bus.startswith("arn:") else f"{arn}:events:{region}:{account}:event-bus/{bus}"
            context = {
                "events:source": str(entry.get("Source", "")),
                "events:detail-type": str(entry.get("DetailType", "")),
            }
            found += one(resource, **context)
        return found
    if service == "ecr" and "repositoryName" in params:
        registry = str(params.get("registryId") or account)
        return one(f"{arn}:ecr:{region}:{registry}:repository/{params['repositoryName']}")
    if service == "iam" and operation == "SimulatePrincipalPolicy":
        return one(str(params.get("PolicySourceArn", "*")))
    if service == "lambda" and "FunctionName" in params:
        return one(_function_arn(arn, region, account, str(params["FunctionName"]), params.get("Qualifier")))
    if service == "sqs" and "QueueUrl" in params:
        name = str(params["QueueUrl"]).rstrip("/").rsplit("/", 1)[-1]
        return one(f"{arn}:sqs:{region}:{account}:{name}")
    if service == "cloudformation" and params.get("StackName"):
        name = str(params["StackName"])
        return one(name if name.startswith("arn:") else f"{arn}:cloudformation:{region}:{account}:stack/{name}/*")
    return one("*")


def _ecs(
    call: Call, action: str, base: dict[str, str], roles_of: Callable[[str], tuple[str, list[str]]] | None
) -> list[Request]:
    p, region, account, params, operation = call.partition, call.region, call.account, call.params, call.operation
    cluster = _cluster_arn(p, region, account, params.get("cluster"))
    with_cluster = {**base, "ecs:cluster": cluster}
    if operation == "RunTask":
        name = str(params.get("taskDefinition", ""))
        definition, roles = roles_of(name) if roles_of else (_definition_arn(p, region, account, name), [])
        found = [Request(action, definition, with_cluster)]
        if params.get("tags") or params.get("propagateTags"):
            # Tagging at launch is authorized separately, on the task, with ecs:CreateAction = RunTask.
            task = f"arn:{p}:ecs:{region}:{account}:task/{cluster.rsplit('/', 1)[-1]}/*"
            found.append(Request("ecs:TagResource", task, {**with_cluster, "ecs:CreateAction": "RunTask"}))
        overrides = params.get("overrides") or {}
        passed = [*roles, *(overrides.get(k) for k in ("taskRoleArn", "executionRoleArn") if overrides.get(k))]
        for role in dict.fromkeys(passed):
            found.append(Request("iam:PassRole", str(role), {**base, "iam:PassedToService": "ecs-tasks.amazonaws.com"}))
        return found
    if operation in ("StopTask", "DescribeTasks"):
        tasks = [params["task"]] if operation == "StopTask" else list(params.get("tasks") or [])
        return [Request(action, _task_arn(p, region, account, cluster, str(t)), with_cluster) for t in tasks]
    if operation == "ListTasks":
        instance = params.get("containerInstance")
        return [Request(action, str(instance) if instance else "*", with_cluster)]
    if operation == "DescribeClusters":
        names = params.get("clusters") or ["default"]
        return [Request(action, _cluster_arn(p, region, account, str(c)), base) for c in names]
    return [Request(action, "*", base)]  # DescribeTaskDefinition and the like: no resource-level permissions


def _table_arn(arn: str, region: str, account: str, table: str) -> str:
    return table if table.startswith("arn:") else f"{arn}:dynamodb:{region}:{account}:table/{table}"


def _transact_action(kind: str) -> str:
    return {"ConditionCheck": "ConditionCheckItem", "Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem"}[
        kind
    ]


def _cluster_arn(partition: str, region: str, account: str, cluster: Any) -> str:
    name = str(cluster or "default")
    return name if name.startswith("arn:") else f"arn:{partition}:ecs:{region}:{account}:cluster/{name}"


def _task_arn(partition: str, region: str, account: str, cluster_arn: str, task: str) -> str:
    if task.startswith("arn:"):
        return task
    return f"arn:{partition}:ecs:{region}:{account}:task/{cluster_arn.rsplit('/', 1)[-1]}/{task}"


def _definition_arn(partition: str, region: str, account: str, name: str) -> str:
    if name.startswith("arn:"):
        return name
    return f"arn:{partition}:ecs:{region}:{account}:task-definition/{name if ':' in name else name + ':*'}"


def _function_arn(arn: str, region: str, account: str, name: str, qualifier: Any) -> str:
    if name.startswith("arn:"):
        return name
    parts = name.split(":")  # name, name:qualifier, account:function:name (partial ARN)
    if len(parts) >= 3 and parts[1] == "function":
        account, name = parts[0], ":".join(parts[2:])
    base = f"{arn}:lambda:{region}:{account}:function:{name}"
    return f"{base}:{qualifier}" if qualifier else base


def _group_of(identifier: Any) -> str | None:
    if not identifier:
        return None
    text = str(identifier)
    return text.split(":log-group:", 1)[1].split(":", 1)[0] if ":log-group:" in text else text


# ---- policy evaluation ----

ALLOW, EXPLICIT_DENY, IMPLICIT_DENY = "Allow", "ExplicitDeny", "ImplicitDeny"


def evaluate(statements: tuple[dict[str, Any], ...] | list[dict[str, Any]], request: Request) -> str:
    """IAM's identity-policy decision for one request: an explicit Deny wins, then any Allow, else implicit deny."""
    decision = IMPLICIT_DENY
    for statement in statements:
        if not _applies(statement, request):
            continue
        if statement.get("Effect") == "Deny":
            return EXPLICIT_DENY
        if statement.get("Effect") == "Allow":
            decision = ALLOW
    return decision


def _applies(statement: Mapping[str, Any], request: Request) -> bool:
    if not ({"Action", "NotAction"} & set(statement) and {"Resource", "NotResource"} & set(statement)):
        return False  # IAM refuses such a statement; it grants nothing
    actions = statement.get("Action", statement.get("NotAction", []))
    named = any(_wildcard(a, request.action, fold=True) for a in _list(actions))
    if named != ("Action" in statement):
        return False
    resources = statement.get("Resource", statement.get("NotResource", []))
    covered = any(_wildcard(r, request.resource) for r in _list(resources))
    if covered != ("Resource" in statement):
        return False
    return conditions_met(statement.get("Condition") or {}, request.context)


def conditions_met(conditions: Mapping[str, Mapping[str, Any]], context: Mapping[str, str]) -> bool:
    """Every operator block and every key in it must hold (values of one key: any). A key outside EVALUATED_KEYS
    is not evaluated (it holds)."""
    known = {key.lower(): value for key, value in context.items()}
    for operator, block in conditions.items():
        for key, expected in block.items():
            if key.lower() not in EVALUATED_KEYS:
                continue
            if not _condition(operator, _list(expected), known.get(key.lower())):
                return False
    return True


def _condition(operator: str, expected: list[Any], actual: str | None) -> bool:
    if_exists = operator.endswith("IfExists")
    base = operator.removesuffix("IfExists").split(":")[-1]  # ForAnyValue:/ForAllValues: on single values
    if base == "Null":
        return (actual is None) == (str(expected[0]).lower() == "true")
    negated = "Not" in base
    if actual is None:
        return if_exists or negated
    tests = {
        "StringEquals": lambda e: actual == e,
        "StringNotEquals": lambda e: actual == e,
        "StringEqualsIgnoreCase": lambda e: actual.lower() == e.lower(),
        "StringNotEqualsIgnoreCase": lambda e: actual.lower() == e.lower(),
        "StringLike": lambda e: _wildcard(e, actual),
        "StringNotLike": lambda e: _wildcard(e, actual),
        "ArnEquals": lambda e: _arn_like(e, actual),
        "ArnLike": lambda e: _arn_like(e, actual),
        "ArnNotEquals": lambda e: _arn_like(e, actual),
        "ArnNotLike": lambda e: _arn_like(e, actual),
        "Bool": lambda e: actual.lower() == e.lower(),
    }
    if base not in tests:
        raise ValueError(f"the local IAM check does not know the condition operator {operator}")
    matched = any(tests[base](str(e)) for e in expected)
    return not matched if negated else matched


def _arn_like(pattern: str, arn: str) -> bool:
    """ArnLike: each of the six colon-separated parts matched on its own (wildcards within a part)."""
    pattern_parts, arn_parts = pattern.split(":", 5), arn.split(":", 5)
    if len(pattern_parts) != 6 or len(arn_parts) != 6:
        return False
    return all(_wildcard(p, a) for p, a in zip(pattern_parts, arn_parts, strict=True))


def _wildcard(pattern: str, value: str, *, fold: bool = False) -> bool:
    if fold:
        pattern, value = pattern.lower(), value.lower()
    return _compiled(pattern).fullmatch(value) is not None


@lru_cache(maxsize=1024)
def _compiled(pattern: str) -> re.Pattern[str]:
    """IAM's wildcards: * any run of characters, ? any one; everything else literal."""
    return re.compile("".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern), re.DOTALL)


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


# ---- how AWS says no ----

# Services whose AccessDenied has another code or status than the JSON-protocol services' 400 AccessDeniedException.
_DENIAL = {
    "s3": ("AccessDenied", 403),
    "lambda": ("AccessDeniedException", 403),
    "sqs": ("AccessDenied", 403),
    "sns": ("AuthorizationError", 403),
    "sts": ("AccessDenied", 403),
    "iam": ("AccessDenied", 403),
    "cloudformation": ("AccessDenied", 403),
}


def denial(service: str, principal_arn: str, request: Request, decision: str) -> tuple[str, str, int]:
    """(error code, message, HTTP status) of the error AWS answers a denied request with."""
    code, status = _DENIAL.get(service, ("AccessDeniedException", 400))
    resource = f'"{request.resource}"' if service == "s3" else request.resource
    why = (
        "with an explicit deny in an identity-based policy"
        if decision == EXPLICIT_DENY
        else f"because no identity-based policy allows the {request.action} action"
    )
    return (
        code,
        f"User: {principal_arn} is not authorized to perform: {request.action} on resource: {resource} {why}",
        status,
    )


# ---- who is calling, and the hook ----


@dataclass(frozen=True)
class Principal:
    """A role in use: an assumed-role session (a function's invocation, an execution, a rule's target)."""

    role: Role
    session: str

    @property
    def arn(self) -> str:
        account = self.role.arn.split(":")[4]
        return f"arn:aws:sts::{account}:assumed-role/{self.role.name}/{self.session}"


@dataclass
class Denied:
    """A call the enforcer refused: for the report and for tests."""

    principal: str
    request: Request
    decision: str


class Enforcer:
    """Checks the calls of whoever is acting on the current thread (`acting_as`), and those the state machine's
    integrations make (botocore clients with `machine_access_key`, with nobody acting). Any other call (the local
    engine's own, a test's) is not checked."""

    def __init__(
        self,
        machine: Principal | None,
        *,
        account: str,
        machine_access_key: str = "ak",
        task_definition_roles: Callable[[str, str], tuple[str, list[str]]] | None = None,
    ):
        self.machine = machine
        self.account = account
        self.machine_access_key = machine_access_key
        self.task_definition_roles = task_definition_roles
        self.denied: list[Denied] = []
        self.checked = 0
        self._local = threading.local()

    @contextmanager
    def acting_as(self, principal: Principal | None) -> Iterator[None]:
        """Calls made on this thread inside the block are `principal`'s (None: the local engine's, unchecked)."""
        stack = self._stack()
        stack.append(principal)
        try:
            yield
        finally:
            stack.pop()

    def _stack(self) -> list[Principal | None]:
        if not hasattr(self._local, "stack"):
            self._local.stack = []
        return self._local.stack  # type: ignore[no-any-return]

    def principal_for(self, access_key: str | None) -> Principal | None:
        stack = self._stack()
        if stack:
            return stack[-1]
        return self.machine if access_key == self.machine_access_key else None

    def check(self, client: Any, operation: str, params: Mapping[str, Any]) -> tuple[str, str, int] | None:
        """None if `client` may make the call; else the (code, message, status) AWS would answer."""
        meta = client.meta
        service = meta.service_model.service_name
        if (service, operation) in UNCHECKED:
            return None
        credentials = getattr(client._request_signer, "_credentials", None)
        principal = self.principal_for(getattr(credentials, "access_key", None))
        if principal is None:
            return None
        region = meta.region_name or "us-east-1"
        call = Call(service, meta.service_model.signing_name, operation, params, region, self.account)
        lookup = None
        if self.task_definition_roles is not None:
            roles_of = self.task_definition_roles

            def lookup(name: str) -> tuple[str, list[str]]:
                return roles_of(name, region)

        self.checked += 1
        for request in requests_for(call, lookup):
            decision = evaluate(principal.role.statements, request)
            if decision != ALLOW:
                self.denied.append(Denied(principal.arn, request, decision))
                return denial(service, principal.arn, request, decision)
        return None

    def make_api_call(self, original: Callable[..., Any]) -> Callable[..., Any]:
        """A replacement for botocore's BaseClient._make_api_call that refuses what IAM would refuse, with the
        error botocore raises for the service's own AccessDenied response."""
        enforcer = self

        def make_api_call(client: Any, operation_name: str, api_params: dict[str, Any]) -> Any:
            refused = enforcer.check(client, operation_name, api_params)
            if refused is None:
                return original(client, operation_name, api_params)
            code, message, status = refused
            response = {
                "Error": {"Code": code, "Message": message},
                # Every AWS answer carries a request id (botocore reads it from x-amzn-RequestId).
                "ResponseMetadata": {"HTTPStatusCode": status, "HTTPHeaders": {}, "RequestId": str(uuid.uuid4())},
            }
            raise client.exceptions.from_code(code)(response, operation_name)

        return make_api_call
