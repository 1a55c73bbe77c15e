"""PrepareArray and SummarizeArray on moto, driven as the state machine drives them."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from ecsrun.adapters import clients
from ecsrun.adapters.dynamodb import RunsTable, new_record
from ecsrun.domain.models.run import Run
from ecsrun.handlers import prepare_array, summarize_array

from tests.conftest import BUCKET, REGION, TABLE, Stack, context, listen_for_completions
from tests.handlers.helpers import validate

PARENT_EXECUTION = "arn:aws:states:us-east-1:123456789012:execution:ecsrun:nightly-1a2b"


def _listen(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("EVENT_BUS_NAME", "ecsrun-runs")
    boto3.client("events", region_name=REGION).create_event_bus(Name="ecsrun-runs")
    return listen_for_completions(lambda service: boto3.client(service, region_name=REGION), "ecsrun-runs")


def _validated(stack: Stack, **changes: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    stack.register("two-containers.json")
    request = stack.request("two-containers.json", runId="nightly", array={"items": ["a", "b", "c"]}, **changes)
    answer = validate(request, "nightly-1a2b", PARENT_EXECUTION)
    assert answer["valid"], answer
    return request, answer


def _prepare(request: dict[str, Any], answer: dict[str, Any], execution: str = PARENT_EXECUTION) -> dict[str, Any]:
    payload = {
        "run": answer["run"],
        "array": answer["array"],
        "request": request,
        "executionName": execution.rsplit(":", 1)[-1],
        "executionArn": execution,
    }
    return dict(prepare_array.handler(payload, context()))


def _children(stack: Stack) -> list[dict[str, Any]]:
    body = stack.s3.get_object(Bucket=BUCKET, Key="runs/nightly/array/children.json")["Body"].read()
    return list(json.loads(body))


def test_validation_hands_the_state_machine_the_array_not_its_items(stack: Stack) -> None:
    _, answer = _validated(stack, maxConcurrency=7)
    assert answer["array"] == {"size": 3, "maxConcurrency": 7, "toleratedFailurePercentage": 0}
    assert "array" not in answer["run"]["request"]  # the items stay in the execution's input


def _child_input(answer: dict[str, Any], prepared: dict[str, Any], child: dict[str, Any]) -> dict[str, Any]:
    """A child execution's input, as the Distributed Map's ItemSelector builds it from the Map state's input."""
    return {
        "runId": child["runId"],
        "arrayChild": {
            "parent": {
                k: answer["run"][k]
                for k in ("runId", "request", "timeoutSeconds", "successExitCodes", "retry", "definition")
            },
            "index": child["index"],
            "item": child["item"],
            "size": prepared["size"],
            "containers": prepared["containers"],
            "taskDefinitionArn": prepared["taskDefinitionArn"],
        },
    }


def test_prepare_claims_the_parent_and_writes_every_child_for_every_container(stack: Stack) -> None:
    request, answer = _validated(stack)
    result = _prepare(request, answer)
    revision = stack.ecs.describe_task_definition(taskDefinition="ecsrun-two")["taskDefinition"]["taskDefinitionArn"]
    assert result == {
        "prepared": True,
        "bucket": BUCKET,
        "key": "runs/nightly/array/children.json",
        "size": 3,
        "containers": ["app", "worker"],
        "taskDefinitionArn": revision,
    }
    children = _children(stack)
    assert children == [
        {"name": f"nightly-1a2b-{i}", "runId": f"nightly-{i}", "index": i, "item": item}
        for i, item in enumerate(["a", "b", "c"])
    ]
    # Each child's ValidateRequest builds its request from the parent's run: every child runs the revision the
    # parent resolved, even if a newer one is registered meanwhile
    stack.register("two-containers.json")
    child = validate(_child_input(answer, result, children[1]), "nightly-1a2b-1")
    assert child["valid"], child
    assert (child["run"]["runId"], child["run"]["request"]["taskDefinition"]) == ("nightly-1", revision)
    # Both containers of the task definition get the variables
    overrides = child["run"]["request"]["overrides"]["containerOverrides"]
    assert sorted(o["name"] for o in overrides) == ["app", "worker"]
    for override in overrides:
        env = {e["name"]: e["value"] for e in override["environment"]}
        assert (env["ECSRUN_ARRAY_INDEX"], env["ECSRUN_ARRAY_ITEM"]) == ("1", "b")
    # The parent's record claims the runId, carries no task and is not waiting for one
    item = stack.table.get_item(Key={"runId": "nightly"})["Item"]
    assert (item["status"], item["executionArn"]) == ("RUNNING", PARENT_EXECUTION)
    assert item["openShard"].startswith("open#") and "taskArn" not in item


def test_no_environment_value_of_the_parent_is_written_to_s3(stack: Stack) -> None:
    # Given an array whose request carries a secret in a container's environment override (issue 12, case 4)
    secret = "s3cr3t-canary-4711"
    overrides = {"containerOverrides": [{"name": "app", "environment": [{"name": "DB_PASSWORD", "value": secret}]}]}
    request, answer = _validated(stack, overrides=overrides)
    # When the children are laid out
    result = _prepare(request, answer)
    # Then children.json holds no value of it (nor anything else of the request)
    body = stack.s3.get_object(Bucket=BUCKET, Key=result["key"])["Body"].read().decode()
    assert secret not in body
    assert "DB_PASSWORD" not in body
    # And the child still gets it, from the parent's run that the Map state passes on
    child = validate(_child_input(answer, result, _children(stack)[0]), "nightly-1a2b-0")
    app = next(o for o in child["run"]["request"]["overrides"]["containerOverrides"] if o["name"] == "app")
    assert {"name": "DB_PASSWORD", "value": secret} in app["environment"]


def _ecs_calls() -> list[str]:
    """Every ECS operation the handlers call from now on (a before-call hook on the process's ECS client)."""
    called: list[str] = []
    clients.client("ecs").meta.events.register(
        "before-call.ecs.*", lambda event_name, **_: called.append(event_name.rsplit(".", 1)[1])
    )
    return called


def test_neither_prepare_nor_a_child_asks_ecs_what_the_parent_learned(stack: Stack) -> None:
    # Given an array validated once (its ValidateRequest described the task definition and the cluster)
    request, answer = _validated(stack)
    assert answer["run"]["definition"]["arn"].endswith("task-definition/ecsrun-two:1")
    called = _ecs_calls()
    # When its children are laid out and each child is validated
    result = _prepare(request, answer)
    children = [
        validate(_child_input(answer, result, child), f"nightly-1a2b-{child['index']}") for child in _children(stack)
    ]
    # Then no ECS Describe call was made: each child runs with the parent's resolved definition
    assert called == []
    assert all(child["valid"] for child in children), children
    assert all(child["run"]["definition"] == answer["run"]["definition"] for child in children)


def test_a_child_whose_inherited_definition_is_not_the_one_it_runs_is_invalid(stack: Stack) -> None:
    # Given a child input whose parent definition names another revision than the child's task definition
    request, answer = _validated(stack)
    result = _prepare(request, answer)
    child = _child_input(answer, result, _children(stack)[0])
    child["arrayChild"]["parent"]["definition"] = {
        **answer["run"]["definition"],
        "arn": "arn:aws:ecs:us-east-1:123456789012:task-definition/ecsrun-two:9",
    }
    # When it is validated, Then it is refused, naming the field
    invalid = validate(child, "nightly-1a2b-0")
    assert invalid["valid"] is False
    assert "arrayChild.parent.definition" in invalid["cause"]
    # And a definition that is not one at all is refused too
    child["arrayChild"]["parent"]["definition"] = {"containers": "app"}
    assert validate(child, "nightly-1a2b-0")["valid"] is False


def test_an_array_child_input_that_does_not_add_up_is_invalid(stack: Stack) -> None:
    request, answer = _validated(stack)
    result = _prepare(request, answer)
    child = _child_input(answer, result, _children(stack)[0]) | {"runId": "someone-else"}
    invalid = validate(child, "nightly-1a2b-0")
    assert invalid["valid"] is False
    assert "an array child's runId is 'nightly-0'" in invalid["cause"]


def test_a_retried_prepare_finds_its_own_claim_and_writes_the_same_children(stack: Stack) -> None:
    request, answer = _validated(stack)
    first = _prepare(request, answer)
    written = _children(stack)
    assert _prepare(request, answer) == first
    assert _children(stack) == written


def test_another_execution_of_the_same_array_is_refused_and_puts_nothing_on_the_bus(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    read = _listen(monkeypatch)
    request, answer = _validated(stack)
    _prepare(request, answer)
    other = "arn:aws:states:us-east-1:123456789012:execution:ecsrun:nightly-9z9z"
    result = _prepare(request, answer, execution=other)
    assert (result["prepared"], result["error"]) == (False, "Run.Duplicate")
    assert PARENT_EXECUTION in json.loads(result["cause"])["message"]
    # Consumers deduplicate on runId: a Run.Duplicate under "nightly" would read as the owner's failure
    assert read() == []


def _child_record(store: RunsTable, run_id: str, execution_name: str, outcome: dict[str, Any]) -> None:
    run = Run(runId=run_id, timeoutSeconds=60, successExitCodes=[0], request={})
    record = new_record(
        runId=run_id,
        executionArn=f"arn:aws:states:us-east-1:123456789012:execution:ecsrun:{execution_name}",
        startedBy=f"ecsrun/{run_id}",
        clientToken=run_id,
        run=run,
        ttl_days=1,
    )
    assert store.end(store.create(record), outcome).won


def test_summarize_judges_each_child_by_its_record_and_ends_the_parent(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    read = _listen(monkeypatch)
    request, answer = _validated(stack, toleratedFailurePercentage=30)
    _prepare(request, answer)
    store = RunsTable(boto3.resource("dynamodb", region_name=REGION).Table(TABLE))
    _child_record(store, "nightly-0", "nightly-1a2b-0", {"status": "SUCCEEDED"})
    failure = {"status": "FAILED", "error": "ECS.ContainerExitedNonZero", "message": "essential container exited 3"}
    _child_record(store, "nightly-1", "nightly-1a2b-1", failure)
    # nightly-2 left no record (its execution could not start)
    payload = {
        "runId": "nightly",
        "array": answer["array"],
        "executionName": "nightly-1a2b",
        "executionArn": PARENT_EXECUTION,
    }
    result = summarize_array.handler(payload, context())
    assert (result["status"], result["error"]) == ("FAILED", "Run.ArrayFailed")
    cause = json.loads(result["cause"])
    assert cause["array"]["byOutcome"] == {"ECS.ContainerExitedNonZero": 1, "Run.InternalError": 1, "SUCCEEDED": 1}
    assert [(c["runId"], c["message"]) for c in cause["array"]["failedChildren"]] == [
        ("nightly-1", "essential container exited 3"),
        ("nightly-2", "the child left no run record"),
    ]
    assert stack.table.get_item(Key={"runId": "nightly"})["Item"]["status"] == "FAILED"
    summary = json.loads(stack.s3.get_object(Bucket=BUCKET, Key="runs/nightly/array/summary.json")["Body"].read())
    assert summary["executionArn"] == PARENT_EXECUTION and len(summary["failedChildren"]) == 2
    [event] = read()
    assert event["detail"]["runId"] == "nightly" and event["detail"]["array"]["failed"] == 2


def test_the_parents_summary_lists_each_childs_result(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given an array whose first child handed back a result, whose second's result line was not JSON, and whose
    # third printed none
    read = _listen(monkeypatch)
    request, answer = _validated(stack)
    _prepare(request, answer)
    store = RunsTable(boto3.resource("dynamodb", region_name=REGION).Table(TABLE))
    manifest = "runs/nightly-{}/manifest.json"
    output = {"runId": "nightly-0", "result": {"rows": 7}}
    _child_record(
        store,
        "nightly-0",
        "nightly-1a2b-0",
        {"status": "SUCCEEDED", "output": output, "manifestKey": manifest.format(0)},
    )
    failed = {"status": "FAILED", "error": "ECS.ContainerExitedNonZero", "message": "exited 3"}
    failed |= {"resultError": "the result is not JSON", "manifestKey": manifest.format(1)}
    _child_record(store, "nightly-1", "nightly-1a2b-1", failed)
    _child_record(store, "nightly-2", "nightly-1a2b-2", {"status": "SUCCEEDED", "output": {"runId": "nightly-2"}})
    payload = {
        "runId": "nightly",
        "array": answer["array"],
        "executionName": "nightly-1a2b",
        "executionArn": PARENT_EXECUTION,
    }
    # When the parent is summarized
    result = summarize_array.handler(payload, context())
    # Then its cause, its summary object and its completion event list each child's result with its manifest
    expected = [
        {"index": 0, "runId": "nightly-0", "manifestKey": manifest.format(0), "result": {"rows": 7}},
        {"index": 1, "runId": "nightly-1", "manifestKey": manifest.format(1), "resultError": "the result is not JSON"},
    ]
    assert json.loads(result["cause"])["array"]["results"] == expected
    summary = json.loads(stack.s3.get_object(Bucket=BUCKET, Key="runs/nightly/array/summary.json")["Body"].read())
    assert summary["array"]["results"] == expected
    [event] = read()
    assert event["detail"]["array"]["results"] == expected
