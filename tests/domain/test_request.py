"""Unit tests for ecsrun.domain.models.request: validate_request and default_run_id."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from ecsrun.domain.models.request import (
    MAX_TIMEOUT_SECONDS,
    RUN_ID_PATTERN,
    RunRequest,
    default_run_id,
    validate_request,
)

EVENTS = Path(__file__).parents[2] / "events"
REQUESTS = EVENTS / "requests"
VALID_REQUEST_FILES = sorted(p for p in REQUESTS.glob("*.json") if p.name != "invalid.json")


def load_event(*parts: str) -> Any:
    return json.loads(EVENTS.joinpath(*parts).read_text())


def request_bodies(path: Path) -> list[Any]:
    """A request file is either a request, or EventBridge PutEvents entries whose Detail is a request."""
    data = json.loads(path.read_text())
    if isinstance(data, list):
        return [json.loads(entry["Detail"]) for entry in data]
    return [data]


def minimal(**fields: Any) -> dict[str, Any]:
    return {"taskDefinition": "ecsrun-hello", **fields}


def fields_of(problems: list[Any]) -> list[str]:
    return [p.field for p in problems]


def message_for(problems: list[Any], field: str) -> str:
    matching = [p.message for p in problems if p.field == field]
    assert len(matching) == 1, f"expected one problem at {field!r}, got {problems}"
    return matching[0]


# ---- the sample requests ----


def test_there_are_sample_requests_to_validate() -> None:
    # Given the events/requests directory / Then it holds valid samples besides invalid.json
    assert len(VALID_REQUEST_FILES) >= 5


@pytest.mark.parametrize("path", VALID_REQUEST_FILES, ids=lambda p: p.name)
def test_every_sample_request_is_valid(path: Path) -> None:
    # Given a sample request (or the request inside a PutEvents entry)
    for body in request_bodies(path):
        # When it is validated
        request, problems = validate_request(body)
        # Then it has no problems and comes back as a RunRequest
        assert problems == []
        assert isinstance(request, RunRequest)


def test_invalid_sample_reports_each_offending_field() -> None:
    # Given events/requests/invalid.json
    raw = load_event("requests", "invalid.json")
    # When it is validated
    request, problems = validate_request(raw)
    # Then no request is returned and every offending field is named, once
    assert request is None
    assert fields_of(problems) == [
        "capacityProviderStrategy",
        "count",
        "runId",
        "taskDefinition",
        "taskDefinitionn",
        "timeoutSeconds",
    ]


def test_invalid_sample_explains_each_problem() -> None:
    # Given events/requests/invalid.json
    _, problems = validate_request(load_event("requests", "invalid.json"))
    # Then each message says what is wrong with that field
    assert "unknown field" in message_for(problems, "taskDefinitionn")
    assert "required" in message_for(problems, "taskDefinition")
    assert "launchType" in message_for(problems, "capacityProviderStrategy")
    assert "count must be 1" in message_for(problems, "count")
    assert RUN_ID_PATTERN in message_for(problems, "runId")
    assert "integer" in message_for(problems, "timeoutSeconds")


# ---- strict types ----


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("timeoutSeconds", "60"),
        ("timeoutSeconds", 1.0),
        ("timeoutSeconds", True),
        ("count", "1"),
        ("count", 1.0),
        ("count", True),
        ("enableExecuteCommand", "yes"),
        ("enableExecuteCommand", 1),
        ("enableECSManagedTags", "true"),
        ("taskDefinition", 5),
        ("cluster", 5),
        ("runId", 5),
        ("successExitCodes", ["0"]),
    ],
)
def test_types_are_strict(field: str, value: Any) -> None:
    # Given a field whose value would only fit its type after coercion
    raw = minimal(**{field: value})
    # When it is validated
    request, problems = validate_request(raw)
    # Then the request is rejected with a problem at that field (or inside it)
    assert request is None
    assert len(problems) == 1
    assert problems[0].field.startswith(field)


def test_strict_type_message_shows_the_value_given() -> None:
    # Given timeoutSeconds as a string
    _, problems = validate_request(minimal(timeoutSeconds="60"))
    # Then the message shows the offending value
    assert "'60'" in message_for(problems, "timeoutSeconds")


# ---- unknown fields ----


def test_unknown_top_level_field_is_rejected() -> None:
    # Given a misspelt top-level field
    request, problems = validate_request(minimal(launchTyp="FARGATE"))
    # Then it is reported as unknown at its own name
    assert request is None
    assert fields_of(problems) == ["launchTyp"]
    assert "unknown field" in problems[0].message


def test_unknown_nested_field_is_reported_with_its_full_path() -> None:
    # Given an unknown field inside a container override
    raw = minimal(overrides={"containerOverrides": [{"name": "app", "bogus": 1}]})
    # When it is validated
    request, problems = validate_request(raw)
    # Then the problem names the exact path
    assert request is None
    assert fields_of(problems) == ["overrides.containerOverrides[0].bogus"]


def test_nested_path_uses_the_index_of_the_offending_list_item() -> None:
    # Given a bad value in the second capacity provider
    raw = minimal(capacityProviderStrategy=[{"capacityProvider": "asg-a"}, {"capacityProvider": "X", "weight": "1"}])
    # When it is validated
    _, problems = validate_request(raw)
    # Then the path carries index 1
    assert fields_of(problems) == ["capacityProviderStrategy[1].weight"]


# ---- count ----


def test_count_one_is_accepted() -> None:
    request, problems = validate_request(minimal(count=1))
    assert problems == []
    assert request is not None
    assert request.count == 1


@pytest.mark.parametrize("count", [0, 2, 10, -1])
def test_count_other_than_one_is_rejected(count: int) -> None:
    # Given a count other than 1
    request, problems = validate_request(minimal(count=count))
    # Then exactly one count problem says ecsrun runs one task
    assert request is None
    assert fields_of(problems) == ["count"]
    assert f"got {count}" in problems[0].message


# ---- launchType vs capacityProviderStrategy ----


def test_launch_type_with_capacity_provider_strategy_is_rejected() -> None:
    # Given both launchType and capacityProviderStrategy
    raw = minimal(launchType="EC2", capacityProviderStrategy=[{"capacityProvider": "asg-a"}])
    # When it is validated
    request, problems = validate_request(raw)
    # Then the pair is rejected at capacityProviderStrategy
    assert request is None
    assert fields_of(problems) == ["capacityProviderStrategy"]


def test_capacity_provider_strategy_alone_is_accepted() -> None:
    raw = minimal(
        capacityProviderStrategy=[{"capacityProvider": "FARGATE_SPOT", "weight": 1}],
        networkConfiguration={"awsvpcConfiguration": {"subnets": ["subnet-1"]}},
    )
    request, problems = validate_request(raw)
    assert problems == []
    assert request is not None


# ---- reserved fields ----


@pytest.mark.parametrize(("field", "words"), [("startedBy", "find the run"), ("clientToken", "idempotent")])
def test_reserved_field_is_rejected_with_reason(field: str, words: str) -> None:
    # Given a request that sets a field ecsrun sets itself
    request, problems = validate_request(minimal(**{field: "mine"}))
    # Then it is rejected, and the message says why and to remove it
    assert request is None
    assert fields_of(problems) == [field]
    assert words in problems[0].message
    assert "remove it" in problems[0].message


def test_reserved_fields_are_not_also_reported_as_unknown() -> None:
    # Given both reserved fields
    _, problems = validate_request(minimal(startedBy="x", clientToken="y"))
    # Then each is reported once, by its reserved-field reason
    assert fields_of(problems) == ["clientToken", "startedBy"]
    assert all("unknown" not in p.message for p in problems)


# ---- runId ----


@pytest.mark.parametrize("run_id", ["a", "A.b_c-1", "0", "a" * 64, "Z" + "-._9" * 15 + "abc"])
def test_valid_run_ids_are_accepted(run_id: str) -> None:
    request, problems = validate_request(minimal(runId=run_id))
    assert problems == []
    assert request is not None
    assert request.runId == run_id


@pytest.mark.parametrize(
    "run_id",
    [
        "",
        "-a",
        ".a",
        "_a",
        "../etc",
        "a/b",
        "a" * 65,
        "a b",
        "café",
        "\uff41bc",  # fullwidth "a"
        "日本",
        "a\n",
        "a\tb",
        "a\x00",
        "a\x7f",
    ],
    ids=repr,
)
def test_invalid_run_ids_are_rejected(run_id: str) -> None:
    # Given a runId outside the pattern
    request, problems = validate_request(minimal(runId=run_id))
    # Then it is rejected at runId with the pattern in the message
    assert request is None
    assert fields_of(problems) == ["runId"]
    assert RUN_ID_PATTERN in problems[0].message


# ---- non-object input ----


@pytest.mark.parametrize("raw", [[], [{"taskDefinition": "x"}], "taskDefinition", None, 42, 1.5, True])
def test_non_object_input_gives_one_request_level_problem(raw: Any) -> None:
    # Given something that is not a JSON object
    request, problems = validate_request(raw)
    # Then there is a single problem at "(request)"
    assert request is None
    assert fields_of(problems) == ["(request)"]
    assert "JSON object" in problems[0].message


# ---- successExitCodes and timeoutSeconds ----


@pytest.mark.parametrize("codes", [[0], [0, 3, 255], [1]])
def test_success_exit_codes_in_range_are_accepted(codes: list[int]) -> None:
    request, problems = validate_request(minimal(successExitCodes=codes))
    assert problems == []
    assert request is not None
    assert request.successExitCodes == codes


def test_empty_success_exit_codes_is_rejected() -> None:
    request, problems = validate_request(minimal(successExitCodes=[]))
    assert request is None
    assert fields_of(problems) == ["successExitCodes"]


@pytest.mark.parametrize(("codes", "path"), [([256], "successExitCodes[0]"), ([0, -1], "successExitCodes[1]")])
def test_out_of_range_success_exit_code_is_rejected(codes: list[int], path: str) -> None:
    request, problems = validate_request(minimal(successExitCodes=codes))
    assert request is None
    assert fields_of(problems) == [path]


@pytest.mark.parametrize("seconds", [0, -5, MAX_TIMEOUT_SECONDS + 1])
def test_timeout_seconds_out_of_range_is_rejected(seconds: int) -> None:
    request, problems = validate_request(minimal(timeoutSeconds=seconds))
    assert request is None
    assert fields_of(problems) == ["timeoutSeconds"]


@pytest.mark.parametrize("seconds", [1, MAX_TIMEOUT_SECONDS])
def test_timeout_seconds_bounds_are_accepted(seconds: int) -> None:
    # A run of a whole year leaves its execution no time to wait for a retry: it must not ask for one
    request, problems = validate_request(minimal(timeoutSeconds=seconds, retry={"maxAttempts": 1}))
    assert problems == []
    assert request is not None


# ---- every problem at once ----


def test_all_problems_are_reported_at_once_sorted_by_field() -> None:
    # Given a request with five independent problems
    raw = {
        "taskDefinition": "ecsrun-hello",
        "timeoutSeconds": 0,
        "successExitCodes": [],
        "runId": "-bad",
        "startedBy": "me",
        "enableExecuteCommand": "yes",
    }
    # When it is validated
    request, problems = validate_request(raw)
    # Then all five are reported, sorted by field
    assert request is None
    assert fields_of(problems) == [
        "enableExecuteCommand",
        "runId",
        "startedBy",
        "successExitCodes",
        "timeoutSeconds",
    ]


def test_schema_and_cross_field_problems_are_reported_together() -> None:
    # Given a missing taskDefinition, count 2 and launchType with a strategy
    raw = {"count": 2, "launchType": "EC2", "capacityProviderStrategy": [{"capacityProvider": "cp"}]}
    # When it is validated
    _, problems = validate_request(raw)
    # Then none hides another
    assert fields_of(problems) == ["capacityProviderStrategy", "count", "taskDefinition"]


# ---- default_run_id ----


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("my run:1", "my-run-1"),
        ("...abc", "abc"),
        ("--_x", "x"),
        ("plain-Name_1.2", "plain-Name_1.2"),
        ("", "run"),
        ("---", "run"),
        ("日本", "run"),
        ("a" * 80, "a" * 64),
    ],
)
def test_default_run_id_sanitises_execution_names(name: str, expected: str) -> None:
    # Given a Step Functions execution name / When it becomes a runId / Then it is sanitised as expected
    assert default_run_id(name) == expected


@pytest.mark.parametrize(
    "name",
    ["my run:1", "...abc", "a" * 80, "", "-" * 20 + "b" * 80, "é" * 70, "x y z {} [] ~ ` ! @ # $ % ^ & *", "a\nb"],
    ids=repr,
)
def test_default_run_id_always_matches_the_run_id_pattern(name: str) -> None:
    # Given any execution name / When a default runId is made from it
    run_id = default_run_id(name)
    # Then it is a valid runId
    assert re.fullmatch(RUN_ID_PATTERN, run_id)
    _, problems = validate_request(minimal(runId=run_id))
    assert problems == []


@pytest.mark.parametrize(
    "retry",
    [
        {"maxAttempts": 0},
        {"maxAttempts": 11},
        {"maxAttempts": "3"},
        {"intervalSeconds": 0},
        {"intervalSeconds": 3601},
        {"backoffRate": 0.5},
        {"backoffRate": 11},
        {"jitter": True},
        [3],
    ],
)
def test_retry_policy_outside_its_bounds_is_rejected(retry: object) -> None:
    # Given a retry policy that breaks a bound, a type or names an unknown field
    _, problems = validate_request({"taskDefinition": "td", "retry": retry})
    # Then it is rejected, and the problem points into retry
    assert problems
    assert all(p.field.startswith("retry") for p in problems)


def test_retry_policy_defaults_fill_what_is_left_out() -> None:
    from ecsrun.domain.runtask import resolve_run

    request, problems = validate_request({"taskDefinition": "td", "retry": {"maxAttempts": 5}})
    assert problems == []
    assert request is not None
    run = resolve_run(request, "x", 60)
    assert run.retry == {"maxAttempts": 5, "intervalSeconds": 10, "backoffRate": 2.0}
    assert "retry" not in run.request


def test_an_unknown_field_lists_only_the_fields_a_user_may_set() -> None:
    # Given a request with a field nothing resembles, and a miscased field ecsrun sets itself
    _, problems = validate_request({"taskDefinition": "td", "zzzqqq": 1, "startedby": "me"})
    by_field = {p.field: p.message for p in problems}
    # Then the list of fields offered holds RunTask's and ecsrun's own, but none ecsrun sets
    offered = by_field["zzzqqq"].split("expected one of ", 1)[1].split(", ")
    assert {"taskDefinition", "cluster", "overrides", "runId", "timeoutSeconds", "retry"} <= set(offered)
    assert not {"startedBy", "clientToken", "count"} & set(offered)
    # And a miscased reserved field is told it is not the user's to set
    assert by_field["startedby"] == "unknown field; 'startedBy' is set by ecsrun itself: leave it out"
