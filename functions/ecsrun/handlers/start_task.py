"""Start the run's task. Invoked with `.waitForTaskToken`: the execution waits until the task stops."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from ecsrun.domain.models.base import Model
from ecsrun.domain.models.run import Run
from ecsrun.handlers import wiring
from ecsrun.plumbing.observability import instrumented_step, logger, metrics
from ecsrun.plumbing.settings import Settings
from ecsrun.steps.start import start_run

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext


class StartInput(Model):
    run: Run
    taskToken: str
    executionArn: str


@instrumented_step
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    payload = StartInput.model_validate(event)
    settings = Settings.from_env()
    logger.append_keys(runId=payload.run.runId, executionArn=payload.executionArn)
    result = start_run(
        payload.run,
        payload.taskToken,
        payload.executionArn,
        store=wiring.runs_table(settings),
        ecs=wiring.ecs(),
        callbacks=wiring.callbacks(),
        settings=settings,
        region=os.environ.get("AWS_REGION", "us-east-1"),
    )
    metrics.add_metric(name="TasksStarted" if result.get("started") else "StartsRefused", unit="Count", value=1)
    return result
