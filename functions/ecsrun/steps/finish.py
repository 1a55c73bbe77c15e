"""Finish a run: copy its logs, write its manifest, record its outcome."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from ecsrun.adapters.dynamodb import RunsTable, now_iso
from ecsrun.adapters.s3.checkpoints import CopyCheckpoints
from ecsrun.domain.completion import run_summary
from ecsrun.domain.keys import manifest_key
from ecsrun.domain.logsettle import epoch_ms, settle_wait
from ecsrun.domain.models.logs import LogProgress
from ecsrun.domain.models.record import Callback, RunRecord
from ecsrun.domain.outcome import compose
from ecsrun.domain.secrets import override_values, scrub_document
from ecsrun.steps.copy_logs import CopyProgress, copy_run_logs
from ecsrun.steps.firelens_logs import FirelensReader


def settler(record: RunRecord, settle_seconds: float, clock: Callable[[], float]) -> Callable[[LogProgress], float]:
    """How long a stream of this run, read to its end, must wait before it is taken as complete (evidence first,
    bounded by `settle_seconds` after the task stopped: ecsrun.domain.logsettle)."""
    task = record.task
    stopped = epoch_ms(task.stoppedAt) if task else None
    containers_stopped = (epoch_ms(task.executionStoppedAt) or stopped) if task else None

    def wait(progress: LogProgress) -> float:
        return settle_wait(
            last_ingested_ms=progress.ingested,
            containers_stopped_ms=containers_stopped,
            task_stopped_ms=stopped,
            now_ms=round(clock() * 1000),
            settle_seconds=settle_seconds,
        )

    return wait


def finish_run(
    record: RunRecord,
    *,
    store: RunsTable,
    s3: Any,
    bucket: str,
    logs_client: Callable[[str | None], Any],
    tail_lines: int,
    settle_seconds: float = 0,
    caught: dict[str, Any] | None = None,
    resume: bool = False,
    should_pause: Callable[[], bool] | None = None,
    publish: Callable[[dict[str, Any]], None] | None = None,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
    firelens: FirelensReader | None = None,
) -> tuple[dict[str, Any] | None, CopyProgress]:
    """Copy the logs, write the manifest, record the outcome. Safe to repeat: every write is deterministic.

    With `should_pause`, a copy that runs short of time, or must wait up to `settle_seconds` for a stream's
    last lines (`copied.wait_seconds`), returns no outcome and a checkpoint; `resume` continues from the run's
    saved checkpoint.
    `publish` receives the run's completion event once the outcome is recorded. `firelens` reads the FireLens
    routers' files (None: the stack may read no router bucket).
    """
    checkpoints = CopyCheckpoints(s3, bucket)
    checkpoint = checkpoints.load(record.runId) if resume else None
    copied = copy_run_logs(
        record,
        s3=s3,
        bucket=bucket,
        logs_client=logs_client,
        tail_lines=tail_lines,
        checkpoint=checkpoint,
        should_pause=should_pause,
        settle=settler(record, settle_seconds, clock),
        sleep=sleep,
        firelens=firelens,
    )
    if not copied.done:
        return None, copied
    if checkpoint is not None:
        checkpoints.save(copied.finished(record.runId, checkpoint.seq + 1))
        checkpoints.discard_staged(record.runId)
    manifest = manifest_key(record.runId)
    outcome = compose(record, copied.entries, copied.tails, bucket=bucket, manifest=manifest, caught=caught)
    summary = outcome["output"] if outcome["status"] == "SUCCEEDED" else json.loads(outcome["cause"])
    recorded = record.outcome
    if recorded is not None:  # the run ended before its task was known to have stopped: its recorded outcome
        # stands, and the manifest now describes the task as it ended
        summary = {**summary, **{k: recorded.get(k) for k in ("status", "error", "message")}}
    document = {
        **summary,
        "logs": {**summary["logs"], "containers": [e.model_dump(mode="json") for e in copied.entries]},
        "executionArn": record.executionArn,
        "createdAt": record.createdAt,
        "finishedAt": now_iso(),
    }
    body = json.dumps(scrub_document(document, override_values(record.run.request)), indent=2).encode()
    s3.put_object(Bucket=bucket, Key=manifest, Body=body, ContentType="application/json")
    if recorded is not None:
        if record.task_known_stopped:
            store.release(record.runId)
        return outcome, copied
    summary_only = {k: v for k, v in outcome.items() if k != "cause"} | {"manifestKey": manifest}
    if summary.get("message"):  # the failure in one line, for whoever reads the record (an array's verdict)
        summary_only["message"] = summary["message"]
    written = store.finish(
        record.runId,
        summary_only,
        aborted=record.ended_by_abort,
        # Until its task is known to have stopped, the run stays where the reconciler looks.
        release=record.task_known_stopped,
        close_callback=record.callback == Callback.PENDING,
    )
    if not written:  # a retry of this finish (same outcome: announce again, at least once) or another writer's
        now = store.get(record.runId)
        mine = now is not None and now.outcome is not None and now.outcome.get("error") == summary_only.get("error")
        if not mine:
            return outcome, copied
    if publish is not None:
        publish(run_summary(summary, record.executionArn))
    return outcome, copied
