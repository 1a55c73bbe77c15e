"""The one shape `--output json` has, on every command that judges or reports a run: `local run`, `start`,
`status`, `list` (one per run, under `runs`), `explain` and `validate`. Pure.

Every document carries the same seven keys, null when they do not apply, then the command's own:

- `runId`, `executionArn`: which run (null where there is none, as for `explain` and `validate`);
- `status`: `SUCCEEDED` or `FAILED` for a verdict (a run that ended, a judged task, a checked request), else the
  execution's status (`RUNNING`, `TIMED_OUT`, `ABORTED`);
- `error`: the error name (`ECS.ContainerExitedNonZero`, `RunRequest.Invalid`, ...) or null;
- `message`: one line a person can act on, or null;
- `output`: the execution's output, parsed; null unless it succeeded;
- `cause`: the execution's cause, parsed when it is JSON (every ecsrun cause is), kept as text otherwise.

docs/cli.md documents it; docs/cli-output.schema.json is its JSON Schema (tests check every command against it).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

CORE = ("runId", "executionArn", "status", "error", "message", "output", "cause")


def parse_cause(cause: Any) -> Any:
    """A cause as JSON when it is JSON (an object or a list), else the text as it came."""
    if not isinstance(cause, str):
        return cause
    try:
        parsed = json.loads(cause)
    except (ValueError, RecursionError):
        return cause
    return parsed if isinstance(parsed, (dict, list)) else cause


def message_of(output: Any, cause: Any) -> str | None:
    """The one-line message a run's cause (or an array's output) carries."""
    for source in (cause, output):
        if isinstance(source, dict) and isinstance(source.get("message"), str):
            return str(source["message"])
    if isinstance(cause, str) and cause:
        return " ".join(cause.split())[:500]
    return None


def document(
    *,
    status: str | None,
    run_id: str | None = None,
    execution_arn: str | None = None,
    error: str | None = None,
    message: str | None = None,
    output: Any = None,
    cause: Any = None,
    **extra: Any,
) -> dict[str, Any]:
    """The document: the seven core keys in their order, then the command's own keys (None values kept)."""
    parsed = parse_cause(cause)
    core = {
        "runId": run_id,
        "executionArn": execution_arn,
        "status": status,
        "error": error,
        "message": message if message is not None else (message_of(output, parsed) if error or output else None),
        "output": output,
        "cause": parsed,
    }
    # What the task handed back (ecsrun.domain.result), where a script looks first; also inside output or cause.
    handed = {k: v[k] for v in (parsed, output) if isinstance(v, dict) for k in ("result", "resultError") if k in v}
    return {**core, **handed, **{k: v for k, v in extra.items() if k not in core}}


def execution_document(described: dict[str, Any], run_id: str | None, **extra: Any) -> dict[str, Any]:
    """A run's document from DescribeExecution (or a LocalResult in the same shape)."""
    raw_output = described.get("output")
    output = json.loads(raw_output) if isinstance(raw_output, str) and raw_output else raw_output
    return document(
        status=described.get("status"),
        run_id=run_id,
        execution_arn=described.get("executionArn"),
        error=described.get("error"),
        output=output,
        cause=described.get("cause"),
        **extra,
    )


def iso(moment: Any) -> str | None:
    if isinstance(moment, datetime):
        return moment.isoformat(timespec="milliseconds")
    return None if moment is None else str(moment)


def duration_seconds(start: Any, stop: Any) -> float | None:
    if isinstance(start, datetime) and isinstance(stop, datetime):
        return round((stop - start).total_seconds(), 3)
    return None
