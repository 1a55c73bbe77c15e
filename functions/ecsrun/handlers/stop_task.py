"""The run timed out: stop its task. Invoked with `.waitForTaskToken` so logs are copied only after it stops."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel

from ecsrun.handlers import wiring
from ecsrun.plumbing.observability import instrumented, logger, metrics
from ecsrun.plumbing.settings import Settings
from ecsrun.steps.stop import stop_run


class StopInput(BaseModel):
    runId: str
    timeoutSeconds: int
    taskToken: str


@instrumented
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    payload = parse(event=event, model=StopInput)
    settings = Settings.from_env()
    logger.append_keys(runId=payload.runId)
    metrics.add_metric(name="RunsTimedOut", unit="Count", value=1)
    return stop_run(
        payload.runId,
        payload.taskToken,
        f"ecsrun: run {payload.runId} exceeded timeoutSeconds={payload.timeoutSeconds}",
        store=wiring.runs_table(settings),
        ecs=wiring.ecs(),
        callbacks=wiring.callbacks(),
    )
