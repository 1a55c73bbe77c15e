"""Stop a run's task when its start state ended without a verdict: it timed out (StopTimedOutTask), or its start
was interrupted beyond its retries (StopInterruptedStart). Invoked with `.waitForTaskToken`, so logs are copied
only after the task stops."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from ecsrun.domain.models.base import Model
from ecsrun.handlers import wiring
from ecsrun.plumbing.observability import instrumented_step, logger, metrics
from ecsrun.plumbing.settings import Settings
from ecsrun.steps.stop import INTERRUPTED, stop_run

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext


class StopInput(Model):
    runId: str
    timeoutSeconds: int
    taskToken: str
    stopFor: Literal["timeout", "interrupted"] = "timeout"
    executionArn: str | None = None


@instrumented_step
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    payload = StopInput.model_validate(event)
    settings = Settings.from_env()
    logger.append_keys(runId=payload.runId, executionArn=payload.executionArn)
    if payload.stopFor == INTERRUPTED:
        reason = f"ecsrun: the start of run {payload.runId} was interrupted beyond its retries"
        metrics.add_metric(name="StartsInterrupted", unit="Count", value=1)
    else:
        reason = f"ecsrun: run {payload.runId} exceeded timeoutSeconds={payload.timeoutSeconds}"
        metrics.add_metric(name="RunsTimedOut", unit="Count", value=1)
    return stop_run(
        payload.runId,
        payload.taskToken,
        reason,
        stop_for=payload.stopFor,
        execution_arn=payload.executionArn,
        store=wiring.runs_table(settings),
        ecs=wiring.ecs(),
        callbacks=wiring.callbacks(),
        settings=settings,
    )
