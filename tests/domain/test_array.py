"""Array runs, the pure part: children's requests and names, the fields' rules, and the parent's verdict."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from ecsrun.domain import array as arrays
from ecsrun.domain.models.request import validate_request

PARENT = {
    "cluster": "default",
    "taskDefinition": "etl",
    "launchType": "FARGATE",
    "networkConfiguration": {"awsvpcConfiguration": {"subnets": ["subnet-0123456789abcdef0"]}},
    "runId": "nightly",
    "timeoutSeconds": 600,
    "overrides": {
        "containerOverrides": [
            {"name": "app", "command": ["run"], "environment": [{"name": "STAGE", "value": "prod"}]},
        ]
    },
    "array": {"items": ["a.csv", {"day": 3}]},
    "maxConcurrency": 5,
    "toleratedFailurePercentage": 10,
}


def _env(request: dict[str, Any], container: str) -> dict[str, str]:
    [override] = [o for o in request["overrides"]["containerOverrides"] if o["name"] == container]
    return {e["name"]: e["value"] for e in override["environment"]}


# ---- children ----


def test_size_is_shorthand_for_the_indexes() -> None:
    assert arrays.elements({"size": 3}) == [0, 1, 2]
    assert arrays.elements({"items": ["x", 7]}) == ["x", 7]


def test_a_child_is_the_parent_without_array_fields_under_its_own_run_id() -> None:
    child = arrays.child_request(PARENT, "nightly", 1, {"day": 3}, 2, ["app", "sidecar"])
    assert child["runId"] == "nightly-1"
    assert not set(arrays.ARRAY_FIELDS) & set(child)
    assert child["timeoutSeconds"] == 600 and child["taskDefinition"] == "etl"


def test_every_container_gets_the_index_the_item_the_size_and_the_parent() -> None:
    child = arrays.child_request(PARENT, "nightly", 1, {"day": 3}, 2, ["app", "sidecar"])
    expected = {
        "ECSRUN_ARRAY_INDEX": "1",
        "ECSRUN_ARRAY_ITEM": '{"day":3}',
        "ECSRUN_ARRAY_SIZE": "2",
        "ECSRUN_PARENT_RUN_ID": "nightly",
    }
    # The overridden container keeps its command and its own variables
    assert _env(child, "app") == {"STAGE": "prod", **expected}
    [app] = [o for o in child["overrides"]["containerOverrides"] if o["name"] == "app"]
    assert app["command"] == ["run"]
    # A container the request did not override gets an override of its own
    assert _env(child, "sidecar") == expected


def test_a_string_item_reaches_the_container_as_is() -> None:
    child = arrays.child_request(PARENT, "nightly", 0, "a.csv", 2, ["app"])
    assert _env(child, "app")["ECSRUN_ARRAY_ITEM"] == "a.csv"


def test_the_array_variables_replace_same_named_ones_the_request_set() -> None:
    parent = copy.deepcopy(PARENT)
    parent["overrides"]["containerOverrides"][0]["environment"].append({"name": "ECSRUN_ARRAY_INDEX", "value": "x"})
    child = arrays.child_request(parent, "nightly", 0, "a.csv", 2, ["app"])
    [override] = child["overrides"]["containerOverrides"]
    assert [e["value"] for e in override["environment"] if e["name"] == "ECSRUN_ARRAY_INDEX"] == ["0"]


def test_building_children_leaves_the_parent_untouched() -> None:
    before = copy.deepcopy(PARENT)
    arrays.children(PARENT, "nightly", "nightly-1a2b3c4d")
    assert before == PARENT


def test_children_are_named_after_the_parent_execution_uniquely_and_within_80_characters() -> None:
    items = arrays.children({**PARENT, "array": {"size": 10_000}}, "n", "x" * 80)
    names = [item["name"] for item in items]
    assert len(set(names)) == 10_000
    assert max(len(n) for n in names) <= 80
    assert names[42].endswith("-42")
    # The same parent execution always gives the same names (a retried start finds its child)
    again = arrays.children({**PARENT, "array": {"size": 10_000}}, "n", "x" * 80)
    assert [i["name"] for i in again] == names


def test_children_hold_their_name_run_id_index_and_item_only() -> None:
    # An array's children are written to S3: the parent's request (its environment values) never goes with them
    parent = {**PARENT, "array": {"items": ["a.csv", {"day": 3}]}}
    assert arrays.children(parent, "nightly", "nightly-1a2b") == [
        {"name": "nightly-1a2b-0", "runId": "nightly-0", "index": 0, "item": "a.csv"},
        {"name": "nightly-1a2b-1", "runId": "nightly-1", "index": 1, "item": {"day": 3}},
    ]


def _child_input(index: int = 1, **changes: Any) -> dict[str, Any]:
    parent_run = {
        "runId": "nightly",
        "timeoutSeconds": 600,
        "successExitCodes": [0, 3],
        "retry": {"maxAttempts": 2, "intervalSeconds": 5, "backoffRate": 2.0},
        "request": {k: v for k, v in PARENT.items() if k not in arrays.ARRAY_FIELDS and k != "runId"},
    }
    child = {"parent": parent_run, "index": index, "item": {"day": 3}, "size": 2, "containers": ["app", "sidecar"]}
    return {"runId": f"nightly-{index}", "arrayChild": {**child, **changes}}


def test_a_child_input_expands_to_the_request_the_parent_would_have_laid_out() -> None:
    request, problem = arrays.expand_child(
        _child_input(taskDefinitionArn="arn:aws:ecs:us-east-1:1:task-definition/x:4")
    )
    assert problem is None
    expected = arrays.child_request(
        {
            **_child_input()["arrayChild"]["parent"]["request"],
            "timeoutSeconds": 600,
            "successExitCodes": [0, 3],
            "retry": {"maxAttempts": 2, "intervalSeconds": 5, "backoffRate": 2.0},
        },
        "nightly",
        1,
        {"day": 3},
        2,
        ["app", "sidecar"],
        "arn:aws:ecs:us-east-1:1:task-definition/x:4",
    )
    assert request == expected
    assert request["runId"] == "nightly-1" and request["timeoutSeconds"] == 600


@pytest.mark.parametrize(
    "broken",
    [{"index": 2}, {"index": "1"}, {"containers": None}, {"parent": {"runId": "nightly"}}],
)
def test_a_child_input_that_does_not_add_up_is_said_so(broken: dict[str, Any]) -> None:
    request, problem = arrays.expand_child(_child_input(**broken))
    assert request is None and problem is not None


def test_any_other_input_is_left_as_it_is() -> None:
    assert arrays.expand_child({"runId": "x"}) == ({"runId": "x"}, None)
    assert arrays.expand_child(None) == (None, None)


# ---- the fields' rules ----


def _problems(**changes: Any) -> dict[str, str]:
    request = {k: v for k, v in {**PARENT, **changes}.items() if v is not None}
    _, problems = validate_request(request, max_array_size=changes.pop("_max", 10_000))
    return {p.field: p.message for p in problems}


def test_a_valid_array_request_has_no_problems() -> None:
    assert _problems() == {}
    assert _problems(array={"size": 10_000}) == {}


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"array": {"size": 2, "items": ["a"]}}, "array", "exactly one"),
        ({"array": {}}, "array", "exactly one"),
        ({"array": {"size": 0}}, "array.size", "greater than or equal to 1"),
        ({"array": {"size": 10_001}}, "array.size", "less than or equal to 10000"),
        ({"array": {"items": []}}, "array.items", "at least 1"),
        ({"array": {"size": "3"}}, "array.size", "valid integer"),
        ({"array": {"count": 3}}, "array.count", "unknown field"),
        ({"array": [1, 2]}, "array", "valid dictionary"),
        ({"maxConcurrency": 0}, "maxConcurrency", "greater than or equal to 1"),
        ({"toleratedFailurePercentage": 101}, "toleratedFailurePercentage", "less than or equal to 100"),
        ({"array": None}, "maxConcurrency", 'give "array" too'),
        ({"array": {"items": ["x" * 4097]}}, "array.items[0]", "at most 4096 characters"),
        ({"runId": "r" * 60, "array": {"size": 10_000}}, "runId", "at most 59 characters"),
    ],
)
def test_array_problems_name_their_field(changes: dict[str, Any], field: str, words: str) -> None:
    problems = _problems(**changes)
    assert field in problems, problems
    assert words in problems[field]


def test_the_template_can_lower_the_largest_array() -> None:
    request = {**PARENT, "array": {"size": 51}}
    _, problems = validate_request(request, max_array_size=50)
    assert [(p.field, p.message) for p in problems] == [("array.size", "at most 50 children (MaxArraySize); got 51")]


# ---- the verdict ----


def _record(index: int, status: str, error: str | None = None, *, execution: str | None = None) -> dict[str, Any]:
    outcome = {"status": status} | ({"error": error, "message": f"child {index}: {error}"} if error else {})
    return {
        "runId": f"p-{index}",
        "executionArn": f"arn:aws:states:us-east-1:1:execution:sm:{execution or f'exec-{index}'}",
        "status": status,
        "outcome": outcome,
    }


def test_a_child_is_judged_by_its_own_record() -> None:
    assert arrays.child_outcome(_record(0, "SUCCEEDED"), "exec-0")["status"] == "SUCCEEDED"
    failed = arrays.child_outcome(_record(1, "FAILED", "ECS.ContainerExitedNonZero"), "exec-1")
    assert failed == {
        "status": "FAILED",
        "error": "ECS.ContainerExitedNonZero",
        "message": "child 1: ECS.ContainerExitedNonZero",
    }


def test_a_child_with_no_record_or_another_executions_record_failed() -> None:
    assert arrays.child_outcome(None, "exec-0")["error"] == "Run.InternalError"
    taken = arrays.child_outcome(_record(0, "SUCCEEDED", execution="someone-else"), "exec-0")
    assert taken["error"] == "Run.Duplicate" and "someone-else" in taken["message"]


def test_an_aborted_child_without_an_outcome_is_run_aborted() -> None:
    record = {**_record(0, "ABORTED"), "outcome": None}
    assert arrays.child_outcome(record, "exec-0")["error"] == "Run.Aborted"


def _outcomes(failures: int, size: int = 10) -> list[dict[str, Any]]:
    return [
        {"status": "FAILED", "error": "ECS.ContainerExitedNonZero", "message": "exit 3"}
        if i < failures
        else {"status": "SUCCEEDED", "error": None, "message": None}
        for i in range(size)
    ]


def test_the_summary_counts_children_by_outcome() -> None:
    summary, failed = arrays.summarize("p", _outcomes(2), 20)
    assert summary["status"] == "SUCCEEDED"
    assert summary["array"]["byOutcome"] == {"ECS.ContainerExitedNonZero": 2, "SUCCEEDED": 8}
    assert (summary["array"]["succeeded"], summary["array"]["failed"]) == (8, 2)
    assert summary["array"]["failurePercentage"] == 20.0
    assert [c["runId"] for c in failed] == ["p-0", "p-1"]


def test_failures_beyond_the_tolerance_fail_the_parent_with_run_array_failed() -> None:
    summary, _ = arrays.summarize("p", _outcomes(3), 20)
    assert summary["status"] == "FAILED"
    assert summary["error"] == "Run.ArrayFailed"
    assert summary["message"] == "3 of 10 children failed (30%), more than the 20% tolerated"


def test_by_default_one_failed_child_fails_the_parent() -> None:
    assert arrays.summarize("p", _outcomes(1), 0)[0]["status"] == "FAILED"
    assert arrays.summarize("p", _outcomes(0), 0)[0]["status"] == "SUCCEEDED"


def test_the_output_lists_the_first_hundred_failed_children_and_the_summary_all() -> None:
    summary, failed = arrays.summarize("p", _outcomes(250, 300), 100)
    assert len(summary["array"]["failedChildren"]) == 100
    assert summary["array"]["failedChildrenOmitted"] == 150
    assert len(failed) == 250
