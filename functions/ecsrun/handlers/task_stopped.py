"""EventBridge target for `ECS Task State Change` (STOPPED): judge the task and wake its execution."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ecsrun.domain.models.ecs import TaskStateChangeEvent
from ecsrun.domain.runtask import run_id_from_started_by
from ecsrun.handlers import wiring
from ecsrun.plumbing.observability import instrumented, logger, metrics
from ecsrun.plumbing.settings import Settings
from ecsrun.steps.settle import COPY_RESULTS, settle_stopped_task

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext


@instrumented
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    task = TaskStateChangeEvent.model_validate(event).detail
    settings = Settings.from_env()
    logger.append_keys(taskArn=task.taskArn, startedBy=task.startedBy)
    # A failed callback raises: Lambda's async retries and EventBridge's redelivery complete it, from the
    # recorded verdict (and the reconciler, if they run out).
    result = settle_stopped_task(
        task,
        store=wiring.runs_table(settings),
        callbacks=wiring.callbacks(),
        settings=settings,
    )
    if result in COPY_RESULTS:
        result = _copy_logs_of_aborted_run(settings, task.startedBy, context) or result
    logger.info("task state change handled", extra={"result": result, "version": task.version})
    settled = result.startswith(("settled", "callback"))
    metrics.add_metric(name="RunsSettled" if settled else "EventsIgnored", unit="Count", value=1)
    return {"result": result, "taskArn": task.taskArn}


def _copy_logs_of_aborted_run(settings: Settings, started_by: str | None, context: LambdaContext) -> str | None:
    """The execution is gone, so its CopyLogs state never runs: copy the logs from here. A copy too long for
    this invocation pauses at a checkpoint, and a redelivered event or the reconciler continues it."""
    run_id = run_id_from_started_by(settings.started_by_prefix, started_by)
    store = wiring.runs_table(settings)
    record = store.get(run_id) if run_id else None
    if record is None or record.task is None:
        return None
    done = wiring.copy_unwaited_logs(record, settings, context)
    return "logs copied" if done else "logs copy paused; the reconciler continues it"
