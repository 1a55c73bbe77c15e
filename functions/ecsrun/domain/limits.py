"""The limits AWS puts on what crosses a service boundary, and how ecsrun fits its documents into them. Pure.

Every document ecsrun hands to another service is bounded here: a Fail state's or SendTaskFailure's cause, a
state's output, a PutEvents entry. A document over its bound is truncated *structurally*: it stays the same
JSON object with the same keys, its longest lists keep their first items and its longest strings their first
characters, and a top-level `"truncated"` object says what was cut, e.g.

    {"message": "...", "problems": [...first 200...], "truncated": {"problems": {"shown": 200, "total": 20000}}}

so a reader can always parse it, and always knows whether it saw everything.

Sources: botocore's models (stepfunctions `SensitiveCause` max 32,768, `SensitiveError` max 256, `SensitiveData`
max 262,144 bytes of UTF-8; events PutEvents), the Step Functions quotas page (256 KiB state payloads; Wait at
most 99,999,999 seconds; a Standard execution lasts at most a year) and EventBridge's PutEvents entry size
calculation (docs/limits.md has the table).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

# ---- what AWS enforces ----

MAX_ERROR_CHARS = 256  # SendTaskFailure / StopExecution error; an execution's error
MAX_CAUSE_CHARS = 32_768  # SendTaskFailure / StopExecution cause; an execution's (and a Fail state's) cause
MAX_PAYLOAD_BYTES = 262_144  # a state's input or output, an execution's input, SendTaskSuccess output (UTF-8)
# EventBridge: "The maximum size for a PutEvents event entry is 256 KB" (current docs say less than 1 MB; the
# smaller bound holds everywhere).
MAX_PUT_EVENTS_ENTRY_BYTES = 262_144
MAX_WAIT_SECONDS = 99_999_999  # a Wait state's Seconds / SecondsPath
MAX_EXECUTION_SECONDS = 365 * 24 * 3600  # a Standard execution's longest life

# ---- what ecsrun allows itself, so that the state it carries stays under MAX_PAYLOAD_BYTES ----

# The run (its RunTask request) travels in every state's input. Half the payload limit leaves room for what
# the states add beside it: an outcome (MAX_OUTCOME_BYTES), a caught error, a retry plan.
MAX_RUN_REQUEST_BYTES = MAX_PAYLOAD_BYTES // 2
# A run's outcome output, an array's summary, a callback's output: documents a state adds to the run.
MAX_OUTCOME_BYTES = 65_536
# An exception message a handler raises: it becomes the Lambda error a Catch puts in the state (and a cause).
MAX_ERROR_MESSAGE_CHARS = 4_096

TRUNCATED = "truncated"
ELLIPSIS = "…"
_SHORTEST_STRING = 40  # strings are cut to no fewer characters than this while anything else can still go


def utf8_bytes(text: str) -> int:
    return len(text.encode("utf-8"))


def fits(document: Any, limit: int, measure: Callable[[str], int] = len) -> bool:
    return measure(json.dumps(document)) <= limit


def fit(document: dict[str, Any], limit: int, measure: Callable[[str], int] = len) -> dict[str, Any]:
    """`document` if `json.dumps(document)` measures at most `limit`; otherwise a copy cut down to fit, with a
    top-level "truncated" object naming each cut: a list's path → {"shown", "total"}, a string's path →
    {"characters": original length}. The largest list or string is cut first, each by as little as fits; a list
    keeps at least its first item (whose own content is cut next if need be)."""
    if fits(document, limit, measure):
        return document
    work = json.loads(json.dumps(document))
    notes: dict[str, Any] = dict(work.pop(TRUNCATED, None) or {})
    while True:
        work[TRUNCATED] = notes
        if fits(work, limit, measure):
            return work
        candidate = _largest(work)
        if candidate is None:
            raise ValueError(f"no document of this shape fits in {limit}")
        cut = _Cut(notes, *candidate)
        low = 1 if isinstance(cut.value, list) else _SHORTEST_STRING
        high = len(cut.value) - 1
        cut.keep(low)
        if not fits(work, limit, measure):
            continue  # cut to the floor; the next largest goes next
        while low < high:
            middle = (low + high + 1) // 2
            cut.keep(middle)
            if fits(work, limit, measure):
                low = middle
            else:
                high = middle - 1
        cut.keep(low)


class _Cut:
    """One list or string of the document being fitted, and the note that says what of it is left."""

    def __init__(self, notes: dict[str, Any], path: str, parent: Any, key: Any, value: Any):
        self.notes, self.path, self.parent, self.key, self.value = notes, path, parent, key, value
        earlier = notes.get(path, {})
        self.total = earlier.get("total", len(value)) if isinstance(value, list) else None
        self.characters = earlier.get("characters", len(value))

    def keep(self, count: int) -> None:
        if isinstance(self.value, list):
            self.parent[self.key] = self.value[:count]
            self.notes[self.path] = {"shown": count, "total": self.total}
        else:
            self.parent[self.key] = self.value[:count] + ELLIPSIS
            self.notes[self.path] = {"characters": self.characters}


def _largest(work: dict[str, Any]) -> tuple[str, Any, Any, Any] | None:
    """(path, parent, key, value) of the largest list (of more than one item) or string (longer than the floor)
    in `work`, its own "truncated" notes aside."""
    best: tuple[int, tuple[str, Any, Any, Any]] | None = None
    stack: list[tuple[str, Any, Any, Any]] = [
        (str(key), work, key, value) for key, value in work.items() if key != TRUNCATED
    ]
    while stack:
        path, parent, key, value = stack.pop()
        # A list keeps at least its first item (then what is inside that is cut); a string its first characters.
        shrinkable = (isinstance(value, list) and len(value) > 1) or (
            isinstance(value, str) and len(value) > _SHORTEST_STRING + len(ELLIPSIS)
        )
        if shrinkable:  # what it holds is smaller than it is: no need to look inside
            size = len(json.dumps(value))
            if best is None or size > best[0]:
                best = (size, (path, parent, key, value))
        elif isinstance(value, dict):
            stack += [(f"{path}.{k}", value, k, v) for k, v in value.items()]
        elif isinstance(value, list):
            stack += [(f"{path}[{i}]", value, i, v) for i, v in enumerate(value)]

    return best[1] if best else None


def bounded_text(text: str, limit: int) -> str:
    """`text` cut to `limit` characters, saying how many were cut."""
    if len(text) <= limit:
        return text
    note = f"{ELLIPSIS} ({len(text)} characters, truncated)"
    return text[: max(0, limit - len(note))] + note


def fit_cause(cause: dict[str, Any], limit: int = MAX_CAUSE_CHARS) -> dict[str, Any]:
    """A run's cause fitted into `limit` characters. Its last log lines matter most, so their earliest go first
    (counted in `lastLogLines.omitted`); anything still too long is cut by `fit`, which says so."""
    if fits(cause, limit):
        return cause
    cause = json.loads(json.dumps(cause))
    tail = cause.get("lastLogLines")
    if isinstance(tail, dict) and isinstance(tail.get("lines"), list):
        while tail["lines"] and not fits(cause, limit):
            tail["lines"].pop(0)
            tail["omitted"] = tail.get("omitted", 0) + 1
    return fit(cause, limit)


def bounded_cause(cause: str, limit: int = MAX_CAUSE_CHARS) -> str:
    """A cause within `limit` characters: a JSON object is fitted as `fit_cause` does (it stays JSON); other text
    is cut."""
    if len(cause) <= limit:
        return cause
    try:
        document = json.loads(cause)
    except ValueError:
        document = None
    if isinstance(document, dict):
        return json.dumps(fit_cause(document, limit))
    return bounded_text(cause, limit)


def bounded_error(error: str) -> str:
    return error[:MAX_ERROR_CHARS]


def put_events_entry_bytes(entry: dict[str, Any]) -> int:
    """An entry's size as EventBridge counts it: 14 bytes for Time if set, plus the UTF-8 bytes of Source,
    DetailType, Detail and each of Resources."""
    size = 14 if entry.get("Time") is not None else 0
    for key in ("Source", "DetailType", "Detail"):
        size += utf8_bytes(str(entry.get(key) or ""))
    return size + sum(utf8_bytes(str(r)) for r in entry.get("Resources") or [])


def fit_put_events_detail(detail: dict[str, Any], source: str, detail_type: str) -> dict[str, Any]:
    """`detail` fitted so that an entry carrying it stays within MAX_PUT_EVENTS_ENTRY_BYTES."""
    room = MAX_PUT_EVENTS_ENTRY_BYTES - 14 - utf8_bytes(source) - utf8_bytes(detail_type)
    return fit(detail, room, utf8_bytes)


def clamp_wait(seconds: float) -> int:
    """A Wait state's seconds: whole, at least 1, at most MAX_WAIT_SECONDS."""
    return int(min(max(1, round(seconds)), MAX_WAIT_SECONDS))
