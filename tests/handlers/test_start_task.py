"""The start-task function: record first, then exactly one RunTask, and a named error when ECS refuses."""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.stub import ANY, Stubber
from ecsrun.adapters import clients
from ecsrun.handlers import start_task

from tests.conftest import REGION, Stack, context
from tests.handlers.helpers import EXECUTION, start, start_run, validated_run, validated_then


def _record(stack: Stack, run_id: str) -> dict:
    return stack.table.get_item(Key={"runId": run_id})["Item"]


def _tasks(stack: Stack) -> list[dict]:
    arns = stack.ecs.list_tasks(cluster="default")["taskArns"]
    return stack.ecs.describe_tasks(cluster="default", tasks=arns)["tasks"] if arns else []


def test_starts_one_task_that_leads_back_to_the_run(stack: Stack, sfn: Stubber) -> None:
    # Given a registered task definition, When the run starts
    stack.register("hello.json")
    result = start(stack.request())
    # Then exactly one task runs, started by this run, and no callback was sent yet
    tasks = _tasks(stack)
    assert len(tasks) == 1
    assert tasks[0]["startedBy"] == "ecsrun/hello-demo"
    assert result == {"runId": "hello-demo", "started": True, "taskArn": tasks[0]["taskArn"]}
    # And the record holds the token, the task and what the task definition says about its containers
    record = _record(stack, "hello-demo")
    assert record["status"] == "RUNNING"
    assert record["taskToken"] == "token-start-1"
    assert record["taskArn"] == tasks[0]["taskArn"]
    assert record["executionArn"] == EXECUTION
    containers = json.loads(record["containers"])
    assert containers == [
        {
            "name": "app",
            "essential": True,
            "log": {"group": "/ecs/ecsrun-demo", "region": "us-east-1", "stream_prefix": "ecs"},
            "log_driver": "awslogs",
            "firelens": None,
            "memory": 512,  # its hard limit: retry.escalate raises it after an out-of-memory kill
        }
    ]
    assert int(record["expiresAt"]) > 0


def test_run_id_with_dots_is_carried_in_started_by(stack: Stack, sfn: Stubber) -> None:
    stack.register("hello.json")
    start(stack.request(runId="nightly.2026-11-21"))
    assert _tasks(stack)[0]["startedBy"] == "ecsrun/nightly/2026-11-21"


def test_run_task_error_fails_the_wait_with_a_named_error(stack: Stack, sfn: Stubber) -> None:
    # Given a cluster that no longer exists when the run starts (deleted after validation)
    stack.register("hello.json")
    sfn.add_response(
        "send_task_failure", {}, {"taskToken": "token-start-1", "error": "ECS.RunTaskFailed", "cause": ANY}
    )
    # When the run starts
    result = start_run(validated_then(stack.request(), cluster="no-such-cluster"))
    # Then no task exists, the execution is told ECS.RunTaskFailed, and the record says why
    assert result["started"] is False
    sfn.assert_no_pending_responses()
    assert _tasks(stack) == []
    record = _record(stack, "hello-demo")
    assert record["status"] == "START_FAILED"
    verdict = json.loads(record["verdict"])
    assert verdict["error"] == "ECS.RunTaskFailed"
    assert "ClusterNotFoundException" in verdict["reason"]


def test_unknown_task_definition_is_a_run_task_failure(stack: Stack, sfn: Stubber) -> None:
    # Given a run validated before the task definition travelled with it, whose definition is gone by its start
    sfn.add_response(
        "send_task_failure", {}, {"taskToken": "token-start-1", "error": "ECS.RunTaskFailed", "cause": ANY}
    )
    stack.register("hello.json")
    run = validated_then(stack.request(), taskDefinition="does-not-exist")
    run["definition"] = None
    # When it starts, Then StartTask asks ECS itself, and ECS's refusal is the run's ECS.RunTaskFailed
    start_run(run)
    sfn.assert_no_pending_responses()
    assert "DescribeTaskDefinition failed" in json.loads(_record(stack, "hello-demo")["verdict"])["reason"]


def _count_ecs_calls() -> list[str]:
    """Every ECS operation the handlers call from now on, in order (a botocore before-call hook on the process's
    ECS client, which every handler shares)."""
    called: list[str] = []
    clients.client("ecs").meta.events.register(
        "before-call.ecs.*", lambda event_name, **_: called.append(event_name.rsplit(".", 1)[1])
    )
    return called


def test_the_task_definition_is_described_once_per_run_and_its_revision_runs(stack: Stack, sfn: Stubber) -> None:
    # Given a family registered once, and every ECS call of the run counted
    stack.register("hello.json")
    called = _count_ecs_calls()
    # When the run is validated, then a second revision is registered, then the run starts
    run = validated_run(stack.request())
    validated = stack.ecs.describe_task_definition(taskDefinition="ecsrun-hello")["taskDefinition"]
    newer = stack.register("hello.json")
    start_run(run)
    # Then DescribeTaskDefinition was called once (by ValidateRequest) and DescribeClusters once
    assert called.count("DescribeTaskDefinition") == 1, called
    assert called.count("DescribeClusters") == 1, called
    # And the task runs the revision validated, not the newer one, with the containers ValidateRequest learned
    [task] = _tasks(stack)
    assert task["taskDefinitionArn"] == validated["taskDefinitionArn"] != newer
    assert run["definition"]["arn"] == validated["taskDefinitionArn"]
    containers = json.loads(_record(stack, "hello-demo")["containers"])
    assert containers == run["definition"]["containers"]


def test_no_capacity_in_a_200_response_is_named_and_retryable(
    stack: Stack, sfn: Stubber, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a validated run, and ECS answering RunTask with a failure (no capacity) instead of a task
    stack.register("hello.json")
    run = validated_run(stack.request())
    ecs = boto3.client("ecs", region_name=REGION)
    ecs_stub = Stubber(ecs)  # the run carries its task definition: RunTask is the start's only ECS call
    failure = {"arn": "arn:aws:ecs:us-east-1:123456789012:container-instance/default/abc", "reason": "RESOURCE:MEMORY"}
    ecs_stub.add_response("run_task", {"tasks": [], "failures": [failure]})
    stepfunctions = clients.client("stepfunctions")
    sfn.add_response(
        "send_task_failure", {}, {"taskToken": "token-start-1", "error": "ECS.CapacityUnavailable", "cause": ANY}
    )
    # When the run starts
    with monkeypatch.context() as patch, ecs_stub:
        patch.setattr(clients, "client", lambda service, region=None: ecs if service == "ecs" else stepfunctions)
        start_run(run)
    # Then the execution gets ECS.RunTaskFailed and the cause carries ECS's failures
    sfn.assert_no_pending_responses()
    verdict = json.loads(_record(stack, "hello-demo")["verdict"])
    assert "RESOURCE:MEMORY" in verdict["reason"]
    assert verdict["retryable"] is True


def test_a_retried_start_never_starts_a_second_task(stack: Stack, sfn: Stubber) -> None:
    # Given the run started once
    stack.register("hello.json")
    first = start(stack.request())
    # When the same execution's start state runs again with a new token (a Lambda retry)
    again = start(stack.request(), token="token-start-2")
    # Then there is still one task, and the record now answers to the new token
    assert len(_tasks(stack)) == 1
    assert again == {"runId": "hello-demo", "started": False, "resumed": True, "taskArn": first["taskArn"]}
    assert _record(stack, "hello-demo")["taskToken"] == "token-start-2"


def test_a_second_execution_with_the_same_run_id_is_a_duplicate(stack: Stack, sfn: Stubber) -> None:
    # Given a run in flight
    stack.register("hello.json")
    start(stack.request())
    other = "arn:aws:states:us-east-1:123456789012:execution:ecsrun:second"
    sfn.add_response("send_task_failure", {}, {"taskToken": "token-other", "error": "Run.Duplicate", "cause": ANY})
    # When another execution asks for the same runId
    result = start_task.handler(
        {"run": validated_run(stack.request()), "taskToken": "token-other", "executionArn": other}, context()
    )
    # Then it fails fast with Run.Duplicate naming the first execution, and no second task starts
    sfn.assert_no_pending_responses()
    assert result["duplicateOf"] == EXECUTION
    assert len(_tasks(stack)) == 1
    assert _record(stack, "hello-demo")["executionArn"] == EXECUTION
