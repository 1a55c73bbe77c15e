"""The fault-schedule suite: the deployed ASL and the real handlers under seeded interleavings, with faults
(duplicate, late, dropped and foreign events, crashes and failed calls at every AWS call of every invocation,
Lambda timeouts and retries, lost answers, callback failures, timeouts) and the widened exploration
(tests/simulation/widen.py: aborts in every state after the start, duplicate executions, sidecars, tasks that
print their secrets, hostile requests, PutEvents partial failures, failed caller answers, lost status events), the
invariants checked after each schedule drains; and the mutation self-test: each planted bug
(tests/simulation/plants.py) is flagged by its invariant within the same budget.

`make test` runs SIM_SCHEDULES (200) seeded schedules, seeds 0..199: a failing seed replays with
`python -m tests.simulation.runner --replay SEED`. `make soak` runs 10,000. Seeds that fail on bugs still being
fixed are listed in tests/simulation/known.py with the bug they hit: strict xfails, so a fix shows.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.simulation import asl, plants
from tests.simulation.invariants import Violation, check
from tests.simulation.known import KNOWN
from tests.simulation.runner import Simulator

SCHEDULES = int(os.environ.get("SIM_SCHEDULES", "200"))
BASELINE: dict[int, list[Violation]] = {}  # each seed's violations without a plant, shared with the self-test


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    with Simulator() as simulator:
        yield simulator


def _seeds() -> list[object]:
    return [
        pytest.param(seed, marks=pytest.mark.xfail(strict=True, reason=KNOWN[seed])) if seed in KNOWN else seed
        for seed in range(SCHEDULES)
    ]


@pytest.mark.parametrize("seed", _seeds())
def test_every_schedule_keeps_the_invariants(sim: Simulator, seed: int) -> None:
    # Given a run whose world (task fates, containers, request, timeouts, retries, faults) and schedule the seed draws
    # When it runs through the deployed ASL and the real handlers, and everything pending drains
    outcome = sim.run(seed)
    BASELINE[seed] = outcome.violations
    # Then every invariant holds
    assert not outcome.violations, outcome.report()


@pytest.mark.parametrize(
    "plant",
    plants.PLANTS,
    ids=lambda p: f"{p.invariant}-{p.name}",
)
def test_each_invariant_catches_its_planted_bug(sim: Simulator, plant: plants.Plant) -> None:
    # Given a planted bug (a monkeypatch of production code) that its invariant must catch
    for seed in range(SCHEDULES):
        # When the budget's schedules run with it, each compared with the same schedule without it
        if seed not in BASELINE:
            BASELINE[seed] = sim.run(seed).violations
        with plants.planted(plant):
            planted = sim.run(seed).violations
        if plants.flags(plant, BASELINE[seed], planted):
            break
    else:
        # Then some schedule of the budget breaks the plant's invariant, which the same schedule kept without it
        pytest.fail(
            f"no schedule of {SCHEDULES} flagged {plant.name} ({plant.bug}): invariant {plant.invariant} is vacuous"
        )


def test_a_foreign_task_with_the_runs_started_by_never_settles_it(sim: Simulator) -> None:
    # Given someone else's task with this run's startedBy stops (exit 0) while the run's own task is still starting
    # (seed 16: a task on another cluster with the run's startedBy stops and its event arrives as the run's start
    # writes its record, before RunTask answers)
    outcome = sim.run(16)
    # Then the run is settled by its own task only
    assert not [v for v in outcome.violations if v.invariant.startswith("2")], outcome.report()


def test_asl_paths_and_choices_follow_the_specification() -> None:
    # Given state data, When paths, templates and rules are evaluated, Then they behave as the ASL spec says
    data = {"run": {"runId": "r", "timeoutSeconds": 5}, "valid": True}
    assert asl.fill({"id.$": "$.run.runId", "token.$": "$$.Task.Token", "k": 1}, data, {"Task": {"Token": "t"}}) == {
        "id": "r", "token": "t", "k": 1,
    }  # fmt: skip
    assert asl.set_result(data, {"x": 1}, "$.stopped")["stopped"] == {"x": 1}
    assert asl.set_result(data, {"x": 1}, None) == data
    assert asl.choice_matches({"And": [{"Variable": "$.valid", "BooleanEquals": True},
                                       {"Variable": "$.array", "IsPresent": False}]}, data)  # fmt: skip
    with pytest.raises(asl.StatesError):
        asl.choice_matches({"Variable": "$.missing", "StringEquals": "x"}, data)
    assert asl.error_matches(["States.TaskFailed"], "StartInterrupted")
    assert not asl.error_matches(["States.TaskFailed"], "States.Timeout")
    assert asl.retry_delay({"IntervalSeconds": 2, "BackoffRate": 2, "MaxDelaySeconds": 5}, 3, 0.5) == 5
    assert asl.retry_delay({"IntervalSeconds": 2, "BackoffRate": 2, "JitterStrategy": "FULL"}, 2, 0.5) == 2


__all__ = ["check"]
