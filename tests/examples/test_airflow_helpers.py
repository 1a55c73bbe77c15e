"""The example DAG's pure parts (examples/airflow/dags/ecsrun_airflow.py), without Airflow: the request it builds
is one ecsrun accepts, the run's name is deterministic and valid, its end reads right, and its IAM is the least
the DAG's calls need. The DAG's start-and-wait calls run against the local engine with boto3."""

from __future__ import annotations

import fnmatch
import importlib.util
import json
import re
import sys
import types
from collections.abc import Iterator
from typing import Any, ClassVar

import jinja2
import pytest
from ecsrun.domain.models.request import RUN_ID_PATTERN, validate_request
from ecsrun.local.engine import follow
from ecsrun.local.runtime import LocalAws

from tests.conftest import EVENTS, ROOT

DAGS = ROOT / "examples" / "airflow" / "dags"
STATE_MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:ecsrun-ecsrun"
# Step Functions execution names: at most 80 characters; only these keep CloudWatch logging and metrics working.
EXECUTION_NAME = r"^[0-9A-Za-z_-]{1,80}$"


def _load(name: str) -> Any:
    spec = importlib.util.spec_from_file_location(name, DAGS / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


helpers = _load("ecsrun_airflow")

# What a DAG would give EcsRunTaskOperator for a Fargate task, in its own parameter names.
OPERATOR_ARGS: dict[str, Any] = {
    "task_definition": "ecsrun-hello",
    "cluster": "default",
    "overrides": {"containerOverrides": [{"name": "app", "command": ["python3", "-c", "print('hi')"]}]},
    "launch_type": "FARGATE",
    "platform_version": "LATEST",
    "network_configuration": {
        "awsvpcConfiguration": {"subnets": ["subnet-0123456789abcdef0"], "securityGroups": ["sg-0123456789abcdef0"]}
    },
    "propagate_tags": "TASK_DEFINITION",
    "group": "nightly",
}


def test_the_request_built_from_operator_arguments_is_one_ecsrun_accepts() -> None:
    # Given EcsRunTaskOperator's arguments, and ecsrun's own runner fields
    request = helpers.request_from_ecs_operator(
        **OPERATOR_ARGS, tags={"team": "data"}, timeout_seconds=3600, retry={"maxAttempts": 5}
    )
    # When ecsrun validates the execution's input (offline: what `ecsrun validate` runs)
    _, problems = validate_request(json.loads(helpers.execution_input(request, "nightly", "report", "scheduled__x")))
    # Then it has no problem, in ECS's names
    assert problems == []
    assert request["taskDefinition"] == "ecsrun-hello" and request["launchType"] == "FARGATE"
    assert request["tags"] == [{"key": "team", "value": "data"}]
    assert request["propagateTags"] == "TASK_DEFINITION" and request["platformVersion"] == "LATEST"


def test_a_capacity_provider_strategy_drops_the_launch_type_as_the_operator_does() -> None:
    request = helpers.request_from_ecs_operator(
        task_definition="t",
        cluster="default",
        overrides={},
        launch_type="EC2",  # the operator's default
        capacity_provider_strategy=[{"capacityProvider": "FARGATE_SPOT", "weight": 1}],
        network_configuration=OPERATOR_ARGS["network_configuration"],
    )
    assert "launchType" not in request and "overrides" not in request
    assert validate_request(request)[1] == []


@pytest.mark.parametrize("moved", ["awslogs_group", "reattach", "number_logs_exception", "quota_retry"])
def test_an_operator_parameter_ecsrun_handles_elsewhere_says_where(moved: str) -> None:
    with pytest.raises(TypeError, match=moved):
        helpers.request_from_ecs_operator(task_definition="t", cluster="c", **{moved: True})


@pytest.mark.parametrize(
    ("dag_id", "task_id", "run_id", "map_index"),
    [
        ("nightly_report", "run_report", "scheduled__2026-11-21T00:00:00+00:00", -1),
        ("a" * 250, "b" * 250, "manual__2026-11-21T10:01:02.345678+00:00", 12),
        ("_dag.with spaces/and:colons", "grp.task", "backfill__2026-01-01T00:00:00+00:00", 0),
        ("d", "t", "no date here", -1),
    ],
)
def test_the_run_name_is_deterministic_and_valid_everywhere(
    dag_id: str, task_id: str, run_id: str, map_index: int
) -> None:
    # Given an Airflow task of a DAG run
    name = helpers.run_id_for(dag_id, task_id, run_id, map_index)
    # Then every try computes the same name, valid as a runId and as an execution name
    assert name == helpers.run_id_for(dag_id, task_id, run_id, map_index)
    assert re.fullmatch(RUN_ID_PATTERN, name) and re.fullmatch(EXECUTION_NAME, name)
    # And another run, task or map index gets another name
    others = {
        helpers.run_id_for(dag_id, task_id, run_id + "x", map_index),
        helpers.run_id_for(dag_id, task_id + "x", run_id, map_index),
        helpers.run_id_for(dag_id, task_id, run_id, map_index + 1),
    }
    assert name not in others and len(others) == 3


def test_the_input_is_the_same_on_every_try() -> None:
    # Given the same request built twice, its keys in another order
    first = helpers.request_from_ecs_operator(**OPERATOR_ARGS)
    second = dict(reversed(list(first.items())))
    # Then the input StartExecution gets is the same text, carrying the deterministic runId
    one = helpers.execution_input(first, "nightly", "report", "scheduled__2026-11-21T00:00:00+00:00")
    assert one == helpers.execution_input(second, "nightly", "report", "scheduled__2026-11-21T00:00:00+00:00")
    assert json.loads(one)["runId"] == helpers.run_id_for("nightly", "report", "scheduled__2026-11-21T00:00:00+00:00")


def test_a_failed_run_reads_as_its_error_name_reason_and_last_lines() -> None:
    # Given DescribeExecution of a run whose container exited 3
    cause = {
        "runId": "r",
        "error": "ECS.ContainerExitedNonZero",
        "message": "essential container 'app' exited with code 3",
        "task": {"containers": [{"name": "app", "exitCode": 3}]},
        "logs": {"bucket": "b", "manifestKey": "runs/r/manifest.json"},
        "lastLogLines": {"container": "app", "lines": ["2026-11-21T00:00:01Z working", "2026-11-21T00:00:02Z boom"]},
    }
    described = {"status": "FAILED", "error": "ECS.ContainerExitedNonZero", "cause": json.dumps(cause)}
    # When it is read
    outcome = helpers.read_outcome(described)
    # Then the Airflow task fails with the name and reason, and prints the exit code, the lines and the logs
    assert outcome.failure() == "ECS.ContainerExitedNonZero: essential container 'app' exited with code 3"
    report = outcome.report()
    assert "  container app: exit code 3" in report
    assert report[-3:] == [
        "    2026-11-21T00:00:01Z working",
        "    2026-11-21T00:00:02Z boom",
        "  logs: s3://b/runs/r/",
    ]


def test_a_run_still_running_reads_as_not_ended_under_its_name() -> None:
    # Given DescribeExecution of a run that has not ended (the deferrable wait failed first: seen with Airflow 3.3.2
    # when the provider's aiobotocore extra is missing)
    described = {"status": "RUNNING", "name": "ecsrun_nightly_repor-run_report-20261121-a15b80fedecd"}
    # When it is read
    report = helpers.read_outcome(described).report()
    # Then the report names the run and says it has not ended, not that it failed
    assert report[0] == "ecsrun run ecsrun_nightly_repor-run_report-20261121-a15b80fedecd: RUNNING"
    assert "not ended yet" in report[1] and "did not succeed" not in "\n".join(report)


def test_a_cause_that_is_not_json_is_kept_as_text() -> None:
    outcome = helpers.read_outcome({"status": "FAILED", "error": "States.Runtime", "cause": "path $.x not found"})
    assert outcome.failure() == "States.Runtime: path $.x not found"


# ---- the DAG's calls, against the local engine ----


@pytest.fixture
def aws() -> Iterator[LocalAws]:
    with LocalAws() as local:
        yield local


def _allowed(policy: dict[str, Any], action: str, resource: str) -> str | None:
    for statement in policy["Statement"]:
        if statement["Action"] == action and fnmatch.fnmatchcase(resource, statement["Resource"]):
            return str(statement["Sid"])
    return None


def test_the_dags_calls_start_once_reattach_on_retry_and_fit_its_policy(aws: LocalAws) -> None:
    # Given the example's request for a task that runs a few seconds, and the Airflow role's policy
    aws.register_task_definition(json.loads((EVENTS / "task-definitions" / "slow.json").read_text()))
    request = helpers.request_from_ecs_operator(
        task_definition="ecsrun-slow",
        cluster="default",
        overrides={},
        launch_type="FARGATE",
        network_configuration=OPERATOR_ARGS["network_configuration"],
        timeout_seconds=2,
    )
    policy = helpers.airflow_policy(aws.state_machine_arn)
    sfn = aws.client("stepfunctions")
    calls: list[tuple[str, str]] = []

    def record(params: dict[str, Any], model: Any, **_: Any) -> None:
        resource = params.get("stateMachineArn") or params.get("executionArn")
        calls.append((f"states:{model.name}", str(resource)))

    sfn.meta.events.register("before-parameter-build.sfn.*", record)
    args = ("nightly_report", "run_report", "scheduled__2026-11-21T00:00:00+00:00")
    name, text = helpers.run_id_for(*args), helpers.execution_input(request, *args)
    # When the operator starts the run, and a retry of the Airflow task starts it again while it runs
    first = sfn.start_execution(stateMachineArn=aws.state_machine_arn, name=name, input=text)["executionArn"]
    again = sfn.start_execution(stateMachineArn=aws.state_machine_arn, name=name, input=text)["executionArn"]
    # Then the retry re-attached to the same execution, whose ARN the helpers know without asking
    assert again == first == helpers.execution_arn(aws.state_machine_arn, name)
    # And waiting as the trigger does (DescribeExecution) ends with ecsrun's name and reason
    follow(aws, first)
    outcome = helpers.read_outcome(sfn.describe_execution(executionArn=first))
    assert outcome.failure().startswith("Run.TimedOut: ")
    assert outcome.last_log_lines and outcome.log_container == "app"
    # And one task ran: a second execution would have been refused as Run.Duplicate, never started
    assert len(aws.agent._tasks) == 1
    # And every call the DAG made is allowed by its policy, and every statement of the policy is used
    used = {_allowed(policy, action, resource) for action, resource in calls}
    assert None not in used, calls
    assert used == {s["Sid"] for s in policy["Statement"]}


# ---- the DAG file itself, with Airflow stood in for ----


class _Recorder:
    """Stands in for an Airflow class: keeps what it was given."""

    made: ClassVar[list[_Recorder]] = []

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.args, self.kwargs = args, kwargs
        _Recorder.made.append(self)

    def __enter__(self) -> _Recorder:
        return self

    def __exit__(self, *exc: Any) -> None:
        return None

    def __rshift__(self, other: Any) -> Any:
        return other


def _dag_module(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Import the example DAG with the Airflow names it uses replaced by recorders (Airflow is not installed)."""
    _Recorder.made = []
    sdk = types.ModuleType("airflow.sdk")
    sdk.DAG = type("DAG", (_Recorder,), {})  # type: ignore[attr-defined]
    sdk.TriggerRule = types.SimpleNamespace(ALL_DONE="all_done")  # type: ignore[attr-defined]
    sdk.Variable = object  # type: ignore[attr-defined]
    sdk.get_current_context = lambda: {}  # type: ignore[attr-defined]
    sdk.task = lambda **_: lambda fn: lambda *a, **k: _Recorder(fn, *a, **k)  # type: ignore[attr-defined]
    exceptions = types.ModuleType("airflow.sdk.exceptions")
    exceptions.AirflowFailException = Exception  # type: ignore[attr-defined]
    operators = types.ModuleType("airflow.providers.amazon.aws.operators.step_function")
    operators.StepFunctionStartExecutionOperator = type("StepFunctionStartExecutionOperator", (_Recorder,), {})  # type: ignore[attr-defined]
    hooks = types.ModuleType("airflow.providers.amazon.aws.hooks.step_function")
    hooks.StepFunctionHook = object  # type: ignore[attr-defined]
    for name, module in {
        "airflow": types.ModuleType("airflow"),
        "airflow.sdk": sdk,
        "airflow.sdk.exceptions": exceptions,
        "airflow.providers.amazon.aws.operators.step_function": operators,
        "airflow.providers.amazon.aws.hooks.step_function": hooks,
    }.items():
        monkeypatch.setitem(sys.modules, name, module)
    monkeypatch.syspath_prepend(str(DAGS))
    return _load("ecsrun_nightly_report")


def test_the_dags_templates_render_the_deterministic_name_and_input(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given the example DAG, loaded with its DAG and operator recorded
    _dag_module(monkeypatch)
    [dag] = [m for m in _Recorder.made if type(m).__name__ == "DAG"]
    [start] = [m for m in _Recorder.made if type(m).__name__ == "StepFunctionStartExecutionOperator"]
    # Then the operator defers (no worker held) and its templates render, as Airflow renders them for a run
    assert start.kwargs["deferrable"] is True
    jinja = jinja2.Environment(undefined=jinja2.StrictUndefined)
    context = {
        **dag.kwargs["user_defined_macros"],
        "dag": types.SimpleNamespace(dag_id=dag.kwargs["dag_id"]),
        "task": types.SimpleNamespace(task_id=start.kwargs["task_id"]),
        "ti": types.SimpleNamespace(map_index=-1),
        "run_id": "scheduled__2026-11-21T00:00:00+00:00",
        "ds": "2026-11-21",
    }

    def render(template: str) -> str:
        return jinja.from_string(template).render(context)

    name, text = render(start.kwargs["name"]), render(start.kwargs["state_machine_input"])
    # And a retry renders the same name and input; the name is the runId; the request is one ecsrun accepts
    assert (name, text) == (render(start.kwargs["name"]), render(start.kwargs["state_machine_input"]))
    request = json.loads(text)
    assert request["runId"] == name == helpers.run_id_for("ecsrun_nightly_report", "run_report", context["run_id"])
    assert validate_request(request)[1] == []
    [app] = request["overrides"]["containerOverrides"]
    assert app["environment"] == [{"name": "REPORT_DAY", "value": "2026-11-21"}]
    # And it waits at least as long as the run may take
    waited = start.kwargs["waiter_delay"] * start.kwargs["waiter_max_attempts"]
    assert waited >= request["timeoutSeconds"] + 600
