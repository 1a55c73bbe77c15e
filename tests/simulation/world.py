"""A deterministic simulation of one ecsrun stack: the deployed ASL interpreted on a virtual clock, the real
handlers invoked in-process, fakes for ECS / Step Functions / EventBridge / S3 / CloudWatch Logs and moto's
DynamoDB table, and a scheduler that chooses every interleaving.

Concurrency is explored at AWS-call granularity: each Lambda invocation runs in its own thread, but only one
thread runs at a time. Every AWS call a handler makes (and its start and its return) is a point where the
invocation pauses and hands control back to the scheduler, which then chooses what happens next: resume that
invocation or another one, deliver an event, fire a timer (virtual time advances), start a reconciler pass,
abort the execution, ... At a pause the scheduler may also inject a fault: the next AWS call fails before it takes
effect, or takes effect and its answer is lost (a transient error after the SDK's own retries), or the invocation
dies here (a crash or a Lambda timeout: Step Functions sees `Lambda.Unknown`, as AWS reports "out-of-memory errors
and function timeouts"; EventBridge-driven invocations are retried twice by Lambda, as template.yaml configures).

Every choice comes from `choose(n)`: a seeded `random.Random` for the soak, hypothesis's data for `make test`
(hypothesis shrinks toward choice 0, which is always the ordinary course of events, so a minimal failing schedule
is the one with the fewest surprises). The trace printed on failure replays with the same seed.
"""

from __future__ import annotations

import importlib
import io
import json
import os
import random
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ecsrun.domain.runtask import client_token, started_by
from ecsrun.local.template import Template

from tests.simulation import asl, maps, widen
from tests.simulation.fakes import (
    ACCOUNT,
    REGION,
    FakeEcs,
    FakeEvents,
    FakeLogs,
    FakeS3,
    FakeStepFunctions,
    TaskPlan,
    client_error,
)

ROOT = Path(__file__).resolve().parents[2]
EPOCH = datetime(2026, 1, 5, 9, 0, tzinfo=UTC).timestamp()
STATE_MACHINE = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:ecsrun-sim"
PREFIX = "ecsrun/"
BUCKET = "sim-logs"
BUS = "sim-bus"
ASYNC_RETRIES = 2  # template.yaml: EventInvokeConfig MaximumRetryAttempts 2 (Lambda's default for the others)
ASYNC_RETRY_DELAYS = (60, 120)  # Lambda retries a failed asynchronous invocation after about 1, then 2 minutes
NORMAL_WEIGHT = 12  # at a point where a fault may be injected: 12 chances in (12 + faults) of no fault
HORIZON = 3 * 86400  # a schedule that has not settled three virtual days after its start is stuck
TRANSIENT = {
    "dynamodb": "InternalServerError",
    "ecs": "ServerException",
    "stepfunctions": "ServiceUnavailable",
    "s3": "InternalError",
    "logs": "ThrottlingException",
    "events": "InternalException",
}
FATES = ("exit0", "exit1", "oom", "failstart", "spot", "forever")
# A Python error in an event's handler is a bug, not a transient failure: Lambda retries it twice, then the event
# (and whatever it should have done: a stop, an answer) goes to the dead-letter queue.
PYTHON_ERRORS = frozenset(
    {
        "ValueError",
        "TypeError",
        "KeyError",
        "AttributeError",
        "IndexError",
        "RecursionError",
        "JSONDecodeError",
        "UnicodeDecodeError",
        "AssertionError",
        "ValidationError",
    }
)


class SimulatedCrash(BaseException):
    """The Lambda invocation died here (timeout, out of memory): nothing after this point runs."""


class _Unmarshal(Exception):
    """The runtime could not parse the event: the handler never ran."""


class Unsupported(Exception):
    """The schedule reached a part of the ASL the simulation does not interpret."""


# ------------------------------------------------------------------------------------------------------------ plan


@dataclass
class AttemptPlan:
    runtask: str  # ok | capacity | throttle
    task: TaskPlan


@dataclass
class Plan:
    """What the schedule's world is like; drawn first, from the same choices as the schedule itself."""

    seed: int
    timeout_seconds: int
    max_attempts: int
    attempts: list[AttemptPlan]
    grace_seconds: int
    describe_lag: float
    stop_delay: float
    fault_budget: int
    abort: bool
    foreign: list[tuple[str, int]]
    reconcile_passes: int
    explore_steps: int
    slow_seconds: float
    log_settle_seconds: int
    final_flush: float | None
    copy_reserve_seconds: int
    caller: bool

    @classmethod
    def draw(cls, seed: int, choose: Callable[[int], int]) -> Plan:
        attempts = []
        for _ in range(3):
            runtask = ("ok", "ok", "ok", "ok", "capacity", "throttle")[choose(6)]
            fate = ("exit0", "exit0", "exit0", *FATES[1:])[choose(len(FATES) + 2)]
            seconds = (5.0, 40.0, 400.0, 4000.0)[choose(4)]
            attempts.append(AttemptPlan(runtask, TaskPlan(fate, seconds, lines=3)))
        return cls(
            seed=seed,
            timeout_seconds=(300, 3600, 60)[choose(3)],
            max_attempts=(1, 2, 3)[choose(3)],
            attempts=attempts,
            grace_seconds=(300, 0, 60)[choose(3)],
            describe_lag=(0.0, 3.0)[choose(2)],
            stop_delay=(2.0, 30.0)[choose(2)],
            fault_budget=choose(6),
            abort=choose(4) == 3,
            foreign=[(("default", "other")[choose(2)], choose(2)) for _ in range(choose(3))],
            reconcile_passes=choose(3),
            explore_steps=40 + 40 * choose(4),
            slow_seconds=(2.0, 10.0, 30.0)[choose(3)],
            **cls._logs(choose),
            copy_reserve_seconds=(120, 885)[choose(2)],
            caller=choose(3) == 2,
        )

    @staticmethod
    def _logs(choose: Callable[[int], int]) -> dict[str, Any]:
        """LogSettleSeconds, and when a stopped container's last line reaches CloudWatch Logs (its driver's final
        flush; None: nothing left to flush). Within the settle bound: past it, ecsrun takes the stream as it is."""
        settle = (0, 30)[choose(2)]
        flush = (None, 0.0, 0.5, 20.0)[choose(4)] if settle else 0.0
        return {"log_settle_seconds": settle, "final_flush": flush}

    def describe(self) -> str:
        tasks = ", ".join(
            f"#{i + 1}: RunTask {a.runtask}, task {a.task.fate} after {a.task.seconds:g}s"
            for i, a in enumerate(self.attempts[: self.max_attempts])
        )
        return (
            f"timeout {self.timeout_seconds}s, maxAttempts {self.max_attempts} ({tasks}), reconcile grace "
            f"{self.grace_seconds}s, DescribeTasks lag {self.describe_lag:g}s, stop takes {self.stop_delay:g}s, "
            f"fault budget {self.fault_budget}, abort {self.abort}, foreign tasks {self.foreign}, "
            f"extra reconciler passes {self.reconcile_passes}, exploration steps {self.explore_steps}, "
            f"a slow call takes {self.slow_seconds:g}s, LogSettleSeconds {self.log_settle_seconds}, final flush "
            f"{'none' if self.final_flush is None else f'{self.final_flush:g}s after the stop'}, copy reserve "
            f"{self.copy_reserve_seconds}s, caller token {self.caller}"
        )


# ------------------------------------------------------------------------------------------------------------ actors

_local = threading.local()


@dataclass
class Invocation:
    """One Lambda invocation, running as an actor: paused at `point` until the scheduler resumes it."""

    function: str
    event: Any
    origin: str  # "sync:<exec>:<seq>" or "async:<attempt>"
    label: str
    point: str = "start"
    calls: int = 0
    done: bool = False
    result: Any = None
    error: tuple[str, str] | None = None  # (errorType, errorMessage) as Lambda reports them
    crashed: bool = False
    instruction: str = "go"
    go: threading.Semaphore = field(default_factory=lambda: threading.Semaphore(0))
    thread: threading.Thread | None = None
    async_attempt: int = 0
    started: float = 0.0
    asleep_until: float | None = None  # in time.sleep until then (virtual time)
    ticked_at: tuple[int, str] | None = None  # (calls, point) when the clock last took a slow tick for it


@dataclass
class PendingEvent:
    event: dict[str, Any]
    not_before: float
    label: str
    copy: bool = False


@dataclass
class AsyncInvoke:
    function: str
    event: Any
    not_before: float
    attempt: int
    label: str


@dataclass
class Token:
    execution: str
    seq: int
    open: bool = True
    answered_by: str | None = None


@dataclass
class Execution:
    arn: str
    name: str
    input: Any
    started_at: float
    status: str = "RUNNING"
    state: str = ""
    data: Any = None
    phase: str = "ready"  # ready | to_invoke | invoking | result | waiting | sleeping | ended
    seq: int = 0  # which run of a Task state is current (tokens, timers and results of older ones are stale)
    retries: dict[int, int] = field(default_factory=dict)
    token: str | None = None
    pending: tuple[str, Any] | None = None  # (function, payload) about to be invoked
    invocation: Invocation | None = None
    output: Any = None
    error: str | None = None
    cause: str | None = None
    stopped_at: float | None = None
    ends: int = 0
    entered: list[tuple[float, str]] = field(default_factory=list)
    caught: list[tuple[str, str]] = field(default_factory=list)  # (state, error) a Catch took on
    parent: str | None = None  # an array child: the execution whose Map started it


@dataclass
class Action:
    label: str
    run: Callable[[], None]
    faults: list[tuple[str, Callable[[], None]]] = field(default_factory=list)
    kind: str = "work"  # work | time


class FakeContext:
    """The parts of Lambda's context object the handlers and Powertools read; the remaining time runs on the
    virtual clock, from the invocation's start to its function's Timeout."""

    def __init__(self, function: str, world: World, timeout: int):
        self.function_name = function
        self.invoked_function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{function}"
        self.memory_limit_in_mb = 256
        self.aws_request_id = "00000000-0000-0000-0000-000000000000"
        self.function_version = "$LATEST"
        self._world, self._deadline = world, world.now + timeout

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - self._world.now) * 1000))


class Proxy:
    """A client whose every call is a scheduling point (and a place for faults)."""

    def __init__(self, world: World, service: str, target: Any):
        self._world, self._service, self._target = world, service, target

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._target, name)
        if name in ("meta", "exceptions") or not callable(attribute):
            return attribute
        if name == "get_paginator":
            return lambda operation: _ProxiedPaginator(self, operation)
        return lambda *args, **kwargs: self._world.aws_call(self._service, name, lambda: attribute(*args, **kwargs))


class _ProxiedPaginator:
    def __init__(self, proxy: Proxy, operation: str):
        self._proxy, self._operation = proxy, operation

    def paginate(self, **kwargs: Any) -> Any:
        from tests.simulation.fakes import Paginator

        out = {
            "list_tasks": ("nextToken", "nextToken"),
            "list_objects_v2": ("ContinuationToken", "NextContinuationToken"),
        }
        token_in, token_out = out[self._operation]
        return Paginator(getattr(self._proxy, self._operation), token_in, token_out).paginate(**kwargs)


# ------------------------------------------------------------------------------------------------------------- world


class World:
    """One schedule: a run request through the deployed ASL, every choice made by `choose`."""

    def __init__(self, seed: int, choose: Callable[[int], int], *, dynamodb: Any, template: Template):
        self.seed = seed
        self.choose = choose
        self.plan = Plan.draw(seed, choose)
        self.widen = widen.Widening.draw(choose)
        self.rng = random.Random(seed)  # secondary parameters (jitter, delays): replayed by the seed
        self.now = EPOCH
        self.trace: list[str] = []
        self.baton = threading.Semaphore(0)
        self.timers: list[tuple[float, int, str, Callable[[], None]]] = []
        self._timer_seq = 0
        self.events: list[PendingEvent] = []
        self.async_queue: list[AsyncInvoke] = []
        self.invocations: list[Invocation] = []
        self.executions: dict[str, Execution] = {}
        self.tokens: dict[str, Token] = {}
        self.dead_letters: list[AsyncInvoke] = []
        self.callbacks: list[dict[str, Any]] = []
        self.budget = self.plan.fault_budget
        self.faults_injected: list[str] = []
        self.aborted = False
        self.foreign_started = 0
        self.passes_left = self.plan.reconcile_passes
        self.reconciles = 0
        self.reconcile_starts: list[float] = []
        self.reconciled: list[tuple[float, float]] = []  # (start, end) of every reconciler pass that returned
        # Each slow tick of the virtual clock (a call in flight takes a while) and what was then in flight: each
        # invocation's function, an event or async invoke due ("event", or "async:<function>"), and whether this
        # is the first tick it took at that step. The exploration moves one clock for every invocation (AWS would
        # run them side by side) and may take several ticks at one step (a call slower than slow_seconds).
        self.slow_ticks: list[tuple[float, frozenset[tuple[str, bool]]]] = []
        self._ticked: set[int] = set()  # the pending events and async invokes that took a tick already
        self.execution_ended_done = False  # an ExecutionEnded invocation returned
        self.ended_handled: set[str] = set()  # executions whose ExecutionEnded invocation returned
        self.fault_times: list[float] = []  # when each fault was injected
        self.outcome_at: float | None = None  # when the run's record first held an outcome
        self.python_errors: list[str] = []  # event-driven invocations that failed with a Python error (a bug)
        self.limits: list[str] = []  # documented limits this schedule ran into (not violations)
        self.abort_handled_at: dict[str, float] = {}  # when ExecutionEnded first finished handling an abort
        self.stopped_handled: dict[str, float] = {}  # taskArn -> when a TaskStopped invocation for it first returned
        self.unsupported: str | None = None
        self.logs_text = io.StringIO()
        self.record_history: list[dict[str, Any]] = []

        self.run_id = f"sim-{seed}"
        self.canary = f"canary-{seed}-not-for-logs"
        # A parent state machine's .waitForTaskToken token (a bearer secret): ecsrun answers it when the run ends.
        self.caller_token = f"caller-token-{seed}-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
        self.caller_answers: list[dict[str, Any]] = []
        self.duplicate_caller_token = f"caller-token-{seed}-duplicate-BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB"
        self.first: Execution | None = None  # the execution the schedule started; duplicates come after it
        self.maps: dict[str, maps.MapRun] = {}  # an array parent's Map run, by the parent's ARN
        self.child_tokens: dict[str, int] = {}  # an array child's clientTokens -> the plan's attempt it follows
        self.started_by = started_by(PREFIX, self.run_id)
        self.tokens_by_attempt = {client_token(self.run_id, n): n for n in range(1, 11)}

        self.template = template
        definition, substitutions = template.state_machine()
        self.functions: dict[str, str] = {}  # function ARN -> logical id
        for key, value in substitutions.items():
            if value == {"Ref": "AWS::Partition"}:  # the ASL's service integrations, as SAM substitutes them
                definition = definition.replace("${" + key + "}", "aws")
            elif isinstance(value, dict) and "Fn::GetAtt" in value:
                logical_id = value["Fn::GetAtt"][0]
                arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{logical_id}"
                self.functions[arn] = logical_id
                definition = definition.replace("${" + key + "}", arn)
        self.definition = json.loads(definition)
        self.handlers = template.functions()
        default_timeout = int((template.doc.get("Globals") or {}).get("Function", {}).get("Timeout", 3))
        self.function_timeouts = {
            name: int(template.resources[name]["Properties"].get("Timeout", default_timeout)) for name in self.handlers
        }
        references = {
            "StartedByPrefix": PREFIX,
            "RunStateMachine": STATE_MACHINE,
            "AWS::Region": REGION,
            "AWS::AccountId": ACCOUNT,
            "AWS::Partition": "aws",
        }
        self.rules = template.event_rules(references)
        self.reconcile_rate = 60 * int(template.parameter_default("ReconcileRateMinutes") or 5)

        self.ecs = FakeEcs(self)
        self.logs = FakeLogs(lambda: self.now)
        self.s3 = FakeS3()
        self.put_events = FakeEvents(refuse=lambda: widen.refuse_put_event(self))
        self.sfn = FakeStepFunctions(self)
        self.table = dynamodb
        self.clients = {
            "ecs": Proxy(self, "ecs", self.ecs),
            "logs": Proxy(self, "logs", self.logs),
            "s3": Proxy(self, "s3", self.s3),
            "events": Proxy(self, "events", self.put_events),
            "stepfunctions": Proxy(self, "stepfunctions", self.sfn),
        }
        self.table_proxy = Proxy(self, "dynamodb", dynamodb)
        if self.plan.caller:
            self.tokens[self.caller_token] = Token("caller", 0)
            self.tokens[self.duplicate_caller_token] = Token("caller", 0)
        self.add_timer(self.now + self.reconcile_rate, "reconciler schedule", self._reconcile_tick, background=True)

    # ---- the request ----

    def request(self) -> dict[str, Any]:
        request = self._request()
        if self.widen.array is not None:
            size, concurrency = self.widen.array
            request = {**request, "array": {"size": size}, "maxConcurrency": concurrency}
        if self.widen.request_kind != "ok":
            self.widen.exercised.add(f"hostile request: {self.widen.request_kind}")
            return widen.hostile(request, self.widen.request_kind, self.canary)
        return request

    def _request(self) -> dict[str, Any]:
        return {
            "runId": self.run_id,
            "cluster": "default",
            "taskDefinition": "sim-app",
            "launchType": "FARGATE",
            "networkConfiguration": {
                "awsvpcConfiguration": {"subnets": ["subnet-0123456789abcdef0"], "assignPublicIp": "DISABLED"}
            },
            "timeoutSeconds": self.plan.timeout_seconds,
            "retry": {"maxAttempts": self.plan.max_attempts, "intervalSeconds": 10, "backoffRate": 2.0},
            "overrides": {
                "containerOverrides": [{"name": "app", "environment": [{"name": "API_TOKEN", "value": self.canary}]}]
            },
            **({"callbackTaskToken": self.caller_token} if self.plan.caller else {}),
        }

    # ---- what the fakes ask of the world ----

    def attempt_of_token(self, token: str | None) -> int | None:
        return self.tokens_by_attempt.get(token or "") or self.child_tokens.get(token or "")

    def runtask_refusal(self, attempt: int | None) -> str:
        return self.plan.attempts[min(attempt or 1, 3) - 1].runtask

    def task_plan(self, attempt: int | None) -> TaskPlan:
        return self.plan.attempts[min(attempt or 1, 3) - 1].task

    def stop_delay(self) -> float:
        return self.plan.stop_delay

    def final_flush(self) -> float | None:
        return self.plan.final_flush

    def emit(self, event: dict[str, Any]) -> None:
        """A service put an event on the default bus (ECS, Step Functions): EventBridge will deliver it."""
        detail = event["detail"]
        what = (
            detail.get("taskArn", "").rsplit("/", 1)[-1][:8] if event["source"] == "aws.ecs" else detail.get("status")
        )
        label = f"{event['detail-type']} {what} v{detail.get('version', '')}".rstrip(" v")
        if widen.lose_status_event(self, event):
            self.note(f"emitted {label}, LOST (Step Functions' status events are best effort)")
            return
        self.events.append(PendingEvent(event, self.now, label))
        self.note(f"emitted {label}")

    def add_timer(self, at: float, label: str, fn: Callable[[], None], background: bool = False) -> None:
        self._timer_seq += 1
        self.timers.append((at, self._timer_seq, ("~" if background else "") + label, fn))

    def note(self, text: str) -> None:
        self.trace.append(f"[{self.now - EPOCH:9.1f}s] {text}")

    # ---- AWS calls: scheduling points ----

    def client(self, service: str) -> Any:
        return self.clients[service]

    def aws_call(self, service: str, operation: str, call: Callable[[], Any]) -> Any:
        invocation: Invocation | None = getattr(_local, "invocation", None)
        if invocation is None:
            return call()
        instruction = self._pause(invocation, f"{service}.{operation}")
        invocation.calls += 1
        if instruction == "crash":
            raise SimulatedCrash
        if instruction == "fail-before":
            raise client_error(
                TRANSIENT[service], "simulated: the call failed (the SDK's retries gave up)", operation, 500
            )
        result = call()
        if service == "dynamodb" and operation in ("put_item", "update_item"):
            self._observe_record()
        if instruction == "fail-after":
            raise client_error(
                TRANSIENT[service], "simulated: the call took effect but its answer was lost", operation, 500
            )
        return result

    def sleep(self, seconds: float) -> None:
        """`time.sleep` in a handler: the invocation pauses until the virtual clock has moved on `seconds` (it may
        die meanwhile, at its Lambda timeout)."""
        invocation: Invocation = _local.invocation
        invocation.asleep_until = self.now + seconds
        self.add_timer(invocation.asleep_until, f"{invocation.label} wakes", lambda: None, background=True)
        instruction = self._pause(invocation, f"sleep {seconds:g}s")
        invocation.asleep_until = None
        if instruction == "crash":
            raise SimulatedCrash

    def _pause(self, invocation: Invocation, point: str) -> str:
        invocation.point = point
        self.baton.release()
        invocation.go.acquire()
        return invocation.instruction

    def _observe_record(self) -> None:
        item = self.table.get_item(Key={"runId": self.run_id}, ConsistentRead=True).get("Item")
        if item and (not self.record_history or self.record_history[-1] != item):
            self.record_history.append(json.loads(json.dumps(item, default=str)))
            if item.get("outcome") and self.outcome_at is None:
                self.outcome_at = self.now

    # ---- invocations ----

    def invoke(self, function: str, event: Any, origin: str, label: str, async_attempt: int = 0) -> Invocation:
        invocation = Invocation(function, event, origin, label, async_attempt=async_attempt, started=self.now)
        invocation.thread = threading.Thread(target=self._invocation_main, args=(invocation,), daemon=True)
        self.invocations.append(invocation)
        invocation.thread.start()
        self.baton.acquire()  # until it pauses at its start
        # Lambda ends an invocation at its function's Timeout (template.yaml): one still paused then dies there.
        self.add_timer(
            self.now + self.function_timeouts[function],
            f"{label} reaches its Lambda timeout",
            lambda: self._time_out(invocation),
            background=True,
        )
        return invocation

    def _time_out(self, invocation: Invocation) -> None:
        if not invocation.done and invocation in self.invocations:
            self.note(f"{invocation.label} timed out at {invocation.point}")
            self.fault_times.append(self.now)  # a Lambda timeout disturbs whatever it was doing
            self._resume(invocation, "crash")

    def _invocation_main(self, invocation: Invocation) -> None:
        _local.invocation = invocation
        try:
            if self._pause(invocation, "start") == "crash":
                raise SimulatedCrash
            module, _, attr = self.handlers[invocation.function].rpartition(".")
            handler = getattr(importlib.import_module(module), attr)
            context = FakeContext(invocation.function, self, self.function_timeouts[invocation.function])
            try:  # the Lambda runtime parses the event with json.loads, and its limits
                event = json.loads(asl.dumps(invocation.event))
            except ValueError as exc:
                invocation.error = ("Runtime.UnmarshalError", f"Unable to unmarshal input: {exc}")
                raise _Unmarshal from exc
            result = handler(event, context)
            if self._pause(invocation, "return") == "crash":
                raise SimulatedCrash
            invocation.result = json.loads(json.dumps(result))
        except _Unmarshal:
            pass
        except SimulatedCrash:
            invocation.crashed = True
            invocation.error = (
                "Lambda.Unknown",
                "The cause could not be determined because Lambda did not return an error type.",
            )
        except Exception as exc:
            invocation.error = (type(exc).__name__, str(exc))
            self.logs_text.write("".join(traceback.format_exception(exc)))
        finally:
            invocation.done = True
            _local.invocation = None
            self.baton.release()

    def _resume(self, invocation: Invocation, instruction: str) -> None:
        invocation.instruction = instruction
        invocation.go.release()
        self.baton.acquire()
        if invocation.done:
            self._finished(invocation)

    def _finished(self, invocation: Invocation) -> None:
        self.invocations.remove(invocation)
        outcome = (
            "crashed" if invocation.crashed else f"failed {invocation.error[0]}" if invocation.error else "returned"
        )
        self.note(f"{invocation.label} {outcome}")
        if invocation.origin.startswith("async"):
            if invocation.error is None and invocation.function == "TaskStoppedFunction":
                arn = invocation.event.get("detail", {}).get("taskArn")
                self.stopped_handled.setdefault(arn, self.now)
            if invocation.error is None and invocation.function == "ReconcileFunction":
                self.reconciled.append((invocation.started, self.now))
            if invocation.error is None and invocation.function == "ExecutionEndedFunction":
                self.execution_ended_done = True
                detail = invocation.event.get("detail", {})
                self.ended_handled.add(detail.get("executionArn"))
                if detail.get("status") == "ABORTED":
                    self.abort_handled_at.setdefault(detail.get("executionArn"), self.now)
            if invocation.error is not None and invocation.error[0] in PYTHON_ERRORS:
                self.python_errors.append(
                    f"{invocation.label} failed {invocation.error[0]}: {invocation.error[1][:80]}"
                )
            if invocation.error is not None:
                if invocation.async_attempt < ASYNC_RETRIES:
                    delay = ASYNC_RETRY_DELAYS[invocation.async_attempt]
                    self.async_queue.append(
                        AsyncInvoke(
                            invocation.function,
                            invocation.event,
                            self.now + delay,
                            invocation.async_attempt + 1,
                            invocation.label.split(" (retry")[0] + f" (retry {invocation.async_attempt + 1})",
                        )
                    )
                else:
                    self.dead_letters.append(
                        AsyncInvoke(invocation.function, invocation.event, self.now, 3, invocation.label)
                    )
                    self.note(f"{invocation.label}: dead-lettered after Lambda's retries")
            return
        _, arn, seq = invocation.origin.split("|")
        execution = self.executions[arn]
        if execution.status == "RUNNING" and execution.seq == int(seq) and execution.invocation is invocation:
            execution.phase = "result"

    # ---- executions: the interpreter ----

    def start_execution(self, request: dict[str, Any], number: int = 1, name: str | None = None) -> Execution:
        name = name or f"{self.run_id}-{number:04d}"
        arn = f"arn:aws:states:{REGION}:{ACCOUNT}:execution:ecsrun-sim:{name}"
        execution = Execution(arn, name, request, self.now, state=self.definition["StartAt"], data=request)
        execution.entered.append((self.now, execution.state))
        self.executions[arn] = execution
        self.first = self.first or execution
        self.note(f"execution started: {name}")
        return execution

    def _context(self, execution: Execution) -> dict[str, Any]:
        return {
            "Execution": {
                "Id": execution.arn,
                "Name": execution.name,
                "Input": execution.input,
                "StartTime": datetime.fromtimestamp(execution.started_at, UTC).isoformat(),
            },
            "StateMachine": {"Id": STATE_MACHINE, "Name": "ecsrun-sim"},
            "State": {"Name": execution.state},
            "Task": {"Token": execution.token} if execution.token else {},
        }

    def _state(self, execution: Execution) -> dict[str, Any]:
        return dict(self.definition["States"][execution.state])

    def _step(self, execution: Execution) -> None:
        state = self._state(execution)
        try:
            kind = state["Type"]
            if kind == "Task":
                self._enter_task(execution, state)
            elif kind == "Choice":
                for rule in state.get("Choices", []):
                    if asl.choice_matches(rule, execution.data):
                        self._transition(execution, rule["Next"], execution.data)
                        return
                if "Default" not in state:
                    raise asl.StatesError("States.NoChoiceMatched", f"no choice rule matched in {execution.state}")
                self._transition(execution, state["Default"], execution.data)
            elif kind == "Wait":
                seconds = (
                    state["Seconds"] if "Seconds" in state else asl.read_path(execution.data, state["SecondsPath"])
                )
                execution.phase = "sleeping"
                seq = execution.seq
                self.add_timer(
                    self.now + float(seconds),
                    f"{execution.state} ends",
                    lambda: self._wake(execution, seq, state["Next"]),
                )
            elif kind == "Map":
                maps.enter(self, execution, state)
            elif kind == "Pass":
                result = (
                    asl.fill(state["Parameters"], execution.data, self._context(execution))
                    if "Parameters" in state
                    else state.get("Result", execution.data)
                )
                self._advance(execution, state, asl.set_result(execution.data, result, state.get("ResultPath", "$")))
            elif kind == "Succeed":
                self._end(execution, "SUCCEEDED", output=asl.output_path(execution.data, state.get("OutputPath", "$")))
            elif kind == "Fail":
                error = state.get("Error") or asl.read_path(execution.data, state["ErrorPath"])
                cause = state.get("Cause")
                if cause is None and "CausePath" in state:
                    cause = asl.read_path(execution.data, state["CausePath"])
                self._end(execution, "FAILED", error=error, cause=cause)
            else:
                raise Unsupported(f"state {execution.state} of type {kind}")
        except asl.StatesError as failure:
            self._end(execution, "FAILED", error=failure.error, cause=failure.cause)
        except Unsupported as unsupported:
            self.unsupported = str(unsupported)
            self._end(execution, "FAILED", error="Simulation.Unsupported", cause=str(unsupported))

    def _wake(self, execution: Execution, seq: int, next_state: str) -> None:
        if execution.status == "RUNNING" and execution.seq == seq and execution.phase == "sleeping":
            self._transition(execution, next_state, execution.data)

    def _enter_task(self, execution: Execution, state: dict[str, Any]) -> None:
        execution.seq += 1
        resource = state["Resource"]
        if resource not in ("arn:aws:states:::lambda:invoke", "arn:aws:states:::lambda:invoke.waitForTaskToken"):
            raise Unsupported(f"resource {resource}")
        execution.token = None
        if resource.endswith(".waitForTaskToken"):
            execution.token = f"token-{execution.name}-{execution.seq:03d}-{execution.state}"
            self.tokens[execution.token] = Token(execution.arn, execution.seq)
            timeout = state.get("TimeoutSeconds")
            if "TimeoutSecondsPath" in state:
                timeout = asl.read_path(execution.data, state["TimeoutSecondsPath"])
            if timeout is not None:
                seq = execution.seq
                self.add_timer(
                    self.now + float(timeout), f"{execution.state} times out", lambda: self._timeout(execution, seq)
                )
        parameters = state["Parameters"]
        context = self._context(execution)
        payload = (
            asl.read_path(execution.data, parameters["Payload.$"], context)
            if "Payload.$" in parameters
            else asl.fill(parameters.get("Payload", {}), execution.data, context)
        )
        execution.pending = (self.functions[parameters["FunctionName"]], payload)
        execution.phase = "to_invoke"

    def _invoke_task(self, execution: Execution, throttled: bool) -> None:
        assert execution.pending is not None
        function, payload = execution.pending
        if throttled:
            self._task_error(execution, "Lambda.TooManyRequestsException", "Rate Exceeded.")
            return
        execution.phase = "invoking"
        origin = f"sync|{execution.arn}|{execution.seq}"
        execution.invocation = self.invoke(function, payload, origin, f"{function} ({execution.state})")

    def _task_result(self, execution: Execution, lost: bool) -> None:
        invocation = execution.invocation
        assert invocation is not None
        execution.invocation = None
        if lost:
            self._task_error(execution, "Lambda.ServiceException", "simulated: the invocation's answer was lost")
            return
        if invocation.error is not None:
            error, message = invocation.error
            cause = json.dumps({"errorMessage": message, "errorType": error}) if not invocation.crashed else message
            self._task_error(execution, error, cause)
            return
        if execution.token is not None:
            token = self.tokens[execution.token]
            if token.open:
                execution.phase = "waiting"
            return
        result = {"ExecutedVersion": "$LATEST", "Payload": invocation.result, "StatusCode": 200}
        self._task_succeeded(execution, result)

    def _task_succeeded(self, execution: Execution, result: Any) -> None:
        state = self._state(execution)
        try:
            if "ResultSelector" in state:
                result = asl.fill(state["ResultSelector"], result, self._context(execution))
            self._advance(execution, state, asl.set_result(execution.data, result, state.get("ResultPath", "$")))
        except asl.StatesError as failure:
            self._end(execution, "FAILED", error=failure.error, cause=failure.cause)

    def _advance(self, execution: Execution, state: dict[str, Any], data: Any) -> None:
        data = asl.output_path(data, state.get("OutputPath", "$"))
        if state.get("End"):
            self._end(execution, "SUCCEEDED", output=data)
        else:
            self._transition(execution, state["Next"], data)

    def _task_error(self, execution: Execution, error: str, cause: str) -> None:
        state = self._state(execution)
        if execution.token is not None:
            self.tokens[execution.token].open = False
        for index, retrier in enumerate(state.get("Retry", [])):
            if not asl.error_matches(retrier["ErrorEquals"], error):
                continue
            count = execution.retries.get(index, 0)
            if count < retrier.get("MaxAttempts", 3):
                execution.retries[index] = count + 1
                delay = asl.retry_delay(retrier, count + 1, self.rng.random())
                execution.phase = "sleeping"
                seq = execution.seq
                self.note(f"{execution.state}: {error}, retry {count + 1} in {delay:.1f}s")
                self.add_timer(
                    self.now + delay, f"{execution.state} retry", lambda seq=seq: self._retry(execution, seq)
                )
                return
            break
        for catcher in state.get("Catch", []):
            if asl.error_matches(catcher["ErrorEquals"], error):
                execution.caught.append((execution.state, error))
                self.note(f"{execution.state}: {error} caught -> {catcher['Next']}")
                data = asl.set_result(execution.data, {"Error": error, "Cause": cause}, catcher.get("ResultPath", "$"))
                self._transition(execution, catcher["Next"], data)
                return
        self._end(execution, "FAILED", error=error, cause=cause)

    def _retry(self, execution: Execution, seq: int) -> None:
        if execution.status == "RUNNING" and execution.seq == seq and execution.phase == "sleeping":
            try:
                self._enter_task(execution, self._state(execution))
            except asl.StatesError as failure:
                self._end(execution, "FAILED", error=failure.error, cause=failure.cause)

    def _timeout(self, execution: Execution, seq: int) -> None:
        if (
            execution.status != "RUNNING"
            or execution.seq != seq
            or execution.phase not in ("to_invoke", "invoking", "result", "waiting")
        ):
            return
        self.note(f"{execution.state} timed out")
        execution.invocation = None  # the invocation, if still running, goes on: its answer is nobody's now
        self._task_error(execution, "States.Timeout", "The task timed out.")

    def _transition(self, execution: Execution, next_state: str, data: Any) -> None:
        execution.state, execution.data, execution.phase = next_state, data, "ready"
        execution.retries, execution.token, execution.invocation = {}, None, None
        execution.seq += 1
        execution.entered.append((self.now, next_state))
        self.note(f"entered {next_state}")

    def _end(
        self,
        execution: Execution,
        status: str,
        *,
        output: Any = None,
        error: str | None = None,
        cause: str | None = None,
    ) -> None:
        if execution.status != "RUNNING":
            return
        execution.status, execution.phase, execution.stopped_at = status, "ended", self.now
        execution.output, execution.error, execution.cause = output, error, cause
        execution.ends += 1
        execution.invocation = None
        for token in self.tokens.values():
            if token.execution == execution.arn:
                token.open = False
        self.note(f"execution {execution.name} {status}" + (f" {error}" if error else ""))
        maps.child_ended(self, execution)
        maps.parent_ended(self, execution)
        detail = {
            "executionArn": execution.arn,
            "stateMachineArn": STATE_MACHINE,
            "name": execution.name,
            "status": status,
            "startDate": int(execution.started_at * 1000),
            "stopDate": int(self.now * 1000),
            "input": asl.dumps(execution.input),
            "inputDetails": {"included": True},
            "output": json.dumps(output) if output is not None else None,
            "error": error,
            "cause": cause,
        }
        self.emit(
            {
                "version": "0",
                "id": f"sfn-{execution.name}-{status}",
                "detail-type": "Step Functions Execution Status Change",
                "source": "aws.states",
                "account": ACCOUNT,
                "time": datetime.fromtimestamp(self.now, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "region": REGION,
                "resources": [execution.arn],
                "detail": detail,
            }
        )

    # ---- the Step Functions API, for the fake client ----

    def callback(self, token_value: str, kind: str, **answer: Any) -> None:
        token = self.tokens.get(token_value)
        if token is None:
            raise client_error("InvalidToken", "Invalid Token", kind)
        if not token.open:
            raise client_error("TaskTimedOut", "Task Timed Out", kind)
        if kind == "SendTaskHeartbeat":
            return
        if token.execution == "caller":
            widen.fail_caller_answer(self, kind)
        self.callbacks.append({"kind": kind, "token": token_value, **answer})
        token.open, token.answered_by = False, kind
        if token.execution == "caller":
            self.caller_answers.append({"kind": kind, "token": token_value, **answer})
            self.note(f"{kind} to the caller" + (f" {answer.get('error')}" if answer.get("error") else ""))
            return
        execution = self.executions[token.execution]
        execution.invocation = None
        self.note(
            f"{kind} on {token_value.rsplit('-', 1)[-1]}" + (f" {answer.get('error')}" if answer.get("error") else "")
        )
        if kind == "SendTaskSuccess":
            self._task_succeeded(execution, answer["output"])
        else:
            self._task_error(execution, answer.get("error") or "", answer.get("cause") or "")

    def describe_execution(self, arn: str) -> dict[str, Any]:
        execution = self.executions.get(arn)
        if execution is None:
            raise client_error("ExecutionDoesNotExist", "Execution Does Not Exist", "DescribeExecution")
        described: dict[str, Any] = {
            "executionArn": arn,
            "stateMachineArn": STATE_MACHINE,
            "name": execution.name,
            "status": execution.status,
            "startDate": datetime.fromtimestamp(execution.started_at, UTC),
            "input": asl.dumps(execution.input),
            "inputDetails": {"included": True},
        }
        if execution.stopped_at is not None:
            described["stopDate"] = datetime.fromtimestamp(execution.stopped_at, UTC)
        for key in ("error", "cause"):
            if getattr(execution, key) is not None:
                described[key] = getattr(execution, key)
        if execution.output is not None:
            described["output"] = json.dumps(execution.output)
        return described

    def stop_execution(self, arn: str, error: str | None, cause: str | None) -> None:
        execution = self.executions.get(arn)
        if execution is None:
            raise client_error("ExecutionDoesNotExist", "Execution Does Not Exist", "StopExecution")
        self._end(execution, "ABORTED", error=error, cause=cause)

    # ---- EventBridge and the schedule ----

    def _deliver(self, pending: PendingEvent, fault: str | None) -> None:
        from moto.events.models import EventPattern

        self.events.remove(pending)
        if fault == "drop":
            self.note(f"dropped {pending.label}")
            return
        if fault == "delay":
            pending.not_before = self.now + self.rng.choice((30, 300, 900))
            self.events.append(pending)
            self.note(f"delayed {pending.label} until +{pending.not_before - EPOCH:.0f}s")
            return
        if fault == "duplicate":
            later = PendingEvent(
                json.loads(json.dumps(pending.event)),
                self.now + self.rng.choice((0, 70, 400, 1000)),
                pending.label + " (copy)",
                copy=True,
            )
            self.events.append(later)
        for pattern, function in self.rules:
            if EventPattern.load(json.dumps(pattern)).matches_event(pending.event):  # type: ignore[arg-type]
                self.async_queue.append(
                    AsyncInvoke(function, pending.event, self.now, 0, f"{function} <- {pending.label}")
                )
                self.note(f"delivered {pending.label} to {function}")

    def _reconcile_tick(self) -> None:
        self.reconciles += 1
        self.async_queue.append(
            AsyncInvoke(
                "ReconcileFunction",
                {"source": "aws.events", "detail-type": "Scheduled Event"},
                self.now,
                0,
                "ReconcileFunction (schedule)",
            )
        )
        self.add_timer(self.now + self.reconcile_rate, "reconciler schedule", self._reconcile_tick, background=True)

    def _start_async(self, queued: AsyncInvoke) -> None:
        self.async_queue.remove(queued)
        if queued.function == "ReconcileFunction":
            self.reconcile_starts.append(self.now)
        self.invoke(
            queued.function, queued.event, f"async|{queued.attempt}", queued.label, async_attempt=queued.attempt
        )

    def _abort(self, execution: Execution) -> None:
        self.aborted = True
        self.widen.exercised.add(f"abort in {execution.state}")
        self.note("operator: StopExecution")
        self.stop_execution(execution.arn, "Operator.Abort", "stopped from the console")

    def _foreign(self) -> None:
        cluster, exit_code = self.plan.foreign[self.foreign_started]
        self.foreign_started += 1
        task = self.ecs.start_foreign(cluster, self.started_by, exit_code)
        self.note(
            f"someone else ran task {task.task_id[:8]} on {cluster} with startedBy {self.started_by} (exit {exit_code})"
        )

    def _fire_next_timer(self, explore: bool = False) -> None:
        at = self._next_time()
        assert at is not None
        deliverable = any(e.not_before <= self.now for e in self.events) or any(
            a.not_before <= self.now for a in self.async_queue
        )
        if explore and (self.invocations or deliverable) and at > self.now + self.plan.slow_seconds:
            # An event or an invocation on its way takes a while, not forever: only a fault makes it late.
            # Someone is mid-invocation: a call is slow, not the world asleep. Time moves on a little.
            self.slow_ticks.append((self.now, self._in_flight()))
            self.now += self.plan.slow_seconds
            self._clock(self.now)
            return
        self.now = max(self.now, at)
        self._clock(self.now)
        due = [t for t in self.timers if t[0] <= self.now]
        if due:
            first = min(due, key=lambda t: (t[0], t[1]))
            self.timers.remove(first)
            if not first[2].startswith("~"):
                self.note(f"timer: {first[2]}")
            first[3]()

    def _in_flight(self) -> frozenset[tuple[str, bool]]:
        flying: set[tuple[str, bool]] = set()
        for invocation in self.invocations:
            position = (invocation.calls, invocation.point)
            flying.add((invocation.function, invocation.ticked_at != position))
            invocation.ticked_at = position
        due: list[tuple[str, Any]] = [("event", e) for e in self.events if e.not_before <= self.now]
        due += [(f"async:{a.function}", a) for a in self.async_queue if a.not_before <= self.now]
        for name, pending in due:
            flying.add((name, id(pending) not in self._ticked))
            self._ticked.add(id(pending))
        return frozenset(flying)

    def _next_time(self) -> float | None:
        moments = [t[0] for t in self.timers]
        moments += [e.not_before for e in self.events if e.not_before > self.now]
        moments += [a.not_before for a in self.async_queue if a.not_before > self.now]
        return min(moments) if moments else None

    def _clock(self, moment: float) -> None:
        """Set by the runner: moves the process's clock (time-machine) with the virtual one."""

    # ---- choosing ----

    def actions(self, explore: bool) -> list[Action]:
        """What may happen next, the ordinary course first (choice 0 is always the least surprising)."""
        found: list[Action] = []
        for invocation in list(self.invocations):
            if invocation.asleep_until is not None and invocation.asleep_until > self.now:
                continue
            faults: list[tuple[str, Callable[[], None]]] = []
            # ValidateRequest runs before any record or task exists: its failures end the run with nothing to settle
            # but the caller's token (ExecutionEnded answers it); without one, faults are spent elsewhere.
            if invocation.function != "ValidateRequestFunction" or self.plan.caller:
                faults.append(("crash", lambda i=invocation: self._resume(i, "crash")))
            if "." in invocation.point and invocation.function != "ValidateRequestFunction":
                faults += [
                    ("fail-before", lambda i=invocation: self._resume(i, "fail-before")),
                    ("fail-after", lambda i=invocation: self._resume(i, "fail-after")),
                ]
            found.append(
                Action(f"{invocation.label}: {invocation.point}", lambda i=invocation: self._resume(i, "go"), faults)
            )
        for execution in self.executions.values():
            if execution.status != "RUNNING":
                continue
            if execution.phase == "ready":
                found.append(Action(f"step {execution.state}", lambda e=execution: self._step(e)))
            elif execution.phase == "to_invoke":
                found.append(
                    Action(
                        f"invoke {execution.pending[0] if execution.pending else '?'}",
                        lambda e=execution: self._invoke_task(e, False),
                        [("throttled", lambda e=execution: self._invoke_task(e, True))],
                    )
                )
            elif execution.phase == "result":
                found.append(
                    Action(
                        f"{execution.state} invocation answers",
                        lambda e=execution: self._task_result(e, False),
                        [("answer-lost", lambda e=execution: self._task_result(e, True))],
                    )
                )
        for pending in list(self.events):
            if pending.not_before <= self.now:
                found.append(
                    Action(
                        f"deliver {pending.label}",
                        lambda p=pending: self._deliver(p, None),
                        [(f, lambda p=pending, f=f: self._deliver(p, f)) for f in ("duplicate", "delay", "drop")],
                    )
                )
        for queued in list(self.async_queue):
            if queued.not_before <= self.now:
                found.append(Action(f"start {queued.label}", lambda q=queued: self._start_async(q)))
        if explore:
            running = [e for e in self.executions.values() if e.status == "RUNNING"]
            if self.plan.abort and not self.aborted and running:
                found.append(Action("operator: StopExecution", lambda e=running[0]: self._abort(e)))
            if self.foreign_started < len(self.plan.foreign) and running:
                found.append(Action("foreign task", self._foreign))
            if self.passes_left > 0:
                found.append(Action("reconciler pass", self._extra_pass))
        # State transitions and the start of a state's invocation take milliseconds: time passes while handlers
        # work, events travel and states wait, not between two states.
        transient = any(
            e.status == "RUNNING" and e.phase in ("ready", "to_invoke", "result") for e in self.executions.values()
        ) or any(i.function == "ValidateRequestFunction" for i in self.invocations)
        if self._next_time() is not None and not (explore and transient):
            found.append(Action("time passes", lambda: self._fire_next_timer(explore), kind="time"))
        return found

    def _extra_pass(self) -> None:
        self.passes_left -= 1
        self.async_queue.append(AsyncInvoke("ReconcileFunction", {}, self.now, 0, "ReconcileFunction (extra pass)"))

    def step(self, explore: bool) -> bool:
        target = widen.abort_target(self)
        if target is not None and (not explore or self.choose(2) == 0):
            self._abort(target)
            return True
        actions = self.actions(explore)
        if not actions:
            return False
        if explore:
            action = actions[self.choose(len(actions))]
        else:
            work = [a for a in actions if a.kind == "work"]
            action = work[0] if work else actions[0]
        if explore and action.faults and self.budget > 0:
            pick = self.choose(NORMAL_WEIGHT + len(action.faults))
            if pick >= NORMAL_WEIGHT:
                name, fault = action.faults[pick - NORMAL_WEIGHT]
                self.budget -= 1
                self.faults_injected.append(f"{name} at {action.label}")
                self.fault_times.append(self.now)
                self.note(f"FAULT {name}: {action.label}")
                fault()
                return True
        if action.kind == "work":
            self.note(action.label)
        action.run()
        return True

    def quiescent(self) -> bool:
        """Nothing left but the reconciler's schedule: no invocation, event, execution or task timer pending
        (reconciler passes themselves aside)."""
        return (
            all(i.function == "ReconcileFunction" for i in self.invocations)
            and not self.events
            and all(a.function == "ReconcileFunction" for a in self.async_queue)
            and all(e.status != "RUNNING" for e in self.executions.values())
            and all(label.startswith("~") for _, _, label, _ in self.timers)
        )

    def run(self) -> None:
        """The schedule: explore with choices and faults, then drain (no faults, the ordinary course) until settled."""
        self.start_execution(self.request())
        for number in range(self.plan.explore_steps):
            if number == self.widen.duplicate_at:
                widen.start_duplicate(self)
            if not self.step(explore=True):
                break
            if self.quiescent():
                break
        if self.widen.duplicate_at is not None and len(self.executions) == 1:
            widen.start_duplicate(self)  # the trigger is redelivered after the run ended
        self.note("--- drain: no more faults; everything pending is delivered, reconciler on its schedule ---")
        mark: int | None = None
        failures = len(self.widen.caller_failures)
        while self.now - EPOCH < HORIZON:
            if self.quiescent():
                # settled: let the reconciler run three more scheduled passes (it may still find work), then stop;
                # a pass whose answer to the caller failed (the drawn failures outlive the exploration) counts anew
                if mark is None or len(self.widen.caller_failures) != failures:
                    mark, failures = self.reconciles, len(self.widen.caller_failures)
                if self.reconciles - mark >= 3 and not self.invocations and not self.async_queue:
                    break
            else:
                mark = None
            if not self.step(explore=False):
                break

    def finish(self) -> None:
        """End every invocation thread still paused (the horizon passed with work pending)."""
        for invocation in list(self.invocations):
            while not invocation.done:
                invocation.instruction = "crash"
                invocation.go.release()
                self.baton.acquire()


def environment(world: World) -> dict[str, str]:
    return {
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "RUNS_TABLE": world.table.name,
        "LOGS_BUCKET": BUCKET,
        "EVENT_BUS_NAME": BUS,
        "STARTED_BY_PREFIX": PREFIX,
        "LOG_SETTLE_SECONDS": str(world.plan.log_settle_seconds),
        "COPY_RESERVE_SECONDS": str(world.plan.copy_reserve_seconds),
        "LOG_TAIL_LINES": "5",
        "RECONCILE_GRACE_SECONDS": str(world.plan.grace_seconds),
        "REDACT_SECRETS": "true",
        # The world models ECS, Step Functions, DynamoDB, S3 and Logs; the preflight's reads (ECR, IAM, EC2) are
        # tested on moto and the local engine (tests/handlers/test_preflight_handler.py, tests/e2e).
        "PREFLIGHT": "disabled",
        "DEFAULT_TIMEOUT_SECONDS": "3600",
        "POWERTOOLS_SERVICE_NAME": "ecsrun",
        "POWERTOOLS_METRICS_NAMESPACE": "ecsrun",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_DISABLED": "true",
        "POWERTOOLS_LOG_LEVEL": "INFO",
    }


def virtual_sleep(real: Callable[[float], None], world: Callable[[], World | None]) -> Callable[[float], None]:
    """A `time.sleep` that, called by a handler of the current world, sleeps in virtual time."""

    def sleep(seconds: float) -> None:
        current = world()
        if current is None or getattr(_local, "invocation", None) is None:
            real(seconds)
            return
        current.sleep(seconds)

    return sleep


__all__ = ["EPOCH", "FATES", "World", "environment", "os", "virtual_sleep"]
