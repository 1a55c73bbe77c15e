"""The randomized fault-schedule suite (issue 12, "Systematic proof"): the deployed ASL and the real handlers under
interleavings chosen by hypothesis, with faults (duplicate, late, dropped and foreign events, crashes and failed
calls at every AWS call of every invocation, Lambda timeouts and retries, lost answers, callback failures,
timeouts, aborts, reconciler passes), and the invariants of issue 12 checked after each schedule drains.

`make test` runs SIM_SCHEDULES (200) schedules, derandomized (the same ones every time); `make soak` runs 10,000
seeded ones through tests/simulation/runner.py. A failure prints the schedule's plan, faults and trace.
"""

from __future__ import annotations

import os
import random
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, Phase, given, note, settings
from hypothesis import strategies as st

from tests.simulation import asl
from tests.simulation.invariants import check
from tests.simulation.runner import Simulator

SCHEDULES = int(os.environ.get("SIM_SCHEDULES", "200"))
PLANTED_SEEDS = (60, 342)


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    with Simulator() as simulator:
        yield simulator


@settings(
    max_examples=SCHEDULES,
    derandomize=True,
    deadline=None,
    database=None,
    # Shrinking a failing schedule can take minutes: on demand (SIM_SHRINK=1), not in every `make test`.
    phases=[Phase.explicit, Phase.generate, *([Phase.shrink] if os.environ.get("SIM_SHRINK") else [])],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture],
)
@given(choices=st.randoms(use_true_random=False), seed=st.integers(0, 999_999))
def test_every_schedule_keeps_the_invariants(sim: Simulator, choices: random.Random, seed: int) -> None:
    # Given a run whose world (task fates, timeouts, retries, faults) and schedule hypothesis chooses
    # When it runs through the deployed ASL and the real handlers, and everything pending drains
    outcome = sim.run(seed, lambda n: choices.randrange(n))
    note(outcome.report())
    # Then every invariant of issue 12 holds
    assert not outcome.violations, outcome.report()


def test_a_foreign_task_with_the_runs_started_by_never_settles_it(sim: Simulator) -> None:
    # Given someone else's task with this run's startedBy stops (exit 0) while the run's own task is still starting
    # (seed 16 of the soak: the foreign task's event arrives between the record write and RunTask's answer)
    outcome = sim.run(16)
    # Then the run is settled by its own task only
    assert not [v for v in outcome.violations if v.invariant.startswith("2")], outcome.report()


def test_the_harness_sees_a_violation_when_one_is_planted(sim: Simulator, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a planted bug: every stopped task is judged a success, whatever its exit code
    from ecsrun.domain.models.verdict import Verdict
    from ecsrun.steps import settle

    monkeypatch.setattr(settle, "judge", lambda *args: Verdict(succeeded=True, reason="planted: every task succeeds"))
    # When schedules whose task exits non-zero run (found by scanning seeds; each runs its task to its end)
    found = [sim.run(seed) for seed in PLANTED_SEEDS]
    # Then the harness reports the changed verdict
    assert any(v.invariant.startswith("8") for o in found for v in o.violations), [o.report() for o in found]


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
