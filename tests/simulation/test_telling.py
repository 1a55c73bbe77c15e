"""Invariants 9 and 10 on hand-made worlds: the exemptions they allow are exactly the documented limits.

The schedules rarely reach these corners (an abort heard in the middle of a log copy, a duplicate that dies before
it asks for the runId), so each rule is pinned here on both of its sides.
"""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import pytest

from tests.simulation import telling

RUN_ID = "nightly-1"
OWNER = "arn:aws:states:us-east-1:123456789012:execution:ecsrun:owner"
OTHER = "arn:aws:states:us-east-1:123456789012:execution:ecsrun:other"


def _execution(arn: str, status: str, *, stopped_at: float | None = None, entered: tuple[str, ...] = ()) -> Any:
    return SimpleNamespace(
        arn=arn,
        name=arn.rsplit(":", 1)[-1],
        status=status,
        error=None,
        input={"runId": RUN_ID},
        stopped_at=stopped_at,
        parent=None,
        entered=[(0.0, state) for state in entered],
    )


def _world(executions: list[Any], *, outcome_at: float, abort_handled_at: dict[str, float]) -> Any:
    announced = {"runId": RUN_ID, "executionArn": OWNER, "status": "SUCCEEDED", "error": None}
    return SimpleNamespace(
        run_id=RUN_ID,
        executions={each.arn: each for each in executions},
        put_events=SimpleNamespace(entries=[{"Detail": json.dumps(announced)}]),
        caller_answers=[],
        limits=[],
        outcome_at=outcome_at,
        abort_handled_at=abort_handled_at,
    )


SUCCEEDED = {"outcome": {"status": "SUCCEEDED"}}


def test_an_abort_handled_before_the_verdict_was_recorded_must_end_the_run_aborted() -> None:
    # Given an execution aborted at 100 s, whose abort ExecutionEnded handled at 110 s, and a run recorded
    # SUCCEEDED at 120 s
    owner = _execution(OWNER, "ABORTED", stopped_at=100.0)
    world = _world([owner], outcome_at=120.0, abort_handled_at={OWNER: 110.0})

    # When invariant 9 is checked
    found = telling.check(world, owner, SUCCEEDED)

    # Then the recorded verdict contradicts an abort ecsrun had heard of: a violation, not the documented limit
    assert [v.invariant for v in found] == ["9 one end everywhere"]
    assert world.limits == []


def test_a_verdict_recorded_before_ecsrun_heard_of_the_abort_stands_as_a_counted_limit() -> None:
    # Given an execution aborted at 100 s, a run recorded SUCCEEDED at 120 s, and the abort's status event handled at
    # 130 s (it came late)
    owner = _execution(OWNER, "ABORTED", stopped_at=100.0)
    world = _world([owner], outcome_at=120.0, abort_handled_at={OWNER: 130.0})

    # When invariant 9 is checked
    found = telling.check(world, owner, SUCCEEDED)

    # Then the verdict stands and the limit is counted
    assert found == []
    assert world.limits == ["an abort ecsrun had not yet heard of when the verdict was recorded: the verdict stands"]


def test_a_verdict_recorded_when_the_aborts_status_event_was_never_handled_stands_as_a_counted_limit() -> None:
    # Given an execution aborted at 100 s whose status event no ExecutionEnded ever handled (lost, or dead-lettered)
    owner = _execution(OWNER, "ABORTED", stopped_at=100.0)
    world = _world([owner], outcome_at=120.0, abort_handled_at={})

    # When invariant 9 is checked
    found = telling.check(world, owner, SUCCEEDED)

    # Then the verdict stands, counted as the limit
    assert found == []
    assert len(world.limits) == 1


@pytest.mark.parametrize(
    ("entered", "expected"),
    [
        # it reached StartTaskAndWait, so it asked for the runId: a duplicate speaks only as a duplicate
        (("IsRequestValid", "StartTaskAndWait"), ["10 duplicates silent"]),
        # its ValidateRequest crashed past its retries before it asked: its end is its own
        (("FunctionFailed", "RunInternalError"), []),
    ],
    ids=["asked-for-the-run-id", "failed-before-asking"],
)
def test_a_second_execution_ends_run_duplicate_only_if_it_asked_for_the_run_id(
    entered: tuple[str, ...], expected: list[str]
) -> None:
    # Given a second execution of the runId that ended Run.InternalError after entering these states
    owner = _execution(OWNER, "SUCCEEDED", stopped_at=200.0)
    other = _execution(OTHER, "FAILED", stopped_at=5.0, entered=entered)
    other.error = "Run.InternalError"
    world = _world([owner, other], outcome_at=190.0, abort_handled_at={})

    # When invariant 10 is checked
    found = telling.check(world, owner, SUCCEEDED)

    # Then only the one that asked for the runId breaks it
    assert [v.invariant for v in found] == expected
