"""Copy every container's logs to S3, write the manifest, and give the run its final outcome."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel

from ecsrun.adapters import wiring
from ecsrun.errors import RunNotFound
from ecsrun.models.run import Run
from ecsrun.observability import instrumented, logger, metrics
from ecsrun.outcome import duplicate
from ecsrun.settings import Settings


class CopyInput(BaseModel):
    run: Run
    executionArn: str
    failure: dict[str, Any] | None = None  # what a Catch caught, if the wait ended in an error


@instrumented
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    payload = parse(event=event, model=CopyInput)
    settings = Settings.from_env()
    run_id = payload.run.runId
    logger.append_keys(runId=run_id)
    store = wiring.runs_table(settings)
    record = store.get(run_id)
    if record is None:
        raise RunNotFound(run_id)
    if record.executionArn != payload.executionArn:
        # The runId belongs to another execution: its logs and manifest are not this execution's to write.
        return duplicate(record, payload.executionArn)

    outcome, entries = wiring.finish(record, settings, caught=payload.failure)
    metrics.add_metric(name="LogEventsCopied", unit="Count", value=sum(e.events for e in entries))
    metrics.add_metric(
        name="RunsSucceeded" if outcome["status"] == "SUCCEEDED" else "RunsFailed", unit="Count", value=1
    )
    return outcome
