"""An array run's last step: judge the children by their run records and end the parent."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ecsrun.adapters import clients
from ecsrun.domain.completion import recorded_summary
from ecsrun.domain.models.base import Model
from ecsrun.domain.models.run import Run
from ecsrun.handlers import wiring
from ecsrun.plumbing.observability import instrumented_step, logger, metrics
from ecsrun.plumbing.settings import Settings
from ecsrun.steps import arrays as array_runs
from ecsrun.steps.announce import announce
from ecsrun.steps.callback import answer_caller

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext


class SummarizeInput(Model):
    runId: str
    array: dict[str, Any]
    run: Run | None = None  # the parent's run: its caller's token
    executionName: str
    executionArn: str


@instrumented_step
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    payload = SummarizeInput.model_validate(event)
    settings = Settings.from_env()
    logger.append_keys(runId=payload.runId, executionArn=payload.executionArn)
    store = wiring.runs_table(settings)
    answer, summary = array_runs.summarize(
        payload.runId,
        payload.array,
        payload.executionName,
        payload.executionArn,
        store=store,
        put_object=clients.client("s3").put_object,
        bucket=settings.logs_bucket,
    )
    record = store.get(payload.runId)
    if record is not None and record.outcome is not None and not record.announced:
        announce(
            recorded_summary(record), run_id=payload.runId, store=store, publish=wiring.completion_publisher(settings)
        )
    token = payload.run.callbackTaskToken if payload.run else None
    if record is not None and record.callerAnswer is None:
        try:
            answer_caller(token, answer, callbacks=wiring.callbacks(), store=store, run_id=payload.runId)
        except Exception:  # noqa: BLE001 - a failed answer never changes the verdict; the reconciler answers later
            logger.warning("could not answer the caller; it is answered from the recorded end later", exc_info=True)
    store.release_if_done(payload.runId)
    counts = summary["array"]
    logger.info("array ended", extra={"status": summary["status"], "byOutcome": counts["byOutcome"]})
    metrics.add_metric(name="ArrayChildrenFailed", unit="Count", value=counts["failed"])
    if summary["status"] == "SUCCEEDED":
        metrics.add_metric(name="RunsSucceeded", unit="Count", value=1)
    else:
        metrics.add_metric(name="RunsFailed", unit="Count", value=1)
        metrics.add_metric(name=f"RunsFailed.{summary['error']}", unit="Count", value=1)
    return answer
