"""An array run's first step: claim the parent's runId and lay out one child request per element."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ecsrun.adapters import clients
from ecsrun.domain.models.base import Model
from ecsrun.domain.models.run import ContainerSpec, ResolvedDefinition, Run
from ecsrun.handlers import wiring
from ecsrun.plumbing.observability import instrumented_step, logger, metrics
from ecsrun.plumbing.settings import Settings
from ecsrun.steps import arrays as array_runs

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext


class PrepareInput(Model):
    run: Run
    array: dict[str, Any]
    request: dict[str, Any]  # the execution's input: the items are read from it, not carried in the state
    executionName: str
    executionArn: str


@instrumented_step
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    payload = PrepareInput.model_validate(event)
    settings = Settings.from_env()
    logger.append_keys(runId=payload.run.runId, executionArn=payload.executionArn)
    resolved = payload.run.definition
    if resolved is None:  # a run validated before the definition travelled with it
        described = wiring.ecs().describe_task_definition(payload.run.request["taskDefinition"])
        resolved = ResolvedDefinition(
            arn=described["taskDefinitionArn"],
            containers=[ContainerSpec(name=c["name"]) for c in described.get("containerDefinitions", [])],
        )
    result = array_runs.prepare(
        payload.run,
        payload.request,
        payload.array,
        payload.executionName,
        payload.executionArn,
        store=wiring.runs_table(settings),
        containers=[c.name for c in resolved.containers],
        task_definition_arn=resolved.arn,
        put_object=clients.client("s3").put_object,
        bucket=settings.logs_bucket,
        ttl_days=settings.run_record_ttl_days,
    )
    if not result["prepared"]:  # Run.Duplicate: the runId is another execution's, and so are its record and its
        # completion event (nothing is put on the bus under the owner's runId). The caller is answered by
        # ExecutionEnded from this execution's own end, which an abort may still change.
        return result
    logger.info("array laid out", extra={"size": result["size"], "key": result["key"]})
    metrics.add_metric(name="ArrayChildren", unit="Count", value=result["size"])
    return result
