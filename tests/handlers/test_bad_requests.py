"""The bad-input corpus (tests/corpus/bad-requests.json): every request is refused with RunRequest.Invalid,
its cause names each offending field path, and nothing is started or written.

Each case is checked through the ValidateRequest function on moto, with a task definition registered and the
stack's table in place, so "nothing started" and "nothing written" are observed, not assumed. A sample of the
corpus also runs through the real state machine on the local engine.
"""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from ecsrun.domain.errors import ErrorName
from ecsrun.local.engine import run_local
from ecsrun.local.runtime import TABLE, LocalAws

from tests.conftest import ROOT, Stack
from tests.handlers.helpers import validate

CORPUS: list[dict[str, Any]] = json.loads((ROOT / "tests" / "corpus" / "bad-requests.json").read_text())


def test_the_corpus_has_at_least_a_hundred_distinct_cases() -> None:
    assert len(CORPUS) >= 100
    assert len({case["name"] for case in CORPUS}) == len(CORPUS)
    assert all(case["fields"] for case in CORPUS)


def _nothing_started_or_written(ecs: Any, table: Any) -> None:
    for status in ("RUNNING", "STOPPED"):
        assert ecs.list_tasks(cluster="default", desiredStatus=status)["taskArns"] == []
    assert table.scan(Select="COUNT")["Count"] == 0


@pytest.fixture(scope="module")
def registered(module_stack: Stack) -> Stack:
    module_stack.register("hello.json")
    return module_stack


@pytest.mark.parametrize("case", CORPUS, ids=[case["name"] for case in CORPUS])
def test_a_bad_request_is_refused_naming_each_field_and_starts_nothing(registered: Stack, case: dict[str, Any]) -> None:
    # Given a task definition the request could have run (one stack for the corpus: nothing may change it)
    stack = registered
    # When the bad request is validated
    result = validate(case["request"])
    # Then it is refused with RunRequest.Invalid, and the cause names every expected field path
    assert result["valid"] is False
    assert result["error"] == ErrorName.REQUEST_INVALID.value
    cause = json.loads(result["cause"])
    fields = [problem["field"] for problem in cause["problems"]]
    assert set(case["fields"]) <= set(fields), fields
    assert all(problem["message"] for problem in cause["problems"])
    assert all(field in cause["message"] for field in case["fields"])
    # And no task was started, no run record was written
    _nothing_started_or_written(stack.ecs, stack.table)


SAMPLE = [case for case in CORPUS if case["name"] in {
    "runId path traversal",
    "misspelt taskDefinition",
    "FARGATE without networkConfiguration",
    "overrides over 8192 characters",
    "deeply nested command",
    "request is a string",
}]  # fmt: skip


def test_a_sample_of_the_corpus_fails_in_the_real_state_machine_before_any_task() -> None:
    with LocalAws() as aws:
        aws.register_task_definition(json.loads((ROOT / "events/task-definitions/hello.json").read_text()))
        for case in SAMPLE:
            # When the bad request starts an execution of the real state machine
            result = run_local(case["request"], [], aws=aws)
            # Then it fails RunRequest.Invalid straight after validation, with the fields in its cause
            assert (result.status, result.error) == ("FAILED", ErrorName.REQUEST_INVALID.value), case["name"]
            assert [s.name for s in result.states] == ["ValidateRequest", "IsRequestValid", "RunRequestInvalid"]
            fields = {p["field"] for p in json.loads(result.cause or "{}")["problems"]}
            assert set(case["fields"]) <= fields, (case["name"], fields)
        # And across all of them, no task was started and no record written
        _nothing_started_or_written(aws.client("ecs"), boto3.resource("dynamodb").Table(TABLE))
    assert len(SAMPLE) == 6
