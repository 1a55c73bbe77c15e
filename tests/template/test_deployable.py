"""Every template parameter's range deploys: the template, transformed by SAM and resolved as CloudFormation would
resolve it, at each parameter's minimum, maximum and default and with the longest stack name (128 characters),
checked with cfn-lint and with the rules cfn-lint does not know (EventBridge rate expressions, the names the
template builds from the stack name, reserved concurrency).

moto and `sam validate` see the template with its parameters unresolved; these tests see what CloudFormation would
create, which is where a parameter value or a long stack name breaks a deploy.
"""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path
from typing import Any

import pytest
from ecsrun.local import cfn

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_PATH = ROOT / "template.yaml"
LONGEST_STACK = "s" + "-long" * 25 + "12"  # CloudFormation allows 128 characters
assert len(LONGEST_STACK) == 128

# Values for parameters with no numeric range: the default, and what a deployer may reasonably give.
STRING_VALUES: dict[str, list[str]] = {
    "PowertoolsLayerArn": [
        "arn:aws:lambda:me-central-1:123456789012:layer:AWSLambdaPowertoolsPythonV3-python313-arm64:1",
    ],
    "StartedByPrefix": ["a/", "p" * 63 + "/"],
    "PassRoleArns": [
        "arn:aws:iam::123456789012:role/ecsTaskExecutionRole,arn:aws:iam::123456789012:role/app-*",
    ],
    "AllowedClusters": ["default,batch-*"],
    "FirelensLogBuckets": ["team-firelens-logs", "team-firelens-logs,other-team-logs"],
    "AllowedTaskDefinitionFamilies": ["etl-*,report"],
    "ReconcileRateMinutes": ["1", "2", "9999"],
    "ScheduleExpression": ["rate(1 hour)", "rate(6 hours)", "cron(0 3 * * ? *)"],
    "ScheduleTimezone": ["Europe/Paris"],
    "ScheduleRequest": ['{"taskDefinition": "hello"}'],
    "AlarmEmail": ["ops@example.com"],
}

# Names CloudFormation passes to a service as they are, and the service's limits (botocore models, AWS docs).
NAME_LIMITS: dict[tuple[str, str], tuple[int, str]] = {
    ("AWS::StepFunctions::StateMachine", "StateMachineName"): (80, r"[0-9A-Za-z_-]+"),
    ("AWS::CloudWatch::Dashboard", "DashboardName"): (255, r"[0-9A-Za-z_-]+"),
    ("AWS::Events::EventBus", "Name"): (256, r"[.\-_A-Za-z0-9]+"),
    ("AWS::Events::Rule", "Name"): (64, r"[.\-_A-Za-z0-9]+"),
    ("AWS::Logs::LogGroup", "LogGroupName"): (512, r"[.\-_/#A-Za-z0-9]+"),
    ("AWS::SNS::Topic", "DisplayName"): (100, r".+"),
    ("AWS::SNS::Topic", "TopicName"): (256, r"[A-Za-z0-9_-]+"),
    ("AWS::CloudWatch::Alarm", "AlarmName"): (255, r".+"),
    ("AWS::Lambda::Function", "Description"): (256, r".*"),
    ("AWS::Lambda::Function", "FunctionName"): (64, r"[A-Za-z0-9_-]+"),
    ("AWS::Scheduler::Schedule", "Description"): (512, r".*"),
    ("AWS::KMS::Key", "Description"): (8192, r".*"),
    ("AWS::IAM::Role", "RoleName"): (64, r"[\w+=,.@-]+"),
}
LAYER = re.compile(r"\{\{resolve:ssm:[^}]+\}\}|arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:layer:.+:\d+")
RATE = re.compile(r"rate\((\d+) (minute|minutes|hour|hours|day|days)\)")


@functools.cache
def _transformed() -> dict[str, Any]:
    return cfn.transform(TEMPLATE_PATH, region="us-east-1")


def _parameters() -> dict[str, dict[str, Any]]:
    return dict(_transformed()["Parameters"])


def render(parameters: dict[str, str], stack_name: str = LONGEST_STACK) -> dict[str, Any]:
    """The template as CloudFormation would deploy it with these parameter values: every intrinsic resolved,
    resources and outputs whose condition is false left out."""
    template = _transformed()
    resolver = cfn.Resolver(template, cfn.Stack(name=stack_name), parameters=parameters)
    resources = resolver.resources()
    for resource in resources.values():
        resource.pop("Condition", None)
        props = resource.get("Properties") or {}
        if resource["Type"] == "AWS::StepFunctions::StateMachine" and isinstance(props.get("DefinitionString"), str):
            # CloudFormation substitutes DefinitionSubstitutions into the definition before Step Functions sees it
            for key, value in (props.pop("DefinitionSubstitutions", None) or {}).items():
                props["DefinitionString"] = props["DefinitionString"].replace("${" + key + "}", str(value))
    outputs = {
        key: {k: resolver.resolve(v) for k, v in output.items() if k != "Condition"}
        for key, output in (template.get("Outputs") or {}).items()
        if "Condition" not in output or resolver.condition(output["Condition"])
    }
    return {"AWSTemplateFormatVersion": "2010-09-09", "Resources": resources, "Outputs": outputs}


def deployment_problems(doc: dict[str, Any]) -> list[str]:
    """What the services would refuse in a rendered template that cfn-lint does not see."""
    problems = []
    for logical_id, resource in doc["Resources"].items():
        kind, props = resource["Type"], resource.get("Properties") or {}
        for (limited_kind, prop), (limit, pattern) in NAME_LIMITS.items():
            value = props.get(prop)
            if kind != limited_kind or value is None:
                continue
            if len(str(value)) > limit:
                problems.append(f"{logical_id}.{prop} is {len(str(value))} characters; at most {limit}")
            if not re.fullmatch(pattern, str(value), re.DOTALL):
                problems.append(f"{logical_id}.{prop} {value!r} does not match {pattern}")
        for expression in (props.get("ScheduleExpression"),):
            if isinstance(expression, str) and expression.startswith("rate("):
                match = RATE.fullmatch(expression)
                if not match:
                    problems.append(f"{logical_id}: {expression!r} is not rate(<value> <unit>)")
                elif (match.group(1) == "1") != (not match.group(2).endswith("s")):
                    problems.append(f"{logical_id}: {expression!r}: the unit is singular for 1 and plural above")
        reserved = props.get("ReservedConcurrentExecutions")
        if kind == "AWS::Lambda::Function" and reserved is not None and int(reserved) < 1:
            problems.append(f"{logical_id}: ReservedConcurrentExecutions {reserved} would throttle every invocation")
        for layer in props.get("Layers") or []:
            if not LAYER.fullmatch(layer):
                problems.append(f"{logical_id}: layer {layer!r} is neither a layer version ARN nor an SSM reference")
    return problems


def _cases() -> list[tuple[str, str]]:
    """(parameter, value) for each parameter's minimum, maximum, default and allowed or typical values."""
    cases = []
    for name, spec in _parameters().items():
        values = [spec.get("Default"), spec.get("MinValue"), spec.get("MaxValue"), *spec.get("AllowedValues", [])]
        values += STRING_VALUES.get(name, [])
        cases += [(name, value) for value in dict.fromkeys(str(v) for v in values if v is not None)]
    return cases


def _valid_for(spec: dict[str, Any], value: str) -> bool:
    """What CloudFormation checks of a parameter value before it deploys anything."""
    if "AllowedPattern" in spec and not re.fullmatch(spec["AllowedPattern"], value):
        return False
    if "AllowedValues" in spec and value not in [str(v) for v in spec["AllowedValues"]]:
        return False
    if spec.get("Type") == "Number":
        number = float(value)
        return float(spec.get("MinValue", number)) <= number <= float(spec.get("MaxValue", number))
    return True


# Step Functions accepts InputPath and OutputPath on a Succeed state (JSONPath); cfn-lint 1.58's ASL schema does not.
CFN_LINT_FALSE_POSITIVES = re.compile(r"E3601.*'OutputPath' was unexpected\) at 'States/\w+/OutputPath'")


def _lint(doc: dict[str, Any]) -> list[str]:
    from cfnlint.api import ManualArgs, lint

    matches = [str(m) for m in lint(json.dumps(doc), config=ManualArgs(regions=["us-east-1"]))]
    return [m for m in matches if not CFN_LINT_FALSE_POSITIVES.search(m)]


# ---------------------------------------------------------------------------


def test_every_number_parameter_has_a_range_and_every_string_a_tested_value() -> None:
    # Given the template's parameters
    for name, spec in _parameters().items():
        # Then a number has both bounds and a string has values worth deploying beyond its default
        if spec.get("Type") == "Number":
            assert {"MinValue", "MaxValue"} <= set(spec), f"{name} has no range to test"
        elif "AllowedValues" not in spec:
            assert name in STRING_VALUES, f"{name}: give it values to render in STRING_VALUES"


@pytest.mark.parametrize(("parameter", "value"), _cases())
def test_each_parameter_value_renders_a_deployable_template(parameter: str, value: str) -> None:
    # Given a value CloudFormation accepts for the parameter
    spec = _parameters()[parameter]
    assert _valid_for(spec, value), f"{parameter}={value!r} is not a value CloudFormation accepts"

    # When the template is rendered with it, for the longest stack name
    doc = render({parameter: value})

    # Then nothing in it is what a service refuses
    assert deployment_problems(doc) == []


def _vector(bound: str) -> dict[str, str]:
    """Every number at its `bound` (MinValue or MaxValue), strings at their last typical value."""
    values = {}
    for name, spec in _parameters().items():
        if spec.get("Type") == "Number":
            values[name] = str(spec[bound])
        elif bound == "MaxValue" and name in STRING_VALUES:
            values[name] = STRING_VALUES[name][-1]
    return values


@pytest.mark.parametrize("bound", ["Default", "MinValue", "MaxValue"])
def test_cfn_lint_accepts_the_template_at_its_bounds(bound: str) -> None:
    # Given every parameter at its default, its minimum or its maximum (optional features on at the maximum)
    parameters = {} if bound == "Default" else _vector(bound)

    # When the template is rendered for the longest stack name and linted as CloudFormation would see it
    doc = render(parameters)

    # Then cfn-lint finds nothing (names within their limits, values within their types) and neither do the rules
    assert _lint(doc) == []
    assert deployment_problems(doc) == []


# ---- the defects these checks exist for ----


def test_a_reconciler_every_minute_is_rate_1_minute() -> None:
    doc = render({"ReconcileRateMinutes": "1"})
    [expression] = [
        r["Properties"]["ScheduleExpression"]
        for r in doc["Resources"].values()
        if r["Type"] == "AWS::Events::Rule" and "ScheduleExpression" in r["Properties"]
    ]
    assert expression == "rate(1 minute)"
    assert render({"ReconcileRateMinutes": "7"})["Resources"][_reconcile_rule(doc)]["Properties"][
        "ScheduleExpression"
    ] == ("rate(7 minutes)")


def _reconcile_rule(doc: dict[str, Any]) -> str:
    return next(k for k, r in doc["Resources"].items() if "ScheduleExpression" in r.get("Properties", {}))


def test_the_copy_function_reserves_no_concurrency_by_default() -> None:
    # Given a default deployment: reserving any concurrency fails in accounts whose quota is 10-50
    copy = render({})["Resources"]["CopyLogsFunction"]["Properties"]
    assert "ReservedConcurrentExecutions" not in copy
    assert _parameters()["CopyConcurrency"]["Default"] == 0
    # When a deployer asks for a reservation, the function gets exactly that
    reserved = render({"CopyConcurrency": "20"})["Resources"]["CopyLogsFunction"]["Properties"]
    assert reserved["ReservedConcurrentExecutions"] == "20"


def test_names_built_from_the_longest_stack_name_fit_their_limits() -> None:
    doc = render({})
    machine = doc["Resources"]["RunStateMachine"]["Properties"]
    assert len(machine.get("StateMachineName", "")) <= 80
    dashboard = doc["Resources"]["Dashboard"]["Properties"]["DashboardName"]
    # Dashboards are account-global: two Regions' stacks of one name must not collide
    assert "us-east-1" in dashboard and len(dashboard) <= 255
    assert len(doc["Resources"]["AlarmTopic"]["Properties"]["DisplayName"]) <= 100


def test_the_state_machine_may_start_and_follow_only_itself_under_any_name() -> None:
    # Given the rendered roles of a stack with the longest name
    template = _transformed()
    resolver = cfn.Resolver(template, cfn.Stack(name=LONGEST_STACK))
    statements = {s.get("Sid"): s for s in cfn.roles(resolver)["RunStateMachineRole"].statements}
    arn = resolver.ref("RunStateMachine")
    name = resolver.attribute("RunStateMachine", "Name")
    prefix = arn.split(":stateMachine:")[0]

    # Then it starts its own executions, follows their nested and Map Run executions, and its Map Runs
    assert statements["StartChildren"]["Resource"] == arn
    assert set(statements["FollowChildren"]["Resource"]) == {
        f"{prefix}:execution:{name}:*",
        f"{prefix}:execution:{name}/*",
    }
    # ListMapRuns is authorized on the execution, DescribeMapRun on the Map Run (Service Authorization Reference)
    assert statements["ListMapRuns"]["Action"] == "states:ListMapRuns"
    assert statements["ListMapRuns"]["Resource"] == f"{prefix}:execution:{name}:*"
    assert statements["DescribeMapRuns"]["Resource"] == f"{prefix}:mapRun:{name}/*"


def test_the_alarm_topic_key_lets_cloudwatch_alarms_publish() -> None:
    doc = render({})
    topic = doc["Resources"]["AlarmTopic"]["Properties"]
    assert topic["KmsMasterKeyId"] != "alias/aws/sns"  # CloudWatch cannot use the AWS managed key
    [key_id] = [k for k, r in doc["Resources"].items() if r["Type"] == "AWS::KMS::Key"]
    assert topic["KmsMasterKeyId"] == cfn.uuid_like(LONGEST_STACK, key_id)
    policy = doc["Resources"][key_id]["Properties"]["KeyPolicy"]["Statement"]
    [cloudwatch] = [s for s in policy if s.get("Principal", {}).get("Service") == "cloudwatch.amazonaws.com"]
    assert set(cloudwatch["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey*"}
    assert cloudwatch["Condition"]["StringEquals"]["aws:SourceAccount"] == "123456789012"


def test_the_powertools_layer_is_a_plain_arn_parameter_defaulting_to_the_pinned_ssm_value() -> None:
    spec = _parameters()["PowertoolsLayerArn"]
    assert spec["Type"] == "String"  # an SSM-typed parameter fails validation where the parameter does not exist
    assert spec["Default"] == "{{resolve:ssm:/aws/service/powertools/python/arm64/python3.13/3.37.0}}"
    arn = "arn:aws:lambda:me-central-1:123456789012:layer:AWSLambdaPowertoolsPythonV3-python313-arm64:7"
    functions = [r for r in render({"PowertoolsLayerArn": arn})["Resources"].values() if r["Type"].endswith("Function")]
    assert functions and all(f["Properties"]["Layers"] == [arn] for f in functions)
