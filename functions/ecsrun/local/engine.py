"""Run one request through the real state machine on the local runtime and report what happened."""

from __future__ import annotations

import gzip
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ecsrun.domain.runtask import execution_name
from ecsrun.local.runtime import LocalAws

# Beyond the run's own timeout, the longest the state machine can still take (stop wait + log copy).
GRACE_SECONDS = 660


@dataclass
class StateEntered:
    """A state entered (kind: the history event's type, `TaskStateEntered`), or the execution's end (kind
    `ExecutionFailed` ...; name: its error, or its status when it has none)."""

    name: str
    elapsed: float
    kind: str = ""


@dataclass
class LocalResult:
    execution_arn: str
    status: str
    output: Any = None
    error: str | None = None
    cause: str | None = None
    states: list[StateEntered] = field(default_factory=list)
    objects: dict[str, bytes] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        """The execution's result, as DescribeExecution gives it (output parsed)."""
        if self.status == "SUCCEEDED":
            return {"status": self.status, "output": self.output}
        return {"status": self.status, "error": self.error, "cause": self.cause}

    def log_lines(self, key: str) -> list[str]:
        return gzip.decompress(self.objects[key]).decode("utf-8").split("\n")[:-1]


def run_local(
    request: Any,
    task_definitions: list[dict[str, Any]],
    *,
    on_state: Callable[[StateEntered], None] | None = None,
    aws: LocalAws | None = None,
    on_tick: Callable[[], None] | None = None,
) -> LocalResult:
    """Start the execution, follow its history until it ends, and collect what the run wrote to S3."""
    if aws is None:
        with LocalAws() as local:
            return run_local(request, task_definitions, on_state=on_state, aws=local, on_tick=on_tick)
    for document in task_definitions:
        aws.register_task_definition(document)
    sfn = aws.client("stepfunctions")
    arn = sfn.start_execution(
        stateMachineArn=aws.state_machine_arn, name=execution_name(request), input=json.dumps(request)
    )["executionArn"]
    timeout = request.get("timeoutSeconds") if isinstance(request, dict) else None
    return follow(aws, arn, timeout_seconds=timeout, on_state=on_state, on_tick=on_tick)


def follow(
    aws: LocalAws,
    arn: str,
    *,
    timeout_seconds: Any = None,
    on_state: Callable[[StateEntered], None] | None = None,
    on_tick: Callable[[], None] | None = None,
) -> LocalResult:
    """Follow an execution's history until it ends, and collect what the run wrote to S3. `on_tick` is called
    each time round (about 20 times a second): a caller may raise from it to stop following."""
    sfn = aws.client("stepfunctions")
    started = time.monotonic()
    valid = isinstance(timeout_seconds, int) and not isinstance(timeout_seconds, bool)
    limit = (timeout_seconds if valid else 3600) + GRACE_SECONDS
    seen = 0
    states: list[StateEntered] = []
    while True:
        described = sfn.describe_execution(executionArn=arn)
        history = sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
        for event in history[seen:]:
            entered = _entered(event, time.monotonic() - started)
            if entered is not None:
                if not entered.kind.startswith("Execution"):  # the states entered; the end is only shown
                    states.append(entered)
                if on_state:
                    on_state(entered)
        seen = len(history)
        if described["status"] != "RUNNING":
            break
        if time.monotonic() - started > limit:
            sfn.stop_execution(executionArn=arn, error="Local.Timeout", cause="the local engine stopped waiting")
            described = sfn.describe_execution(executionArn=arn)
            break
        if on_tick:
            on_tick()
        time.sleep(0.05)
    aws.execution_ended(described)
    aws.agent.wait_all(timeout=60)
    output = described.get("output")
    return LocalResult(
        execution_arn=arn,
        status=described["status"],
        output=json.loads(output) if output else None,
        error=described.get("error"),
        cause=described.get("cause"),
        states=states,
        objects=aws.objects("runs/"),
    )


_ENDS = {
    "ExecutionSucceeded": None,
    "ExecutionFailed": "executionFailedEventDetails",
    "ExecutionAborted": "executionAbortedEventDetails",
    "ExecutionTimedOut": "executionTimedOutEventDetails",
}


def _entered(event: dict[str, Any], elapsed: float) -> StateEntered | None:
    kind = str(event["type"])
    if kind.endswith("StateEntered"):
        return StateEntered(event["stateEnteredEventDetails"]["name"], elapsed, kind)
    if kind in _ENDS:
        details = event.get(_ENDS[kind] or "", {}) if _ENDS[kind] else {}
        status = kind.removeprefix("Execution").upper().replace("TIMEDOUT", "TIMED_OUT")
        return StateEntered(str(details.get("error") or status), elapsed, kind)
    return None


def write_artifacts(
    result: LocalResult, directory: Path, on_refused: Callable[[str], None] | None = None
) -> list[Path]:
    """Each of the run's S3 objects as a file under `directory`, at its key. A key is any text S3 takes: one that
    would land outside `directory` (`runs/../../x`, `/etc/x`, through a symbolic link) is not written, and
    `on_refused` hears of it."""
    root = directory.resolve()
    written = []
    for key, body in result.objects.items():
        path = artifact_path(root, key)
        if path is None:
            if on_refused is not None:
                on_refused(key)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.parent.resolve().is_relative_to(root):  # a link made since: refuse rather than follow
            if on_refused is not None:
                on_refused(key)
            continue
        path.write_bytes(body)
        written.append(path)
    return written


def artifact_path(root: Path, key: str) -> Path | None:
    """Where the object `key` goes under the resolved directory `root`; None when that is not inside it."""
    if not key or "\x00" in key:
        return None
    path = (root / key.lstrip("/")).resolve()
    return path if path != root and path.is_relative_to(root) else None
