"""EventBridge target for this state machine's `Step Functions Execution Status Change` (ABORTED, FAILED,
TIMED_OUT): a run whose execution ended must not leave its task running. The reconciler runs the same cleanup
for a run whose execution it finds ended (these events are delivered on a best-effort basis)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ecsrun.adapters.dynamodb import RunsTable
from ecsrun.domain import jsonbounds
from ecsrun.domain.callback import CALLBACK_FIELD, callback_token, ended_execution_outcome
from ecsrun.domain.models.base import Model
from ecsrun.domain.models.record import RunRecord
from ecsrun.domain.runtask import run_id_for_execution
from ecsrun.handlers import wiring
from ecsrun.plumbing.observability import instrumented, logger, metrics
from ecsrun.plumbing.settings import Settings
from ecsrun.steps.abort import abort_run
from ecsrun.steps.callback import answer_caller

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext


class ExecutionStatus(Model):
    executionArn: str
    name: str
    status: str
    input: str | None = None  # left out when larger than EventBridge carries
    error: str | None = None
    cause: str | None = None


class ExecutionStatusChangeEvent(Model):
    """`aws.states` / `Step Functions Execution Status Change`, as EventBridge delivers it."""

    detail: ExecutionStatus


@instrumented
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    execution = ExecutionStatusChangeEvent.model_validate(event).detail
    settings = Settings.from_env()
    raw_input = execution.input
    if raw_input is None:
        # DescribeExecution's `input` is optional in the API model too: without it the name decides the runId.
        raw_input = wiring.executions().input(execution.executionArn)
    try:
        request = jsonbounds.loads(raw_input or "null", max_depth=jsonbounds.MAX_REQUEST_DEPTH)
    except ValueError as exc:  # not JSON, or out of bounds: no request was ever validated; the name tells the runId
        logger.info("the execution's input is not a request ecsrun reads", extra={"why": str(exc)[:300]})
        # ... but its caller still waits: the token is read from the top level alone.
        token = jsonbounds.top_level_field(raw_input or "null", CALLBACK_FIELD)
        request = {CALLBACK_FIELD: token} if token is not None else None
    run_id = run_id_for_execution(request, execution.name)
    logger.append_keys(runId=run_id, executionArn=execution.executionArn)
    if run_id is None:  # an invalid runId: no record, but the caller still waits for its answer
        _answer_caller(None, request, execution, None)
        return {"result": "ignored: the execution named no valid runId"}
    store = wiring.runs_table(settings)
    publish = wiring.completion_publisher(settings)
    result = abort_run(
        run_id,
        execution.executionArn,
        execution.status,
        store=store,
        ecs=wiring.ecs(),
        callbacks=wiring.callbacks(),
        settings=settings,
        publish=publish,
        error=execution.error,
        cause=execution.cause,
    )
    record = store.get(run_id)
    if result.get("announced"):
        # The function that announces a run's end counts it, as CopyLogs does for the ends it announces.
        metrics.add_metric(name="RunsFailed", unit="Count", value=1)
        metrics.add_metric(name=f"RunsFailed.{result['announced']}", unit="Count", value=1)
    _answer_caller(record, request, execution, store)
    if record is not None and record.executionArn == execution.executionArn:
        store.release_if_done(run_id)
    logger.info("execution ended", extra={"status": execution.status, **result})
    if result["result"] == "aborted":
        metrics.add_metric(name="RunsAborted", unit="Count", value=1)
    return result


def _answer_caller(
    record: RunRecord | None, request: Any, execution: ExecutionStatus, store: RunsTable | None
) -> str | None:
    """The execution ended and its caller may not have its answer: an abort, a crash, a log copy that failed,
    or an answer that failed where the run ended. A token already answered is found closed, and recorded so."""
    own = record is not None and record.executionArn == execution.executionArn
    if own and record is not None:
        if record.callerAnswer is not None:
            return None
        token = record.run.callbackTaskToken
    else:  # no record of this execution's own (an invalid request, a duplicate, a crash before the record)
        token = callback_token(request)
    outcome = ended_execution_outcome(
        record, execution.executionArn, execution.status, execution.error, execution.cause
    )
    return answer_caller(
        token,
        outcome,
        callbacks=wiring.callbacks(),
        store=store if own else None,
        run_id=record.runId if own and record is not None else None,
    )
