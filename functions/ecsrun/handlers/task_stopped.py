"""EventBridge target for `ECS Task State Change` (STOPPED): judge the task and wake its execution."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.typing import LambdaContext

from ecsrun import runs
from ecsrun.adapters import wiring
from ecsrun.models.ecs import TaskStateChangeEvent
from ecsrun.observability import instrumented, logger, metrics
from ecsrun.settings import Settings


@instrumented
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    task = parse(event=event, model=TaskStateChangeEvent).detail
    settings = Settings.from_env()
    logger.append_keys(taskArn=task.taskArn, startedBy=task.startedBy)
    result = runs.settle_stopped_task(
        task,
        store=wiring.runs_table(settings),
        callbacks=wiring.callbacks(),
        settings=settings,
    )
    logger.info("task state change handled", extra={"result": result, "version": task.version})
    metrics.add_metric(name="RunsSettled" if result.startswith("settled") else "EventsIgnored", unit="Count", value=1)
    return {"result": result, "taskArn": task.taskArn}
