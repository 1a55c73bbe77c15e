"""Copy every container's logs to S3, write the manifest, and give the run its final outcome.

A log too large for one invocation pauses at a checkpoint before time runs out; the state machine
invokes this function again with the `logCopy` it returned until that says `done`. A stream whose last
lines may still be on their way pauses the same way, with `waitSeconds`: the state machine waits that
long in a Wait state (no invocation is billed meanwhile), then invokes this function again.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from ecsrun.domain import resumable
from ecsrun.domain.callback import recorded_answer
from ecsrun.domain.completion import recorded_summary
from ecsrun.domain.models.base import Model
from ecsrun.domain.models.run import Run
from ecsrun.domain.outcome import duplicate, task_run_seconds
from ecsrun.handlers import wiring
from ecsrun.plumbing.observability import instrumented_step, logger, metrics
from ecsrun.plumbing.settings import Settings
from ecsrun.steps.announce import announce, best_effort
from ecsrun.steps.callback import answer_caller
from ecsrun.steps.start import claim_unstarted_run

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext


class CopyState(Model):
    """What the previous invocation returned, passed back by the state machine as `$.logCopy`."""

    done: bool
    checkpoint: dict[str, Any] | None = None
    waitSeconds: int = 0  # > 0: the state machine waited that long for a stream's last lines before this invocation


class CopyInput(Model):
    run: Run
    executionArn: str
    failure: dict[str, Any] | None = None  # what a Catch caught, if the wait ended in an error
    logCopy: CopyState | None = None


def _done(outcome: dict[str, Any]) -> dict[str, Any]:
    return {"done": True, "outcome": outcome, "checkpoint": None, "waitSeconds": 0}


@instrumented_step
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    payload = CopyInput.model_validate(event)
    settings = Settings.from_env()
    run_id = payload.run.runId
    logger.append_keys(runId=run_id, executionArn=payload.executionArn)
    store = wiring.runs_table(settings)
    record = store.get(run_id)
    if record is None:  # the start died before it wrote the record, each time: nothing was started
        record = claim_unstarted_run(payload.run, payload.executionArn, store=store, settings=settings)
    if record.executionArn != payload.executionArn:
        # The runId belongs to another execution: its logs, manifest, record and completion event are not this
        # execution's to write (consumers deduplicate on runId: a Run.Duplicate there would read as the owner's
        # failure). This execution ends Run.Duplicate, and its own caller (never the record's) is told so.
        refused = duplicate(record, payload.executionArn)
        _answer_quietly(payload.run.callbackTaskToken, refused, store=None, run_id=None)
        return _done(refused)

    if record.outcome is not None and record.logsCopied:
        # A retry of this state after the run's end was recorded (the invocation that recorded it failed later, or
        # its answer was lost): the recorded end stands and is what this state returns; nothing is copied again.
        ended = recorded_answer(record)
        with best_effort("finishing an ended run"):
            if not record.announced:
                announce(
                    recorded_summary(record, wiring.read_manifest(run_id, settings)),
                    run_id=run_id,
                    store=store,
                    publish=wiring.completion_publisher(settings),
                )
            if record.callerAnswer is None:
                _answer_quietly(record.run.callbackTaskToken, ended, store=store, run_id=run_id)
            store.release_if_done(run_id)
        return _done(ended)

    if not resumable.AVAILABLE:
        logger.warning("SHA-256 state cannot be saved in this runtime: a log copy cannot pause and continue")
    reserve_ms = settings.copy_reserve_seconds * 1000
    outcome, copied = wiring.finish(
        record,
        settings,
        caught=payload.failure,
        resume=payload.logCopy is not None,
        should_pause=lambda: context.get_remaining_time_in_millis() < reserve_ms,
        # One wait per run: the state machine has waited out the settle time already.
        settle=payload.logCopy is None or payload.logCopy.waitSeconds <= 0,
    )
    if outcome is None:
        saved = copied.checkpoint
        at = saved.current if saved else None
        wait = math.ceil(copied.wait_seconds)  # a Wait state's SecondsPath takes whole seconds
        logger.info(
            "log copy paused; the state machine continues it",
            extra={"seq": saved.seq if saved else None, "container": at.name if at else None, "waitSeconds": wait},
        )
        metrics.add_metric(name="LogSettleWaits" if wait else "LogCopiesContinued", unit="Count", value=1)
        checkpoint = {"seq": saved.seq} if saved else None
        return {"done": False, "outcome": None, "checkpoint": checkpoint, "waitSeconds": wait}
    metrics.add_metric(name="LogEventsCopied", unit="Count", value=sum(e.events for e in copied.entries))
    metrics.add_metric(name="LogBytesCopied", unit="Bytes", value=sum(e.bytes for e in copied.entries))
    seconds = task_run_seconds(record)
    if seconds is not None:
        metrics.add_metric(name="TaskRunSeconds", unit="Seconds", value=seconds)
    if outcome["status"] == "SUCCEEDED":
        metrics.add_metric(name="RunsSucceeded", unit="Count", value=1)
    else:  # the total, and one metric per error name, so an alarm can watch a single kind of failure
        metrics.add_metric(name="RunsFailed", unit="Count", value=1)
        metrics.add_metric(name=f"RunsFailed.{outcome['error']}", unit="Count", value=1)
    with best_effort("answering the caller"):
        now = store.get(run_id)
        if now is not None and now.callerAnswer is None:  # answered already (by this state's retry, or the abort)
            # `outcome` is the recorded end (finish adopts the winner's when it lost).
            _answer_quietly(now.run.callbackTaskToken, outcome, store=store, run_id=run_id)
            store.release_if_done(run_id)
    return _done(outcome)


def _answer_quietly(token: str | None, outcome: dict[str, Any], *, store: Any, run_id: str | None) -> None:
    """A failed answer never changes the verdict: the run's end stands, and the reconciler (or the execution's
    end) answers from the recorded end later."""
    try:
        answer_caller(token, outcome, callbacks=wiring.callbacks(), store=store, run_id=run_id)
    except Exception:  # noqa: BLE001 - the answer is retried from the record, never by failing this state
        logger.warning("could not answer the caller; it is answered from the recorded end later", exc_info=True)
