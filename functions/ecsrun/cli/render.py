"""How results read in a terminal: a run's outcome, an array's children, a judged task (pure), and the
printers that stream what happens while a run goes (states entered, each container's lines)."""

from __future__ import annotations

import json
import sys
import threading
from typing import Any

from ecsrun.domain.models.ecs import EcsTask
from ecsrun.domain.models.verdict import Verdict
from ecsrun.domain.verdict import describe_exit_code

# States that decide or end rather than do: a run's live output names what it does, and how it ended (the error
# name), never a choice's name (`RunSucceeded?` on a failed run) nor a Fail state's.
_SILENT = ("ChoiceStateEntered", "FailStateEntered", "SucceedStateEntered")


def show_state(state: Any) -> None:
    kind = getattr(state, "kind", "")
    if kind in _SILENT:
        return
    if kind.startswith("Execution"):
        status = kind.removeprefix("Execution").upper().replace("TIMEDOUT", "TIMED_OUT")
        text = status if state.name == status else f"{status}  {state.name}"
        print(f"  +{state.elapsed:6.2f}s  {text}", flush=True)
        return
    print(f"  +{state.elapsed:6.2f}s  {state.name}", flush=True)


class ContainerLines:
    """Each container's output as it comes, prefixed with its name as `docker compose up` does (`app  | line`);
    an array child's lines with its runId too (`array-demo-2 app  | line`). Called from the reader threads:
    a closed stdout (`| head`) only stops the printing, and the main thread notices at its next print."""

    def __init__(self, names: list[str], *, array: bool = False):
        self._lock = threading.Lock()
        self._width = max((len(n) for n in names), default=0)
        self._array = array
        self.closed = False

    def label(self, run_id: str | None, name: str) -> str:
        return f"{run_id} {name}" if self._array and run_id else name

    def __call__(self, run_id: str | None, name: str, line: str) -> None:
        label = self.label(run_id, name)
        with self._lock:
            if self.closed:
                return
            self._width = max(self._width, len(label))
            try:
                sys.stdout.write(f"{label.ljust(self._width)}  | {line}\n")
                sys.stdout.flush()
            except (BrokenPipeError, ValueError):
                self.closed = True


def plural(count: Any, noun: str) -> str:
    """`1 event`, `2 events`: counts read as English, never `1 events`."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def render_text(result: Any) -> str:
    lines: list[str] = [""]
    if result.status == "SUCCEEDED":
        summary = result.output
        lines.append(f"SUCCEEDED  run {summary['runId']}")
    else:
        try:
            summary = json.loads(result.cause or "{}")
        except json.JSONDecodeError:
            summary = {"message": result.cause}
        lines.append(f"{result.status}  {result.error}: {summary.get('message', '')}")
        for problem in summary.get("problems", []):
            lines.append(f"  - {problem['field']}: {problem['message']}")
    task = summary.get("task") or {}
    if task.get("taskArn"):
        lines.append(f"task   {task['taskArn']}")
        stop = f"stopCode {task.get('stopCode') or '-'}"
        if task.get("stoppedReason"):
            stop += f"  ({task['stoppedReason']})"
        if task.get("capacityProviderName") and not task.get("launchType"):
            launch = f"capacityProvider {task['capacityProviderName']}"
        else:
            launch = f"launchType {task.get('launchType') or '-'}"
        lines.append(f"       {launch}  {stop}")
        for c in task.get("containers", []):
            kind = "essential" if c.get("essential") else "sidecar  "
            reason = f"  {c['reason']}" if c.get("reason") else ""
            code = c.get("exitCode")
            exited = "no exit code" if code is None else f"exit {code}"
            lines.append(f"       {c['name']:<20} {kind}  {exited}{reason}")
    logs = summary.get("logs")
    if logs:
        lines.append(f"logs   s3://{logs['bucket']}/{logs['manifestKey']}")
        for c in logs.get("containers", []):
            if not c.get("key"):
                lines.append(f"       {c['name']}: no logs ({c.get('note')})")
                continue
            lines.append(
                f"       {c['name']}: {plural(c['events'], 'event')}, {plural(c['bytes'], 'byte')}  "
                f"s3://{logs['bucket']}/{c['key']}"
            )
            read_back = result.log_lines(c["key"]) if c["key"] in result.objects else []
            if read_back:
                lines.append(f"         first: {read_back[0]}")
                lines.append(f"         last:  {read_back[-1]}")
    if "result" in summary:
        lines.append(f"result {json.dumps(summary['result'], ensure_ascii=False)}")
    if summary.get("resultError"):
        lines.append(f"result not read: {summary['resultError']}")
    lines += _array_lines(summary.get("array"))
    tail = (summary.get("lastLogLines") or {}).get("lines") or []
    if tail and result.status != "SUCCEEDED":
        lines.append(f"last lines of {summary['lastLogLines']['container']}:")
        lines.extend(f"  | {line}" for line in tail)
    return "\n".join(lines)


def _array_lines(array: dict[str, Any] | None) -> list[str]:
    """An array run's parent: its children's counts and the first failed ones."""
    if not array:
        return []
    lines = [
        f"array  {array['size']} children: {array['succeeded']} succeeded, {array['failed']} failed "
        f"({array['failurePercentage']:g}%; {array['toleratedFailurePercentage']:g}% tolerated)"
    ]
    lines += [f"       {outcome}: {count}" for outcome, count in array["byOutcome"].items()]
    for child in array["failedChildren"][:10]:
        lines.append(f"       failed {child['runId']}: {child['error']}: {child['message']}")
    if array["failed"] > 10:
        lines.append(f"       … and {array['failed'] - 10} more")
    lines.append(f"       summary s3://{array['bucket']}/{array['summaryKey']}")
    return lines


def render_explanation(task: EcsTask, essential: dict[str, bool], verdict: Verdict) -> str:
    lines = ["SUCCEEDED" if verdict.succeeded else f"FAILED  {verdict.error}", verdict.reason]
    if not verdict.succeeded:
        lines.append(f"retryable: {'yes' if verdict.retryable else 'no'}")
    stopped_reason = " ".join((task.stoppedReason or "").split())
    lines.append(f"task   {task.taskArn or '(no taskArn)'}")
    lines.append(
        f"       stopCode {(task.stopCode or '').strip() or '-'}" + (f"  ({stopped_reason})" if stopped_reason else "")
    )
    for c in task.containers:
        kind = "essential" if essential.get(c.name, True) else "sidecar"
        code = "-" if c.exitCode is None else str(c.exitCode)
        signal = describe_exit_code(c.exitCode) if c.exitCode is not None else None
        notes = [note for note in (signal, " ".join((c.reason or "").split())) if note]
        mark = "  <- failing" if c.name == verdict.failingContainer else ""
        lines.append(f"       {c.name:<20} {kind:<9}  exit {code:<4} {'; '.join(notes)}".rstrip() + mark)
    return "\n".join(lines)
