"""The event every run's end puts on the stack's bus, so other rules can chain work on it. Pure.

Source `ecsrun`; detail-type `ecsrun.RunSucceeded` or `ecsrun.RunFailed`; the detail is the run summary below,
the same for both (`error` and `message` are null on success). The schema is documented in docs/outcomes.md.
"""

from __future__ import annotations

import json
from typing import Any

from ecsrun.domain import limits
from ecsrun.domain.errors import ErrorName
from ecsrun.domain.models.record import RunRecord, RunStatus
from ecsrun.domain.outcome import caught_reason, task_summary
from ecsrun.domain.secrets import override_values, scrub_document

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


def unannounced_end(
    record: RunRecord | None, execution_arn: str, status: str, error: str | None, cause: str | None
) -> dict[str, Any] | None:
    """The summary to announce for an execution that ended (FAILED, TIMED_OUT) without its run being announced:
    CopyLogs itself failed (Logs.CopyFailed) after the run's task was judged. None when the run's end is, or will
    be, announced elsewhere (it has an outcome; an aborted run is announced when its cleanup records its
    outcome), or when the run is not this execution's."""
    if record is None or record.executionArn != execution_arn or record.outcome is not None:
        return None
    if record.status == RunStatus.ABORTED:
        return None
    return ended_summary(record, execution_arn, status, error, cause)


def ended_summary(
    record: RunRecord, execution_arn: str, status: str, error: str | None, cause: str | None
) -> dict[str, Any]:
    """The run summary of an execution that ended (FAILED, TIMED_OUT, ABORTED) before its run had an outcome."""
    return run_summary(_ended_summary(record, status, error, cause), execution_arn)


def aborted_without_task(
    record: RunRecord, status: str, error: str | None, cause: str | None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(The completion detail, the outcome to record) of a run whose execution ended before any task existed."""
    summary = _ended_summary(record, status, error, cause)
    outcome = {"status": "FAILED", "error": summary["error"], "message": summary["message"], "manifestKey": None}
    return run_summary(summary, record.executionArn), outcome


def _ended_summary(record: RunRecord, status: str, error: str | None, cause: str | None) -> dict[str, Any]:
    default = ErrorName.ABORTED if status == "ABORTED" else ErrorName.INTERNAL
    summary = {
        "runId": record.runId,
        "status": "FAILED",
        "error": error or default.value,
        "message": f"the execution ended {status}" + (f": {caught_reason(cause)[:500]}" if cause else ""),
        "task": task_summary(record),
        "attempts": [*record.attempts, {"attempt": record.attempt}],
    }
    return dict(scrub_document(summary, override_values(record.run.request)))
