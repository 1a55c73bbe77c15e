"""Scheduled: the safety net for missed STOPPED events, failed callbacks, missed abort events, failed stops and
unfinished log copies. A non-zero RunsReconciled metric means events were lost."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ecsrun.handlers import wiring
from ecsrun.plumbing.observability import instrumented, logger, metrics
from ecsrun.plumbing.settings import Settings
from ecsrun.steps.reconcile import reconcile

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext


@instrumented
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, int]:
    settings = Settings.from_env()
    counts = reconcile(
        store=wiring.runs_table(settings),
        ecs=wiring.ecs(),
        callbacks=wiring.callbacks(),
        executions=wiring.executions(),
        settings=settings,
        grace_seconds=settings.reconcile_grace_seconds,
        max_execution_checks=settings.reconcile_execution_checks,
        publish=wiring.completion_publisher(settings),
        copy_logs=lambda record: wiring.copy_unwaited_logs(record, settings, context),
        read_manifest=lambda run_id: wiring.read_manifest(run_id, settings),
    )
    metrics.add_metric(name="RunsReconciled", unit="Count", value=counts["settled"])
    metrics.add_metric(name="TasksLost", unit="Count", value=counts["lost"])
    metrics.add_metric(name="CallbacksRedelivered", unit="Count", value=counts["callbacks"])
    metrics.add_metric(name="RunsAbortedByReconciler", unit="Count", value=counts["aborted"])
    logger.info("reconciled", extra=counts)
    return counts
