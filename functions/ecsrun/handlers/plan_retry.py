"""After a failed attempt, decide whether the run tries again (the ASL's retry loop asks this)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ecsrun.domain.models.base import Model
from ecsrun.handlers import wiring
from ecsrun.plumbing.observability import instrumented_step, logger, metrics
from ecsrun.plumbing.settings import Settings
from ecsrun.steps.retry import plan_retry

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext


class PlanInput(Model):
    runId: str
    executionArn: str


@instrumented_step
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    payload = PlanInput.model_validate(event)
    logger.append_keys(runId=payload.runId, executionArn=payload.executionArn)
    plan = plan_retry(payload.runId, payload.executionArn, store=wiring.runs_table(Settings.from_env()))
    if plan["retry"]:
        metrics.add_metric(name="AttemptsRetried", unit="Count", value=1)
    return plan
