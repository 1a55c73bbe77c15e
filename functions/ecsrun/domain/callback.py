"""The caller's task token: a parent state machine that starts ecsrun with `.waitForTaskToken` puts its token in
the request as `callbackTaskToken`, and ecsrun answers it when the run ends, with the run's output or with its
error name and cause, so the parent can `Catch` ecsrun's error names. Pure.

Which function answers is the one that decides the run's end (docs/calling-from-state-machines.md). What it
answers is built here, within Step Functions' limits (SendTaskFailure: error ≤ 256 characters, cause ≤ 32,768;
SendTaskSuccess: output ≤ 256 KiB of UTF-8, botocore's `SensitiveError`, `SensitiveCause`, `SensitiveData`).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from ecsrun.domain import limits
from ecsrun.domain.completion import ended_error_name, ended_summary
from ecsrun.domain.errors import ErrorName
from ecsrun.domain.models.record import RunRecord
from ecsrun.domain.secrets import override_values, scrub_document

CALLBACK_FIELD = "callbackTaskToken"
MAX_TOKEN = 2048  # botocore `TaskToken`: 1-2,048 characters
MAX_OUTPUT_BYTES = limits.MAX_PAYLOAD_BYTES
MAX_QUOTED_CAUSE = 1000  # of a cause ecsrun did not write, quoted in its own


@dataclass(frozen=True)
class Answer:
    """SendTaskSuccess(output) when `error` is None, else SendTaskFailure(error, cause)."""

    output: str | None = None
    error: str | None = None
    cause: str | None = None

    @property
    def succeeded(self) -> bool:
        return self.error is None


def callback_token(request: Any) -> str | None:
    """The token a request (valid or not) asks ecsrun to answer, if it is one Step Functions could accept."""
    token = request.get(CALLBACK_FIELD) if isinstance(request, dict) else None
    return token if isinstance(token, str) and 0 < len(token) <= MAX_TOKEN else None


def fingerprint(token: str) -> str:
    """What logs say instead of the token, which is a bearer secret: enough to tell two tokens apart."""
    return "sha256:" + hashlib.sha256(token.encode()).hexdigest()[:12]


def answer_for(outcome: dict[str, Any]) -> Answer:
    """The answer to a run's outcome: `{"status": "SUCCEEDED", "output": {...}}`, or
    `{"status": "FAILED", "error": name, "cause": "<JSON>"}` as the execution itself ends with it."""
    if outcome.get("status") == "SUCCEEDED":
        return Answer(output=bounded_output(outcome.get("output") or {}))
    error = str(outcome.get("error") or ErrorName.INTERNAL.value)
    return Answer(error=limits.bounded_error(error), cause=limits.bounded_cause(str(outcome.get("cause") or "")))


def bounded_output(output: dict[str, Any]) -> str:
    """The run's output as JSON; past 256 KiB, what identifies the run and where its manifest is."""
    text = json.dumps(output)
    if len(text.encode()) <= MAX_OUTPUT_BYTES:
        return text
    logs = output.get("logs") or {}
    kept = {
        "runId": output.get("runId"),
        "status": output.get("status"),
        "logs": {"bucket": logs.get("bucket"), "manifestKey": logs.get("manifestKey")},
        "truncated": "the output is over 256 KiB: the manifest holds all of it",
    }
    return json.dumps(kept)


def ended_execution_outcome(
    record: RunRecord | None, execution_arn: str, status: str, error: str | None, cause: str | None
) -> dict[str, Any]:
    """What to answer when the execution ended (FAILED, TIMED_OUT, ABORTED) and nobody had answered: the run's
    recorded outcome if it has one (its answer was lost), else the end as the execution tells it, under one of
    ecsrun's error names (another name, such as States.Runtime, becomes Run.InternalError and is quoted)."""
    own = record if record is not None and record.executionArn == execution_arn else None
    if own is not None and own.outcome is not None:
        return recorded_answer(own)
    name = execution_error_name(status, error)
    if own is None and name == error and cause:  # one of ecsrun's own Fail states: its cause is the document
        return {"status": "FAILED", "error": name, "cause": cause}
    if own is not None:
        summary = ended_summary(own, execution_arn, status, error, cause)
    else:
        summary = {"runId": None, "message": f"the execution ended {status}" + (f" with {error}" if error else "")}
    document = {**summary, "status": "FAILED", "error": name}
    if error and error != name:
        document["executionError"] = error
        document["executionCause"] = (cause or "")[:MAX_QUOTED_CAUSE] or None
    if own is not None:  # a runtime error's cause can quote the state's input, the request with it
        document = scrub_document(document, override_values(own.run.request))
    return {"status": "FAILED", "error": name, "cause": json.dumps(document)}


def recorded_answer(record: RunRecord) -> dict[str, Any]:
    """The caller's answer derived from the run's recorded end (whoever answers, whenever)."""
    recorded = record.outcome or {}
    if recorded.get("status") == "SUCCEEDED":
        output = recorded.get("output") or (recorded if record.array is not None else {"runId": record.runId})
        return {"status": "SUCCEEDED", "output": output}
    document = {
        "runId": record.runId,
        "status": "FAILED",
        "error": recorded.get("error"),
        "message": recorded.get("message"),
        "manifestKey": recorded.get("manifestKey"),
    }
    document |= {k: recorded[k] for k in ("executionError", "executionCause", "array") if recorded.get(k)}
    document |= {k: recorded[k] for k in ("result", "resultError") if k in recorded}  # what the task handed back
    return {"status": "FAILED", "error": recorded.get("error"), "cause": json.dumps(document)}


def execution_error_name(status: str, error: str | None) -> str:
    """The error name a caller sees for an execution that ended `status` with `error`: always one of ecsrun's."""
    return ended_error_name(status, error)
