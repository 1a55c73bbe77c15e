"""The local engine's IAM check (ecsrun.local.iam): the pure parts (actions, ARNs, statement matching), then the
roles of template.yaml as `sam deploy` would create them for the local stack."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import pytest
from ecsrun.local import cfn, iam
from ecsrun.local.iam import ALLOW, EXPLICIT_DENY, IMPLICIT_DENY, Call, Request

ROOT = Path(__file__).resolve().parents[2]
REGION, ACCOUNT = "us-east-1", "123456789012"


def call(service: str, operation: str, signing: str | None = None, **params: Any) -> Call:
    return Call(service, signing or service, operation, params, REGION, ACCOUNT)


# ---- actions and resources ----


@pytest.mark.parametrize(
    ("service", "signing", "operation", "action"),
    [
        ("s3", "s3", "CreateMultipartUpload", "s3:PutObject"),
        ("s3", "s3", "UploadPart", "s3:PutObject"),
        ("s3", "s3", "ListParts", "s3:ListMultipartUploadParts"),
        ("s3", "s3", "ListObjectsV2", "s3:ListBucket"),
        ("s3", "s3", "HeadObject", "s3:GetObject"),
        ("lambda", "lambda", "Invoke", "lambda:InvokeFunction"),
        ("stepfunctions", "states", "SendTaskSuccess", "states:SendTaskSuccess"),
        ("cloudwatch", "monitoring", "PutMetricData", "cloudwatch:PutMetricData"),
        ("dynamodb", "dynamodb", "UpdateItem", "dynamodb:UpdateItem"),
    ],
)
def test_an_operation_needs_the_action_iam_names(service: str, signing: str, operation: str, action: str) -> None:
    assert iam.action_of(call(service, operation, signing)) == action


def test_a_query_on_an_index_is_authorized_on_the_index() -> None:
    [request] = iam.requests_for(call("dynamodb", "Query", TableName="runs", IndexName="overdue"))
    assert request.resource == f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/runs/index/overdue"


def test_run_task_needs_the_definition_tagging_and_each_role_it_passes() -> None:
    # Given a RunTask with tags and a task role override, for a definition with an execution role
    run = call(
        "ecs",
        "RunTask",
        taskDefinition="hello",
        cluster="batch",
        tags=[{"key": "team", "value": "data"}],
        overrides={"taskRoleArn": "arn:aws:iam::123456789012:role/app"},
    )
    definition = f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/hello:3"
    exec_role = "arn:aws:iam::123456789012:role/exec"

    # When the requests it needs are listed
    requests = iam.requests_for(run, lambda name: (definition, [exec_role]))

    # Then: RunTask on the definition, on the cluster; TagResource at creation; PassRole for both roles, to ECS
    cluster = f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/batch"
    assert [(r.action, r.resource) for r in requests] == [
        ("ecs:RunTask", definition),
        ("ecs:TagResource", f"arn:aws:ecs:{REGION}:{ACCOUNT}:task/batch/*"),
        ("iam:PassRole", exec_role),
        ("iam:PassRole", "arn:aws:iam::123456789012:role/app"),
    ]
    assert requests[0].context == {"aws:RequestedRegion": REGION, "ecs:cluster": cluster}
    assert requests[1].context["ecs:CreateAction"] == "RunTask"
    assert requests[2].context["iam:PassedToService"] == "ecs-tasks.amazonaws.com"


def test_stop_task_is_authorized_on_the_task_with_its_cluster() -> None:
    [request] = iam.requests_for(call("ecs", "StopTask", cluster="default", task="abc"))
    assert request.resource == f"arn:aws:ecs:{REGION}:{ACCOUNT}:task/default/abc"
    assert request.context["ecs:cluster"] == f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/default"


def test_listing_a_bucket_carries_the_prefix_as_a_condition_value() -> None:
    [request] = iam.requests_for(call("s3", "ListObjectsV2", Bucket="logs", Prefix="runs/a/.copy/"))
    assert (request.resource, request.context["s3:prefix"]) == ("arn:aws:s3:::logs", "runs/a/.copy/")


def test_log_and_bus_and_function_arns() -> None:
    [events] = iam.requests_for(call("logs", "GetLogEvents", logGroupName="/ecs/x", logStreamName="app/app/1"))
    assert events.resource == f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/ecs/x:log-stream:app/app/1"
    [put] = iam.requests_for(call("events", "PutEvents", Entries=[{"Source": "ecsrun", "EventBusName": "runs"}]))
    assert put.resource == f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/runs"
    [invoke] = iam.requests_for(call("lambda", "Invoke", FunctionName="StartTaskFunction"))
    assert invoke.resource == f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:StartTaskFunction"


# ---- statements ----


def _allow(action: Any, resource: Any, condition: dict[str, Any] | None = None) -> dict[str, Any]:
    statement = {"Effect": "Allow", "Action": action, "Resource": resource}
    return statement | ({"Condition": condition} if condition else {})


def test_an_explicit_deny_wins_over_an_allow() -> None:
    statements = [_allow("s3:*", "*"), {"Effect": "Deny", "Action": "s3:DeleteObject", "Resource": "*"}]
    assert iam.evaluate(statements, Request("s3:DeleteObject", "arn:aws:s3:::b/k")) == EXPLICIT_DENY
    assert iam.evaluate(statements, Request("s3:GetObject", "arn:aws:s3:::b/k")) == ALLOW


def test_nothing_allows_is_an_implicit_deny() -> None:
    assert iam.evaluate([_allow("s3:GetObject", "*")], Request("s3:PutObject", "x")) == IMPLICIT_DENY


def test_actions_match_case_insensitively_and_resources_case_sensitively() -> None:
    statements = [_allow("ECS:stoptask", "arn:aws:ecs:*:*:task/Default/*")]
    assert iam.evaluate(statements, Request("ecs:StopTask", "arn:aws:ecs:r:a:task/Default/1")) == ALLOW
    assert iam.evaluate(statements, Request("ecs:StopTask", "arn:aws:ecs:r:a:task/default/1")) == IMPLICIT_DENY


def test_only_star_and_question_mark_are_wildcards() -> None:
    # "." and "[" are literal in IAM (a regex or fnmatch reading would let these through)
    statements = [_allow("s3:GetObject", "arn:aws:s3:::logs/runs/a.b/[x]?")]
    assert iam.evaluate(statements, Request("s3:GetObject", "arn:aws:s3:::logs/runs/a.b/[x]1")) == ALLOW
    assert iam.evaluate(statements, Request("s3:GetObject", "arn:aws:s3:::logs/runs/aXb/[x]1")) == IMPLICIT_DENY
    assert iam.evaluate(statements, Request("s3:GetObject", "arn:aws:s3:::logs/runs/a.b/x1")) == IMPLICIT_DENY


def test_not_action_grants_everything_else() -> None:
    statements = [{"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}]
    assert iam.evaluate(statements, Request("s3:GetObject", "x")) == ALLOW
    assert iam.evaluate(statements, Request("iam:PassRole", "x")) == IMPLICIT_DENY


def test_arn_like_matches_each_part_on_its_own() -> None:
    condition = {"ArnLike": {"ecs:cluster": ["arn:*:ecs:*:*:cluster/batch-*"]}}
    statements = [_allow("ecs:RunTask", "*", condition)]
    ok = Request("ecs:RunTask", "x", {"ecs:cluster": "arn:aws:ecs:us-east-1:1:cluster/batch-2"})
    other = Request("ecs:RunTask", "x", {"ecs:cluster": "arn:aws:ecs:us-east-1:1:cluster/default"})
    missing = Request("ecs:RunTask", "x", {})
    assert [iam.evaluate(statements, r) for r in (ok, other, missing)] == [ALLOW, IMPLICIT_DENY, IMPLICIT_DENY]


def test_string_like_if_exists_and_negations() -> None:
    prefix = {"StringLike": {"s3:prefix": "runs/*/.copy/"}}
    assert iam.conditions_met(prefix, {"s3:prefix": "runs/a/.copy/"})
    assert not iam.conditions_met(prefix, {"s3:prefix": "runs/"})
    assert iam.conditions_met({"StringEqualsIfExists": {"ecs:cluster": "x"}}, {})
    assert iam.conditions_met({"StringNotEquals": {"aws:RequestedRegion": "eu-west-1"}}, {"aws:RequestedRegion": "x"})


def test_a_condition_on_a_key_the_local_engine_does_not_know_is_not_evaluated() -> None:
    # aws:SourceAccount has no value here: the statement applies (documented: not evaluated)
    assert iam.conditions_met({"StringEquals": {"aws:SourceAccount": "210987654321"}}, {})


def test_the_denial_reads_as_aws_writes_it() -> None:
    request = Request("ecs:StopTask", "arn:aws:ecs:us-east-1:1:task/default/abc")
    principal = "arn:aws:sts::1:assumed-role/r/f"
    code, message, status = iam.denial("ecs", principal, request, IMPLICIT_DENY)
    assert (code, status) == ("AccessDeniedException", 400)
    assert message == (
        "User: arn:aws:sts::1:assumed-role/r/f is not authorized to perform: ecs:StopTask on resource: "
        "arn:aws:ecs:us-east-1:1:task/default/abc because no identity-based policy allows the ecs:StopTask action"
    )
    s3 = iam.denial("s3", principal, Request("s3:PutObject", "arn:aws:s3:::b/k"), EXPLICIT_DENY)
    assert s3[0] == "AccessDenied" and s3[2] == 403
    assert 'on resource: "arn:aws:s3:::b/k" with an explicit deny in an identity-based policy' in s3[1]


# ---- the template's roles, as deployed for the local stack ----


@functools.cache
def _roles(clusters: str = "*") -> dict[str, cfn.Role]:
    template = cfn.transform(ROOT / "template.yaml", region=REGION)
    names = {"RunsTable": "runs", "LogsBucket": "logs", "RunBus": "bus", "RunStateMachine": "ecsrun-local"}
    # Functions are named by their logical ids, as the local engine names them
    names |= {k: k for k, r in template["Resources"].items() if r["Type"] == "AWS::Lambda::Function"}
    resolver = cfn.Resolver(template, cfn.Stack("ecsrun-local"), parameters={"AllowedClusters": clusters}, names=names)
    return {logical_id: roles for logical_id, roles in cfn.roles(resolver).items()}


def _decision(role: str, made: Call, clusters: str = "*") -> str:
    statements = _roles(clusters)[role].statements
    decisions = [iam.evaluate(statements, r) for r in iam.requests_for(made)]
    return next((d for d in decisions if d != ALLOW), ALLOW)


STATE_MACHINE = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:ecsrun-local"


@pytest.mark.parametrize(
    ("role", "made", "expected"),
    [
        # The reconciler reads waiting runs from the sparse index, never the whole table
        ("ReconcileFunctionRole", call("dynamodb", "Query", TableName="runs", IndexName="overdue"), ALLOW),
        ("ReconcileFunctionRole", call("dynamodb", "Query", TableName="runs"), IMPLICIT_DENY),
        # A copy lists only its own checkpoints
        ("CopyLogsFunctionRole", call("s3", "ListObjectsV2", Bucket="logs", Prefix="runs/a/.copy/"), ALLOW),
        ("CopyLogsFunctionRole", call("s3", "ListObjectsV2", Bucket="logs", Prefix="runs/"), IMPLICIT_DENY),
        ("CopyLogsFunctionRole", call("ecs", "StopTask", cluster="default", task="abc"), IMPLICIT_DENY),
        ("StopTaskFunctionRole", call("ecs", "StopTask", cluster="default", task="abc"), ALLOW),
        ("PlanRetryFunctionRole", call("events", "PutEvents", Entries=[{"EventBusName": "bus"}]), IMPLICIT_DENY),
        ("ValidateRequestFunctionRole", call("events", "PutEvents", Entries=[{"EventBusName": "bus"}]), ALLOW),
        (
            "ValidateRequestFunctionRole",
            call("events", "PutEvents", Entries=[{"EventBusName": "other"}]),
            IMPLICIT_DENY,
        ),
        # The state machine invokes its own functions, starts and follows only its own executions
        ("RunStateMachineRole", call("lambda", "Invoke", FunctionName="CopyLogsFunction"), ALLOW),
        ("RunStateMachineRole", call("lambda", "Invoke", FunctionName="Other"), IMPLICIT_DENY),
        (
            "RunStateMachineRole",
            call("stepfunctions", "StartExecution", "states", stateMachineArn=STATE_MACHINE),
            ALLOW,
        ),
        (
            "RunStateMachineRole",
            call("stepfunctions", "StartExecution", "states", stateMachineArn=STATE_MACHINE + "-other"),
            IMPLICIT_DENY,
        ),
        (
            "RunStateMachineRole",
            call(
                "stepfunctions",
                "DescribeExecution",
                "states",
                executionArn=f"{STATE_MACHINE}:x".replace("stateMachine", "execution"),
            ),
            ALLOW,
        ),
        # The run-requested rule's role may start this state machine and nothing else
        (
            "RunStateMachineRunRequestedRole",
            call("stepfunctions", "StartExecution", "states", stateMachineArn=STATE_MACHINE),
            ALLOW,
        ),
        ("RunStateMachineRunRequestedRole", call("lambda", "Invoke", FunctionName="CopyLogsFunction"), IMPLICIT_DENY),
    ],
)
def test_the_deployed_roles_allow_what_the_pipeline_does_and_nothing_beside(
    role: str, made: Call, expected: str
) -> None:
    assert _decision(role, made) == expected


def test_the_allowed_clusters_scope_stop_task_by_condition() -> None:
    stop = call("ecs", "StopTask", cluster="batch", task="abc")
    assert _decision("StopTaskFunctionRole", stop, clusters="default") == IMPLICIT_DENY
    assert _decision("StopTaskFunctionRole", stop, clusters="batch,default") == ALLOW
