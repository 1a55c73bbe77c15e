"""The run's final word: the execution output on success, the error name and cause on failure. Pure."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from ecsrun.domain import cost, limits, result
from ecsrun.domain.errors import ErrorName
from ecsrun.domain.models.logs import ContainerLog
from ecsrun.domain.models.record import RunRecord, RunStatus
from ecsrun.domain.secrets import override_values, scrub, scrub_document

MAX_TAIL_LINE = 2000
MAX_CAUSE = limits.MAX_CAUSE_CHARS  # kept for callers that name it here


def duplicate(first: RunRecord, execution_arn: str) -> dict[str, Any]:
    """The outcome of an execution that asked for a runId another execution already has."""
    message = f"runId {first.runId!r} is already used by execution {first.executionArn} (status {first.status.value})"
    cause = {
        "runId": first.runId,
        "status": "FAILED",
        "error": ErrorName.DUPLICATE.value,
        "message": message,
        "firstExecutionArn": first.executionArn,
        "executionArn": execution_arn,
    }
    return {"status": "FAILED", "error": ErrorName.DUPLICATE.value, "cause": json.dumps(cause)}


def task_run_seconds(record: RunRecord) -> float | None:
    """How long the task ran, from ECS's startedAt to stoppedAt; None if it never started or never stopped."""
    task = record.task
    if task is None or not task.startedAt or not task.stoppedAt:
        return None
    started, stopped = (datetime.fromisoformat(t.replace("Z", "+00:00")) for t in (task.startedAt, task.stoppedAt))
    return max(0.0, (stopped - started).total_seconds())


def task_summary(record: RunRecord) -> dict[str, Any]:
    task = record.task
    essential = record.essential
    if task is not None:
        containers = [
            {"name": c.name, "essential": essential.get(c.name, True), "exitCode": c.exitCode, "reason": c.reason}
            for c in task.containers
        ]
    else:
        containers = [
            {"name": c.name, "essential": c.essential, "exitCode": None, "reason": None} for c in record.containers
        ]
    return {
        "taskArn": record.taskArn,
        "clusterArn": (task.clusterArn if task else None) or record.clusterArn or None,
        "taskDefinitionArn": task.taskDefinitionArn if task else None,
        "launchType": task.launchType if task else record.run.request.get("launchType"),
        "stopCode": task.stopCode if task else None,
        "stoppedReason": task.stoppedReason if task else None,
        "startedAt": task.startedAt if task else None,
        "stoppedAt": task.stoppedAt if task else None,
        "containers": containers,
    }


def logs_summary(bucket: str, manifest: str, entries: list[ContainerLog]) -> dict[str, Any]:
    return {
        "bucket": bucket,
        "manifestKey": manifest,
        "containers": [
            {
                "name": e.name,
                "logGroup": e.logGroup,
                "logStream": e.logStream,
                "key": e.key,
                "events": e.events,
                "bytes": e.bytes,
                **({"note": e.note} if e.note else {}),
            }
            for e in entries
        ],
    }


def run_cost(record: RunRecord) -> dict[str, Any]:
    """The cost receipt of the run's task (domain/cost.py), from its startedAt/stoppedAt."""
    task = record.task
    started, stopped = (task.startedAt, task.stoppedAt) if task is not None else (None, None)
    return cost.receipt(record.run.costSize, started, stopped, cost.prices())


def _stopped_by_ecsrun(record: RunRecord) -> bool:
    """The run's task ended because ecsrun stopped it (or it was never seen to end on its own)."""
    task = record.task
    if task is None or task.lastStatus == "MISSING":
        return True
    return bool(record.stopRequestedAt) and task.stopCode == "UserInitiated"


def _caught(caught: dict[str, Any] | None, secrets: list[str]) -> tuple[ErrorName, str] | None:
    if not caught:
        return None
    name = str(caught.get("Error") or "")
    known = {e.value: e for e in ErrorName}
    cause = scrub(caught_reason(caught.get("Cause")), secrets)
    return known.get(name, ErrorName.INTERNAL), f"the run ended with {name or 'an unknown error'}: {cause}"


def _failure(record: RunRecord, caught: dict[str, Any] | None) -> tuple[ErrorName, str, str | None] | None:
    """(error, message, failing container) or None if the run succeeded."""
    verdict = record.verdict
    secrets = override_values(record.run.request)
    if record.status == RunStatus.ABORTED:
        if record.ended_by_abort:
            return ErrorName.ABORTED, record.stopReason or "the execution ended before the run", None
        # The execution failed or timed out around the run (a state machine error): its error names the end.
        known = {e.value: e for e in ErrorName}
        ended = f"the execution ended {record.executionStatus} ({record.executionError or 'no error name'})"
        return known.get(record.executionError or "", ErrorName.INTERNAL), ended, None
    if record.timedOut and record.run.costLimitSeconds is not None:
        # The wait was cut to the second the task's estimated cost reached the cap, before timeoutSeconds.
        why = (
            f"the task's estimated cost reached maxCostUsd={record.run.maxCostUsd} after "
            f"{record.run.costLimitSeconds} s; ecsrun stopped it"
        )
        return ErrorName.COST_LIMIT_REACHED, why, verdict.failingContainer if verdict else None
    if record.timedOut:
        why = record.stopReason or f"the run exceeded timeoutSeconds={record.run.timeoutSeconds}"
        return ErrorName.TIMED_OUT, why, verdict.failingContainer if verdict else None
    if record.interrupted and (verdict is None or _stopped_by_ecsrun(record)):
        named = _caught(caught, secrets)
        what = f": {named[1]}" if named else ""
        task = f"its task {record.taskArn} was stopped" if record.taskArn else "no task was started"
        return (
            ErrorName.INTERNAL,
            f"the start of attempt {record.attempt} was interrupted beyond its retries{what}; {task}",
            None,
        )
    if verdict is not None and not verdict.succeeded and verdict.error is not None:
        return verdict.error, verdict.reason, verdict.failingContainer
    if verdict is not None and verdict.succeeded:
        return None
    named = _caught(caught, secrets)
    if named is not None:
        return named[0], named[1], None
    return ErrorName.INTERNAL, "the run ended without a verdict on its task", None


def caught_reason(cause: Any) -> str:
    """What a caught error's cause says, in one line, without a stack trace. A Lambda function's error
    arrives as its error payload (errorType, errorMessage, stackTrace: file paths and code lines); keep the
    type and message only."""
    text = "" if cause is None else str(cause)
    try:
        payload = json.loads(text)
    except ValueError:
        payload = None
    if isinstance(payload, dict) and ("errorMessage" in payload or "errorType" in payload):
        kind, message = payload.get("errorType"), payload.get("errorMessage")
        text = f"{kind}: {message}" if kind and message else str(kind or message or "")
    # A traceback quoted in a message is cut off where it starts.
    text = text.split("Traceback (most recent call last)", 1)[0]
    text = text.split('\n  File "', 1)[0]
    return " ".join(text.split())[:1000]


def _tail_container(record: RunRecord, failing: str | None, tails: dict[str, list[str]]) -> str | None:
    if failing and failing in tails:
        return failing
    return next((c.name for c in record.containers if c.essential and c.name in tails), None)


def compose(
    record: RunRecord,
    entries: list[ContainerLog],
    tails: dict[str, list[str]],
    *,
    bucket: str,
    manifest: str,
    caught: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """`{"status": "SUCCEEDED", "output": …}` or `{"status": "FAILED", "error": …, "cause": "<json>"}`, scrubbed of
    the request's override values (a task that prints its environment puts them in its last log lines)."""
    secrets = override_values(record.run.request)
    failure = _failure(record, caught)
    body: dict[str, Any] = {
        "runId": record.runId,
        "status": "SUCCEEDED",
        "task": task_summary(record),
        "logs": logs_summary(bucket, manifest, entries),
        "attempts": [
            *record.attempts,
            {
                "attempt": record.attempt,
                "taskArn": record.taskArn,
                "error": failure[0].value if failure else None,
                **(record.attemptNote or {}),
            },
        ],
    }
    if record.run.costSize is not None:
        body["cost"] = run_cost(record)
    handed = handed_back(record, entries)
    if failure is None:  # the execution's output: within what a state may carry beside the run
        output = _with_result(
            scrub_document(body, secrets), handed, _fit_output, limits.MAX_OUTCOME_BYTES, limits.utf8_bytes
        )
        return {"status": "SUCCEEDED", "output": output}

    error, message, failing = failure
    tail_from = _tail_container(record, failing, tails)
    lines = [line[:MAX_TAIL_LINE] for line in tails.get(tail_from, [])] if tail_from else []
    cause = {
        **body,
        "status": "FAILED",
        "error": error.value,
        "message": message,
        "failingContainer": failing,
        "retryable": bool(record.verdict and record.verdict.retryable)
        and error not in (ErrorName.TIMED_OUT, ErrorName.COST_LIMIT_REACHED),
        "lastLogLines": {"container": tail_from, "lines": lines},
    }
    # The Fail state's cause: within Step Functions' 32,768 characters, the newest log lines kept.
    fitted = _with_result(scrub_document(cause, secrets), handed, limits.fit_cause, limits.MAX_CAUSE_CHARS, len)
    return {"status": "FAILED", "error": error.value, "cause": json.dumps(fitted)}


def _fit_output(document: dict[str, Any], limit: int) -> dict[str, Any]:
    return limits.fit(document, limit, limits.utf8_bytes)


def handed_back(record: RunRecord, entries: list[ContainerLog]) -> dict[str, Any]:
    """The run's `result` or `resultError` (ecsrun.domain.result) from its essential containers' result lines,
    scrubbed like every output; {} when none printed one."""
    essential = {c.name: c.essential for c in record.containers}
    lines = (e.resultLine for e in entries if essential.get(e.name, True))
    return result.fields(lines, override_values(record.run.request))


_ROOM_NOTE = 200  # the "truncated" note that says a result was left out
_ROOM_REST = 16_384  # what the rest of a document keeps beside a result (its task, logs, attempts; cut to fit)


def _with_result(
    document: dict[str, Any],
    handed: dict[str, Any],
    fit: Callable[[dict[str, Any], int], dict[str, Any]],
    limit: int,
    measure: Callable[[str], int],
) -> dict[str, Any]:
    """`document` fitted within `limit` with the result whole beside it: the rest is cut first, never the result.
    One that cannot fit with the rest (a failure's cause holds 32,768 characters, a result up to 32 KiB) is left
    out, and "truncated" says so: the manifest and the completion event hold it."""
    if not handed:
        return fit(document, limit)
    size = measure(json.dumps(handed))  # merged into the document's object, it adds exactly this much
    if size <= limit - _ROOM_REST:
        return {**fit(document, limit - size), **handed}
    fitted = fit(document, limit - _ROOM_NOTE)
    notes = dict(fitted.get(limits.TRUNCATED) or {})
    notes["result"] = {"omitted": "too large for this document; the manifest and the completion event hold it"}
    return {**fitted, limits.TRUNCATED: notes}
