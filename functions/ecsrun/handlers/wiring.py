"""The adapters a handler needs, built on the process's shared clients."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ecsrun.adapters import clients
from ecsrun.adapters.dynamodb import RunsTable
from ecsrun.adapters.ecs import Ecs
from ecsrun.adapters.eventbridge import Events
from ecsrun.adapters.stepfunctions import Callbacks, Executions
from ecsrun.domain.completion import completion_entry
from ecsrun.domain.models.record import RunRecord
from ecsrun.plumbing.settings import Settings

if TYPE_CHECKING:
    from ecsrun.steps.copy_logs import CopyProgress


def runs_table(settings: Settings) -> RunsTable:
    return RunsTable(clients.table(settings.runs_table))


def ecs() -> Ecs:
    return Ecs(clients.client("ecs"))


def callbacks() -> Callbacks:
    return Callbacks(clients.client("stepfunctions"))


def executions() -> Executions:
    return Executions(clients.client("stepfunctions"))


def finish(
    record: RunRecord,
    settings: Settings,
    caught: dict[str, Any] | None = None,
    *,
    resume: bool = False,
    should_pause: Callable[[], bool] | None = None,
    settle: bool = True,
) -> tuple[dict[str, Any] | None, CopyProgress]:
    """Copy the run's logs, write its manifest and record its outcome, with this process's clients. `settle`
    False: take each stream as it is (its settle time has been waited out)."""
    from ecsrun.steps.finish import finish_run
    from ecsrun.steps.firelens_logs import FirelensReader

    return finish_run(
        record,
        store=runs_table(settings),
        s3=clients.client("s3"),
        bucket=settings.logs_bucket,
        logs_client=log_reader(settings, should_pause),
        tail_lines=settings.log_tail_lines,
        settle_seconds=settings.log_settle_seconds if settle else 0,
        caught=caught,
        resume=resume,
        should_pause=should_pause,
        publish=completion_publisher(settings),
        firelens=FirelensReader(lambda region: clients.client("s3", region), settings.firelens_buckets)
        if settings.firelens_buckets
        else None,
    )


def log_reader(settings: Settings, should_pause: Callable[[], bool] | None) -> Callable[[str | None], Any]:
    """GetLogEvents for a Region's streams, on the stack's shared pace for that Region, throttling retried; a
    copy that can pause (a resumable hash and `should_pause`) gives up waiting when its time runs short."""
    from ecsrun.adapters.cloudwatch_logs import PacedLogReader
    from ecsrun.adapters.pacing import SharedPace
    from ecsrun.domain import resumable

    give_up = should_pause if resumable.AVAILABLE else None
    paced = bool(settings.pacing_table) and settings.log_reads_per_second > 0

    def reader(region: str | None) -> PacedLogReader:
        logs = clients.client("logs", region)
        pace = None
        if paced:
            assert settings.pacing_table is not None
            name = f"GetLogEvents#{region or logs.meta.region_name}"
            pace = SharedPace(clients.table(settings.pacing_table), name, settings.log_reads_per_second).take
        return PacedLogReader(logs, pace=pace, give_up=give_up)

    return reader


def completion_publisher(settings: Settings) -> Callable[[dict[str, Any]], None]:
    """Puts a run's completion event (a run_summary) on the stack's bus; does nothing where no bus is configured."""
    bus = settings.event_bus_name
    if not bus:
        return lambda detail: None
    events = Events(clients.client("events"))
    return lambda detail: events.put(completion_entry(detail, bus))


def read_manifest(run_id: str, settings: Settings) -> dict[str, Any] | None:
    """A run's manifest (None when it is not there), for an announcement derived from the recorded end."""
    import json

    from botocore.exceptions import ClientError

    from ecsrun.domain.keys import manifest_key

    try:
        body = clients.client("s3").get_object(Bucket=settings.logs_bucket, Key=manifest_key(run_id))["Body"].read()
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
            return None
        raise
    document = json.loads(body)
    return document if isinstance(document, dict) else None


def copy_unwaited_logs(record: RunRecord, settings: Settings, context: Any) -> bool:
    """Copy (or continue copying) the logs of a run no state machine waits for (aborted, or ended before its task
    was known to have stopped), pausing at a checkpoint before this invocation's time runs out; a stream whose last
    lines may still be on their way is waited for here, once, if there is time. True when done."""
    import time

    started_with = context.get_remaining_time_in_millis()
    # Keep a third of this invocation's time (at most the configured reserve) for the page in hand and the pause.
    reserve = min(settings.copy_reserve_seconds * 1000, started_with // 3)

    def pause() -> bool:
        return bool(context.get_remaining_time_in_millis() < reserve)

    outcome, copied = finish(record, settings, resume=True, should_pause=pause)
    wait_ms = copied.wait_seconds * 1000
    if outcome is None and copied.wait_seconds > 0 and context.get_remaining_time_in_millis() - wait_ms > reserve:
        time.sleep(copied.wait_seconds)
        outcome, copied = finish(record, settings, resume=True, should_pause=pause, settle=False)
    return outcome is not None
