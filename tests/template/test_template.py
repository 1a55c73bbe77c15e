"""Contract tests of template.yaml: runtime, wiring, state, events, outputs and least-privilege IAM."""

from __future__ import annotations

import ast
import copy
import fnmatch
import functools
import json
import re
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from ecsrun.domain.models.record import RunRecord
from ecsrun.local.template import Template
from ecsrun.plumbing.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_PATH = ROOT / "template.yaml"

POWERTOOLS_PREFIX = "/aws/service/powertools/python/arm64/python3.13/"
HANDLER_RE = re.compile(r"^ecsrun\.handlers\.([a-z_][a-z0-9_]*)\.handler$")
EXPECTED_HANDLERS = {
    "ValidateRequestFunction": "ecsrun.handlers.validate_request.handler",
    "StartTaskFunction": "ecsrun.handlers.start_task.handler",
    "TaskStoppedFunction": "ecsrun.handlers.task_stopped.handler",
    "StopTaskFunction": "ecsrun.handlers.stop_task.handler",
    "CopyLogsFunction": "ecsrun.handlers.copy_logs.handler",
}
EVENT_RULE_TYPES = {"EventBridgeRule", "CloudWatchEvent"}

# Actions that support no resource-level permissions, so "*" is the only Resource they accept.
WILDCARD_RESOURCE_ALLOWLIST = frozenset(
    action.lower()
    for action in (
        "ecs:DescribeTaskDefinition",
        "states:SendTaskSuccess",
        "states:SendTaskFailure",
        "states:SendTaskHeartbeat",
        "logs:CreateLogDelivery",
        "logs:GetLogDelivery",
        "logs:UpdateLogDelivery",
        "logs:DeleteLogDelivery",
        "logs:ListLogDeliveries",
        "logs:PutResourcePolicy",
        "logs:DescribeResourcePolicies",
        "logs:DescribeLogGroups",
        "ec2:DescribeSubnets",
        "ec2:DescribeSecurityGroups",
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
        "xray:GetSamplingRules",
        "xray:GetSamplingTargets",
    )
)


# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------


@functools.cache
def _template() -> Template:
    return Template(TEMPLATE_PATH)


def _doc() -> dict[str, Any]:
    """A fresh copy of the parsed template, so no test can change what another reads."""
    return copy.deepcopy(_template().doc)


def _resources_of_type(doc: dict[str, Any], type_: str) -> dict[str, dict[str, Any]]:
    return {name: r for name, r in doc.get("Resources", {}).items() if r.get("Type") == type_}


def _function_ids() -> list[str]:
    """Parameters for the per-function tests, or none if the template cannot be read (the other tests say why)."""
    try:
        return sorted(_resources_of_type(_doc(), "AWS::Serverless::Function"))
    except (OSError, ValueError, KeyError, TypeError, AttributeError, yaml.YAMLError):
        return []


def _merge_globals(globals_: Any, props: Any) -> Any:
    """SAM's Globals rule: maps merge, lists append (Globals first), scalars are overridden."""
    if isinstance(globals_, dict) and isinstance(props, dict):
        merged = copy.deepcopy(globals_)
        for key, value in props.items():
            merged[key] = _merge_globals(merged[key], value) if key in merged else copy.deepcopy(value)
        return merged
    if isinstance(globals_, list) and isinstance(props, list):
        return [*copy.deepcopy(globals_), *copy.deepcopy(props)]
    return copy.deepcopy(props)


def _function_props(logical_id: str) -> dict[str, Any]:
    doc = _doc()
    globals_ = doc.get("Globals", {}).get("Function", {})
    return _merge_globals(globals_, doc["Resources"][logical_id].get("Properties", {}))


def _state_machine(doc: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    machines = _resources_of_type(doc, "AWS::Serverless::StateMachine")
    assert len(machines) == 1, sorted(machines)
    return next(iter(machines.items()))


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _is_get_att_arn(value: Any) -> str | None:
    """The logical id `value` is the Arn of (!GetAtt X.Arn), else None."""
    if isinstance(value, dict) and set(value) == {"Fn::GetAtt"}:
        target = value["Fn::GetAtt"]
        if isinstance(target, list) and len(target) == 2 and target[1] == "Arn":
            return target[0]
    return None


def _rules_targeting(doc: dict[str, Any], logical_id: str) -> list[dict[str, Any]]:
    """Every EventBridge rule that targets `logical_id`: SAM event sources on it, and raw AWS::Events::Rule.

    Each is normalised to {Pattern, EventBusName, InputPath, RetryPolicy, DeadLetterConfig}.
    """
    rules: list[dict[str, Any]] = []
    resource = doc["Resources"][logical_id]
    for event in resource.get("Properties", {}).get("Events", {}).values():
        if event.get("Type") in EVENT_RULE_TYPES:
            rules.append(dict(event.get("Properties", {})))
    for rule in _resources_of_type(doc, "AWS::Events::Rule").values():
        props = rule.get("Properties", {})
        for target in props.get("Targets", []):
            if _is_get_att_arn(target.get("Arn")) == logical_id or target.get("Arn") == {"Ref": logical_id}:
                rules.append(
                    {
                        "Pattern": props.get("EventPattern"),
                        "EventBusName": props.get("EventBusName"),
                        "InputPath": target.get("InputPath"),
                        "RetryPolicy": target.get("RetryPolicy"),
                        "DeadLetterConfig": target.get("DeadLetterConfig"),
                    }
                )
    return rules


def _statements_in(document: Any) -> Iterator[dict[str, Any]]:
    """The statements of a policy document, with both branches of !If and without AWS::NoValue."""
    if not isinstance(document, dict) or "Statement" not in document:
        return
    yield from _expand_statements(document["Statement"])


def _expand_statements(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, list):
        for item in node:
            yield from _expand_statements(item)
    elif isinstance(node, dict):
        if set(node) == {"Fn::If"}:
            _, if_true, if_false = node["Fn::If"]
            yield from _expand_statements(if_true)
            yield from _expand_statements(if_false)
        elif node == {"Ref": "AWS::NoValue"}:
            return
        else:
            yield node


def _iam_statements(doc: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(where, statement) for every identity-policy statement the template defines."""
    found: list[tuple[str, dict[str, Any]]] = []
    for name, resource in doc.get("Resources", {}).items():
        type_ = resource.get("Type")
        props = resource.get("Properties", {}) or {}
        documents: list[Any] = []
        if type_ in ("AWS::Serverless::Function", "AWS::Serverless::StateMachine"):
            # Strings are managed policy names, single-key maps are SAM policy templates (scoped by SAM).
            documents = [p for p in _as_list(props.get("Policies", [])) if isinstance(p, dict) and "Statement" in p]
        elif type_ == "AWS::IAM::Role":
            documents = [p.get("PolicyDocument") for p in props.get("Policies", []) or []]
        elif type_ in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            documents = [props.get("PolicyDocument")]
        for document in documents:
            for statement in _statements_in(document):
                found.append((f"{name}/{statement.get('Sid', '?')}", statement))
    return found


def _actions(statement: dict[str, Any]) -> list[str]:
    return [str(a) for a in _as_list(statement.get("Action", []))]


def _grants_any_resource(statement: dict[str, Any]) -> bool:
    if "NotResource" in statement:
        return True
    return "*" in _as_list(statement.get("Resource"))


# Actions whose only resource type is one ecsrun's tasks may not have (ListTasks: the container instance,
# which Fargate tasks lack): allowed on "*" only when a condition key scopes them instead.
CONDITION_SCOPED = {"ecs:listtasks": "ecs:cluster"}


def _scoped_by_condition(action: str, statement: dict[str, Any]) -> bool:
    key = CONDITION_SCOPED.get(action.lower())
    conditions = statement.get("Condition") or {}
    return key is not None and any(key in (block or {}) for block in conditions.values())


def _wildcard_resource_violations(statements: list[tuple[str, dict[str, Any]]]) -> list[str]:
    """'<where>: <action>' for every Allow action on Resource "*" that supports resource-level permissions."""
    return [
        f"{where}: {action}"
        for where, statement in statements
        if statement.get("Effect") == "Allow" and _grants_any_resource(statement)
        for action in _actions(statement)
        if action.lower() not in WILDCARD_RESOURCE_ALLOWLIST and not _scoped_by_condition(action, statement)
    ]


def _matches(action_pattern: str, action: str) -> bool:
    return fnmatch.fnmatchcase(action.lower(), action_pattern.lower())


def _passes_roles_only_to_ecs_tasks(statement: dict[str, Any]) -> bool:
    condition = statement.get("Condition", {}) or {}
    for operator in ("StringEquals", "StringLike"):
        value = (condition.get(operator) or {}).get("iam:PassedToService")
        if value is not None and _as_list(value) == ["ecs-tasks.amazonaws.com"]:
            return True
    return False


def _defines_handler(path: Path) -> bool:
    tree = ast.parse(path.read_text())
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == "handler":
            return True
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "handler" for t in node.targets):
            return True
    return False


# ---------------------------------------------------------------------------
# Transform and state machine
# ---------------------------------------------------------------------------


def test_template_uses_the_sam_transform():
    # Given the template
    doc = _doc()

    # When its Transform is read
    # Then it is SAM's
    assert doc.get("Transform") == "AWS::Serverless-2016-10-31"


def test_state_machine_is_standard():
    # Given the state machine
    _, machine = _state_machine(_doc())

    # When its type is read
    # Then it is STANDARD (Express executions cannot wait for a task token for up to a year)
    assert machine["Properties"].get("Type") == "STANDARD"


def test_state_machine_tracing_is_enabled():
    # Given the state machine
    _, machine = _state_machine(_doc())

    # When its tracing is read
    # Then X-Ray tracing is on
    assert machine["Properties"].get("Tracing", {}).get("Enabled") is True


def test_state_machine_logs_all_events_to_a_destination():
    # Given the state machine's logging configuration
    _, machine = _state_machine(_doc())
    logging = machine["Properties"].get("Logging", {})

    # When its level and destinations are read
    destinations = logging.get("Destinations") or []

    # Then every event is logged to a CloudWatch Logs log group
    assert logging.get("Level") == "ALL"
    assert destinations
    assert all(d.get("CloudWatchLogsLogGroup", {}).get("LogGroupArn") for d in destinations), destinations


def test_state_machine_logging_leaves_out_execution_data():
    # Given the state machine's logging configuration (issue 12, case 4: an environment value may be a secret)
    _, machine = _state_machine(_doc())

    # When whether it logs state input and output is read
    # Then it does not: no request, and so no environment value, reaches the execution log
    assert machine["Properties"]["Logging"].get("IncludeExecutionData") is False


def test_state_machine_definition_is_the_asl_file():
    # Given the state machine
    _, machine = _state_machine(_doc())

    # When its DefinitionUri is read
    uri = machine["Properties"].get("DefinitionUri")

    # Then it is the ASL file in this repository
    assert uri == "statemachine/ecsrun.asl.json"
    assert (ROOT / uri).is_file()


# ---------------------------------------------------------------------------
# Functions
# ---------------------------------------------------------------------------


def test_the_five_pipeline_functions_exist_with_their_handlers():
    # Given the template's functions
    functions = _template().functions()

    # When the five pipeline functions are looked up
    found = {name: functions.get(name) for name in EXPECTED_HANDLERS}

    # Then each exists with its handler
    assert found == EXPECTED_HANDLERS


@pytest.mark.parametrize("function_id", _function_ids())
def test_function_runtime_is_python_3_13(function_id: str):
    # Given a function's properties with Globals applied
    props = _function_props(function_id)

    # When its runtime is read
    # Then it is python3.13
    assert props.get("Runtime") == "python3.13"


@pytest.mark.parametrize("function_id", _function_ids())
def test_function_architecture_is_arm64_only(function_id: str):
    # Given a function's properties with Globals applied
    props = _function_props(function_id)

    # When its architectures are read
    # Then it runs on arm64, and only arm64
    assert props.get("Architectures") == ["arm64"]


@pytest.mark.parametrize("function_id", _function_ids())
def test_function_uses_the_pinned_arm64_python_3_13_powertools_layer(function_id: str):
    # Given a function's layers with Globals applied
    doc = _doc()
    layers = _function_props(function_id).get("Layers", [])

    # When the layers that reference a template parameter are resolved to its Default
    defaults = [
        _ssm_path(str(doc.get("Parameters", {}).get(layer["Ref"], {}).get("Default", "")))
        for layer in layers
        if isinstance(layer, dict) and set(layer) == {"Ref"}
    ]
    powertools = [d for d in defaults if d.startswith(POWERTOOLS_PREFIX)]

    # Then exactly one is the Powertools SSM parameter for arm64/python3.13, pinned to a version
    assert len(powertools) == 1, f"{function_id}: layer parameter defaults {defaults}"
    version = powertools[0].rstrip("/").rsplit("/", 1)[-1]
    assert re.fullmatch(r"\d+\.\d+\.\d+", version), f"{function_id}: Powertools layer is not pinned ({version!r})"


def _ssm_path(default: str) -> str:
    """The SSM parameter a `{{resolve:ssm:NAME}}` dynamic reference reads (the default is a plain String)."""
    match = re.fullmatch(r"\{\{resolve:ssm:([^}:]+)\}\}", default)
    return match.group(1) if match else default


def test_powertools_layer_version_matches_the_pinned_dependency():
    # Given the Powertools layer parameter and the project's declared dependency
    default = _ssm_path(str(_template().parameter_default("PowertoolsLayerArn")))
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    pins = [re.search(r"==\s*([\w.]+)", d) for d in dependencies if d.startswith("aws-lambda-powertools")]

    # When the two versions are read
    layer_version = default.rsplit("/", 1)[-1]
    pinned = [m.group(1) for m in pins if m]

    # Then the tests run against the same Powertools the functions get in Lambda
    assert pinned == [layer_version]


@pytest.mark.parametrize("function_id", _function_ids())
def test_function_handler_names_a_handler_module(function_id: str):
    # Given a function's handler
    handler = _function_props(function_id).get("Handler", "")

    # When it is matched against the handler convention
    # Then it is ecsrun.handlers.<module>.handler
    assert HANDLER_RE.fullmatch(handler), f"{function_id}: {handler!r}"


@pytest.mark.parametrize("function_id", _function_ids())
def test_function_handler_module_exists_and_defines_handler(function_id: str):
    # Given a function's handler and code location
    props = _function_props(function_id)
    match = HANDLER_RE.fullmatch(props.get("Handler", ""))
    assert match, props.get("Handler")

    # When the module it names is located under CodeUri
    module = ROOT / props.get("CodeUri", "") / "ecsrun" / "handlers" / f"{match.group(1)}.py"

    # Then the module exists and defines `handler` at top level
    assert module.is_file(), f"{function_id}: {module} does not exist"
    assert _defines_handler(module), f"{function_id}: {module} defines no top-level handler"


def test_no_requirements_file_is_bundled_with_the_functions():
    # Given the functions' code directory
    # When requirements files are looked for in it
    found = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "functions").rglob("requirements*.txt"))

    # Then there are none: dependencies come from the runtime and the Powertools layer
    assert found == []


def test_globals_environment_sets_the_core_settings():
    # Given the Globals function environment
    variables = _doc()["Globals"]["Function"]["Environment"]["Variables"]

    # When the core settings are looked up
    required = {"RUNS_TABLE", "LOGS_BUCKET", "STARTED_BY_PREFIX", "DEFAULT_TIMEOUT_SECONDS"}

    # Then every one is set
    assert required - set(variables) == set()


@pytest.mark.parametrize("function_id", _function_ids())
def test_function_environment_provides_every_settings_field(function_id: str):
    # Given a function's environment with Globals applied, and the aliases Settings reads
    variables = _function_props(function_id).get("Environment", {}).get("Variables", {})
    aliases = {field.alias or name for name, field in Settings.model_fields.items()}

    # When the aliases are looked up in the environment
    missing = aliases - set(variables)

    # Then the template provides every one (no field silently falls back to its code default)
    assert missing == set(), f"{function_id} lacks {sorted(missing)}"


@pytest.mark.parametrize(
    ("field", "parameter"),
    [
        ("started_by_prefix", "StartedByPrefix"),
        ("default_timeout_seconds", "DefaultTimeoutSeconds"),
        ("run_record_ttl_days", "RunRecordTtlDays"),
    ],
)
def test_settings_defaults_match_template_parameter_defaults(field: str, parameter: str):
    # Given a Settings field and the template parameter that feeds it
    code_default = Settings.model_fields[field].default
    template_default = _template().parameter_default(parameter)

    # When the two defaults are compared
    # Then local runs behave like a default deployment
    assert str(code_default) == str(template_default)


# ---------------------------------------------------------------------------
# Runs table
# ---------------------------------------------------------------------------


def _runs_table() -> dict[str, Any]:
    return _doc()["Resources"]["RunsTable"]["Properties"]


def test_runs_table_is_on_demand():
    # Given the runs table
    # When its billing mode is read
    # Then it is pay-per-request
    assert _runs_table().get("BillingMode") == "PAY_PER_REQUEST"


def test_runs_table_is_keyed_by_run_id():
    # Given the runs table
    props = _runs_table()

    # When its key schema and attribute definitions are read
    # Then runId, a string, is the only key
    assert props.get("KeySchema") == [{"AttributeName": "runId", "KeyType": "HASH"}]
    assert {"AttributeName": "runId", "AttributeType": "S"} in props.get("AttributeDefinitions", [])
    assert "runId" in RunRecord.model_fields


def test_runs_table_has_point_in_time_recovery():
    # Given the runs table
    # When its PITR setting is read
    # Then recovery is enabled
    assert _runs_table().get("PointInTimeRecoverySpecification", {}).get("PointInTimeRecoveryEnabled") is True


def test_runs_table_expires_records_by_expires_at():
    # Given the runs table and the record model
    ttl = _runs_table().get("TimeToLiveSpecification", {})

    # When its TTL setting is read
    # Then TTL is on, on the epoch-seconds attribute every record carries
    assert ttl.get("Enabled") is True
    assert ttl.get("AttributeName") == "expiresAt"
    assert RunRecord.model_fields["expiresAt"].annotation is int


# ---------------------------------------------------------------------------
# Logs bucket
# ---------------------------------------------------------------------------


def _logs_bucket() -> dict[str, Any]:
    return _doc()["Resources"]["LogsBucket"]["Properties"]


def test_logs_bucket_is_encrypted():
    # Given the logs bucket's encryption
    rules = _logs_bucket().get("BucketEncryption", {}).get("ServerSideEncryptionConfiguration", [])

    # When the default algorithms are read
    algorithms = [r.get("ServerSideEncryptionByDefault", {}).get("SSEAlgorithm") for r in rules]

    # Then server-side encryption is configured
    assert algorithms and all(a in {"AES256", "aws:kms", "aws:kms:dsse"} for a in algorithms), algorithms


@pytest.mark.parametrize("flag", ["BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"])
def test_logs_bucket_blocks_public_access(flag: str):
    # Given the logs bucket's public access block
    block = _logs_bucket().get("PublicAccessBlockConfiguration", {})

    # When a flag is read
    # Then it is on
    assert block.get(flag) is True


def test_logs_bucket_expires_logs_after_the_retention_parameter():
    # Given the logs bucket's lifecycle rules
    rules = _logs_bucket().get("LifecycleConfiguration", {}).get("Rules", [])

    # When the enabled expiration rules are collected
    expirations = [r.get("ExpirationInDays") for r in rules if r.get("Status") == "Enabled" and "ExpirationInDays" in r]

    # Then objects expire after LogRetentionDays
    assert expirations == [{"Ref": "LogRetentionDays"}]
    assert "LogRetentionDays" in _doc()["Parameters"]


def test_logs_bucket_policy_denies_insecure_transport():
    # Given the bucket policies on the logs bucket
    policies = [
        p["Properties"]
        for p in _resources_of_type(_doc(), "AWS::S3::BucketPolicy").values()
        if p["Properties"].get("Bucket") == {"Ref": "LogsBucket"}
    ]
    assert policies, "no AWS::S3::BucketPolicy on LogsBucket"

    # When their Deny statements conditioned on aws:SecureTransport false are collected
    denies = [
        s
        for policy in policies
        for s in _statements_in(policy.get("PolicyDocument"))
        if s.get("Effect") == "Deny"
        and str(s.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport")).lower() == "false"
    ]

    # Then there is one, covering the bucket and its objects
    assert len(denies) == 1, denies
    resources = _as_list(denies[0].get("Resource"))
    assert {"Fn::GetAtt": ["LogsBucket", "Arn"]} in resources
    assert {"Fn::Sub": "${LogsBucket.Arn}/*"} in resources


# ---------------------------------------------------------------------------
# ECS task-stopped events
# ---------------------------------------------------------------------------


def _ecs_pattern() -> dict[str, Any]:
    return _template().event_pattern("aws.ecs", {"StartedByPrefix": "ecsrun/"})


def test_ecs_pattern_matches_task_state_changes():
    # Given the ECS event pattern
    # When its detail-type is read
    # Then it matches task state changes only
    assert _ecs_pattern().get("detail-type") == ["ECS Task State Change"]


def test_ecs_pattern_matches_stopped_tasks_only():
    # Given the ECS event pattern
    # When its lastStatus filter is read
    # Then only STOPPED events match
    assert _ecs_pattern().get("detail", {}).get("lastStatus") == ["STOPPED"]


def test_ecs_pattern_matches_only_tasks_this_stack_started():
    # Given the ECS event pattern with StartedByPrefix resolved
    # When its startedBy filter is read
    # Then it matches the stack's prefix
    assert _ecs_pattern().get("detail", {}).get("startedBy") == [{"prefix": "ecsrun/"}]


def _task_stopped_rule() -> dict[str, Any]:
    rules = _rules_targeting(_doc(), "TaskStoppedFunction")
    assert len(rules) == 1, rules
    return rules[0]


def test_task_stopped_rule_carries_the_ecs_pattern():
    # Given the rule that targets TaskStoppedFunction
    rule = _task_stopped_rule()

    # When its pattern's source is read
    # Then it is the ECS pattern the tests above check
    assert rule.get("Pattern", {}).get("source") == ["aws.ecs"]


def test_task_stopped_rule_has_a_retry_policy():
    # Given the rule that targets TaskStoppedFunction
    policy = _task_stopped_rule().get("RetryPolicy") or {}

    # When its retry policy is read
    # Then it retries delivery
    assert policy.get("MaximumRetryAttempts", 0) > 0 or policy.get("MaximumEventAgeInSeconds", 0) > 0, policy


def test_task_stopped_rule_dead_letters_to_an_encrypted_queue():
    # Given the rule that targets TaskStoppedFunction
    dead_letter = _task_stopped_rule().get("DeadLetterConfig") or {}

    # When its dead-letter target is resolved
    queue_id = _is_get_att_arn(dead_letter.get("Arn"))
    assert queue_id, f"DeadLetterConfig does not point at a queue's Arn: {dead_letter}"
    queue = _doc()["Resources"][queue_id]

    # Then it is an SQS queue encrypted at rest
    assert queue["Type"] == "AWS::SQS::Queue"
    props = queue.get("Properties", {})
    assert props.get("SqsManagedSseEnabled") is True or props.get("KmsMasterKeyId"), props


# ---------------------------------------------------------------------------
# Run requests
# ---------------------------------------------------------------------------


def _custom_buses() -> set[str]:
    return set(_resources_of_type(_doc(), "AWS::Events::EventBus"))


def _run_requested_rules() -> list[dict[str, Any]]:
    name, _ = _state_machine(_doc())
    return _rules_targeting(_doc(), name)


def test_a_custom_event_bus_exists():
    # Given the template
    # When its event buses are collected
    # Then there is one of its own
    assert _custom_buses()


def test_state_machine_is_started_by_run_requested_events_on_the_custom_bus():
    # Given the rules that target the state machine
    rules = _run_requested_rules()

    # When the ones on a custom bus matching ecsrun.RunRequested are collected
    buses = [{"Ref": bus} for bus in _custom_buses()]
    matching = [
        r
        for r in rules
        if r.get("EventBusName") in buses and (r.get("Pattern") or {}).get("detail-type") == ["ecsrun.RunRequested"]
    ]

    # Then there is exactly one
    assert len(matching) == 1, rules


def test_run_requested_rule_passes_the_detail_as_execution_input():
    # Given the ecsrun.RunRequested rule
    rules = [
        r for r in _run_requested_rules() if (r.get("Pattern") or {}).get("detail-type") == ["ecsrun.RunRequested"]
    ]
    assert rules

    # When its input path is read
    # Then the execution input is the run request itself
    assert [r.get("InputPath") for r in rules] == ["$.detail"]


def test_sample_put_events_request_matches_the_run_requested_rule():
    # Given the sample PutEvents entry in events/requests
    entries = json.loads((ROOT / "events" / "requests" / "eventbridge-put-events.json").read_text())

    # When its DetailType is compared with the rule's pattern
    detail_types = {e["DetailType"] for e in entries}

    # Then the sample would start a run
    assert detail_types == {"ecsrun.RunRequested"}


# ---------------------------------------------------------------------------
# Outputs
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("output", ["StateMachineArn", "LogsBucketName", "RunsTableName", "EventBusName"])
def test_template_outputs(output: str):
    # Given the template's outputs
    outputs = _doc().get("Outputs", {})

    # When an output is looked up
    # Then it exists with a value
    assert outputs.get(output, {}).get("Value"), sorted(outputs)


# ---------------------------------------------------------------------------
# Least privilege
# ---------------------------------------------------------------------------


def test_iam_walk_finds_the_inline_policies():
    # Given the template
    statements = _iam_statements(_doc())

    # When the resources the walk found statements in are collected
    owners = {where.split("/", 1)[0] for where, _ in statements}

    # Then every function and state machine with an inline policy document is covered
    expected = {
        name
        for name, r in _doc()["Resources"].items()
        if any(isinstance(p, dict) and "Statement" in p for p in _as_list(r.get("Properties", {}).get("Policies", [])))
    }
    assert expected and expected <= owners


def test_wildcard_resources_are_only_granted_actions_without_resource_level_permissions():
    # Given every IAM statement in the template
    statements = _iam_statements(_doc())

    # When the actions granted on Resource "*" are checked against the allowlist
    violations = _wildcard_resource_violations(statements)

    # Then every one is an action AWS cannot scope to a resource
    assert violations == []


@pytest.mark.parametrize("action", ["ecs:RunTask", "s3:PutObject", "ecs:*", "*", "ecs:ListTasks"])
def test_wildcard_check_names_a_scoped_action_granted_on_star(action: str):
    # Given a template statement granting an action that supports resource-level permissions on "*"
    doc = {
        "Resources": {
            "Fn": {
                "Type": "AWS::Serverless::Function",
                "Properties": {
                    "Policies": [{"Statement": [{"Sid": "Bad", "Effect": "Allow", "Action": action, "Resource": "*"}]}]
                },
            }
        }
    }

    # When the wildcard check runs on it
    violations = _wildcard_resource_violations(_iam_statements(doc))

    # Then it reports that action
    assert violations == [f"Fn/Bad: {action}"]


def test_no_allow_statement_uses_not_action_or_not_resource():
    # Given every IAM statement in the template
    statements = _iam_statements(_doc())

    # When Allow statements with NotAction or NotResource are collected
    inverted = [
        where for where, s in statements if s.get("Effect") == "Allow" and ("NotAction" in s or "NotResource" in s)
    ]

    # Then there are none (they grant everything but a list)
    assert inverted == []


def test_pass_role_is_granted_only_to_ecs_tasks():
    # Given every IAM Allow statement that grants iam:PassRole (directly or by wildcard)
    statements = [
        (where, s)
        for where, s in _iam_statements(_doc())
        if s.get("Effect") == "Allow" and any(_matches(a, "iam:PassRole") for a in _actions(s))
    ]
    assert statements, "no statement grants iam:PassRole; the runner could not pass task roles"

    # When their conditions are read
    unconditioned = [where for where, s in statements if not _passes_roles_only_to_ecs_tasks(s)]

    # Then each passes roles only to ecs-tasks.amazonaws.com
    assert unconditioned == []


def test_pass_role_is_never_granted_on_any_resource():
    # Given every IAM Allow statement that grants iam:PassRole
    statements = [
        where
        for where, s in _iam_statements(_doc())
        if s.get("Effect") == "Allow"
        and any(_matches(a, "iam:PassRole") for a in _actions(s))
        and _grants_any_resource(s)
    ]

    # When they are checked for Resource "*"
    # Then none lets the runner pass any role in the account
    assert statements == []


def test_concurrent_log_copies_are_bounded_by_a_parameter_whose_zero_reserves_nothing():
    copy_logs = _doc()["Resources"]["CopyLogsFunction"]["Properties"]
    assert copy_logs["ReservedConcurrentExecutions"] == {
        "Fn::If": ["HasCopyConcurrency", {"Ref": "CopyConcurrency"}, {"Ref": "AWS::NoValue"}]
    }
    spec = _doc()["Parameters"]["CopyConcurrency"]
    assert spec["MinValue"] == spec["Default"] == 0


# ---- hardening: checkov skips, allowlists ----


def test_every_checkov_skip_is_justified_in_place():
    # Given every resource's checkov skips
    skips = [
        (logical_id, skip)
        for logical_id, resource in _doc()["Resources"].items()
        for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", [])
    ]
    # Then each names a check and says why, in a sentence
    assert skips, "checkov runs in make test; the template's skips live beside the resources they concern"
    for logical_id, skip in skips:
        assert re.fullmatch(r"CKV_AWS_\d+", skip["id"]), (logical_id, skip)
        assert len(skip.get("comment", "")) >= 40, (logical_id, skip)


def test_every_asynchronously_invoked_function_keeps_what_fails():
    # EventBridge-invoked functions: a failure after Lambda's retries goes to a queue, never dropped
    for logical_id in ("TaskStoppedFunction", "ExecutionEndedFunction"):
        props = _function_props(logical_id)
        has_dlq = "DeadLetterQueue" in props
        has_destination = "OnFailure" in props.get("EventInvokeConfig", {}).get("DestinationConfig", {})
        assert has_dlq or has_destination, logical_id


def test_allowlists_reach_the_validator_and_scope_iam():
    doc = _doc()
    variables = doc["Globals"]["Function"]["Environment"]["Variables"]
    assert variables["ALLOWED_CLUSTERS"] == {"Fn::Join": [",", {"Ref": "AllowedClusters"}]}
    assert variables["ALLOWED_TASK_DEFINITION_FAMILIES"] == {
        "Fn::Join": [",", {"Ref": "AllowedTaskDefinitionFamilies"}]
    }
    text = TEMPLATE_PATH.read_text()
    # Every statement that can act on a task or run one is conditioned on the allowed clusters
    for _, statement in _iam_statements(doc):
        actions = set(_actions(statement))
        if actions & {"ecs:RunTask", "ecs:StopTask", "ecs:DescribeTasks", "ecs:ListTasks"}:
            cluster = statement["Condition"]["ArnLike"]["ecs:cluster"]
            assert "AllowedClusters" in json.dumps(cluster), statement
        if "ecs:RunTask" in actions:
            assert "AllowedTaskDefinitionFamilies" in json.dumps(statement["Resource"]), statement
    assert text.count("!Ref AllowedClusters") >= 6


def _granted(doc: dict[str, Any], function: str) -> set[str]:
    return {
        action.lower()
        for where, statement in _iam_statements(doc)
        if where.startswith(f"{function}/") and statement.get("Effect") == "Allow"
        for action in _actions(statement)
    }


@pytest.mark.parametrize(
    ("function", "needed"),
    [
        # The start stops a task it recorded after its run stopped waiting for it (issue 13: it lacked StopTask).
        ("StartTaskFunction", {"ecs:runtask", "ecs:stoptask"}),
        # The stop, the abort and the reconciler name a task RunTask started, unrecorded, by its clientToken.
        ("StopTaskFunction", {"ecs:runtask", "ecs:tagresource", "iam:passrole", "ecs:stoptask"}),
        ("ExecutionEndedFunction", {"ecs:runtask", "ecs:tagresource", "iam:passrole", "ecs:stoptask"}),
        (
            "ReconcileFunction",
            {
                "states:describeexecution",
                "ecs:describetasks",
                "ecs:stoptask",
                "ecs:runtask",
                "states:sendtasksuccess",
                "logs:getlogevents",
                "s3:putobject",
                "s3:getobject",
                "s3:listbucket",
                "events:putevents",
            },
        ),
        # An aborted run's copy continues from its checkpoint.
        ("TaskStoppedFunction", {"s3:getobject", "s3:listbucket", "s3:putobject", "logs:getlogevents"}),
    ],
)
def test_each_function_may_make_the_calls_run_integrity_needs(function: str, needed: set[str]) -> None:
    assert needed <= _granted(_doc(), function), needed - _granted(_doc(), function)


def test_no_function_lists_tasks_by_started_by_any_more() -> None:
    # ListTasks with startedBy and desiredStatus broke ECS's rule that startedBy is ListTasks' only filter; the
    # clientToken names an attempt's task instead (issue 12, issue 13)
    functions = [n for n, r in _doc()["Resources"].items() if r.get("Type") == "AWS::Serverless::Function"]
    assert functions
    assert all("ecs:listtasks" not in _granted(_doc(), name) for name in functions)


def test_every_run_task_grant_is_scoped_as_the_starts() -> None:
    doc = _doc()
    grants = [s for _, s in _iam_statements(doc) if "ecs:RunTask" in _actions(s)]
    assert len(grants) == 4  # StartTask, and the three that name a task by its clientToken
    assert all(s["Resource"] == grants[0]["Resource"] and s["Condition"] == grants[0]["Condition"] for s in grants)
