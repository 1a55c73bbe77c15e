"""A run on one time axis: spans from the execution's history, the run record and the log manifest, drawn as an
SVG a browser shows (one row per span, in the order they began). Pure: events and records in, text out.

Kinds of span: `execution`; `state` (each state entered, to when it was left); `attempt` (each entry of
StartTaskAndWait: one task start and its wait); `wait` (a Wait state: the backoff before a retry, the wait for
the last log lines); `map` (an array's children); `logs` (CopyLogs, the log copy); `task` (the task's lifetime,
created to stopped); `container` (each container: its process locally, or its first to last log line from the
manifest).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from xml.sax import saxutils

# What XML 1.0 forbids: C0 controls but tab, newline and carriage return; surrogates; U+FFFE and U+FFFF.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def escape(text: str) -> str:
    """`text` as XML character data. A character XML 1.0 forbids (a container's escape sequence, a NUL in an
    execution name) would make the whole SVG ill-formed: each is replaced by U+FFFD, as a decoder marks what it
    cannot show."""
    return saxutils.escape(_NOT_XML.sub("\ufffd", text))


def quoteattr(text: str) -> str:
    """`text` as a quoted XML attribute value, cleaned as `escape` cleans it."""
    return saxutils.quoteattr(_NOT_XML.sub("\ufffd", text))


KINDS = ("execution", "state", "attempt", "wait", "map", "logs", "task", "container")
COLOURS = {
    "execution": "#4b5563",
    "state": "#60a5fa",
    "attempt": "#2563eb",
    "wait": "#fbbf24",
    "map": "#a78bfa",
    "logs": "#34d399",
    "task": "#f97316",
    "container": "#fb923c",
}
WAITS = {
    "WaitBeforeRetry": "backoff before the next attempt",
    "WaitForLogs": "for the task's last log lines to reach CloudWatch Logs",
}
_END_TYPES = ("ExecutionSucceeded", "ExecutionFailed", "ExecutionAborted", "ExecutionTimedOut")


@dataclass(frozen=True)
class Span:
    kind: str
    label: str
    start: float  # epoch seconds
    end: float | None  # None: still going when drawn
    detail: str = ""


def epoch(moment: Any) -> float | None:
    """A datetime, an ISO-8601 string (with Z) or epoch seconds, as epoch seconds."""
    if isinstance(moment, datetime):
        return moment.timestamp()
    if isinstance(moment, (int, float)) and not isinstance(moment, bool):
        return float(moment)
    if isinstance(moment, str) and moment:
        try:
            return datetime.fromisoformat(moment.replace("Z", "+00:00")).timestamp()
        except ValueError:
            return None
    return None


def history_spans(events: list[dict[str, Any]], execution: str = "execution") -> list[Span]:
    """The execution and each state it entered, from GetExecutionHistory's events (any order)."""
    ordered = sorted(events, key=lambda e: e.get("id", 0))
    spans: list[Span] = []
    started = next((e for e in ordered if e.get("type") == "ExecutionStarted"), None)
    ended = next((e for e in ordered if e.get("type") in _END_TYPES), None)
    if started is not None and (begin := epoch(started.get("timestamp"))) is not None:
        end = epoch(ended.get("timestamp")) if ended else None
        outcome = ended["type"].removeprefix("Execution").upper() if ended else "RUNNING"
        spans.append(Span("execution", execution, begin, end, outcome))
    open_states: dict[str, list[tuple[float, str, int]]] = {}
    entries: dict[str, int] = {}
    for event in ordered:
        kind = str(event.get("type", ""))
        moment = epoch(event.get("timestamp"))
        if moment is None:
            continue
        if kind.endswith("StateEntered"):
            name = str((event.get("stateEnteredEventDetails") or {}).get("name", "?"))
            entries[name] = entries.get(name, 0) + 1
            open_states.setdefault(name, []).append((moment, kind, entries[name]))
        elif kind.endswith("StateExited"):
            name = str((event.get("stateExitedEventDetails") or {}).get("name", "?"))
            if open_states.get(name):
                begin, entered, count = open_states[name].pop(0)
                spans.append(_state_span(name, entered, count, begin, moment))
    for name, still in open_states.items():
        spans += [_state_span(name, entered, count, begin, None) for begin, entered, count in still]
    return spans


def _state_span(name: str, entered: str, count: int, start: float, end: float | None) -> Span:
    if name == "StartTaskAndWait":
        return Span("attempt", f"{name} (attempt {count})", start, end)
    if entered == "WaitStateEntered":
        return Span("wait", name, start, end, WAITS.get(name, "a Wait state"))
    if entered == "MapStateEntered":
        return Span("map", name, start, end, "the array's children")
    if name == "CopyLogs":
        label = name if count == 1 else f"{name} (continued, {count})"
        return Span("logs", label, start, end, "the log copy to S3")
    return Span("state", name if count == 1 else f"{name} ({count})", start, end)


def task_spans(task: dict[str, Any] | None) -> list[Span]:
    """The task's lifetime from the run record's task (createdAt or startedAt, to stoppedAt)."""
    if not task or not task.get("taskArn"):
        return []
    begin = epoch(task.get("createdAt")) or epoch(task.get("startedAt"))
    if begin is None:
        return []
    label = f"task {str(task['taskArn']).rsplit('/', 1)[-1][:8]}"
    started = epoch(task.get("startedAt"))
    detail = f"running from +{started - begin:.3f} s" if started is not None else "never ran"
    if task.get("stopCode"):
        detail += f"; {task['stopCode']}"
    return [Span("task", label, begin, epoch(task.get("stoppedAt")), detail)]


def container_spans(containers: list[dict[str, Any]], *, source: str) -> list[Span]:
    """Each container's span: `start`/`stop` (the local agent's process), or a manifest entry's first and last
    log line (`firstTimestamp`/`lastTimestamp`) with `source` "logs"."""
    spans = []
    for entry in containers:
        begin = epoch(entry.get("start", entry.get("firstTimestamp")))
        if begin is None:
            continue
        end = epoch(entry.get("stop", entry.get("lastTimestamp")))
        detail = "its process" if source == "process" else "its first to its last log line"
        if entry.get("exitCode") is not None:
            detail += f"; exit {entry['exitCode']}"
        spans.append(Span("container", f"container {entry.get('name')}", begin, end, detail))
    return spans


def ordered(spans: list[Span]) -> list[Span]:
    """The execution first, then every span by the moment it began (ties keep their order)."""
    rank = {kind: index for index, kind in enumerate(KINDS)}
    return sorted(spans, key=lambda s: (s.kind != "execution", s.start, rank.get(s.kind, len(KINDS))))


def text_lines(spans: list[Span]) -> list[str]:
    """The spans as lines: offset from the first, duration, kind, label."""
    spans = ordered(spans)
    if not spans:
        return []
    origin = min(s.start for s in spans)
    lines = []
    for span in spans:
        length = f"{span.end - span.start:8.3f}s" if span.end is not None else "  running"
        detail = f"  ({span.detail})" if span.detail else ""
        lines.append(f"  +{span.start - origin:8.3f}s {length}  {span.kind:<9} {span.label}{detail}")
    return lines


def _tick_step(total: float) -> float:
    """A round step giving 5 to 10 ticks over `total` seconds."""
    if total <= 0:
        return 1.0
    raw = total / 8
    power = 10 ** math.floor(math.log10(raw))
    return next(step * power for step in (1, 2, 5, 10) if step * power >= raw)


def render_svg(spans: list[Span], title: str) -> str:
    """An SVG Gantt chart: one row per span, in the order they began, on one time axis (seconds from the
    first). Each span is a `<g class="span">` with data-kind, data-label, data-start and data-end (seconds), a
    `<title>` (the tooltip) and its label, so the picture can be read by a program too."""
    spans = ordered(spans)
    label_width, chart_width, row, top = 300, 660, 22, 54
    origin = min((s.start for s in spans), default=0.0)
    finish = max((s.end if s.end is not None else s.start for s in spans), default=origin)
    total = max(finish - origin, 0.001)
    height = top + row * len(spans) + 30

    def x(moment: float) -> float:
        return label_width + (moment - origin) / total * chart_width

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{label_width + chart_width + 20}" height="{height}" '
        f'font-family="sans-serif" font-size="12">',
        f"<title>{escape(title)}</title>",
        f'<text x="8" y="20" font-size="15" font-weight="bold">{escape(title)}</text>',
    ]
    step = _tick_step(total)
    tick = 0.0
    while tick <= total + 1e-9:
        at = x(origin + tick)
        parts.append(f'<line x1="{at:.1f}" y1="32" x2="{at:.1f}" y2="{height - 24}" stroke="#e5e7eb"/>')
        parts.append(f'<text x="{at:.1f}" y="{height - 8}" text-anchor="middle" fill="#6b7280">{tick:g} s</text>')
        tick += step
    for index, span in enumerate(spans):
        y = top + index * row
        end = span.end if span.end is not None else finish
        start_s, end_s = span.start - origin, end - origin
        width = max(x(end) - x(span.start), 2.0)
        tip = f"{span.label}: +{start_s:.3f} s to " + (
            f"+{end_s:.3f} s ({end_s - start_s:.3f} s)" if span.end is not None else "still running"
        )
        if span.detail:
            tip += f"; {span.detail}"
        parts.append(
            f'<g class="span" data-kind={quoteattr(span.kind)} data-label={quoteattr(span.label)} '
            f'data-start="{start_s:.3f}" data-end="{"" if span.end is None else f"{end_s:.3f}"}">'
            f"<title>{escape(tip)}</title>"
            f'<text x="8" y="{y + 15}">{escape(span.label)}</text>'
            f'<rect x="{x(span.start):.1f}" y="{y + 3}" width="{width:.1f}" height="{row - 6}" rx="3" '
            f'fill="{COLOURS.get(span.kind, "#9ca3af")}"/></g>'
        )
    parts.append("</svg>")
    return "\n".join(parts) + "\n"
