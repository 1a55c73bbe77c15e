"""The payload and API limits the local engine enforces where moto does not (ecsrun.local.quotas): the pure rules,
at and beyond each bound."""

from __future__ import annotations

import json

import pytest
from ecsrun.domain import limits
from ecsrun.local import quotas


def _json_of_bytes(size: int) -> str:
    """A JSON document of exactly `size` bytes."""
    text = json.dumps({"x": ""})
    return json.dumps({"x": "a" * (size - len(text))})


@pytest.mark.parametrize(("size", "refused"), [(limits.MAX_PAYLOAD_BYTES, False), (limits.MAX_PAYLOAD_BYTES + 1, True)])
def test_send_task_success_output_is_bounded_at_256_kib(size: int, refused: bool) -> None:
    output = _json_of_bytes(size)
    assert len(output.encode()) == size
    problem = quotas.state_machine_problem({"taskToken": "t", "output": output}, "SendTaskSuccess")
    assert (problem is not None) == refused
    if refused:
        assert problem == (
            "ValidationException",
            "1 validation error detected: Value at 'output' failed to satisfy constraint: "
            "Member must have length less than or equal to 262144",
        )


def test_multi_byte_output_is_measured_in_bytes() -> None:
    output = json.dumps({"x": "é" * 131_072})  # 131,072 characters of two bytes each
    assert quotas.state_machine_problem({"output": output}, "SendTaskSuccess") is not None


def test_send_task_success_output_must_be_json() -> None:
    assert quotas.state_machine_problem({"output": "not json"}, "SendTaskSuccess") == (
        "InvalidOutput",
        "Invalid Output: the output is not valid JSON",
    )


@pytest.mark.parametrize(("field", "limit"), [("cause", limits.MAX_CAUSE_CHARS), ("error", limits.MAX_ERROR_CHARS)])
def test_failure_error_and_cause_are_bounded_in_characters(field: str, limit: int) -> None:
    assert quotas.state_machine_problem({field: "c" * limit}, "SendTaskFailure") is None
    code, message = quotas.state_machine_problem({field: "c" * (limit + 1)}, "SendTaskFailure") or ("", "")
    assert code == "ValidationException" and f"'{field}'" in message and str(limit) in message


def test_list_tasks_with_started_by_takes_no_other_filter() -> None:
    # ECS: "When you specify startedBy as the filter, it must be the only filter that you use."
    assert quotas.ecs_problem("ListTasks", {"startedBy": "ecsrun/a"}) is None
    problem = quotas.ecs_problem("ListTasks", {"startedBy": "ecsrun/a", "desiredStatus": "STOPPED"})
    assert problem is not None and problem.startswith("startedBy cannot be combined with desiredStatus")
    assert quotas.ecs_problem("ListTasks", {"desiredStatus": "STOPPED", "family": "f"}) is None


@pytest.mark.parametrize(
    ("params", "refused"),
    [
        ({"clientToken": "t" * 64}, False),
        ({"clientToken": "t" * 65}, True),
        ({"clientToken": "with space"}, True),
        ({"clientToken": "!~"}, False),
        ({"startedBy": "ecsrun/" + "a" * 121}, False),
        ({"startedBy": "ecsrun/" + "a" * 122}, True),
        ({"startedBy": "ecsrun/a.b"}, True),
        ({"startedBy": "ecsrun/a:b"}, True),
    ],
)
def test_run_task_client_token_and_started_by_follow_ecs_rules(params: dict[str, str], refused: bool) -> None:
    assert (quotas.ecs_problem("RunTask", params) is not None) == refused


def test_put_events_entries_are_bounded_at_256_kb_as_eventbridge_counts_them() -> None:
    entry = {"Source": "ecsrun", "DetailType": "ecsrun.RunFailed", "Detail": ""}
    room = limits.MAX_PUT_EVENTS_ENTRY_BYTES - limits.put_events_entry_bytes(entry)
    assert quotas.put_events_problem([{**entry, "Detail": "d" * room}]) is None
    assert quotas.put_events_problem([{**entry, "Detail": "d" * (room + 1)}]) == (
        "Total size of the entries in the request is over the limit."
    )
