"""An array run's parent: claim its runId, lay out its children for the Distributed Map, and judge them.

The parent's record claims the runId exactly as a single run's does, so a duplicate trigger never fans out
twice. It carries no task: the reconciler has nothing to ask ECS about it, only whether its execution still runs.
"""

from __future__ import annotations

import json
from typing import Any

from ecsrun.adapters.dynamodb import RunExists, RunsTable, new_record
from ecsrun.domain import array as arrays
from ecsrun.domain import array_results, limits
from ecsrun.domain.errors import ErrorName
from ecsrun.domain.keys import children_key, summary_key
from ecsrun.domain.models.record import RunStatus
from ecsrun.domain.models.run import Run


def prepare(
    run: Run,
    request: dict[str, Any],
    array: dict[str, Any],
    execution_name: str,
    execution_arn: str,
    *,
    store: RunsTable,
    containers: list[str],
    task_definition_arn: str,
    put_object: Any,
    bucket: str,
    ttl_days: int,
) -> dict[str, Any]:
    """Claim the parent's runId, then write every child's execution name, runId, index and item where the
    Distributed Map reads them (never a request: its environment values may be secrets). The answer names the
    containers and the task definition revision the parent resolved, which every child is pinned to.
    Idempotent: a retry finds its own claim and writes the same children again."""
    record = new_record(
        runId=run.runId,
        executionArn=execution_arn,
        startedBy="",
        clientToken="",
        run=run,
        ttl_days=ttl_days,
    ).model_copy(update={"status": RunStatus.RUNNING, "array": array})
    try:
        store.create(record)
    except RunExists as exists:
        if exists.existing.executionArn != execution_arn:
            cause = {
                "runId": run.runId,
                "status": "FAILED",
                "error": ErrorName.DUPLICATE.value,
                "message": f"runId {run.runId} is already run by execution {exists.existing.executionArn}; "
                "no child was started",
                "existingExecutionArn": exists.existing.executionArn,
            }
            return {"prepared": False, "error": ErrorName.DUPLICATE.value, "cause": json.dumps(cause)}
    items = arrays.children(request, run.runId, execution_name)
    key = children_key(run.runId)
    put_object(Bucket=bucket, Key=key, Body=json.dumps(items).encode(), ContentType="application/json")
    return {
        "prepared": True,
        "bucket": bucket,
        "key": key,
        "size": len(items),
        "containers": containers,
        "taskDefinitionArn": task_definition_arn,
    }


def summarize(
    run_id: str,
    array: dict[str, Any],
    execution_name: str,
    execution_arn: str,
    *,
    store: RunsTable,
    put_object: Any,
    bucket: str,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(The state machine's answer, the parent's summary) once every child has ended: each child judged by its
    run record, the full list of failures written beside the children, the parent's record finished."""
    size = array["size"]
    names = [arrays.child_execution_name(execution_name, i, size) for i in range(size)]
    records = store.get_many([arrays.child_run_id(run_id, i) for i in range(size)])
    outcomes = [arrays.child_outcome(records.get(arrays.child_run_id(run_id, i)), names[i]) for i in range(size)]
    summary, failed = arrays.summarize(run_id, outcomes, array["toleratedFailurePercentage"])
    handed = [
        (arrays.child_run_id(run_id, i), array_results.child_result(records.get(arrays.child_run_id(run_id, i))))
        for i in range(size)
    ]
    key = summary_key(run_id)
    summary["array"]["summaryKey"] = key
    summary["array"]["bucket"] = bucket
    results = array_results.listed(handed)
    if results:  # each child's result, or its manifest's key past the output's share
        summary["array"]["results"] = results
    document = {**summary, "executionArn": execution_arn, "failedChildren": failed}
    if results:  # every child's result, whole
        document["array"] = {**summary["array"], "results": array_results.listed(handed, budget=None)}
    put_object(Bucket=bucket, Key=key, Body=json.dumps(document).encode(), ContentType="application/json")
    summary = limits.fit(summary, limits.MAX_OUTCOME_BYTES, limits.utf8_bytes)  # the record's outcome, the event
    parent = store.get(run_id)
    ended = store.end(parent, summary) if parent is not None else None
    if ended is not None and not ended.won and ended.outcome is not None:
        # Ended already (a retry of this state, or the parent was aborted and its end recorded): that end stands.
        summary = ended.outcome
    # Counts are exact; the failed children listed (at most 100, every one in the summary object) and their
    # messages are cut to the bounds of an execution's output and cause if they must be, saying so.
    if summary["status"] == "SUCCEEDED":
        output = limits.fit(summary, limits.MAX_OUTCOME_BYTES, limits.utf8_bytes)
        return {"status": "SUCCEEDED", "output": output}, summary
    cause = limits.fit(summary, limits.MAX_CAUSE_CHARS)
    return {"status": "FAILED", "error": summary["error"], "cause": json.dumps(cause)}, summary
