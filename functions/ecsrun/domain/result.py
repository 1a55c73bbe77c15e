"""The result a task hands back: the last line an essential container printed as `::ecsrun-result::{...}`. Pure.

A task needs no network or AWS permission to hand back a result: its log is read back anyway (CloudWatch Logs
or FireLens files), and the copy notes each container's last result line as it passes (`result_line`), so no
extra read is made. The outcome then takes the latest line among the essential containers (`choose`) and parses
it (`parse`): a JSON object of at most 32 KiB becomes the run's `result`; anything else leaves the verdict alone
and says why in `resultError`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from typing import Any

from ecsrun.domain import jsonbounds
from ecsrun.domain.models.logs import ResultLine
from ecsrun.domain.secrets import scrub

MARKER = "::ecsrun-result::"
MAX_RESULT_BYTES = 32 * 1024
_TYPES = {list: "an array", str: "a string", bool: "a boolean", int: "a number", float: "a number"}


def result_line(message: str, timestamp: int = 0) -> ResultLine | None:
    """The result line in one log event's message, or None. The line starts with the marker (trailing spaces and
    line ends are not part of it); only the first MAX_RESULT_BYTES + 1 characters are kept, enough to know an
    oversized result for what it is without holding it."""
    if not message.startswith(MARKER):
        return None
    text = message[len(MARKER) :].rstrip()
    size = len(text.encode("utf-8", "surrogatepass"))
    return ResultLine(text=text[: MAX_RESULT_BYTES + 1], bytes=size, timestamp=timestamp)


def latest(found: ResultLine | None, events: Iterable[dict[str, Any]]) -> ResultLine | None:
    """`found`, or the last result line among `events` (GetLogEvents' shape: `timestamp`, `message`)."""
    for event in events:
        message = event.get("message")
        if isinstance(message, str) and message.startswith(MARKER):
            found = result_line(message, int(event.get("timestamp") or 0))
    return found


def choose(lines: Iterable[ResultLine | None]) -> ResultLine | None:
    """The run's result line: the latest of its essential containers' (in container order; a tie goes to the one
    listed last)."""
    chosen: ResultLine | None = None
    for line in lines:
        if line is not None and (chosen is None or line.timestamp >= chosen.timestamp):
            chosen = line
    return chosen


def parse(line: ResultLine) -> tuple[dict[str, Any] | None, str | None]:
    """(result, None) for a JSON object within bounds; (None, why not) otherwise."""
    if line.bytes > MAX_RESULT_BYTES:
        return None, f"the result line holds {line.bytes} bytes; a result is at most {MAX_RESULT_BYTES} bytes (32 KiB)"
    try:
        value = jsonbounds.loads(line.text, max_depth=jsonbounds.MAX_REQUEST_DEPTH)
    except jsonbounds.JsonBoundsError as exc:
        return None, f"the result is out of bounds: {exc}"
    except json.JSONDecodeError as exc:
        return None, f"the result is not JSON: {exc.msg} (character {exc.pos + 1})"
    except ValueError as exc:  # e.g. a lone surrogate escape
        return None, f"the result is not JSON: {exc}"
    if _non_finite(value):  # NaN, Infinity, 1e999: no JSON document can carry them on
        return None, "the result is not JSON: it holds NaN or an infinite number"
    if not isinstance(value, dict):
        kind = "null" if value is None else _TYPES.get(type(value), type(value).__name__)
        return None, f"the result is {kind}, not a JSON object"
    return value, None


def _non_finite(value: Any) -> bool:
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, float) and not math.isfinite(item):
            return True
        if isinstance(item, dict):
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return False


def fields(lines: Iterable[ResultLine | None], secrets: list[str]) -> dict[str, Any]:
    """The outcome's `result` or `resultError` (at most one of them; neither when no line was printed), every
    string in them, keys included, scrubbed of `secrets` (the request's override values)."""
    chosen = choose(lines)
    if chosen is None:
        return {}
    value, error = parse(chosen)
    return {"result": _scrubbed(value, secrets)} if error is None else {"resultError": scrub(error, secrets)}


def _scrubbed(value: Any, secrets: list[str]) -> Any:
    """Every string in `value` scrubbed, its keys too: a result's keys are the task's, none of them is an
    identifier that secrets.scrub_document would spare. Recursion is bounded: `parse` read it within
    MAX_REQUEST_DEPTH levels."""
    if not secrets:
        return value
    if isinstance(value, str):
        return scrub(value, secrets)
    if isinstance(value, dict):
        return {scrub(k, secrets): _scrubbed(v, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrubbed(item, secrets) for item in value]
    return value
