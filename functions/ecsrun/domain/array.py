"""Array runs: one request fanned out to one child run per element, and the parent's verdict on them. Pure.

Each child is a whole ecsrun run (validated, started idempotently, its logs copied under its own runId),
started by the parent's Distributed Map as a nested execution of the same state machine.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from typing import Any

from ecsrun.domain.errors import ErrorName

MAX_ARRAY_SIZE = 10_000  # the hard cap; the MaxArraySize template parameter may lower it
MAX_ITEM_CHARACTERS = 4096  # an item reaches the container as one environment variable
MAX_FAILED_LISTED = 100  # failed children named in the output and cause; the summary object lists them all
MAX_EXECUTION_NAME = 80
RUN_ID_LENGTH = 64
ARRAY_FIELDS = ("array", "maxConcurrency", "toleratedFailurePercentage")
DEFAULT_MAX_CONCURRENCY = 100
INDEX_ENV, ITEM_ENV, SIZE_ENV, PARENT_ENV = (
    "ECSRUN_ARRAY_INDEX",
    "ECSRUN_ARRAY_ITEM",
    "ECSRUN_ARRAY_SIZE",
    "ECSRUN_PARENT_RUN_ID",
)


def problems(runner: dict[str, Any], max_array_size: int) -> list[tuple[str, str]]:
    """What the field types cannot say: array fields belong together, and every child must be runnable."""
    found: list[tuple[str, str]] = []
    array = runner.get("array")
    if not isinstance(array, dict):
        found += [(f, 'only for an array run: give "array" too') for f in ARRAY_FIELDS[1:] if f in runner]
        return found
    items, size = array.get("items"), array.get("size")
    count = len(items) if isinstance(items, list) else size if type(size) is int else None
    if count is None:
        return found  # the type check reports it
    if max_array_size < count <= MAX_ARRAY_SIZE:  # beyond the hard cap, the type check reports it
        field = "array.items" if isinstance(items, list) else "array.size"
        found.append((field, f"at most {max_array_size} children (MaxArraySize); got {count}"))
    for index, item in enumerate(items if isinstance(items, list) else []):
        if len(item_text(item)) > MAX_ITEM_CHARACTERS:
            found.append((f"array.items[{index}]", f"at most {MAX_ITEM_CHARACTERS} characters as JSON text"))
    run_id = runner.get("runId")
    longest = len(child_run_id("", max(count - 1, 0)))
    if isinstance(run_id, str) and len(run_id) + longest > RUN_ID_LENGTH:
        found.append(
            (
                "runId",
                f"an array of {count} needs room for its children's runIds (<runId>-<index>): "
                f"at most {RUN_ID_LENGTH - longest} characters; got {len(run_id)}",
            )
        )
    return found


def elements(array: dict[str, Any]) -> list[Any]:
    """The array's elements: its items, or for {"size": N} the indexes 0..N-1."""
    if "items" in array:
        return list(array["items"])
    return list(range(array["size"]))


def item_text(item: Any) -> str:
    """An element as its container sees it: a string as is, anything else as compact JSON."""
    return item if isinstance(item, str) else json.dumps(item, separators=(",", ":"))


def child_run_id(parent_run_id: str, index: int) -> str:
    return f"{parent_run_id}-{index}"


def child_execution_name(parent_execution_name: str, index: int, size: int) -> str:
    """Unique per parent execution and stable across retries, so a repeated StartExecution finds the child."""
    suffix = f"-{index}"
    width = MAX_EXECUTION_NAME - len(f"-{size - 1}")
    return parent_execution_name[:width] + suffix


def with_array_environment(
    overrides: dict[str, Any] | None, containers: list[str], variables: dict[str, str]
) -> dict[str, Any]:
    """The request's overrides with `variables` set in every container's environment (replacing same names)."""
    result = json.loads(json.dumps(overrides or {}))
    existing = {o.get("name"): o for o in result.get("containerOverrides", [])}
    for name in containers:
        override = existing.get(name)
        if override is None:
            override = {"name": name}
            result.setdefault("containerOverrides", []).append(override)
        kept = [e for e in override.get("environment", []) if e.get("name") not in variables]
        override["environment"] = kept + [{"name": k, "value": v} for k, v in variables.items()]
    return result


def child_request(
    parent: dict[str, Any],
    parent_run_id: str,
    index: int,
    item: Any,
    size: int,
    containers: list[str],
    task_definition_arn: str | None = None,
) -> dict[str, Any]:
    """The request of child `index`: the parent's, without the array fields and the caller's task token, under
    its own runId, with the index and item in every container's environment. With `task_definition_arn`, every
    child runs that exact revision, even if a new one is registered while the array runs."""
    # The parent's caller waits for the parent: a child answering its token would end the wait at the first child.
    request = {k: v for k, v in parent.items() if k not in ARRAY_FIELDS and k != "callbackTaskToken"}
    request["runId"] = child_run_id(parent_run_id, index)
    if task_definition_arn:
        request["taskDefinition"] = task_definition_arn
    variables = {
        INDEX_ENV: str(index),
        ITEM_ENV: item_text(item),
        SIZE_ENV: str(size),
        PARENT_ENV: parent_run_id,
    }
    request["overrides"] = with_array_environment(parent.get("overrides"), containers, variables)
    return request


def children(parent: dict[str, Any], parent_run_id: str, parent_execution_name: str) -> list[dict[str, Any]]:
    """Every child as the Distributed Map reads it: its execution name, runId, index and item. Nothing else: the
    parent's request (its environment values may be secrets) never goes to S3; each child's ValidateRequest
    builds its request from the parent's run, which the Map state passes on (see `expand_child`)."""
    items = elements(parent["array"])
    size = len(items)
    return [
        {
            "name": child_execution_name(parent_execution_name, index, size),
            "runId": child_run_id(parent_run_id, index),
            "index": index,
            "item": item,
        }
        for index, item in enumerate(items)
    ]


CHILD_INPUT = "arrayChild"


def expand_child(execution_input: Any) -> tuple[Any, str | None]:
    """A child execution's input, `{"runId", "arrayChild": {"parent": <the parent's run>, "index", "item", "size",
    "containers", "taskDefinitionArn"}}`, as the request it stands for: (request, None), or (None, why not).
    Any other input is returned as it is."""
    if not isinstance(execution_input, dict) or CHILD_INPUT not in execution_input:
        return execution_input, None
    child = execution_input[CHILD_INPUT]
    try:
        parent = child["parent"]
        index, size = child["index"], child["size"]
        if type(index) is not int or type(size) is not int or not 0 <= index < size:
            raise TypeError("index")
        request = dict(parent["request"])
        request.update(
            timeoutSeconds=parent["timeoutSeconds"], successExitCodes=parent["successExitCodes"], retry=parent["retry"]
        )
        built = child_request(
            request,
            str(parent["runId"]),
            index,
            child["item"],
            size,
            [str(name) for name in child["containers"]],
            child.get("taskDefinitionArn"),
        )
    except (KeyError, TypeError, AttributeError):
        return None, f"{CHILD_INPUT}: not an array child's input (parent, index, item, size, containers)"
    if execution_input.get("runId") != built["runId"]:
        return None, f"runId: an array child's runId is {built['runId']!r}"
    return built, None


def child_definition(execution_input: Any) -> Any:
    """The parent's resolved task definition a child execution's input carries (`arrayChild.parent.definition`),
    or None: the parent asked ECS once, for every child."""
    if not isinstance(execution_input, dict):
        return None
    child = execution_input.get(CHILD_INPUT)
    parent = child.get("parent") if isinstance(child, dict) else None
    return parent.get("definition") if isinstance(parent, dict) else None


def child_outcome(record: dict[str, Any] | None, execution_name: str) -> dict[str, Any]:
    """A child's end as its run record tells it: {"status", "error", "message"}. A record another execution
    owns is that execution's run, not this child's (the child ended Run.Duplicate)."""
    if record is None:
        return {"status": "FAILED", "error": ErrorName.INTERNAL.value, "message": "the child left no run record"}
    if not str(record.get("executionArn", "")).endswith(f":{execution_name}"):
        return {
            "status": "FAILED",
            "error": ErrorName.DUPLICATE.value,
            "message": f"runId {record.get('runId')} belongs to execution {record.get('executionArn')}",
        }
    outcome = record.get("outcome") or {}
    status = outcome.get("status") or record.get("status")
    if status == "SUCCEEDED":
        return {"status": "SUCCEEDED", "error": None, "message": None}
    error = outcome.get("error") or (ErrorName.ABORTED.value if status == "ABORTED" else ErrorName.INTERNAL.value)
    return {"status": "FAILED", "error": error, "message": outcome.get("message") or f"the child run is {status}"}


def summarize(
    parent_run_id: str, outcomes: list[dict[str, Any]], tolerated_failure_percentage: float
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The parent's verdict, and every failed child: counts by outcome, the first failed children, and whether
    the failures stay within the tolerated percentage (0: any failed child fails the parent)."""
    size = len(outcomes)
    by_outcome = Counter("SUCCEEDED" if o["status"] == "SUCCEEDED" else o["error"] for o in outcomes)
    failed = [
        {"index": i, "runId": child_run_id(parent_run_id, i), "error": o["error"], "message": o["message"]}
        for i, o in enumerate(outcomes)
        if o["status"] != "SUCCEEDED"
    ]
    percentage = 100.0 * len(failed) / size if size else 0.0
    succeeded = percentage <= tolerated_failure_percentage
    summary: dict[str, Any] = {
        "size": size,
        "succeeded": size - len(failed),
        "failed": len(failed),
        "byOutcome": dict(sorted(by_outcome.items())),
        "failurePercentage": round(percentage, 2),
        "toleratedFailurePercentage": tolerated_failure_percentage,
        "failedChildren": failed[:MAX_FAILED_LISTED],
    }
    if len(failed) > MAX_FAILED_LISTED:
        summary["failedChildrenOmitted"] = len(failed) - MAX_FAILED_LISTED
    result: dict[str, Any] = {"runId": parent_run_id, "status": "SUCCEEDED" if succeeded else "FAILED"}
    if not succeeded:
        result["error"] = ErrorName.ARRAY_FAILED.value
        result["message"] = (
            f"{len(failed)} of {size} children failed ({_percent(percentage)}), more than the "
            f"{_percent(tolerated_failure_percentage)} tolerated"
        )
    return {**result, "array": summary}, failed


def _percent(value: float) -> str:
    return f"{value:g}%" if value == math.floor(value) else f"{value:.2f}%"
