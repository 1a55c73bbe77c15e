"""The event every run's end puts on the stack's bus, so other rules can chain work on it. Pure.

Source `ecsrun`; detail-type `ecsrun.RunSucceeded` or `ecsrun.RunFailed`; the detail is the run summary below,
the same for both (`error` and `message` are null on success). The schema is documented in docs/outcomes.md.
"""

from __future__ import annotations

import json
from typing import Any

from ecsrun.domain import limits
from ecsrun.domain.errors import ErrorName
from ecsrun.domain.models.record import RunRecord
from ecsrun.domain.outcome import caught_reason, task_summary
from ecsrun.domain.secrets import override_values, scrub, scrub_document

SOURCE = "ecsrun"
SUCCEEDED, FAILED = "ecsrun.RunSucceeded", "ecsrun.RunFailed"


def run_summary(summary: dict[str, Any], execution_arn: str | None) -> dict[str, Any]:
    """The event detail, from a run's output (success) or cause document (failure)."""
    task = summary.get("task") or {}
    logs = summary.get("logs") or {}
    detail = {
        "runId": summary.get("runId"),
        "status": summary.get("status", "FAILED"),
        "error": summary.get("error"),
        "message": summary.get("message"),
        "executionArn": execution_arn,
        "taskArn": task.get("taskArn"),
        "clusterArn": task.get("clusterArn"),
        "stopCode": task.get("stopCode"),
        "stoppedReason": task.get("stoppedReason"),
        "exitCodes": {c["name"]: c.get("exitCode") for c in task.get("containers", [])},
        "attempts": len(summary.get("attempts") or []) or None,
        "logs": {
            "bucket": logs.get("bucket"),
            "manifestKey": logs.get("manifestKey"),
            "keys": {c["name"]: c.get("key") for c in logs.get("containers", [])},
        },
    }
    if "cost" in summary:  # the task's cost receipt (domain/cost.py)
        detail["cost"] = summary["cost"]
    detail |= {k: summary[k] for k in ("result", "resultError") if k in summary}
    if "array" in summary:  # an array run's parent: its children's counts and the first failed ones
        detail["array"] = summary["array"]
    return detail


def completion_entry(detail: dict[str, Any], bus: str) -> dict[str, Any]:
    """One PutEvents entry for `detail` (a run_summary), within EventBridge's 256 KB per entry (a detail too
    large is cut by limits.fit, which says so in "truncated")."""
    detail_type = SUCCEEDED if detail["status"] == "SUCCEEDED" else FAILED
    return {
        "Source": SOURCE,
        "DetailType": detail_type,
        "Detail": json.dumps(limits.fit_put_events_detail(detail, SOURCE, detail_type)),
        "EventBusName": bus,
    }


def ended_summary(
    record: RunRecord, execution_arn: str, status: str, error: str | None, cause: str | None
) -> dict[str, Any]:
    """The run summary of an execution that ended (FAILED, TIMED_OUT, ABORTED) before its run had an outcome."""
    return run_summary(_ended_summary(record, status, error, cause), execution_arn)


def aborted_without_task(
    record: RunRecord, status: str, error: str | None, cause: str | None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(The completion detail, the outcome to record) of a run whose execution ended before its run did."""
    summary = _ended_summary(record, status, error, cause)
    outcome = {"status": "FAILED", "error": summary["error"], "message": summary["message"], "manifestKey": None}
    outcome |= {k: summary[k] for k in ("executionError", "executionCause") if k in summary}
    return run_summary(summary, record.executionArn), outcome


def ended_error_name(status: str, error: str | None) -> str:
    """The error name of a run whose execution ended `status` with `error`: always one of ecsrun's (an abort is
    Run.Aborted whatever error the operator gave StopExecution; an unknown name is Run.InternalError)."""
    if status == "ABORTED":
        return ErrorName.ABORTED.value
    if status == "TIMED_OUT":
        return ErrorName.TIMED_OUT.value
    return error if error in {e.value for e in ErrorName} else ErrorName.INTERNAL.value


def _ended_summary(record: RunRecord, status: str, error: str | None, cause: str | None) -> dict[str, Any]:
    values = override_values(record.run.request)
    name = ended_error_name(status, error)
    summary: dict[str, Any] = {
        "runId": record.runId,
        "status": "FAILED",
        "error": name,
        "message": scrub(
            f"the execution ended {status}" + (f": {caught_reason(cause)[:500]}" if cause else ""), values
        ),
        "task": task_summary(record),
        "attempts": [*record.attempts, {"attempt": record.attempt, **(record.attemptNote or {})}],
    }
    if error and error != name:  # the execution's own error (an operator's, a States.* one) is kept as detail
        summary["executionError"] = scrub(error[:256], values)
        summary["executionCause"] = scrub(caught_reason(cause)[:1000], values) if cause else None
    return dict(scrub_document(summary, values))


def recorded_summary(record: RunRecord, manifest: dict[str, Any] | None = None) -> dict[str, Any]:
    """The completion event's detail of a run that has its outcome, derived from that recorded end (with the
    manifest, when there is one, for the task and the log keys)."""
    outcome = record.outcome or {}
    if record.array is not None:
        base: dict[str, Any] = dict(outcome)  # an array parent's outcome is its summary
    elif manifest is not None:
        base = manifest
    elif isinstance(outcome.get("output"), dict):
        base = outcome["output"]
    else:
        base = {
            "runId": record.runId,
            "task": task_summary(record),
            "attempts": [*record.attempts, {"attempt": record.attempt, **(record.attemptNote or {})}],
            "logs": {"bucket": None, "manifestKey": outcome.get("manifestKey"), "containers": []},
        }
    ended = {k: outcome.get(k) for k in ("status", "error", "message")}
    summary = scrub_document({**base, **ended, "runId": record.runId}, override_values(record.run.request))
    return run_summary(summary, record.executionArn)
