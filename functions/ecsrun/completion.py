"""The event every run's end puts on the stack's bus, so other rules can chain work on it. Pure.

Source `ecsrun`; detail-type `ecsrun.RunSucceeded` or `ecsrun.RunFailed`; the detail is the run summary below,
the same for both (`error` and `message` are null on success). The schema is documented in the README.
"""

from __future__ import annotations

import json
from typing import Any

SOURCE = "ecsrun"
SUCCEEDED, FAILED = "ecsrun.RunSucceeded", "ecsrun.RunFailed"


def run_summary(summary: dict[str, Any], execution_arn: str | None) -> dict[str, Any]:
    """The event detail, from a run's output (success) or cause document (failure)."""
    task = summary.get("task") or {}
    logs = summary.get("logs") or {}
    return {
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


def completion_entry(detail: dict[str, Any], bus: str) -> dict[str, Any]:
    """One PutEvents entry for `detail` (a run_summary)."""
    return {
        "Source": SOURCE,
        "DetailType": SUCCEEDED if detail["status"] == "SUCCEEDED" else FAILED,
        "Detail": json.dumps(detail),
        "EventBusName": bus,
    }
