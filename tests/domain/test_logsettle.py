"""When a stream read to its end is complete: the final flush's evidence first, the settle bound last."""

from __future__ import annotations

from ecsrun.domain.logsettle import epoch_ms, settle_wait

STOPPED = 1_795_000_010_000  # the task's stoppedAt
CONTAINERS = STOPPED - 800  # executionStoppedAt: the containers had stopped a little earlier


def _wait(last_ingested: int | None, now: int, settle: float = 10, containers: int | None = CONTAINERS) -> float:
    return settle_wait(
        last_ingested_ms=last_ingested,
        containers_stopped_ms=containers,
        task_stopped_ms=STOPPED,
        now_ms=now,
        settle_seconds=settle,
    )


def test_a_batch_ingested_after_the_containers_stopped_is_the_final_flush_so_nothing_is_awaited() -> None:
    # Given a stream whose last event was ingested after the containers stopped, 1 s after the task stopped
    # Then the copy need not wait, though the settle time has 9 s to run
    assert _wait(last_ingested=CONTAINERS + 300, now=STOPPED + 1000) == 0.0
    # And one ingested in the very millisecond they stopped is not evidence enough: it may have been sent before
    assert _wait(last_ingested=CONTAINERS, now=STOPPED + 1000) == 9.0


def test_without_the_final_flush_the_copy_waits_out_the_rest_of_the_settle_time() -> None:
    # Given the last event was ingested before the containers stopped (a quiet end, or a final flush on its way)
    # Then the copy waits until the settle time after the task stopped, and no longer
    assert _wait(last_ingested=CONTAINERS - 1, now=STOPPED + 1000) == 9.0
    assert _wait(last_ingested=CONTAINERS - 4000, now=STOPPED + 9500) == 0.5
    # And a stream with no events at all is no evidence either
    assert _wait(last_ingested=None, now=STOPPED + 4000) == 6.0


def test_once_the_settle_time_has_passed_the_stream_is_taken_as_it_is() -> None:
    assert _wait(last_ingested=CONTAINERS - 1, now=STOPPED + 10_000) == 0.0
    assert _wait(last_ingested=None, now=STOPPED + 60_000) == 0.0


def test_no_settle_time_or_no_stop_time_means_no_wait() -> None:
    assert _wait(last_ingested=None, now=STOPPED, settle=0) == 0.0
    no_stop = settle_wait(
        last_ingested_ms=None, containers_stopped_ms=None, task_stopped_ms=None, now_ms=STOPPED, settle_seconds=10
    )
    assert no_stop == 0.0


def test_a_stop_time_ahead_of_this_clock_waits_no_longer_than_the_settle_time() -> None:
    # Given ECS's stop time is an hour ahead of this clock (skew), Then the wait is still at most the settle time
    assert _wait(last_ingested=None, now=STOPPED - 3_600_000) == 10.0


def test_when_ecs_gives_no_execution_stop_time_the_tasks_stop_time_stands_in() -> None:
    # Given only stoppedAt (the caller passes it as the containers' stop time too)
    # Then an event ingested before it is no evidence, and one ingested after it is
    assert _wait(last_ingested=STOPPED - 1, now=STOPPED + 1000, containers=STOPPED) == 9.0
    assert _wait(last_ingested=STOPPED + 1, now=STOPPED + 1000, containers=STOPPED) == 0.0


def test_epoch_ms_reads_ecs_times_as_the_record_keeps_them() -> None:
    assert epoch_ms("2026-11-18T11:06:40.000Z") == 1_795_000_000_000
    assert epoch_ms("2026-11-18T11:06:40.123+00:00") == 1_795_000_000_123
    assert epoch_ms(None) is None and epoch_ms("") is None
