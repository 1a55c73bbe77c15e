"""Contract tests of template.yaml's operational parts: the optional schedule, the alarms and the dashboard.

The alarms and the dashboard name metrics by string; these tests hold those strings to the metrics the
handlers really emit, under the dimension Powertools really adds.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path
from typing import Any

import pytest
from ecsrun.domain.errors import ErrorName
from ecsrun.local.template import Template

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = Template(ROOT / "template.yaml")
RESOURCES = TEMPLATE.resources
PACKAGE = ROOT / "functions" / "ecsrun"


def _emitted_metrics() -> set[str]:
    """Every metric name the package passes to metrics.add_metric, f-strings over error names expanded."""
    names: set[str] = set()
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if not (isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "add_metric"):
                continue
            [name] = [k.value for k in node.keywords if k.arg == "name"]
            if isinstance(name, ast.Constant):
                names.add(name.value)
            elif isinstance(name, ast.IfExp):
                names |= {name.body.value, name.orelse.value}  # type: ignore[attr-defined]
            elif isinstance(name, ast.JoinedStr):
                prefix = name.values[0].value  # type: ignore[attr-defined]
                names |= {f"{prefix}{error.value}" for error in ErrorName}
    return names


def _alarms() -> dict[str, dict[str, Any]]:
    return {k: r["Properties"] for k, r in RESOURCES.items() if r["Type"] == "AWS::CloudWatch::Alarm"}


def _dashboard_body() -> dict[str, Any]:
    """The dashboard body with every ${...} replaced by a placeholder, parsed: it must be JSON."""
    text, _ = RESOURCES["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    return json.loads(re.sub(r"\$\{[^}]+\}", "SUBSTITUTED", text))


# ---- the schedule ----


def test_the_schedule_exists_only_when_an_expression_is_given() -> None:
    conditions = TEMPLATE.doc["Conditions"]
    assert conditions["HasSchedule"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "ScheduleExpression"}, ""]}]}
    scheduled = {k for k, r in RESOURCES.items() if r.get("Condition") == "HasSchedule"}
    assert scheduled == {"RunSchedule", "RunScheduleRole", "RunScheduleDeadLetterQueue"}
    assert TEMPLATE.parameter_default("ScheduleExpression") == ""


def test_the_schedule_starts_the_state_machine_with_the_request_parameter() -> None:
    props = RESOURCES["RunSchedule"]["Properties"]
    assert props["ScheduleExpression"] == {"Ref": "ScheduleExpression"}
    assert props["ScheduleExpressionTimezone"] == {"Ref": "ScheduleTimezone"}
    assert props["Target"]["Arn"] == {"Ref": "RunStateMachine"}
    assert props["Target"]["Input"] == {"Ref": "ScheduleRequest"}
    # The default request parses as JSON (Scheduler passes it as the execution input)
    assert json.loads(TEMPLATE.parameter_default("ScheduleRequest")) == {}


def test_the_schedule_retries_and_dead_letters_to_an_encrypted_queue() -> None:
    target = RESOURCES["RunSchedule"]["Properties"]["Target"]
    assert target["RetryPolicy"] == {"MaximumRetryAttempts": 185, "MaximumEventAgeInSeconds": 86400}
    assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": ["RunScheduleDeadLetterQueue", "Arn"]}}
    assert RESOURCES["RunScheduleDeadLetterQueue"]["Properties"]["SqsManagedSseEnabled"] is True


def test_the_schedule_role_can_only_start_this_state_machine_and_dead_letter() -> None:
    role = RESOURCES["RunScheduleRole"]["Properties"]
    [trust] = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "scheduler.amazonaws.com"}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}
    [policy] = role["Policies"]
    grants = {(s["Action"], json.dumps(s["Resource"])) for s in policy["PolicyDocument"]["Statement"]}
    assert grants == {
        ("states:StartExecution", json.dumps({"Ref": "RunStateMachine"})),
        ("sqs:SendMessage", json.dumps({"Fn::GetAtt": ["RunScheduleDeadLetterQueue", "Arn"]})),
    }


# ---- alarms ----


@pytest.mark.parametrize(
    ("alarm", "namespace", "metric"),
    [
        ("ExecutionsFailedAlarm", "AWS/States", "ExecutionsFailed"),
        ("ReconcilerSettlementsAlarm", "ecsrun", "RunsReconciled"),
        ("LogCopyFailuresAlarm", "ecsrun", "RunsFailed.Logs.CopyFailed"),
    ],
)
def test_an_alarm_watches_each_thing_that_needs_a_person(alarm: str, namespace: str, metric: str) -> None:
    props = _alarms()[alarm]
    assert (props["Namespace"], props["MetricName"]) == (namespace, metric)
    # One occurrence is enough to page; no data is not a breach
    assert props["Threshold"] in (0, 1) and props["EvaluationPeriods"] == 1
    assert props["TreatMissingData"] == "notBreaching"


def test_the_dead_letter_alarm_fires_for_any_dead_letter_queue_even_while_the_others_are_idle() -> None:
    # Given the alarm's metric math, one series per dead-letter queue
    metrics = _alarms()["DeadLettersAlarm"]["Metrics"]
    queues = {m["Id"]: m["MetricStat"]["Metric"]["Dimensions"][0]["Value"]["Fn::GetAtt"][0] for m in metrics[1:3]}
    schedule = metrics[3]["Fn::If"][1]["MetricStat"]["Metric"]["Dimensions"][0]["Value"]["Fn::GetAtt"][0]
    dead_letter_queues = {
        k for k, r in RESOURCES.items() if r["Type"] == "AWS::SQS::Queue" and k.endswith("DeadLetterQueue")
    }
    # Then every dead-letter queue is watched, at SQS's one-minute resolution
    assert set(queues.values()) | {schedule} == dead_letter_queues
    stats = [m["MetricStat"] for m in metrics[1:3]] + [metrics[3]["Fn::If"][1]["MetricStat"]]
    assert all(stat["Period"] == 60 and stat["Stat"] == "Maximum" for stat in stats)
    # And a queue with no data points (idle: SQS publishes nothing for it) counts as empty rather than emptying
    # the whole expression: each series is FILLed with 0, and the fullest queue decides (not a sum, which has no
    # data where any series has none)
    with_schedule, without = metrics[0]["Expression"]["Fn::If"][1:]
    assert with_schedule == "MAX([FILL(taskStopped, 0), FILL(runRequested, 0), FILL(schedule, 0)])"
    assert without == "MAX([FILL(taskStopped, 0), FILL(runRequested, 0)])"
    alarm = _alarms()["DeadLettersAlarm"]
    assert (alarm["Threshold"], alarm["ComparisonOperator"], alarm["EvaluationPeriods"]) == (
        0,
        "GreaterThanThreshold",
        1,
    )


@pytest.mark.parametrize("logical_id", ["RunsTable", "LogsBucket"])
def test_run_records_and_log_copies_are_kept_when_the_stack_is_deleted_or_replaced(logical_id: str) -> None:
    # Given the stateful resources, Then CloudFormation keeps them on delete and on replacement
    resource = RESOURCES[logical_id]
    assert (resource["DeletionPolicy"], resource["UpdateReplacePolicy"]) == ("Retain", "Retain")
    # And the operations guide says how to tear them down after `sam delete`
    operations = (ROOT / "docs" / "operations.md").read_text()
    assert "## Tearing down" in operations and "sam delete" in operations
    assert "aws s3 rb" in operations and "aws dynamodb delete-table" in operations


def test_every_alarm_notifies_the_alarm_topic() -> None:
    for name, props in _alarms().items():
        assert props["AlarmActions"] == [{"Ref": "AlarmTopic"}], name


def test_ecsrun_alarms_watch_metrics_the_handlers_emit_under_this_stacks_service_dimension() -> None:
    emitted = _emitted_metrics()
    service = TEMPLATE.doc["Globals"]["Function"]["Environment"]["Variables"]["POWERTOOLS_SERVICE_NAME"]
    assert service == {"Ref": "AWS::StackName"}
    for name, props in _alarms().items():
        if props.get("Namespace") == "ecsrun":
            assert props["MetricName"] in emitted, name
            assert props["Dimensions"] == [{"Name": "service", "Value": service}], name


def test_the_metric_scan_finds_the_names_it_must() -> None:
    # The scan behind the test above sees plain names, conditional names and per-error names
    emitted = _emitted_metrics()
    assert {"RunsReconciled", "TasksStarted", "StartsRefused", "RunsFailed.ECS.TaskLost"} <= emitted
    assert "NoSuchMetric" not in emitted


# ---- the dashboard ----


def test_the_dashboard_body_is_json_with_widgets() -> None:
    widgets = _dashboard_body()["widgets"]
    assert len(widgets) >= 6
    assert {w["type"] for w in widgets} == {"metric", "alarm"}


def test_the_dashboard_graphs_only_metrics_that_exist() -> None:
    emitted = _emitted_metrics()
    aws_metrics = {
        "AWS/States": {"ExecutionsStarted", "ExecutionsSucceeded", "ExecutionsFailed", "ExecutionsTimedOut"}
        | {"ExecutionsAborted"},
        "AWS/SQS": {"ApproximateNumberOfMessagesVisible"},
    }
    for widget in _dashboard_body()["widgets"]:
        namespace = metric = None
        for line in widget["properties"].get("metrics", []):
            names = [item for item in line if isinstance(item, str)]
            if names[0] == "...":
                continue  # repeats the line above with other dimension values or options
            if names[0] != ".":
                namespace = names[0]
            metric = names[1] if names[1] != "." else metric
            if namespace == "ecsrun":
                assert metric in emitted, (widget["properties"]["title"], metric)
                assert names[2:4] == ["service", "SUBSTITUTED"] or names[2:4] == [".", "."]
            else:
                assert metric in aws_metrics[namespace], (widget["properties"]["title"], metric)


def test_the_dashboard_shows_every_alarm() -> None:
    text, _ = RESOURCES["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    for name in _alarms():
        assert "${" + name + ".Arn}" in text


# ---- array runs ----


def test_the_state_machine_may_start_only_itself_for_an_arrays_children() -> None:
    # The state machine has no fixed name (a stack name of 128 characters would exceed Step Functions' 80), so
    # its permissions on itself live in a policy that can name it; tests/template/test_deployable.py resolves them.
    assert "Name" not in RESOURCES["RunStateMachine"]["Properties"]
    policy = RESOURCES["RunStateMachineSelfPolicy"]["Properties"]
    assert policy["Roles"] == [{"Ref": "RunStateMachineRole"}]
    statements = {s["Sid"]: s for s in policy["PolicyDocument"]["Statement"]}
    assert statements["StartChildren"] == {
        "Sid": "StartChildren",
        "Effect": "Allow",
        "Action": "states:StartExecution",
        "Resource": {"Ref": "RunStateMachine"},
    }
    policies = RESOURCES["RunStateMachine"]["Properties"]["Policies"]
    inline = {s["Sid"]: s for p in policies if isinstance(p, dict) and "Statement" in p for s in p["Statement"]}
    assert inline["ReadChildren"]["Resource"] == {"Fn::Sub": "${LogsBucket.Arn}/runs/*/array/children.json"}


def test_the_largest_array_is_a_parameter_capped_at_ten_thousand() -> None:
    from ecsrun.domain.array import MAX_ARRAY_SIZE

    spec = TEMPLATE.doc["Parameters"]["MaxArraySize"]
    assert spec["MaxValue"] == spec["Default"] == MAX_ARRAY_SIZE == 10_000
    variables = TEMPLATE.doc["Globals"]["Function"]["Environment"]["Variables"]
    assert variables["MAX_ARRAY_SIZE"] == {"Ref": "MaxArraySize"}


def test_the_array_functions_are_wired_into_the_state_machine() -> None:
    substitutions = RESOURCES["RunStateMachine"]["Properties"]["DefinitionSubstitutions"]
    for function, handler in (
        ("PrepareArrayFunction", "ecsrun.handlers.prepare_array.handler"),
        ("SummarizeArrayFunction", "ecsrun.handlers.summarize_array.handler"),
    ):
        assert RESOURCES[function]["Properties"]["Handler"] == handler
        assert substitutions[f"{function}Arn"] == {"Fn::GetAtt": [function, "Arn"]}
