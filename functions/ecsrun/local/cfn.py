"""template.yaml as CloudFormation would deploy it: the SAM transform, offline, and CloudFormation's intrinsic
functions resolved with a stack's values.

The local engine uses it to check every AWS call against the role `sam deploy` would create (ecsrun.local.iam),
and the tests use it to render the template at each parameter's bounds and check the result (names within their
limits, rate expressions, reserved concurrency) with cfn-lint.

The SAM translator runs with no credentials and no network: a region-only boto3 session, local code locations
swapped for S3 URIs (as `sam validate` does), the ASL inlined, and no managed-policy lookup (ecsrun names none by
name; SAM adds AWS managed policies as ARNs, whose content `MANAGED_POLICIES` carries).
"""

from __future__ import annotations

import copy
import functools
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

NO_VALUE: Any = object()  # what `Ref AWS::NoValue` resolves to: the property or list item disappears

# The AWS managed policies SAM attaches by ARN (Lambda basic execution, X-Ray tracing), as AWS publishes them.
MANAGED_POLICIES: dict[str, list[dict[str, Any]]] = {
    "service-role/AWSLambdaBasicExecutionRole": [
        {
            "Effect": "Allow",
            "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": "*",
        }
    ],
    "AWSXrayWriteOnlyAccess": [
        {
            "Effect": "Allow",
            "Action": [
                "xray:PutTraceSegments",
                "xray:PutTelemetryRecords",
                "xray:GetSamplingRules",
                "xray:GetSamplingTargets",
                "xray:GetSamplingStatisticSummaries",
            ],
            "Resource": "*",
        }
    ],
}


class TemplateError(Exception):
    """The template cannot be transformed or resolved (an intrinsic the resolver does not know, a bad reference)."""


def transform(template_path: Path, *, region: str) -> dict[str, Any]:
    """The CloudFormation template `sam deploy` would create from `template_path` (a fresh copy each call)."""
    return copy.deepcopy(_transform(template_path.resolve(), template_path.stat().st_mtime_ns, region))


@functools.lru_cache(maxsize=8)
def _transform(path: Path, mtime: int, region: str) -> dict[str, Any]:
    import boto3
    from samtranslator.metrics.metrics import Metrics
    from samtranslator.parser.parser import Parser
    from samtranslator.translator.translator import Translator
    from samtranslator.yaml_helper import yaml_parse

    sam = yaml_parse(path.read_text())
    if "Transform" not in sam:  # plain CloudFormation (an example stack): nothing for SAM to do
        return dict(sam)
    placeholder = "s3://ecsrun-local/code.zip"
    function_globals = (sam.get("Globals") or {}).get("Function") or {}
    if "CodeUri" in function_globals:
        function_globals["CodeUri"] = placeholder
    for resource in sam.get("Resources", {}).values():
        props = resource.get("Properties") or {}
        if resource.get("Type") == "AWS::Serverless::Function" and "CodeUri" in props:
            props["CodeUri"] = placeholder
        if resource.get("Type") == "AWS::Serverless::StateMachine" and "DefinitionUri" in props:
            props["Definition"] = json.loads((path.parent / props.pop("DefinitionUri")).read_text())
    metrics = Metrics()
    translator = Translator(None, Parser(), boto_session=boto3.session.Session(region_name=region), metrics=metrics)
    try:
        translated: dict[str, Any] = translator.translate(sam, parameter_values={}, get_managed_policy_map=dict)
    except Exception as exc:  # the translator raises many kinds of its own; one message is enough
        raise TemplateError(f"SAM could not transform {path.name}: {exc}") from exc
    finally:
        metrics.publish()
    return translated


@dataclass
class Stack:
    """A deployed stack's identity: where it lives and what it is called."""

    name: str = "ecsrun"
    region: str = "us-east-1"
    account: str = "123456789012"
    partition: str = "aws"

    @property
    def pseudo(self) -> dict[str, Any]:
        return {
            "AWS::StackName": self.name,
            "AWS::Region": self.region,
            "AWS::AccountId": self.account,
            "AWS::Partition": self.partition,
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackId": f"arn:{self.partition}:cloudformation:{self.region}:{self.account}:stack/{self.name}/"
            + "00000000-0000-4000-8000-000000000000",
            "AWS::NotificationARNs": [],
        }


# Generated physical names: CloudFormation makes <stack>-<logical id>-<random> and cuts it to the service's
# limit. The limits below are the services' own (IAM role 64, Lambda 64, SQS 80, state machine 80, ...).
_NAME_LIMITS = {
    "AWS::Lambda::Function": 64,
    "AWS::IAM::Role": 64,
    "AWS::IAM::Policy": 128,
    "AWS::SQS::Queue": 80,
    "AWS::StepFunctions::StateMachine": 80,
    "AWS::Events::Rule": 64,
    "AWS::DynamoDB::Table": 255,
    "AWS::S3::Bucket": 63,
    "AWS::SNS::Topic": 256,
    "AWS::CloudWatch::Alarm": 255,
    "AWS::Scheduler::Schedule": 64,
}
# The property that names a resource, where the template may set it.
_NAME_PROPERTIES = {
    "AWS::Lambda::Function": "FunctionName",
    "AWS::IAM::Role": "RoleName",
    "AWS::IAM::Policy": "PolicyName",
    "AWS::SQS::Queue": "QueueName",
    "AWS::StepFunctions::StateMachine": "StateMachineName",
    "AWS::Events::Rule": "Name",
    "AWS::Events::EventBus": "Name",
    "AWS::DynamoDB::Table": "TableName",
    "AWS::S3::Bucket": "BucketName",
    "AWS::SNS::Topic": "TopicName",
    "AWS::CloudWatch::Alarm": "AlarmName",
    "AWS::CloudWatch::Dashboard": "DashboardName",
    "AWS::Logs::LogGroup": "LogGroupName",
    "AWS::Scheduler::Schedule": "Name",
}


def generated_name(stack: str, logical_id: str, limit: int) -> str:
    """A name as CloudFormation generates one: stack, logical id and a random-looking suffix, within `limit`."""
    suffix = hashlib.sha256(f"{stack}/{logical_id}".encode()).hexdigest()[:12].upper()
    room = limit - len(suffix) - 2
    head = f"{stack[: max(1, room // 2)]}-{logical_id}"[:room]
    name = f"{head}-{suffix}"
    return name.lower() if limit == 63 else name  # S3 bucket names are lower case


@dataclass
class Resolver:
    """CloudFormation's intrinsic functions over one stack's parameters and resources.

    `names` gives a resource's physical name where it is known (the local engine's table, bucket, functions,
    state machine); any other resource gets its template name, or a generated one."""

    template: dict[str, Any]
    stack: Stack = field(default_factory=Stack)
    parameters: Mapping[str, Any] = field(default_factory=dict)
    names: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.values: dict[str, Any] = {}
        for name, spec in (self.template.get("Parameters") or {}).items():
            value = self.parameters.get(name, spec.get("Default"))
            if value is None:
                raise TemplateError(f"parameter {name} has no value and no default")
            kind = str(spec.get("Type", "String"))
            if kind == "CommaDelimitedList" or kind.startswith("List<"):
                value = value if isinstance(value, list) else [item.strip() for item in str(value).split(",")]
            else:
                value = str(value)
            self.values[name] = value
        self.values.update(self.stack.pseudo)
        self._conditions: dict[str, bool] = {}

    # ---- conditions and resources ----

    def condition(self, name: str) -> bool:
        if name not in self._conditions:
            conditions = self.template.get("Conditions") or {}
            if name not in conditions:
                raise TemplateError(f"no condition {name}")
            self._conditions[name] = bool(self.resolve(conditions[name]))
        return self._conditions[name]

    def exists(self, logical_id: str) -> bool:
        resource = self.template["Resources"][logical_id]
        return "Condition" not in resource or self.condition(resource["Condition"])

    def resources(self, *, conditional: bool = False) -> dict[str, dict[str, Any]]:
        """Every resource that exists with these parameters, properties resolved (`conditional`: every one)."""
        return {
            logical_id: {**resource, "Properties": self.resolve(resource.get("Properties") or {})}
            for logical_id, resource in self.template["Resources"].items()
            if conditional or self.exists(logical_id)
        }

    def name_of(self, logical_id: str) -> str:
        """The physical name of a resource: given, set in the template, or generated."""
        if logical_id in self.names:
            return self.names[logical_id]
        resource = self.template["Resources"].get(logical_id)
        if resource is None:
            raise TemplateError(f"no resource {logical_id}")
        kind = resource["Type"]
        prop = _NAME_PROPERTIES.get(kind)
        given = (resource.get("Properties") or {}).get(prop) if prop else None
        if given is not None:
            return str(self.resolve(given))
        return generated_name(self.stack.name, logical_id, _NAME_LIMITS.get(kind, 255))

    def ref(self, logical_id: str) -> Any:
        if logical_id in self.values:
            return self.values[logical_id]
        resource = self.template["Resources"].get(logical_id)
        if resource is None:
            raise TemplateError(f"Ref to unknown {logical_id}")
        kind, name = resource["Type"], self.name_of(logical_id)
        if kind in ("AWS::StepFunctions::StateMachine", "AWS::SNS::Topic"):
            return self.attribute(logical_id, "Arn")
        if kind == "AWS::SQS::Queue":
            return f"https://sqs.{self.stack.region}.amazonaws.com/{self.stack.account}/{name}"
        if kind == "AWS::KMS::Key":
            return str(uuid_like(self.stack.name, logical_id))
        return name

    def attribute(self, logical_id: str, attribute: str) -> Any:
        resource = self.template["Resources"].get(logical_id)
        if resource is None:
            raise TemplateError(f"GetAtt of unknown {logical_id}")
        kind, name = resource["Type"], self.name_of(logical_id)
        s = self.stack
        arn = f"arn:{s.partition}"
        arns = {
            "AWS::Lambda::Function": f"{arn}:lambda:{s.region}:{s.account}:function:{name}",
            "AWS::IAM::Role": f"{arn}:iam::{s.account}:role/{name}",
            "AWS::DynamoDB::Table": f"{arn}:dynamodb:{s.region}:{s.account}:table/{name}",
            "AWS::S3::Bucket": f"{arn}:s3:::{name}",
            "AWS::SQS::Queue": f"{arn}:sqs:{s.region}:{s.account}:{name}",
            "AWS::Events::EventBus": f"{arn}:events:{s.region}:{s.account}:event-bus/{name}",
            "AWS::Events::Rule": f"{arn}:events:{s.region}:{s.account}:rule/{self._rule_path(logical_id, name)}",
            "AWS::StepFunctions::StateMachine": f"{arn}:states:{s.region}:{s.account}:stateMachine:{name}",
            "AWS::SNS::Topic": f"{arn}:sns:{s.region}:{s.account}:{name}",
            "AWS::KMS::Key": f"{arn}:kms:{s.region}:{s.account}:key/{uuid_like(s.name, logical_id)}",
            "AWS::CloudWatch::Alarm": f"{arn}:cloudwatch:{s.region}:{s.account}:alarm:{name}",
            "AWS::Logs::LogGroup": f"{arn}:logs:{s.region}:{s.account}:log-group:{name}:*",
            "AWS::Scheduler::Schedule": f"{arn}:scheduler:{s.region}:{s.account}:schedule/default/{name}",
        }
        if attribute == "Arn" and kind in arns:
            return arns[kind]
        if attribute in ("Name", "QueueName", "TopicName") and kind in _NAME_PROPERTIES:
            return name
        raise TemplateError(f"the resolver does not know {logical_id}.{attribute} ({kind})")

    def _rule_path(self, logical_id: str, name: str) -> str:
        bus = (self.template["Resources"][logical_id].get("Properties") or {}).get("EventBusName")
        resolved = self.resolve(bus) if bus is not None else "default"
        return name if resolved in ("default", None) else f"{str(resolved).rsplit('/', 1)[-1]}/{name}"

    # ---- intrinsic functions ----

    def resolve(self, node: Any) -> Any:
        if isinstance(node, list):
            items = [self.resolve(item) for item in node]
            return [item for item in items if item is not NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            ((key, arg),) = node.items()
            if key == "Ref":
                return NO_VALUE if arg == "AWS::NoValue" else self.ref(arg)
            if key.startswith("Fn::") or key == "Condition":
                return self._function(key, arg)
        resolved = {key: self.resolve(value) for key, value in node.items()}
        return {key: value for key, value in resolved.items() if value is not NO_VALUE}

    def _function(self, key: str, arg: Any) -> Any:
        if key == "Fn::GetAtt":
            logical_id, attribute = arg.split(".", 1) if isinstance(arg, str) else arg
            return self.attribute(logical_id, attribute)
        if key == "Fn::Sub":
            text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], self.resolve(arg[1]))
            return _SUB.sub(lambda match: self._sub_variable(match.group(1), variables), text)
        if key == "Fn::Join":
            delimiter, items = arg
            return delimiter.join(_text(item) for item in self.resolve(items))
        if key == "Fn::Split":
            delimiter, text = arg
            return _text(self.resolve(text)).split(delimiter)
        if key == "Fn::Select":
            index, items = self.resolve(arg)
            return items[int(index)]
        if key == "Fn::If":
            name, if_true, if_false = arg
            return self.resolve(if_true if self.condition(name) else if_false)
        if key == "Fn::Equals":
            left, right = self.resolve(arg)
            return _text(left) == _text(right)
        if key == "Fn::Not":
            return not self.resolve(arg[0])
        if key == "Fn::And":
            return all(self.resolve(item) for item in arg)
        if key == "Fn::Or":
            return any(self.resolve(item) for item in arg)
        if key == "Condition":
            return self.condition(arg)
        raise TemplateError(f"the resolver does not know {key}")

    def _sub_variable(self, name: str, variables: Mapping[str, Any]) -> str:
        if name.startswith("!"):
            return "${" + name[1:] + "}"
        if name in variables:
            return _text(variables[name])
        if name in self.values or name in self.template["Resources"]:
            return _text(self.ref(name))
        logical_id, _, attribute = name.partition(".")
        return _text(self.attribute(logical_id, attribute))


_SUB = re.compile(r"\$\{([^}]+)\}")


def _text(value: Any) -> str:
    if isinstance(value, list):
        return ",".join(_text(item) for item in value)
    return str(value)


def uuid_like(*parts: str) -> str:
    digest = hashlib.sha256("/".join(parts).encode()).hexdigest()
    return f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}"


# ---- IAM: which role each function and the state machine gets, and what it may do ----


@dataclass(frozen=True)
class Role:
    """An IAM role as deployed: its name, ARN and every identity-policy statement attached to it."""

    logical_id: str
    name: str
    arn: str
    statements: tuple[dict[str, Any], ...]


def roles(resolver: Resolver, *, conditional: bool = False) -> dict[str, Role]:
    """Every AWS::IAM::Role that exists, with its inline policies, its AWS::IAM::Policy attachments and the
    AWS managed policies SAM attached (from MANAGED_POLICIES; any other managed policy is an error).
    `conditional`: also the roles whose Condition is false (what they would be with it true)."""
    resources = resolver.resources(conditional=conditional)
    found: dict[str, list[dict[str, Any]]] = {}
    for logical_id, resource in resources.items():
        if resource["Type"] != "AWS::IAM::Role":
            continue
        props = resource["Properties"]
        statements: list[dict[str, Any]] = []
        for policy in props.get("Policies") or []:
            statements += _statements(policy["PolicyDocument"])
        for arn in props.get("ManagedPolicyArns") or []:
            managed = str(arn).split(":policy/", 1)[-1]
            if managed not in MANAGED_POLICIES:
                raise TemplateError(f"{logical_id} attaches {arn}, whose content the local IAM check does not know")
            statements += MANAGED_POLICIES[managed]
        found[logical_id] = statements
    by_name = {resolver.name_of(logical_id): logical_id for logical_id in found}
    for resource in resources.values():
        if resource["Type"] in ("AWS::IAM::Policy", "AWS::IAM::RolePolicy"):
            props = resource["Properties"]
            targets = props.get("Roles") or [props.get("RoleName")]
            for role_name in targets:
                if role_name in by_name:
                    found[by_name[role_name]] += _statements(props["PolicyDocument"])
    return {
        logical_id: Role(
            logical_id,
            resolver.name_of(logical_id),
            str(resolver.attribute(logical_id, "Arn")),
            tuple(statements),
        )
        for logical_id, statements in found.items()
    }


def _statements(document: Mapping[str, Any]) -> list[dict[str, Any]]:
    statement = document.get("Statement") or []
    return [dict(s) for s in (statement if isinstance(statement, list) else [statement])]


def role_of(resolver: Resolver, logical_id: str) -> str:
    """The logical id of the role a function (Role) or state machine (RoleArn) runs with."""
    resource = resolver.template["Resources"][logical_id]
    props = resource.get("Properties") or {}
    reference = props.get("Role") or props.get("RoleArn")
    if isinstance(reference, dict) and "Fn::GetAtt" in reference:
        target = reference["Fn::GetAtt"]
        return str(target[0] if isinstance(target, list) else target.split(".", 1)[0])
    raise TemplateError(f"{logical_id} does not run with a role of this template ({reference!r})")


def target_role(resolver: Resolver, logical_id: str, target_arn: str) -> str | None:
    """The logical id of the role an EventBridge rule's target (or a Scheduler schedule's) with Arn `target_arn`
    is invoked with; None if it names no role of this template."""
    resource = resolver.template["Resources"].get(logical_id) or {}
    props = resource.get("Properties") or {}
    targets = props.get("Targets") or ([props["Target"]] if "Target" in props else [])
    for target in targets:
        if resolver.resolve(target.get("Arn")) != target_arn:
            continue
        reference = target.get("RoleArn")
        if isinstance(reference, dict) and "Fn::GetAtt" in reference:
            found = reference["Fn::GetAtt"]
            return str(found[0] if isinstance(found, list) else found.split(".", 1)[0])
    return None
