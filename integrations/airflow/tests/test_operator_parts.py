"""The operator's parts, in real Airflow but outside a DAG run: run names, the request, reading a run's end, the
templating Airflow applies, the trigger's serialization, the provider entry point, and on_kill against the
local stack."""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time
from importlib.metadata import entry_points
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from airflow.sdk.exceptions import AirflowException
from conftest import aws_client

from ecsrun_airflow import EcsRunOperator, EcsRunTrigger, from_ecs_operator_kwargs
from ecsrun_airflow.names import RUN_ID_PATTERN, earlier_names, run_name
from ecsrun_airflow.outcome import read_end
from ecsrun_airflow.request import MOVED, RequestError, load_request, with_run_id

# Step Functions execution names: at most 80 characters; only these keep its CloudWatch logging and metrics.
EXECUTION_NAME = r"^[0-9A-Za-z_-]{1,80}$"
NETWORK = {"awsvpcConfiguration": {"subnets": ["subnet-0123456789abcdef0"]}}

# ---- run names ----


@pytest.mark.parametrize(
    ("dag_id", "task_id", "run_id", "map_index"),
    [
        ("nightly_report", "run_report", "scheduled__2026-11-21T00:00:00+00:00", -1),
        ("a" * 250, "b" * 250, "manual__2026-11-21T10:01:02.345678+00:00", 123456),
        ("_dag.with spaces/and:colons", "grp.task", "backfill__2026-01-01T00:00:00+00:00", 0),
        ("___", "...", "no date here", -1),
    ],
)
def test_a_run_name_is_valid_as_run_id_and_execution_name_and_differs_per_try(
    dag_id: str, task_id: str, run_id: str, map_index: int
) -> None:
    # Given an Airflow task instance's identity, and its tries 1 to 3
    names = [run_name(dag_id, task_id, run_id, map_index, n) for n in (1, 2, 3, 1000)]
    # Then each name is a valid runId and execution name, computed the same by every worker
    for name in names:
        assert re.fullmatch(RUN_ID_PATTERN, name) and re.fullmatch(EXECUTION_NAME, name), name
    assert names[0] == run_name(dag_id, task_id, run_id, map_index, 1)
    # And each try, DAG run, task and map index has its own
    assert len(set(names)) == 4
    others = {
        run_name(dag_id, task_id, run_id + "x", map_index, 1),
        run_name(dag_id, task_id + "x", run_id, map_index, 1),
        run_name(dag_id + "x", task_id, run_id, map_index, 1),
        run_name(dag_id, task_id, run_id, map_index + 1, 1),
    }
    assert names[0] not in others and len(others) == 4
    # And a try knows its predecessors' names, newest first
    assert earlier_names(dag_id, task_id, run_id, map_index, 3) == names[1::-1]


def test_a_run_name_reads_as_the_task_and_its_try() -> None:
    name = run_name("nightly_report", "run_report", "scheduled__2026-11-21T00:00:00+00:00", 4, 2)
    assert name.startswith("nightly-report-run-report-20261121-") and name.endswith("-m4-t2")


# ---- the request ----


def test_ecs_operator_arguments_become_the_runtask_call_that_operator_makes() -> None:
    # Given EcsRunTaskOperator's arguments without a launch type, and ecsrun's runner fields
    request = from_ecs_operator_kwargs(
        task_definition="nightly-report",
        cluster="default",
        overrides={},
        network_configuration=NETWORK,
        tags={"team": "data"},
        propagate_tags="TASK_DEFINITION",
        timeout_seconds=3600,
        success_exit_codes=[0, 3],
        retry={"maxAttempts": 5},
    )
    # Then the request is the operator's RunTask call: EC2 (its default), tags as RunTask's list
    assert request == {
        "taskDefinition": "nightly-report",
        "cluster": "default",
        "launchType": "EC2",
        "networkConfiguration": NETWORK,
        "tags": [{"key": "team", "value": "data"}],
        "propagateTags": "TASK_DEFINITION",
        "timeoutSeconds": 3600,
        "successExitCodes": [0, 3],
        "retry": {"maxAttempts": 5},
    }


@pytest.mark.parametrize("launch_type", [None, "EC2", "FARGATE"])
def test_a_capacity_provider_strategy_drops_the_launch_type_as_the_operator_does(launch_type: str | None) -> None:
    given = {} if launch_type is None else {"launch_type": launch_type}
    strategy = [{"capacityProvider": "FARGATE_SPOT", "weight": 1}]
    request = from_ecs_operator_kwargs(task_definition="t", cluster="c", capacity_provider_strategy=strategy, **given)
    assert "launchType" not in request and request["capacityProviderStrategy"] == strategy


@pytest.mark.parametrize("moved", sorted(MOVED))
def test_each_operator_parameter_that_moved_is_refused_with_where_it_went(moved: str) -> None:
    with pytest.raises(TypeError) as refused:
        from_ecs_operator_kwargs(task_definition="t", cluster="c", **{moved: 1})
    assert f"{moved}: moved to {MOVED[moved]}" in str(refused.value)


def test_every_refused_parameter_is_named_at_once() -> None:
    with pytest.raises(TypeError) as refused:
        from_ecs_operator_kwargs(task_definition="t", cluster="c", awslogs_group="g", reattach=True, task_id="x")
    message = str(refused.value)
    assert "awslogs_group: moved to" in message and "reattach: moved to" in message
    assert "not an EcsRunTaskOperator parameter: task_id" in message


def test_the_request_is_read_from_a_dict_json_text_or_a_file(tmp_path: Path) -> None:
    request = {"taskDefinition": "t", "overrides": {"containerOverrides": [{"name": "app"}]}}
    path = tmp_path / "request.json"
    path.write_text(json.dumps(request))
    assert load_request(request) == load_request(json.dumps(request)) == load_request(str(path)) == request
    assert with_run_id(request, "r-t1") == with_run_id(dict(reversed(list(request.items()))), "r-t1")


@pytest.mark.parametrize(
    ("given", "says"),
    [
        ({"taskDefinition": "t", "runId": "mine"}, "runId is set by EcsRunOperator"),
        ("[1, 2]", "a JSON object is needed"),
        ("{not json", "not JSON"),
        ("/nowhere/request.json", "neither a JSON object nor a readable file"),
        (42, "give a dict or the path of a JSON file"),
    ],
)
def test_a_request_that_cannot_be_used_is_refused_in_one_line(given: Any, says: str) -> None:
    with pytest.raises(RequestError, match=says):
        load_request(given)


# ---- a run's end ----


def test_a_failed_run_reads_as_its_error_name_reason_and_last_lines() -> None:
    cause = {
        "error": "ECS.ContainerExitedNonZero",
        "message": "essential container 'app' exited with code 3",
        "retryable": False,
        "lastLogLines": {"container": "app", "lines": ["2026-11-21T00:00:01.000Z boom"]},
        "logs": {"bucket": "b", "manifestKey": "runs/r/manifest.json"},
    }
    end = read_end({"status": "FAILED", "name": "r", "error": cause["error"], "cause": json.dumps(cause)})
    assert end.failure().splitlines() == [
        "ECS.ContainerExitedNonZero: essential container 'app' exited with code 3",
        "ecsrun run r",
        "last log lines of app:",
        "  2026-11-21T00:00:01.000Z boom",
    ]
    assert end.retryable is False and end.logs == ("b", "runs/r/manifest.json")


@pytest.mark.parametrize(
    ("described", "retryable"),
    [
        ({"error": "ECS.TaskFailedToStart", "cause": json.dumps({"retryable": True, "message": "m"})}, True),
        ({"error": "RunRequest.Invalid", "cause": json.dumps({"message": "the run request has 1 problem"})}, False),
        ({"status": "ABORTED", "error": "Run.Aborted", "cause": "stopped from the console"}, True),
    ],
)
def test_only_what_ecsrun_says_cannot_succeed_again_is_final(described: dict[str, Any], retryable: bool) -> None:
    end = read_end({"status": "FAILED", "name": "r", **described})
    assert end.retryable is retryable


def test_a_cause_that_is_not_json_is_kept_as_text() -> None:
    end = read_end({"status": "FAILED", "name": "r", "error": "States.Runtime", "cause": "path $.x not found"})
    assert end.headline() == "States.Runtime: path $.x not found"


# ---- Airflow's conventions ----


def test_the_request_is_templated_nested_values_included() -> None:
    # Given the operator with {{ ds }} deep in the request's overrides
    operator = EcsRunOperator(
        task_id="t",
        stack_name="{{ params.stack }}",
        request={
            "taskDefinition": "report",
            "overrides": {
                "containerOverrides": [
                    {
                        "name": "app",
                        "command": ["report", "--day", "{{ ds }}"],
                        "environment": [{"name": "D", "value": "{{ ds }}"}],
                    }
                ]
            },
        },
    )
    assert {"request", "stack_name", "aws_conn_id", "region_name"} <= set(operator.template_fields)
    assert ".json" in operator.template_ext
    # When Airflow renders its template fields
    operator.render_template_fields({"ds": "2026-11-21", "params": {"stack": "ecsrun"}})
    # Then every nested string is rendered
    [app] = operator.request["overrides"]["containerOverrides"]
    assert app["command"] == ["report", "--day", "2026-11-21"]
    assert app["environment"] == [{"name": "D", "value": "2026-11-21"}]
    assert operator.stack_name == "ecsrun"


def test_the_trigger_serializes_to_what_rebuilds_it() -> None:
    trigger = EcsRunTrigger(
        execution_arn="arn:aws:states:us-east-1:123456789012:execution:m:r",
        run_id="r",
        runs_table="t",
        poll_interval=5,
        aws_conn_id="aws_ecsrun",
        region_name="eu-west-1",
        botocore_config={"retries": {"mode": "standard"}},
    )
    classpath, kwargs = trigger.serialize()
    module, _, name = classpath.rpartition(".")
    rebuilt = getattr(__import__(module, fromlist=[name]), name)(**kwargs)
    assert rebuilt.serialize() == (classpath, kwargs) and classpath == "ecsrun_airflow.trigger.EcsRunTrigger"
    json.dumps(kwargs)  # what the triggerer stores


def test_airflow_finds_the_provider_by_its_entry_point() -> None:
    from airflow.providers_manager import ProvidersManager

    [point] = [e for e in entry_points(group="apache_airflow_provider") if e.value.startswith("ecsrun_airflow")]
    assert point.load()()["package-name"] == "ecsrun-airflow"
    providers = ProvidersManager().providers
    assert "ecsrun-airflow" in providers
    assert providers["ecsrun-airflow"].data["triggers"][0]["python-modules"] == ["ecsrun_airflow.trigger"]


# ---- on_kill, against the local stack ----


def _ti(name: str) -> SimpleNamespace:
    return SimpleNamespace(dag_id=name, task_id="run", run_id="manual__2026-11-21", map_index=-1, try_number=1)


def _long_request() -> dict[str, Any]:
    return {
        "cluster": "default",
        "taskDefinition": "ecsrun-airflow-job",
        "launchType": "FARGATE",
        "networkConfiguration": NETWORK,
        "timeoutSeconds": 120,
        "overrides": {"containerOverrides": [{"name": "app", "command": ["sh", "-c", "sleep 60"]}]},
    }


def _record_status(stack: dict[str, Any], run_id: str) -> str | None:
    item = aws_client("dynamodb").get_item(TableName=stack["RunsTableName"], Key={"runId": {"S": run_id}}).get("Item")
    return item["status"]["S"] if item else None


def _wait(check: Any, what: str, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


def test_on_kill_stops_the_run_and_ecsrun_stops_its_task(local_stack: dict[str, Any]) -> None:
    # Given a blocking operator waiting on a run whose task sleeps a minute
    operator = EcsRunOperator(
        task_id="run", stack_name="ecsrun-local", request=_long_request(), deferrable=False, poll_interval=0.5
    )
    operator.do_xcom_push = False
    raised: list[BaseException] = []

    def work() -> None:
        try:
            operator.execute({"ti": _ti("on_kill_operator")})  # type: ignore[arg-type]
        except BaseException as exc:
            raised.append(exc)

    waiting = threading.Thread(target=work)
    waiting.start()
    name = run_name("on_kill_operator", "run", "manual__2026-11-21", -1, 1)
    _wait(lambda: _record_status(local_stack, name) == "RUNNING", "the task to run")
    # When Airflow kills the task
    operator.on_kill()
    waiting.join(60)
    # Then the execution is stopped as `ecsrun stop` stops it, the wait ended, and ecsrun stopped the task
    execution = aws_client("stepfunctions").describe_execution(executionArn=operator._execution_arn)
    assert (execution["status"], execution["error"]) == ("ABORTED", "Run.Aborted")
    assert raised and isinstance(raised[0], AirflowException) and "Run.Aborted" in str(raised[0])
    _wait(lambda: _record_status(local_stack, name) == "ABORTED", "ecsrun to record the aborted run")


def test_the_triggers_on_kill_stops_the_run(local_stack: dict[str, Any]) -> None:
    # Given a run started by a deferrable operator (the worker defers; the trigger waits on the run)
    operator = EcsRunOperator(task_id="run", stack_name="ecsrun-local", request=_long_request(), poll_interval=0.5)
    operator.do_xcom_push = False
    from airflow.sdk.exceptions import TaskDeferred

    with pytest.raises(TaskDeferred) as deferred:
        operator.execute({"ti": _ti("on_kill_trigger")})  # type: ignore[arg-type]
    trigger = deferred.value.trigger
    name = run_name("on_kill_trigger", "run", "manual__2026-11-21", -1, 1)
    _wait(lambda: _record_status(local_stack, name) == "RUNNING", "the task to run")
    # When the user fails or clears the deferred task (the triggerer calls on_kill)
    asyncio.run(trigger.on_kill())
    # Then the run is stopped, and ecsrun stops its task
    execution = aws_client("stepfunctions").describe_execution(executionArn=trigger.execution_arn)
    assert execution["status"] == "ABORTED"
    _wait(lambda: _record_status(local_stack, name) == "ABORTED", "ecsrun to record the aborted run")


def test_the_example_dag_loads_in_airflow_and_renders_its_request() -> None:
    # Given the repository's example DAG folder, parsed by Airflow as its DAG processor parses a bundle
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(Path(__file__).parents[3] / "examples" / "airflow" / "dags"))
    # Then it imports, and its task is an EcsRunOperator whose request renders the day
    assert bag.import_errors == {}
    task = bag.get_dag("ecsrun_nightly_report").get_task("run_report")
    assert isinstance(task, EcsRunOperator) and task.deferrable is True
    task.render_template_fields({"ds": "2026-11-21", "var": {"value": SimpleNamespace(get=lambda _k, d: d)}})
    [app] = task.request["overrides"]["containerOverrides"]
    assert app["command"] == ["python", "report.py", "--day", "2026-11-21"]
    assert task.stack_name == "ecsrun" and task.request["launchType"] == "FARGATE"
