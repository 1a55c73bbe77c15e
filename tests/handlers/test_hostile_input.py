"""Hostile input at the handlers: a malformed override that holds a secret is described, never quoted; JSON with
an integer too long or a nesting too deep for Python to walk gets one clear answer, never a crash.

Through the real handlers on moto, as the state machine invokes them.
"""

from __future__ import annotations

import importlib
import io
import json
import sys
from typing import Any

import pytest
from ecsrun.domain import jsonbounds
from ecsrun.domain.errors import ErrorName
from ecsrun.handlers import execution_ended

from tests.conftest import Stack, context
from tests.handlers.helpers import execution_event, validate

SECRET = "hunter2-in-a-subtree"
ENVIRONMENT = [{"name": "DB_PASSWORD", "value": SECRET}]


@pytest.fixture
def log(monkeypatch: pytest.MonkeyPatch) -> io.StringIO:
    """What the functions' Powertools logger writes (its handler's stream is bound when it is created)."""
    from ecsrun.plumbing.observability import logger

    stream = io.StringIO()
    monkeypatch.setattr(logger.registered_handler, "stream", stream)
    return stream


def _huge_integer(digits: int = 5000) -> int:
    """An integer of `digits` digits, made without the conversion Python refuses past 4,300."""
    return 10 ** (digits - 1)


def _nested(levels: int) -> Any:
    item: Any = "bottom"
    for _ in range(levels):
        item = [item]
    return item


@pytest.mark.parametrize(
    "overrides",
    [
        {"containerOverrides": {"name": "app", "environment": ENVIRONMENT}},  # containerOverrides as an object
        {"containerOverrides": [[{"name": "app", "environment": ENVIRONMENT}]]},  # an override as a list
        [{"containerOverrides": [{"name": "app", "environment": ENVIRONMENT}]}],  # overrides as a list
    ],
    ids=["containerOverrides-object", "override-list", "overrides-list"],
)
def test_a_malformed_override_is_described_without_quoting_its_subtree(
    stack: Stack, log: io.StringIO, overrides: Any
) -> None:
    # Given a request whose overrides are malformed around an environment value
    stack.register("hello.json")
    request = stack.request(overrides=overrides)
    # When ValidateRequest checks it
    result = validate(request)
    # Then it is refused naming the malformed field, and neither the cause nor the INFO log quotes the value
    assert (result["valid"], result["error"]) == (False, ErrorName.REQUEST_INVALID.value)
    problems = json.loads(result["cause"])["problems"]
    assert any(p["field"].startswith("overrides") and "hidden" in p["message"] for p in problems), problems
    assert SECRET not in result["cause"]
    logged = log.getvalue()
    assert "run request rejected" in logged and SECRET not in logged


def test_a_value_a_rule_quotes_is_masked_when_it_is_also_an_override_value(stack: Stack, log: io.StringIO) -> None:
    # Given a request that quotes an environment override value in a field a rule refuses (a tag key with aws:)
    stack.register("hello.json")
    secret = "aws:" + SECRET
    containers = [{"name": "app", "environment": [{"name": "TOKEN", "value": secret}]}]
    request = stack.request(overrides={"containerOverrides": containers}, tags=[{"key": secret, "value": "x"}])
    # When ValidateRequest refuses it
    result = validate(request)
    # Then the problem names the field, and the value is masked in the cause and the log
    assert result["valid"] is False
    assert "tags[0].key" in result["cause"]
    assert secret not in result["cause"] and secret not in log.getvalue()


def test_an_array_item_nested_600_levels_is_an_invalid_request(stack: Stack) -> None:
    # Given an array request whose item is nested about 600 levels deep
    stack.register("hello.json")
    request = stack.request(array={"items": [_nested(600)]})
    # When ValidateRequest checks it
    result = validate(request)
    # Then it is RunRequest.Invalid (not a crash: Run.InternalError), naming the item and the bound
    assert (result["valid"], result["error"]) == (False, ErrorName.REQUEST_INVALID.value)
    [problem] = json.loads(result["cause"])["problems"]
    assert problem["field"].startswith("array.items[0]")
    bound = jsonbounds.MAX_REQUEST_DEPTH
    assert problem["message"] == f"nested too deeply: ecsrun reads JSON at most {bound} levels deep"


@pytest.mark.parametrize("field", ["timeoutSeconds", "count", "array"])
def test_an_integer_of_5000_digits_is_an_invalid_request(stack: Stack, field: str) -> None:
    # Given a request with an integer of 5,000 digits (a runner field, a RunTask field, an array item)
    stack.register("hello.json")
    value = {"items": [{"n": _huge_integer()}]} if field == "array" else _huge_integer()
    request = stack.request(**{field: value})
    # When ValidateRequest checks it
    result = validate(request)
    # Then it is RunRequest.Invalid with the one message that says how long an integer may be
    assert (result["valid"], result["error"]) == (False, ErrorName.REQUEST_INVALID.value)
    [problem] = json.loads(result["cause"])["problems"]
    assert problem["field"].startswith(field)
    assert problem["message"] == "an integer of 5000 digits; ecsrun reads integers of at most 4300 digits"


def test_execution_ended_reads_an_input_with_a_huge_integer_by_the_execution_name(stack: Stack) -> None:
    # Given the status event of a failed execution whose input holds an integer of 5,000 digits
    event = execution_event("FAILED", None, name="huge-input")
    event["detail"]["input"] = '{"taskDefinition": "ecsrun-hello", "timeoutSeconds": ' + "9" * 5000 + "}"
    # When ExecutionEnded handles it
    result = execution_ended.handler(event, context())
    # Then it does not raise: the execution's name stands for its runId, and no record of it exists
    assert result["runId"] == "huge-input"


HANDLERS = [
    "start_task",
    "task_stopped",
    "copy_logs",
    "stop_task",
    "plan_retry",
    "prepare_array",
    "summarize_array",
    "execution_ended",
    "reconcile",
]


@pytest.mark.parametrize("name", HANDLERS)
def test_every_handler_refuses_an_event_out_of_bounds_with_one_clear_error(stack: Stack, name: str) -> None:
    handler = importlib.import_module(f"ecsrun.handlers.{name}").handler
    # Given an event nested deeper than any ecsrun reads (a recursive walk of it would overflow the stack)
    deep = {"detail": _nested(sys.getrecursionlimit() + 100)}
    # When the handler is invoked with it
    with pytest.raises(jsonbounds.JsonBoundsError) as raised:
        handler(deep, context())
    # Then the error says where and what the bound is (not a RecursionError from wherever it was walked)
    assert str(raised.value).startswith("detail[0]")
    assert f"ecsrun reads JSON at most {jsonbounds.MAX_DEPTH} levels deep" in str(raised.value)
    # And an integer too long is refused the same way
    with pytest.raises(jsonbounds.JsonBoundsError, match="an integer of 5000 digits"):
        handler({"detail": {"n": _huge_integer()}}, context())


def test_the_handler_list_is_every_handler_but_validate_request() -> None:
    # ValidateRequest answers an out-of-bounds request itself (RunRequest.Invalid, above)
    from pathlib import Path

    import ecsrun.handlers

    modules = {p.stem for p in Path(ecsrun.handlers.__file__).parent.glob("*.py")} - {"__init__", "wiring"}
    assert modules == {*HANDLERS, "validate_request"}
