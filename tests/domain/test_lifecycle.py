"""The run lifecycle's table: which writes each status allows, what is left for a run, and where it sits in the
overdue index. Pure."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from ecsrun.domain import lifecycle
from ecsrun.domain.lifecycle import EDGES, Chore, Edge, allow, chores, end_status, open_shard, recheck_after
from ecsrun.domain.models.ecs import EcsTask
from ecsrun.domain.models.record import RunRecord, RunStatus
from ecsrun.domain.models.run import Run

S = RunStatus
ENDED = (S.SUCCEEDED, S.FAILED)


def _record(**fields: object) -> RunRecord:
    now = datetime.now(UTC).isoformat()
    run = Run(runId="r1", timeoutSeconds=60, successExitCodes=[0], request={"taskDefinition": "td"})
    base: dict[str, object] = {
        "runId": "r1",
        "executionArn": "arn:exec",
        "status": S.STOPPED,
        "startedBy": "ecsrun/r1",
        "clientToken": "t",
        "run": run,
        "createdAt": now,
        "updatedAt": now,
        "expiresAt": 0,
    }
    return RunRecord.model_validate({**base, **fields})


def test_an_ended_run_allows_no_write_of_its_lifecycle() -> None:
    # Given every edge, When asked from SUCCEEDED or FAILED, Then none is allowed: an end is final
    assert [(s, e) for s in ENDED for e in Edge if allow(s, e)] == []


def test_an_end_is_allowed_from_every_status_without_one_and_only_once() -> None:
    # Given the statuses a run can be in before its end (an aborted run still gets its outcome when its logs are
    # copied), Then END is allowed from each
    assert {s for s in S if allow(s, Edge.END)} == set(S) - set(ENDED)


@pytest.mark.parametrize(
    ("status", "edge", "allowed"),
    [
        (S.STOPPED, Edge.ABORT, True),  # an abort after the verdict (WaitForLogs): the run is aborted
        (S.ABORTED, Edge.ABORT, False),  # aborted once
        (S.ABORTED, Edge.SETTLE, False),  # nobody waits for an aborted run's verdict
        (S.STOPPED, Edge.SETTLE, False),  # settled once
        (S.RUNNING, Edge.RETRY, False),  # a retry follows a verdict, never a running task
        (S.STOPPING, Edge.STOP, True),  # a retried stop state (found by the simulation, seed 1499)
        (S.STOPPED, Edge.STOP, False),  # judged: nothing to stop
        (S.STARTING, Edge.START_FAILED, True),
        (S.RUNNING, Edge.START_FAILED, False),
    ],
)
def test_the_table_refuses_what_the_lifecycle_does_not_allow(status: RunStatus, edge: Edge, allowed: bool) -> None:
    assert allow(status, edge) is allowed


def test_every_edge_leads_to_a_status_its_next_edges_start_from_or_to_an_end() -> None:
    # Given each edge with a fixed destination, Then some edge (at least the end) leaves that destination
    for edge, (_, dest) in EDGES.items():
        if dest is not None:
            assert allow(dest, Edge.END), (edge, dest)


def test_the_end_status_follows_the_outcome_unless_an_abort_ended_the_run() -> None:
    assert end_status({"status": "SUCCEEDED"}, aborted=False) == S.SUCCEEDED
    assert end_status({"status": "FAILED", "error": "ECS.TaskStopped"}, aborted=False) == S.FAILED
    assert end_status({"status": "FAILED", "error": "Run.Aborted"}, aborted=True) == S.ABORTED


def test_a_run_without_an_outcome_always_has_its_end_left() -> None:
    # Given a judged run whose verdict was delivered (the case that used to leave the reconciler's index)
    record = _record(callback="DELIVERED", taskArn="arn:task", task=EcsTask(taskArn="arn:task"))
    # Then its end is left: it stays where the reconciler looks
    assert chores(record) == [Chore.END]


def test_an_ended_run_is_done_once_stopped_copied_announced_and_answered() -> None:
    task = EcsTask(taskArn="arn:task")
    outcome = {"status": "SUCCEEDED"}
    run = Run(runId="r1", timeoutSeconds=60, successExitCodes=[0], request={}, callbackTaskToken="tok")
    # Given an ended run whose task was recorded but not yet known stopped
    assert chores(_record(outcome=outcome, taskArn="arn:task", runTaskAttempt=1)) == [Chore.STOP, Chore.ANNOUNCE]
    # And one stopped but not copied, not announced, whose caller is not answered
    left = chores(_record(outcome=outcome, taskArn="arn:task", task=task, run=run))
    assert left == [Chore.COPY, Chore.ANNOUNCE, Chore.ANSWER]
    # Then with each done, nothing is left
    done = _record(outcome=outcome, taskArn="arn:task", task=task, run=run, logsCopied=True, announced=True)
    assert chores(done.model_copy(update={"callerAnswer": "delivered"})) == []


def test_shards_spread_run_ids_over_every_partition_and_a_run_keeps_its_shard() -> None:
    # Given ten thousand runIds, Then every shard is used, none takes more than twice its share, and a run's shard
    # is stable
    counts = Counter(open_shard(f"nightly-{i}") for i in range(10_000))
    assert set(counts) == set(lifecycle.all_shards())
    assert max(counts.values()) < 2 * 10_000 / lifecycle.OPEN_SHARDS
    assert open_shard("hello-demo") == open_shard("hello-demo")


def test_a_run_found_still_going_is_looked_at_again_after_half_its_age_within_bounds() -> None:
    now = datetime.now(UTC)
    grace = timedelta(minutes=5)
    # Given a young run: looked at again after the grace alone
    assert recheck_after(now - timedelta(minutes=4), now, grace) == timedelta(0)
    # Given a two-hour-old run: after half an hour at most (grace included)
    assert recheck_after(now - timedelta(hours=2), now, grace) + grace == lifecycle.MAX_RECHECK
    # Given a forty-minute-old run: after twenty minutes (grace included)
    assert recheck_after(now - timedelta(minutes=40), now, grace) + grace == timedelta(minutes=20)
