"""Named faults for `ecsrun local run --fault NAME[=VALUE]`: the races and failures the guarantees hold against,
on demand.

Each fault is a hook of the local runtime (what EventBridge delivers, what an AWS call answers, where a function
dies); none changes the pipeline's logic. Whatever the fault, the run must keep its invariants (docs/guarantees.md)
and end with the verdict its task earns.
"""

from __future__ import annotations

import copy
import functools
import json
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

if TYPE_CHECKING:
    from ecsrun.local.runtime import LocalAws


@dataclass(frozen=True)
class Fault:
    name: str
    help: str
    value: str | None = None  # the VALUE it takes ("SECONDS"), or None for a fault without one


CATALOG: dict[str, Fault] = {
    f.name: f
    for f in (
        Fault("duplicate-stopped-event", "EventBridge delivers every STOPPED event twice."),
        Fault(
            "stale-stopped-event",
            "attempt 1's task fails to start (a transient image pull error, so the run retries), and its STOPPED "
            "event is delivered again during attempt 2. Needs a retry policy of 2+ attempts (the default).",
        ),
        Fault(
            "foreign-task-event",
            "while the run starts, someone else runs a task with this run's startedBy on another cluster "
            "(ecsrun-foreign); it exits 0 and its STOPPED event reaches the run's rule.",
        ),
        Fault(
            "drop-stopped-event",
            "every STOPPED event of the run's tasks is lost: the reconciler (every 5 s locally) settles the run.",
        ),
        Fault(
            "callback-fails-once",
            "the first SendTaskSuccess/SendTaskFailure fails with ServiceUnavailable (after the SDK's retries).",
        ),
        Fault("runtask-slow", "RunTask answers SECONDS after it launched the task (up to 600).", value="SECONDS"),
        Fault(
            "start-crash-after-runtask",
            "the start function dies (a Lambda timeout) right after RunTask answered, before it records the task.",
        ),
        Fault(
            "drop-execution-status-event",
            "Step Functions' Execution Status Change events are lost (they are best effort): an aborted run is "
            "found by the reconciler.",
        ),
        Fault("logs-throttled", "CloudWatch Logs throttles the first 5 GetLogEvents calls."),
        Fault("s3-throttled", "S3 answers SlowDown to the first 3 object writes."),
    )
}
MAX_SLOW_SECONDS = 600
FOREIGN_CLUSTER = "ecsrun-foreign"


class FaultError(ValueError):
    """An unknown fault name or a bad value (a usage error: one line, exit 2)."""


class LocalCrash(BaseException):
    """The function's process died here (a timeout, out of memory). Step Functions names such a death
    `Lambda.Unknown`: "Unhandled errors in Lambda are reported as Lambda.Unknown in the error output. These include
    out-of-memory errors and function timeouts." (Step Functions Developer Guide, "Handle Lambda service
    exceptions", https://docs.aws.amazon.com/step-functions/latest/dg/bp-lambda-serviceexception.html)."""

    error_type = "Lambda.Unknown"


def catalog_text() -> str:
    """The catalog, for --help."""
    lines = []
    for fault in CATALOG.values():
        name = f"{fault.name}={fault.value}" if fault.value else fault.name
        lines.append(f"  {name}\n      {fault.help}")
    return "\n".join(lines)


def parse(specs: list[str]) -> dict[str, float | None]:
    """`NAME` or `NAME=VALUE` items → {name: value}. Raises FaultError with a one-line message."""
    chosen: dict[str, float | None] = {}
    for spec in specs:
        name, sep, raw = spec.partition("=")
        fault = CATALOG.get(name)
        if fault is None:
            raise FaultError(f"--fault {name!r} is not a known fault (known: {', '.join(CATALOG)})")
        if fault.value is None:
            if sep:
                raise FaultError(f"--fault {name} takes no value")
            chosen[name] = None
            continue
        if not sep or not raw:
            raise FaultError(f"--fault {name} needs a value: {name}={fault.value}")
        try:
            value = float(raw)
        except ValueError:
            raise FaultError(f"--fault {name}={raw}: {fault.value} must be a number") from None
        if not 0 < value <= MAX_SLOW_SECONDS:
            raise FaultError(f"--fault {name}={raw}: {fault.value} must be more than 0 and at most {MAX_SLOW_SECONDS}")
        chosen[name] = value
    return chosen


def _throttle(
    error: str, message: str, times: int, said: Callable[[], None]
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Wrap a moto backend method: the first `times` calls answer `error` (the retries then succeed)."""
    from moto.core.exceptions import JsonRESTError

    left = [times]
    lock = threading.Lock()

    def wrap(original: Callable[..., Any]) -> Callable[..., Any]:
        def flaky(*args: Any, **kwargs: Any) -> Any:
            with lock:
                fire = left[0] > 0
                left[0] -= fire
            if fire:
                said()
                raise JsonRESTError(error, message)
            return original(*args, **kwargs)

        return flaky

    return wrap


class _Injector:
    """The hooks one set of faults installs on a LocalAws (undone with its other patches on exit)."""

    def __init__(self, aws: LocalAws, faults: dict[str, float | None]):
        self.aws = aws
        self.faults = faults
        self.current = threading.local()  # the function whose invocation runs in this thread
        self.held: list[dict[str, Any]] = []  # attempt 1's STOPPED event, for stale-stopped-event
        self.first_task: str | None = None  # the run's first task (set by RunTask or the agent, whichever is first)
        self.lock = threading.Lock()
        self.launched: list[str] = []
        self.callback_failed = False
        self.crashed = False
        self.foreign_started = False
        self.fired: set[str] = set()

    def said(self, name: str, text: str) -> None:
        """One line on stderr the first time a fault fires, so a run that shows no such line was not faulted."""
        with self.lock:
            first = name not in self.fired
            self.fired.add(name)
        if first:
            print(f"ecsrun local: fault {name}: {text}", file=sys.stderr, flush=True)

    # ---- EventBridge ----

    def event_faults(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        stopped = event.get("source") == "aws.ecs" and event.get("detail", {}).get("lastStatus") == "STOPPED"
        if stopped and "drop-stopped-event" in self.faults:
            self.said("drop-stopped-event", "a STOPPED event was lost; the reconciler must settle the run")
            return []
        if event.get("source") == "aws.states" and "drop-execution-status-event" in self.faults:
            self.said("drop-execution-status-event", "an Execution Status Change event was lost")
            return []
        delivered = [event]
        if stopped and "duplicate-stopped-event" in self.faults:
            self.said("duplicate-stopped-event", "a STOPPED event is delivered twice")
            delivered.append(copy.deepcopy(event))
        if stopped and "stale-stopped-event" in self.faults and event["detail"].get("taskArn") == self.first_task:
            self.held.append(copy.deepcopy(event))
        return delivered

    # ---- the functions' AWS clients ----

    def invoke_handler(self, original: Callable[..., tuple[Any, bool]]) -> Callable[..., tuple[Any, bool]]:
        def invoke(logical_id: str, arn: str, event: Any) -> tuple[Any, bool]:
            self.current.function = logical_id
            try:
                return original(logical_id, arn, event)
            except LocalCrash as crash:
                return {"errorMessage": f"{logical_id} died: {crash}", "errorType": crash.error_type}, True
            finally:
                self.current.function = None

        return invoke

    def client(self, original: Callable[..., Any]) -> Callable[..., Any]:
        def client(service: str, region: str | None = None) -> Any:
            real = original(service, region)
            if service == "stepfunctions" and "callback-fails-once" in self.faults:
                return _Wrapped(real, {"send_task_success": self._callback, "send_task_failure": self._callback})
            if service == "ecs" and "start-crash-after-runtask" in self.faults:
                return _Wrapped(real, {"run_task": self._crash_after})
            return real

        client.cache_clear = original.cache_clear  # type: ignore[attr-defined] # clients.reset() calls it
        return client

    def _callback(self, call: Callable[..., Any], **kwargs: Any) -> Any:
        if not self.callback_failed:
            self.callback_failed = True
            self.said("callback-fails-once", "SendTaskSuccess/SendTaskFailure failed with ServiceUnavailable")
            response: Any = {
                "Error": {"Code": "ServiceUnavailable", "Message": "ecsrun local fault callback-fails-once"},
                "ResponseMetadata": {"HTTPStatusCode": 503},
            }
            raise ClientError(response, getattr(call, "__name__", "SendTask"))
        return call(**kwargs)

    def _crash_after(self, call: Callable[..., Any], **kwargs: Any) -> Any:
        answer = call(**kwargs)
        if not self.crashed and getattr(self.current, "function", None) == "StartTaskFunction":
            self.crashed = True
            self.said(
                "start-crash-after-runtask",
                f"StartTaskFunction died after RunTask answered ({LocalCrash.error_type}; "
                "the state machine retries it)",
            )
            raise LocalCrash("ecsrun local fault start-crash-after-runtask: died after RunTask answered")
        return answer

    # ---- ECS ----

    def run_task(self, original: Callable[..., Any]) -> Callable[..., Any]:
        injector = self

        def run_task(backend: Any, cluster_str: str, task_definition_str: str, *args: Any, **kwargs: Any) -> Any:
            if cluster_str.rsplit("/", 1)[-1] == FOREIGN_CLUSTER:
                return original(backend, cluster_str, task_definition_str, *args, **kwargs)
            if "foreign-task-event" in injector.faults and not injector.foreign_started:
                # Before the run's own task exists (its start is in flight), someone else's ends.
                injector.foreign_started = True
                injector.said(
                    "foreign-task-event", f"a task with this run's startedBy ran on cluster {FOREIGN_CLUSTER}"
                )
                started_by = args[2] if len(args) > 2 else kwargs.get("started_by")
                with injector.aws.acting_as(None):  # someone else's call, not the start function's
                    injector._start_foreign(task_definition_str, started_by or "")
            tasks = original(backend, cluster_str, task_definition_str, *args, **kwargs)
            for task in tasks:
                injector.launched.append(task.task_arn)
                injector.first(task.task_arn)
            if "stale-stopped-event" in injector.faults and len(injector.launched) > 1 and injector.held:
                # Attempt 2 is starting (its ARN not yet recorded): attempt 1's event comes again, now and soon after.
                event = injector.held[0]
                injector.said("stale-stopped-event", "attempt 1's STOPPED event is delivered again during attempt 2")
                with injector.aws.acting_as(None):  # EventBridge delivers it, not the start function
                    injector.aws.deliver_event(copy.deepcopy(event))
                threading.Timer(1.0, lambda: injector.aws.deliver_event(copy.deepcopy(event))).start()
            slow = injector.faults.get("runtask-slow")
            if slow:
                injector.said("runtask-slow", f"RunTask answers {slow:g} s after it launched the task")
                time.sleep(slow)
            return tasks

        return run_task

    def first(self, task_arn: str) -> bool:
        """Note `task_arn` as the run's first task unless one is known; True if it is the first."""
        with self.lock:
            self.first_task = self.first_task or task_arn
            return self.first_task == task_arn

    def _start_foreign(self, task_definition: str, started_by: str) -> None:
        """Someone else's RunTask: same task definition and startedBy, on another cluster, exiting 0 at once."""
        self.aws._create_cluster(FOREIGN_CLUSTER)
        definition = self.aws.client("ecs").describe_task_definition(taskDefinition=task_definition)
        first = definition["taskDefinition"]["containerDefinitions"][0]["name"]
        started = self.aws.client("ecs").run_task(
            cluster=FOREIGN_CLUSTER,
            taskDefinition=task_definition,
            startedBy=started_by,
            launchType="EC2",
            networkConfiguration={"awsvpcConfiguration": {"subnets": ["subnet-0123456789abcdef0"]}},
            overrides={
                "containerOverrides": [{"name": first, "command": ["/bin/sh", "-c", "echo foreign task; exit 0"]}]
            },
        )
        # It ends, and its STOPPED event is delivered, before the run's own RunTask answers.
        for task in started.get("tasks", []):
            local = self.aws.agent.task(task["taskArn"])
            if local is not None:
                local.done.wait(30)

    def prepare(self, original: Callable[..., Any]) -> Callable[..., Any]:
        injector = self

        def prepare(agent: Any, task: Any) -> str | None:
            # The agent may prepare the task before RunTask has returned: the first of the run's tasks it sees
            # is the first task too.
            ours = not task.cluster_arn.endswith(f"/{FOREIGN_CLUSTER}")
            if ours and injector.first(task.task_arn) and "stale-stopped-event" in injector.faults:
                return (
                    "CannotPullContainerError: pull image manifest has been retried 1 time(s): i/o timeout "
                    "(ecsrun local fault stale-stopped-event)"
                )
            result: str | None = original(agent, task)
            return result

        return prepare


class _Wrapped:
    """A boto3 client with some operations routed through a fault."""

    def __init__(self, real: Any, faulty: dict[str, Callable[..., Any]]):
        self._real, self._faulty = real, faulty

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._real, name)
        if name in self._faulty:
            fault = self._faulty[name]
            return lambda **kwargs: fault(attribute, **kwargs)
        return attribute


def install(aws: LocalAws, faults: dict[str, float | None]) -> None:
    """Install the chosen faults on an entered LocalAws; its exit undoes them."""
    if not faults:
        return
    from moto.ecs.models import EC2ContainerServiceBackend
    from moto.logs.models import LogsBackend
    from moto.s3.models import S3Backend

    from ecsrun.adapters import clients
    from ecsrun.local.agent import LocalEcsAgent

    injector = _Injector(aws, faults)
    aws.event_faults = injector.event_faults
    aws._patch(aws, "invoke_handler", injector.invoke_handler(aws.invoke_handler))
    aws._patch(clients, "client", injector.client(clients.client))
    aws._patch(EC2ContainerServiceBackend, "run_task", injector.run_task(EC2ContainerServiceBackend.run_task))
    aws._patch(LocalEcsAgent, "_prepare", injector.prepare(LocalEcsAgent._prepare))
    if "logs-throttled" in faults:
        said = functools.partial(injector.said, "logs-throttled", "GetLogEvents answered ThrottlingException")
        # Five in a row: the copy's own retries (backoff with jitter, on the shared pace) carry it through; the
        # SDK does not retry GetLogEvents (adapters/clients.py).
        wrap = _throttle("ThrottlingException", "Rate exceeded (ecsrun local fault logs-throttled)", 5, said)
        aws._patch(LogsBackend, "get_log_events", wrap(LogsBackend.get_log_events))
    if "s3-throttled" in faults:
        said = functools.partial(injector.said, "s3-throttled", "PutObject answered SlowDown")
        wrap = _throttle("SlowDown", "Please reduce your request rate. (ecsrun local fault s3-throttled)", 3, said)
        aws._patch(S3Backend, "put_object", wrap(S3Backend.put_object))
    clients.reset()


__all__ = ["CATALOG", "FaultError", "LocalCrash", "catalog_text", "install", "json", "parse"]
