"""A run on one time axis: spans from the execution's history, the run record and the log manifest, drawn as an
SVG a browser shows (one row per span, in the order they began). Pure: events and records in, text out.

Kinds of span: `execution`; `state` (each state entered, to when it was left); `attempt` (each entry of
StartTaskAndWait: one task start and its wait); `wait` (a Wait state: the backoff before a retry, the wait for
the last log lines); `map` (an array's children); `logs` (CopyLogs, the log copy); `task` (the task's lifetime,
created to stopped); `container` (each container: its process locally, or its first to last log line from the
manifest). A container is essential or a sidecar, and its `dependsOn` is drawn as arrows; an array's children
are grouped, each under a row that names it, below a summary row; a span cut short by an abort or a timeout is
marked so.
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
_DECISIONS = frozenset(f"{kind}State{edge}" for kind in ("Choice", "Fail", "Succeed") for edge in ("Entered", "Exited"))
_END_TYPES = ("ExecutionSucceeded", "ExecutionFailed", "ExecutionAborted", "ExecutionTimedOut")


@dataclass(frozen=True)
class Span:
    kind: str
    label: str
    start: float  # epoch seconds
    end: float | None  # None: still going when drawn
    detail: str = ""
    group: str = ""  # "" the run drawn; an array child's runId for the child's spans
    role: str = ""  # a container's: "essential" or "sidecar"
    depends_on: tuple[tuple[str, str], ...] = ()  # a container's dependsOn: (container name, condition)
    mark: str = ""  # how it was cut short: "aborted" or "timed out"


@dataclass(frozen=True)
class Outcome:
    """How the run drawn ended, for the picture's title."""

    status: str  # SUCCEEDED, FAILED, ABORTED, TIMED_OUT, RUNNING, INTERRUPTED
    error: str | None = None
    exit_codes: tuple[tuple[str, int | None], ...] = ()

    def text(self) -> str:
        parts = [self.status]
        if self.error:
            parts.append(self.error)
        if self.exit_codes:
            codes = ", ".join(f"{name} {'no exit code' if code is None else code}" for name, code in self.exit_codes)
            parts.append(f"exit codes: {codes}")
        return " · ".join(parts)


def outcome_of(status: str, summary: Any, error: str | None = None) -> Outcome:
    """An Outcome from an execution's status and error and its output or cause (the run summary)."""
    task = summary.get("task") if isinstance(summary, dict) else None
    containers = (task or {}).get("containers") if isinstance(task, dict) else None
    codes = tuple(
        (str(c.get("name")), c.get("exitCode") if isinstance(c.get("exitCode"), int) else None)
        for c in containers or []
        if isinstance(c, dict)
    )
    return Outcome(status, error, codes)


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
    end_at = epoch(ended.get("timestamp")) if ended else None
    cut = {"ExecutionAborted": "aborted", "ExecutionTimedOut": "timed out"}.get(str((ended or {}).get("type")), "")
    if started is not None and (begin := epoch(started.get("timestamp"))) is not None:
        outcome = ended["type"].removeprefix("Execution").upper() if ended else "RUNNING"
        spans.append(Span("execution", execution, begin, end_at, outcome.replace("TIMEDOUT", "TIMED_OUT"), mark=cut))
    # Each state entered and not yet left: [start, event type, entry count, mark].
    open_states: dict[str, list[list[Any]]] = {}
    entries: dict[str, int] = {}
    latest: list[Any] | None = None
    for event in ordered:
        kind = str(event.get("type", ""))
        moment = epoch(event.get("timestamp"))
        if moment is None:
            continue
        if kind in _DECISIONS:  # a choice or an end takes no time; the outcome is in the title
            continue
        if kind.endswith("StateEntered"):
            name = str((event.get("stateEnteredEventDetails") or {}).get("name", "?"))
            entries[name] = entries.get(name, 0) + 1
            latest = [moment, kind, entries[name], ""]
            open_states.setdefault(name, []).append(latest)
        elif kind == "TaskTimedOut" and latest is not None:  # the callback's TimeoutSeconds ran out
            latest[3] = "timed out"
        elif kind.endswith("StateExited"):
            name = str((event.get("stateExitedEventDetails") or {}).get("name", "?"))
            if open_states.get(name):
                begin, entered, count, mark = open_states[name].pop(0)
                spans.append(_state_span(name, entered, count, begin, moment, mark))
    for name, still in open_states.items():
        # A state still open when the execution ended was cut short by its end (an abort, a timeout).
        spans += [
            _state_span(name, entered, count, begin, end_at, mark or cut) for begin, entered, count, mark in still
        ]
    return spans


def _state_span(name: str, entered: str, count: int, start: float, end: float | None, mark: str = "") -> Span:
    if name == "StartTaskAndWait":
        return Span("attempt", f"{name} (attempt {count})", start, end, mark=mark)
    if entered == "WaitStateEntered":
        return Span("wait", name, start, end, WAITS.get(name, "a Wait state"), mark=mark)
    if entered == "MapStateEntered":
        return Span("map", name, start, end, "the array's children", mark=mark)
    if name == "CopyLogs":
        label = name if count == 1 else f"{name} (continued, {count})"
        return Span("logs", label, start, end, "the log copy to S3", mark=mark)
    return Span("state", name if count == 1 else f"{name} ({count})", start, end, mark=mark)


def task_spans(task: dict[str, Any] | None, group: str = "") -> list[Span]:
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
    return [Span("task", label, begin, epoch(task.get("stoppedAt")), detail, group=group)]


def container_spans(containers: list[dict[str, Any]], *, source: str, group: str = "") -> list[Span]:
    """Each container's span: `start`/`stop` (the local agent's process), or a manifest entry's first and last
    log line (`firstTimestamp`/`lastTimestamp`) with `source` "logs". `essential` (default true) and `dependsOn`
    (the container definition's) when known."""
    spans = []
    for entry in containers:
        begin = epoch(entry.get("start", entry.get("firstTimestamp")))
        if begin is None:
            continue
        end = epoch(entry.get("stop", entry.get("lastTimestamp")))
        detail = "its process" if source == "process" else "its first to its last log line"
        if entry.get("exitCode") is not None:
            detail += f"; exit {entry['exitCode']}"
        role = "" if "essential" not in entry else "essential" if entry["essential"] is not False else "sidecar"
        depends = tuple(
            (str(d.get("containerName")), str(d.get("condition")))
            for d in entry.get("dependsOn") or []
            if isinstance(d, dict)
        )
        label = f"container {entry.get('name')}"
        spans.append(Span("container", label, begin, end, detail, group=group, role=role, depends_on=depends))
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


# The picture's geometry, in viewBox units: it is drawn 100% as wide as the window and scales with it.
WIDTH, LABEL_WIDTH, ROW = 1200, 330, 22
CHART_LEFT, CHART_RIGHT = LABEL_WIDTH + 10, WIDTH - 24
_CUT_COLOUR, _GOOD, _BAD = "#dc2626", "#15803d", "#b91c1c"


@dataclass(frozen=True)
class _Row:
    kind: str  # "span", "group" (an array child's heading) or "summary" (the array's counts)
    text: str
    span: Span | None = None
    indent: int = 0


def _rows(spans: list[Span]) -> list[_Row]:
    """The run's own spans in the order they began; then, for an array, a summary row and each child's spans
    under a row that names it (children in the order they started)."""
    own = [s for s in ordered(spans) if not s.group]
    rows = [_Row("span", s.label, s) for s in own]
    groups: dict[str, list[Span]] = {}
    for span in ordered(spans):
        if span.group:
            groups.setdefault(span.group, []).append(span)
    if not groups:
        return rows
    outcomes = {name: _group_status(members) for name, members in groups.items()}
    counts: dict[str, int] = {}
    for status in outcomes.values():
        counts[status] = counts.get(status, 0) + 1
    tally = ", ".join(f"{count} {status}" for status, count in sorted(counts.items()))
    rows.append(_Row("summary", f"array: {len(groups)} children: {tally}"))
    for name, members in sorted(groups.items(), key=lambda item: min(s.start for s in item[1])):
        rows.append(_Row("group", f"child {name}  {outcomes[name]}"))
        rows += [_Row("span", s.label, s, indent=1) for s in members]
    return rows


def _group_status(members: list[Span]) -> str:
    execution = next((s for s in members if s.kind == "execution"), None)
    return execution.detail if execution is not None and execution.detail else "RUNNING"


def render_svg(spans: list[Span], title: str, outcome: Outcome | None = None) -> str:
    """An SVG Gantt chart: one row per span on one time axis (seconds from the first), the outcome in the title,
    a legend, sidecars told from essential containers, `dependsOn` as arrows, an array's children grouped, and
    a red line where an abort or a timeout cut the run short. Each span is a `<g class="span">` with data-kind,
    data-label, data-start and data-end (seconds), data-group, data-role and data-mark, a `<title>` (the
    tooltip) and its label, so the picture can be read by a program too. 100% of the window wide (viewBox)."""
    rows = _rows(spans)
    top = 124
    height = top + ROW * len(rows) + 34
    origin = min((s.start for s in spans), default=0.0)
    finish = max((s.end if s.end is not None else s.start for s in spans), default=origin)
    total = max(finish - origin, 0.001)

    def x(moment: float) -> float:
        return CHART_LEFT + (moment - origin) / total * (CHART_RIGHT - CHART_LEFT)

    headline = f"{title}  {outcome.text()}" if outcome else title
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" width="100%" '
        f'preserveAspectRatio="xMinYMin meet" font-family="sans-serif" font-size="12">',
        f"<title>{escape(headline)}</title>",
        "<defs>"
        '<marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
        'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#111827"/></marker>'
        '<pattern id="sidecar" patternUnits="userSpaceOnUse" width="6" height="6" patternTransform="rotate(45)">'
        '<rect width="6" height="6" fill="#fed7aa"/><line x1="0" y1="0" x2="0" y2="6" stroke="#fb923c" '
        'stroke-width="3"/></pattern></defs>',
        f'<rect width="{WIDTH}" height="{height}" fill="#ffffff"/>',
        f'<text class="title" x="8" y="22" font-size="16" font-weight="bold">{escape(title)}</text>',
    ]
    if outcome is not None:
        colour = _GOOD if outcome.status == "SUCCEEDED" else _BAD
        parts.append(
            f'<text class="outcome" x="8" y="44" font-size="14" font-weight="bold" fill="{colour}">'
            f"{escape(outcome.text())}</text>"
        )
    parts += _legend(spans, 66)
    step = _tick_step(total)
    tick = 0.0
    while tick <= total + 1e-9:
        at = x(origin + tick)
        parts.append(f'<line x1="{at:.1f}" y1="{top - 8}" x2="{at:.1f}" y2="{height - 24}" stroke="#e5e7eb"/>')
        for y in (top - 12, height - 8):  # the axis above the rows and below them: a long array stays readable
            parts.append(
                f'<text class="tick" x="{at:.1f}" y="{y}" text-anchor="middle" fill="#6b7280">{tick:g} s</text>'
            )
        tick += step
    where: dict[tuple[str, str], tuple[float, Span]] = {}
    extent: dict[str, tuple[float, float]] = {}  # each array child's rows, top to bottom
    for index, row in enumerate(rows):
        y = top + index * ROW
        if row.span is not None and row.span.group:
            first, _ = extent.get(row.span.group, (y, y))
            extent[row.span.group] = (first, y + ROW)
        if row.span is None:
            fill = "#f3f4f6" if row.kind == "summary" else "#f9fafb"
            parts.append(
                f'<g class="{row.kind}"><rect x="0" y="{y}" width="{WIDTH}" height="{ROW}" fill="{fill}"/>'
                f'<text x="8" y="{y + 15}" font-weight="bold">{escape(row.text)}</text></g>'
            )
            continue
        span = row.span
        if span.kind == "container":
            where[(span.group, span.label.removeprefix("container "))] = (y + ROW / 2, span)
        parts.append(_span_row(span, row.indent, y, x, origin, finish))
    parts += _arrows(where, x, finish)
    parts += _cuts(spans, x, (top - 6, height - 24), extent, origin)
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def _span_row(span: Span, indent: int, y: float, x: Any, origin: float, finish: float) -> str:
    end = span.end if span.end is not None else finish
    start_s, end_s = span.start - origin, end - origin
    width = max(x(end) - x(span.start), 2.0)
    tip = f"{span.label}: +{start_s:.3f} s to " + (
        f"+{end_s:.3f} s ({end_s - start_s:.3f} s)" if span.end is not None else "still running"
    )
    details = [d for d in (span.role, span.detail, span.mark and f"cut short: {span.mark}") if d]
    if details:
        tip += "; " + "; ".join(details)
    label = span.label + ("  (sidecar)" if span.role == "sidecar" else "")
    if span.mark:
        label += f"  [{span.mark}]"
    if span.role == "sidecar":
        look = 'fill="url(#sidecar)" stroke="#c2410c" stroke-dasharray="4 2"'
    else:
        look = f'fill="{COLOURS.get(span.kind, "#9ca3af")}"'
        if span.role == "essential":
            look += ' stroke="#7c2d12" stroke-width="1.5"'
    cap = ""
    if span.mark:
        cap = f'<rect x="{x(end) - 3:.1f}" y="{y + 1}" width="3" height="{ROW - 2}" fill="{_CUT_COLOUR}"/>'
    return (
        f'<g class="span" data-kind={quoteattr(span.kind)} data-label={quoteattr(span.label)} '
        f'data-start="{start_s:.3f}" data-end="{"" if span.end is None else f"{end_s:.3f}"}" '
        f"data-group={quoteattr(span.group)} data-role={quoteattr(span.role)} data-mark={quoteattr(span.mark)}>"
        f"<title>{escape(tip)}</title>"
        f'<text x="{8 + 14 * indent}" y="{y + 15}">{escape(label)}</text>'
        f'<rect x="{x(span.start):.1f}" y="{y + 3}" width="{width:.1f}" height="{ROW - 6}" rx="3" {look}/>'
        f"{cap}</g>"
    )


def _arrows(where: dict[tuple[str, str], tuple[float, Span]], x: Any, finish: float) -> list[str]:
    """dependsOn: an arrow from the moment the dependency's condition was met (START, HEALTHY: it started;
    COMPLETE, SUCCESS: it exited) to when the dependent container started."""
    parts = []
    for (group, name), (y, span) in where.items():
        for target, condition in span.depends_on:
            found = where.get((group, target))
            if found is None:
                continue
            y0, dependency = found
            done = dependency.end if dependency.end is not None else finish
            at = dependency.start if condition in ("START", "HEALTHY") else done
            x0, x1 = x(at), x(span.start)
            bend = max(abs(y - y0) / 2, 8) * (1 if y > y0 else -1)
            parts.append(
                f'<path class="depends" data-from={quoteattr(target)} data-to={quoteattr(name)} '
                f'data-condition={quoteattr(condition)} d="M{x0:.1f},{y0:.1f} C{x0:.1f},{y0 + bend:.1f} '
                f'{x1 - 12:.1f},{y:.1f} {x1:.1f},{y:.1f}" fill="none" stroke="#111827" stroke-width="1.2" '
                f'marker-end="url(#arrow)"><title>{escape(f"{name} waits for {target} {condition}")}</title></path>'
            )
    return parts


def _cuts(
    spans: list[Span], x: Any, chart: tuple[float, float], extent: dict[str, tuple[float, float]], origin: float
) -> list[str]:
    """A red line where an execution was aborted or timed out, labelled: across every row for the run drawn,
    across its own rows for an array child."""
    parts = []
    for span in spans:
        if span.kind != "execution" or not span.mark or span.end is None:
            continue
        at = x(span.end)
        y1, y2 = extent.get(span.group, chart) if span.group else chart
        label_y = chart[0] - 24 if not span.group else y1 + 14
        text = f"{span.mark} +{span.end - origin:.1f} s" + (f" ({span.group})" if span.group else "")
        parts.append(
            f'<g class="cut" data-mark={quoteattr(span.mark)}><line x1="{at:.1f}" y1="{y1}" x2="{at:.1f}" '
            f'y2="{y2}" stroke="{_CUT_COLOUR}" stroke-width="2" stroke-dasharray="6 3"/>'
            f'<text x="{at + 4:.1f}" y="{label_y}" fill="{_CUT_COLOUR}" font-weight="bold">{escape(text)}</text></g>'
        )
    return parts


_LEGEND_TEXT = {
    "execution": "execution",
    "state": "state",
    "attempt": "task attempt",
    "wait": "wait",
    "map": "array map",
    "logs": "log copy",
    "task": "ECS task",
    "container": "essential container",
}


def _legend(spans: list[Span], y: float) -> list[str]:
    """What each colour and mark means: only those the picture uses."""
    kinds = [k for k in KINDS if any(s.kind == k for s in spans)]
    items: list[tuple[str, str]] = [
        (f'<rect width="18" height="12" rx="3" fill="{COLOURS[k]}"/>', _LEGEND_TEXT[k]) for k in kinds
    ]
    if any(s.role == "sidecar" for s in spans):
        items.append(('<rect width="18" height="12" rx="3" fill="url(#sidecar)" stroke="#c2410c"/>', "sidecar"))
    if any(s.depends_on for s in spans):
        items.append(('<path d="M0,6 L16,6" stroke="#111827" marker-end="url(#arrow)"/>', "dependsOn"))
    if any(s.mark for s in spans):
        items.append((f'<rect width="4" height="12" fill="{_CUT_COLOUR}"/>', "aborted / timed out"))
    parts = ['<g class="legend">', f'<text x="8" y="{y + 10}" fill="#374151">legend:</text>']
    at = 62.0
    for swatch, text in items:
        parts.append(
            f'<g class="legend-item" transform="translate({at:.0f},{y})">{swatch}'
            f'<text x="24" y="10">{escape(text)}</text></g>'
        )
        at += 34 + 7 * len(text)
    parts.append("</g>")
    return parts
