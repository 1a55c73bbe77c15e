"""Finish a run: copy its logs, write its manifest, record its outcome."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from ecsrun.adapters.dynamodb import RunsTable, now_iso
from ecsrun.adapters.s3.checkpoints import CopyCheckpoints
from ecsrun.domain import limits
from ecsrun.domain.completion import run_summary
from ecsrun.domain.errors import StaleRecord
from ecsrun.domain.keys import manifest_key
from ecsrun.domain.logsettle import epoch_ms, settle_wait
from ecsrun.domain.models.logs import LogProgress
from ecsrun.domain.models.record import Callback, RunRecord
from ecsrun.domain.outcome import compose, handed_back
from ecsrun.domain.secrets import override_values, scrub_document
from ecsrun.plumbing.observability import logger
from ecsrun.steps.announce import announce, best_effort
from ecsrun.steps.copy_logs import CopyProgress, copy_run_logs
from ecsrun.steps.firelens_logs import FirelensReader
from ecsrun.steps.settle import SETTLE_ATTEMPTS

JSON = "application/json"


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
    The outcome goes through the one door to a run's end (RunsTable.end): a writer that loses adopts the recorded
    end, and the manifest, the answer returned and the completion event follow that end. `publish` receives the
    run's completion event until the record says it was announced.
    `firelens` reads the FireLens routers' files (None: the stack may read no router bucket).
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
    for _ in range(SETTLE_ATTEMPTS):
        outcome = compose(record, copied.entries, copied.tails, bucket=bucket, manifest=manifest, caught=caught)
        summary = outcome["output"] if outcome["status"] == "SUCCEEDED" else json.loads(outcome["cause"])
        summary = {**summary, **handed_back(record, copied.entries)}  # whole here, even if the cause left it out
        recorded = record.outcome
        if recorded is not None:  # the run's end is recorded (it ended before its task stopped, or this writer
            # lost the race to it): that end stands, and the manifest now describes the task as it ended
            summary = {**summary, **{k: recorded.get(k) for k in ("status", "error", "message")}}
        s3.put_object(Bucket=bucket, Key=manifest, Body=_manifest(summary, copied, record), ContentType=JSON)
        if recorded is not None:
            if record.task is not None:  # the manifest now describes the task as it stopped
                store.mark_logs_copied(record.runId)
            with best_effort("announcing"):
                if publish is not None and not record.announced:
                    detail = run_summary(summary, record.executionArn)
                    announce(detail, run_id=record.runId, store=store, publish=publish)
                store.release_if_done(record.runId)
            return adopted(outcome, summary, recorded), copied
        summary_only = {k: v for k, v in outcome.items() if k != "cause"} | {"manifestKey": manifest}
        if "cost" in summary:  # the cost receipt, for `ecsrun list`
            summary_only["cost"] = summary["cost"]
        if summary.get("message"):  # the failure in one line, for whoever reads the record (an array's verdict)
            summary_only["message"] = summary["message"]
        if outcome["status"] != "SUCCEEDED":  # a failed run's result, for status and an array's summary
            summary_only |= {k: summary[k] for k in ("result", "resultError") if k in summary}
        ended = store.end(
            record,
            summary_only,
            aborted=record.ended_by_abort,
            close_callback=record.callback == Callback.PENDING,
            # Only a task known to have stopped has had its logs copied whole; an unknown one's are copied later.
            logs_copied=record.task is not None,
        )
        if ended.won:
            with best_effort("announcing"):
                if publish is not None:
                    detail = run_summary(summary, record.executionArn)
                    announce(detail, run_id=record.runId, store=store, publish=publish)
                store.release_if_done(record.runId)
            return outcome, copied
        if ended.record is None:
            break
        # Lost: another writer ended the run first (adopt its end), or changed its status (an abort while the logs
        # were copied): judge again from the record as it is now. The logs copied stand either way.
        logger.info(
            "another writer changed the run first; adopting the record as it stands",
            extra={"status": ended.record.status.value, "recordedError": (ended.outcome or {}).get("error")},
        )
        record = ended.record
    raise StaleRecord(record.runId)


def _manifest(summary: dict[str, Any], copied: CopyProgress, record: RunRecord) -> bytes:
    document = {
        **summary,
        "logs": {
            **summary["logs"],
            "containers": [e.model_dump(mode="json", exclude={"resultLine"}) for e in copied.entries],
        },
        "executionArn": record.executionArn,
        "createdAt": record.createdAt,
        "finishedAt": now_iso(),
    }
    return json.dumps(scrub_document(document, override_values(record.run.request)), indent=2).encode()


def adopted(outcome: dict[str, Any], summary: dict[str, Any], recorded: dict[str, Any]) -> dict[str, Any]:
    """The state machine's answer for a run whose end was recorded before: that end, with this copy's details."""
    if recorded.get("status") == outcome["status"] and recorded.get("error") == outcome.get("error"):
        return outcome
    if recorded.get("status") == "SUCCEEDED":
        return {"status": "SUCCEEDED", "output": recorded.get("output") or summary}
    cause = {**summary, "status": "FAILED", "error": recorded.get("error"), "message": recorded.get("message")}
    return {"status": "FAILED", "error": recorded.get("error"), "cause": json.dumps(limits.fit_cause(cause))}
