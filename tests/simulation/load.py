"""`make load`: many runs at once through the deployed ASL and the real handlers on the virtual clock, with AWS's
default rate quotas enforced as token buckets (tests/simulation/quotas.py), and what it did to the runs.

It reuses the simulation's world (world.py: the ASL interpreter, the Lambda invocations as actors, the fakes and
moto's DynamoDB table) without its exploration: no injected faults, the ordinary course of events, throttling the
only surprise. A driver starts runs at a steady rate (the caller's StartExecution, itself throttled and retried);
every task runs `task_seconds` with `containers` containers of `log_mb` pages of log each (one GetLogEvents page
per MB), one run in ten exits 1. Handlers do not pause at each AWS call here (nothing to interleave): an
invocation runs until it sleeps (a settle wait, a throttled call's back-off) or returns.

    python -m tests.simulation.load                       # 10 M runs a day / 100, quotas / 100, both profiles
    python -m tests.simulation.load --quotas advised --scale 20 --json load.json

Profiles: `default`, AWS's default quotas; `advised`, the adjustable ones raised as docs/capacity.md advises at
10 M runs a day (read from the same measured calls `ecsrun capacity` reads). Scaling: every rate (runs a second)
and every quota is divided by `--scale`, durations are not: the same utilisation of every quota, the same
binding one, 1/scale of the runs. A bucket never holds less than one token.
"""

from __future__ import annotations

import argparse
import heapq
import json
import sys
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ecsrun.adapters import pacing
from ecsrun.adapters.clients import max_attempts
from ecsrun.domain.ratequotas import throttled_by
from ecsrun.domain.runtask import client_token

from tests.simulation import world as sim
from tests.simulation.fakes import REGION, FakeEcs, FakeLogs, FakeS3, FakeTask, Paginator, TaskPlan
from tests.simulation.quotas import Quotas, backoff, operation_name

FULL_RATE = 10_000_000 / 86_400  # 10 M runs a day, a second
ACTIVE = ("ready", "to_invoke", "result")
RULE_TARGETS = ("TaskStoppedFunction", "ExecutionEndedFunction")


@dataclass
class LoadPlan:
    rate: float = FULL_RATE  # runs a second at full scale
    scale: float = 100.0
    seconds: float = 600.0  # arrivals for this long (virtual)
    drain: float = 3600.0  # then at most this long for the last runs to end
    containers: int = 2
    log_mb: int = 5
    task_seconds: float = 600.0
    fail_every: int = 10  # every tenth run's task exits 1
    seed: int = 1
    raised: dict[str, float] = field(default_factory=dict)  # quotas raised (a second, unscaled) over AWS's defaults
    mode: str = "read-back"  # or firelens: the containers log through a FireLens router to S3

    @property
    def runs_per_second(self) -> float:
        return self.rate / self.scale


@dataclass
class Run:
    run_id: str
    requested: float
    expected: str  # the task's verdict: SUCCEEDED or FAILED
    started: float | None = None  # StartExecution accepted
    start_tries: int = 0
    run_task: float | None = None
    stopped: float | None = None
    ended: float | None = None
    status: str | None = None
    error: str | None = None
    ends: int = 0


@dataclass
class LoadExecution(sim.Execution):
    notify: Any = None

    def __setattr__(self, name: str, value: Any) -> None:
        object.__setattr__(self, name, value)
        if name == "phase" and value in ACTIVE and getattr(self, "notify", None) is not None:
            self.notify(self)


class LoadLogs(FakeLogs):
    PAGE = 1  # one line stands for one MB page of GetLogEvents


FIRELENS_BUCKET = "sim-firelens"
FIRELENS_ROUTER = "log_router"
FIRELENS_OPTIONS = {  # Fluent Bit's s3 output, one object per container for a 10-minute task (docs/logs.md)
    "Name": "s3",
    "region": REGION,
    "bucket": FIRELENS_BUCKET,
    "total_file_size": "100M",
    "upload_timeout": "10m",
    "use_put_object": "On",
    "s3_key_format": "/ecsrun-firelens/$TAG/%Y/%m/%d/%H_%M_%S-$UUID.log",
}
PAGINATED = {
    "list_objects_v2": ("ContinuationToken", "NextContinuationToken"),
    "list_multipart_uploads": ("KeyMarker", "NextKeyMarker"),
    "list_tasks": ("nextToken", "nextToken"),
}


class LoadS3(FakeS3):
    """FakeS3 with what the FireLens source reads: each object's LastModified, and the open multipart uploads."""

    def __init__(self, now: Any) -> None:
        super().__init__()
        self._now, self.written_at = now, {}  # type: ignore[var-annotated]

    def put_object(self, Bucket: str, Key: str, Body: Any = b"", **kwargs: Any) -> dict[str, Any]:
        self.written_at[Key] = self._now()
        return super().put_object(Bucket, Key, Body, **kwargs)

    def list_objects_v2(self, Bucket: str, Prefix: str = "", **kwargs: Any) -> dict[str, Any]:
        listed = super().list_objects_v2(Bucket, Prefix, **kwargs)
        for item in listed["Contents"]:
            item["LastModified"] = datetime.fromtimestamp(self.written_at.get(item["Key"], sim.EPOCH), UTC)
        return listed

    def list_multipart_uploads(self, Bucket: str, Prefix: str = "", **_: Any) -> dict[str, Any]:
        return {"Uploads": [], "IsTruncated": False}


class PagingProxy(sim.Proxy):
    """A proxy whose paginators also page list_multipart_uploads (each page a proxied call)."""

    def __getattr__(self, name: str) -> Any:
        if name == "get_paginator":
            return lambda operation: Paginator(getattr(self, operation), *PAGINATED[operation])
        return super().__getattr__(name)


class LoadTask(FakeTask):
    names: tuple[str, ...] = ("app",)

    def describe(self) -> dict[str, Any]:
        described = super().describe()
        if described["containers"]:
            # the app's: every container of a load's task ends as it does
            one = next(c for c in described["containers"] if c["name"] == "app")
            described["containers"] = [
                {**one, "name": name, "containerArn": one["containerArn"].rsplit("/", 1)[0] + "/" + name}
                for name in self.names
            ]
            for container in described["containers"]:
                if container["name"] == FIRELENS_ROUTER and self.last_status == "STOPPED":
                    container["exitCode"] = 0  # the router flushes on SIGTERM and exits 0 after the others
        return described


class LoadEcs(FakeEcs):
    """FakeEcs with `containers` logging containers per task, and the moments the load report needs."""

    def __init__(self, world: LoadWorld, containers: int, mode: str):
        super().__init__(world)
        self.apps = tuple(["app"] + [f"side{i}" for i in range(1, containers)])
        first = self.definition["containerDefinitions"][0]
        self.definition["containerDefinitions"] = [{**first, "name": name} for name in self.apps]
        self.names = self.apps
        self.firelens = mode == "firelens"
        self.records: dict[tuple[str, str], list[tuple[float, str]]] = {}
        if self.firelens:
            for app in self.definition["containerDefinitions"]:
                app["logConfiguration"] = {"logDriver": "awsfirelens", "options": dict(FIRELENS_OPTIONS)}
            router = {"name": FIRELENS_ROUTER, "image": "public.ecr.aws/aws-observability/aws-for-fluent-bit:stable",
                      "essential": True, "firelensConfiguration": {"type": "fluentbit"}}  # fmt: skip
            self.definition["containerDefinitions"].insert(0, router)
            self.names = (FIRELENS_ROUTER, *self.apps)
        self.load = world

    def _create(self, cluster: str, args: dict[str, Any], token: str | None, plan: TaskPlan, *, foreign: bool,
                attempt: int | None) -> FakeTask:  # fmt: skip
        task = super()._create(cluster, args, token, plan, foreign=foreign, attempt=attempt)
        task.__class__ = LoadTask
        task.names = self.names  # type: ignore[attr-defined]
        run = self.load.run_of(args.get("startedBy"))
        if run is not None and run.run_task is None:
            run.run_task = self.world.now
        return task

    def _write(self, task: FakeTask, text: str, delay: float = 0.0) -> None:
        task.lines_written += 1
        written = int(self.world.now * 1000) + task.lines_written
        if self.firelens:  # to the router's buffer, one per container's tag
            for name in self.apps:
                self.records.setdefault((task.task_id, name), []).append((written / 1000, text))
            return
        for name in self.names:
            self.world.logs.append(self.LOG_GROUP, f"ecs/{name}/{task.task_id}", written, text,
                                   int((self.world.now + delay) * 1000))  # fmt: skip

    def flush(self, task: FakeTask) -> None:
        """The router's last flush on SIGTERM: each container's buffer as one object, as Fluent Bit writes it."""
        from ecsrun.domain import firelens

        target = firelens.target(FIRELENS_OPTIONS, FIRELENS_ROUTER, REGION)
        assert target is not None
        for name in self.apps:
            records = self.records.pop((task.task_id, name), [])
            if not records:
                continue
            lines = [
                json.dumps(
                    {
                        "date": datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                        "container_id": task.task_id,
                        "container_name": name,
                        "source": "stdout",
                        "log": text,
                        "ecs_cluster": task.cluster_arn,
                        "ecs_task_arn": task.arn,
                        "ecs_task_definition": "sim-app:1",
                    }
                )
                for at, text in records
            ]
            key = firelens.render_key(
                target.key_format,
                firelens.tag(name, task.task_id),
                delimiters=target.tag_delimiters,
                first_record=datetime.fromtimestamp(records[0][0], UTC),
                uuid=f"{len(self.world.s3.objects):08d}",
            )
            self.world.s3.put_object(Bucket=FIRELENS_BUCKET, Key=key, Body="\n".join(lines) + "\n")

    def _stop(self, task: FakeTask, code: str, exit_code: int | None, reason: str | None, why: str) -> None:
        if task.last_status != "STOPPED":
            run = self.load.run_of(task.started_by)
            if run is not None and run.stopped is None:
                run.stopped = self.world.now
        super()._stop(task, code, exit_code, reason, why)


class TableProxy(sim.Proxy):
    """The runs table's proxy, keeping each write's parameters for the index's quota."""

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._target, name)
        if name in ("meta", "exceptions", "name") or not callable(attribute):
            return attribute

        def call(*args: Any, **kwargs: Any) -> Any:
            self._world.table_params = kwargs  # type: ignore[attr-defined]
            return self._world.aws_call(self._service, name, lambda: attribute(*args, **kwargs))

        return call


class LoadWorld(sim.World):
    """Runs arriving at a steady rate, every AWS call against its quota, no exploration."""

    def __init__(self, plan: LoadPlan, *, dynamodb: Any, template: Any):
        self.heap: list[tuple[float, int, str, Any]] = []  # the timers, before World's constructor sets one
        super().__init__(plan.seed, lambda n: 0, dynamodb=dynamodb, template=template)
        self.load = plan
        self.plan.timeout_seconds = int(plan.task_seconds * 3)
        self.plan.log_settle_seconds = 10  # template.yaml's default
        self.plan.final_flush = 0.5
        self.ecs = LoadEcs(self, plan.containers, plan.mode)
        self.logs = LoadLogs(lambda: self.now)
        self.s3 = LoadS3(lambda: self.now)
        self.clients["ecs"] = sim.Proxy(self, "ecs", self.ecs)
        self.clients["logs"] = sim.Proxy(self, "logs", self.logs)
        self.clients["s3"] = PagingProxy(self, "s3", self.s3)
        self.quotas = Quotas(lambda: self.now, scale=plan.scale, region=REGION, raised=plan.raised)
        self.table_proxy = TableProxy(self, "dynamodb", dynamodb)
        self.pacing_table: Any = None  # the stack's PacingTable (moto), unproxied: its writes are not the runs table's
        self.table_params: dict[str, Any] = {}
        self.runs: dict[str, Run] = {}
        self.by_started_by: dict[str, Run] = {}
        self.by_execution: dict[str, Run] = {}
        self.attempts: dict[str, tuple[Run, int]] = {}
        self.runnable: deque[sim.Invocation] = deque()
        self.busy: deque[LoadExecution] = deque()
        self.ready_async: deque[sim.AsyncInvoke] = deque()
        self.backlog: list[dict[str, Any]] = []
        self.gave_up: Counter[str] = Counter()  # calls whose every attempt was throttled (the handler saw it)
        self.delayed: Counter[str] = Counter()  # what waited for a quota without failing: transitions, deliveries
        self._current: Run | None = None

    # ---- the world's hooks ----

    def add_timer(self, at: float, label: str, fn: Any, background: bool = False) -> None:
        self._timer_seq += 1
        heapq.heappush(self.heap, (at, self._timer_seq, label, fn))

    def note(self, text: str) -> None:
        """No trace: thousands of runs."""

    def emit(self, event: dict[str, Any]) -> None:
        detail = event.get("detail") or {}
        if self.ecs.firelens and event.get("source") == "aws.ecs" and detail.get("lastStatus") == "STOPPED":
            task = self.ecs.tasks.get(detail.get("taskArn", ""))
            if task is not None:
                self.ecs.flush(task)  # the router flushes before ECS reports the task STOPPED
        super().emit(event)

    def _observe_record(self) -> None:
        """The single-run invariants' record history is not kept under load."""

    def run_of(self, started_by: str | None) -> Run | None:
        return self.by_started_by.get(started_by or "")

    def attempt_of_token(self, token: str | None) -> int | None:
        found = self.attempts.get(token or "")
        self._current = found[0] if found else None
        return found[1] if found else None

    def runtask_refusal(self, attempt: int | None) -> str:
        return "ok"

    def task_plan(self, attempt: int | None) -> TaskPlan:
        run = self._current
        fate = "exit1" if run is not None and run.expected == "FAILED" else "exit0"
        return TaskPlan(fate, self.load.task_seconds, lines=self.load.log_mb)

    def aws_call(self, service: str, operation: str, call: Any) -> Any:
        invocation = getattr(sim._local, "invocation", None)
        if invocation is None:
            return call()
        name = operation_name(operation)
        keys = [q.key for q in throttled_by(service, name)] + self.table_quotas(service, name)
        attempts = max_attempts(service)  # as ecsrun's client for this service retries
        for attempt in range(1, attempts + 1):
            error = self.quotas.admit_key(keys, name)
            if error is None:
                break
            if attempt == attempts:
                self.gave_up[f"{service}.{name}"] += 1
                raise error
            self.sleep(backoff(attempt, self.rng))
        invocation.calls += 1
        return call()

    def table_quotas(self, service: str, operation: str) -> list[str]:
        """A runs-table write takes a write unit from the table, and one from the `waiting` index's single
        partition key value when it sets, changes or removes the index's key (the request names `waiting`)."""
        if service != "dynamodb" or operation not in ("PutItem", "UpdateItem", "DeleteItem"):
            return []
        named = "waiting" in json.dumps(self.table_params, default=str)
        return ["DynamoDB.WriteRequestUnits"] + (["DynamoDB.WaitingIndexWrite"] if named else [])

    def sleep(self, seconds: float) -> None:
        invocation: sim.Invocation = sim._local.invocation
        invocation.asleep_until = self.now + seconds
        self.add_timer(invocation.asleep_until, "wake", lambda i=invocation: self.runnable.append(i))
        instruction = self._pause(invocation, "sleep")
        invocation.asleep_until = None
        if instruction == "crash":
            raise sim.SimulatedCrash

    def invoke(self, function: str, event: Any, origin: str, label: str, async_attempt: int = 0) -> sim.Invocation:
        invocation = super().invoke(function, event, origin, label, async_attempt)
        if invocation.done:  # it ran to its end without sleeping: finished once its caller has recorded it
            self.runnable.append(invocation)
        return invocation

    def _invocation_main(self, invocation: sim.Invocation) -> None:
        """World's, without the pauses at the start and the return: nothing is interleaved there under load, and
        each pause is two thread switches (the cost of a load on a busy machine)."""
        import importlib
        import traceback

        sim._local.invocation = invocation
        try:
            module, _, attr = self.handlers[invocation.function].rpartition(".")
            handler = getattr(importlib.import_module(module), attr)
            context = sim.FakeContext(invocation.function, self, self.function_timeouts[invocation.function])
            result = handler(json.loads(json.dumps(invocation.event)), context)
            invocation.result = json.loads(json.dumps(result))
        except sim.SimulatedCrash:
            invocation.crashed = True
            invocation.error = ("Lambda.Unknown", "The cause could not be determined because Lambda did not "
                                "return an error type.")  # fmt: skip
        except Exception as exc:
            invocation.error = (type(exc).__name__, str(exc))
            self.logs_text.write("".join(traceback.format_exception(exc))[-2000:])
        finally:
            invocation.done = True
            sim._local.invocation = None
            self.baton.release()

    def start_execution(self, request: dict[str, Any]) -> sim.Execution:
        run = self.runs[request["runId"]]
        name = f"{run.run_id}-0001"
        arn = f"arn:aws:states:{REGION}:{sim.ACCOUNT}:execution:ecsrun-sim:{name}"
        execution = LoadExecution(arn, name, request, self.now, state=self.definition["StartAt"], data=request)
        execution.notify = self.busy.append
        self.executions[arn] = execution
        self.by_execution[arn] = run
        self.busy.append(execution)
        return execution

    def _end(self, execution: sim.Execution, status: str, **kwargs: Any) -> None:
        running = execution.status == "RUNNING"
        super()._end(execution, status, **kwargs)
        run = self.by_execution.get(execution.arn)
        if run is not None and running:
            run.ended, run.status, run.error = self.now, status, execution.error
            run.ends += 1

    # ---- the driver ----

    def request_for(self, run: Run) -> dict[str, Any]:
        return {
            "runId": run.run_id,
            "cluster": "default",
            "taskDefinition": "sim-app",
            "launchType": "FARGATE",
            "networkConfiguration": {"awsvpcConfiguration": {"subnets": ["subnet-0123456789abcdef0"]}},
            "timeoutSeconds": self.plan.timeout_seconds,
        }

    def arrive(self, index: int) -> None:
        run_id = f"load-{index:06d}"
        run = Run(
            run_id, self.now, "FAILED" if index % self.load.fail_every == self.load.fail_every - 1 else "SUCCEEDED"
        )
        self.runs[run_id] = run
        self.by_started_by[sim.started_by(sim.PREFIX, run_id)] = run
        for attempt in range(1, 4):
            self.attempts[client_token(run_id, attempt)] = (run, attempt)
        self.try_start(run)

    def try_start(self, run: Run) -> None:
        """The caller's StartExecution: throttled, it tries again after the SDK's back-off, until it is taken."""
        run.start_tries += 1
        if self.quotas.admit("stepfunctions", "StartExecution") is not None:
            delay = backoff(min(run.start_tries, 5), self.rng)
            self.add_timer(self.now + delay, "start again", lambda r=run: self.try_start(r))
            return
        run.started = self.now
        self.start_execution(self.request_for(run))

    # ---- the scheduler ----

    def progress(self, execution: LoadExecution) -> None:
        if execution.status != "RUNNING" or execution.phase not in ACTIVE:
            return
        if execution.phase == "ready":
            wait = self.quotas.wait("StepFunctions.StateTransitions")
            if wait > 0:  # Step Functions delays a throttled transition (ExecutionThrottled), it does not fail it
                self.delayed["StepFunctions.StateTransitions"] += 1
                self.add_timer(self.now + wait, "transition", lambda e=execution: self.busy.append(e))
                return
            self.quotas.admit_key(["StepFunctions.StateTransitions"], "StateTransition")
            self._step(execution)
        elif execution.phase == "to_invoke":
            throttled = self.quotas.admit("lambda", "Invoke") is not None
            self._invoke_task(execution, throttled)
        else:
            self._task_result(execution, False)

    def drain_world(self) -> None:
        """Move what the world queued (events, asynchronous invocations) into the scheduler's queues."""
        from moto.events.models import EventPattern

        while self.events:
            pending = self.events.pop()
            for pattern, function in self.rules:
                if EventPattern.load(json.dumps(pattern)).matches_event(pending.event):  # type: ignore[arg-type]
                    self.async_queue.append(sim.AsyncInvoke(function, pending.event, self.now, 0, function))
        while self.async_queue:
            queued = self.async_queue.pop()
            if queued.not_before <= self.now:
                self.ready_async.append(queued)
            else:
                self.add_timer(queued.not_before, "async", lambda q=queued: self.ready_async.append(q))

    def start_async(self, queued: sim.AsyncInvoke) -> None:
        # EventBridge delays a throttled target invocation; Lambda keeps a throttled asynchronous event and tries
        # again: neither fails it.
        keys = ["Lambda.Invocations"] + (["EventBridge.Invocation"] if queued.function in RULE_TARGETS else [])
        waits = [self.quotas.wait(k) for k in keys]
        if max(waits) > 0:
            self.delayed[f"asynchronous {queued.function}"] += 1
            self.add_timer(self.now + max(waits), "async", lambda q=queued: self.ready_async.append(q))
            return
        self.quotas.admit_key(keys, "Invoke")
        if queued.function == "ReconcileFunction":
            self.reconcile_starts.append(self.now)
        self.invoke(queued.function, queued.event, f"async|{queued.attempt}", queued.label, queued.attempt)

    def once(self) -> bool:
        if self.runnable:
            invocation = self.runnable.popleft()
            awake = invocation.asleep_until is None or invocation.asleep_until <= self.now
            if invocation.done and invocation in self.invocations:
                self._finished(invocation)
            elif not invocation.done and invocation in self.invocations and awake:
                self._resume(invocation, "go")
        elif self.busy:
            self.progress(self.busy.popleft())
        elif self.ready_async:
            self.start_async(self.ready_async.popleft())
        elif self.heap:
            at, _, _, fn = heapq.heappop(self.heap)
            self.now = max(self.now, at)
            self._clock(self.now)
            fn()
        else:
            return False
        self.drain_world()
        return True

    def simulate(self, log: Any = None) -> None:
        plan = self.load
        count = int(plan.runs_per_second * plan.seconds)
        for index in range(count):
            self.add_timer(sim.EPOCH + index / plan.runs_per_second, "arrival", lambda i=index: self.arrive(i))
        sample = 0.0
        while self.now - sim.EPOCH <= plan.seconds + plan.drain:
            if self.now - sim.EPOCH >= sample:
                self.backlog.append(self.snapshot())
                if log is not None:
                    log(self.backlog[-1])
                sample = (int((self.now - sim.EPOCH) // 60) + 1) * 60  # once a virtual minute, however time jumps
            if len(self.runs) == count and all(r.ended is not None for r in self.runs.values()):
                if self.heap and self.heap[0][0] - sim.EPOCH > plan.seconds + plan.drain:
                    break
                if not self.runnable and not self.busy and not self.ready_async and not self.invocations:
                    break
            if not self.once():
                break
        self.backlog.append(self.snapshot())

    def snapshot(self) -> dict[str, Any]:
        runs = self.runs.values()
        return {
            "t": round(self.now - sim.EPOCH),
            "requested": len(self.runs),
            "waitingToStart": sum(1 for r in runs if r.started is None),
            "tasksRunning": sum(1 for r in runs if r.run_task is not None and r.stopped is None),
            "stoppedNotEnded": sum(1 for r in runs if r.stopped is not None and r.ended is None),
            "ended": sum(1 for r in runs if r.ended is not None),
        }


def percentile(values: list[float], share: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


@dataclass
class LoadResult:
    plan: LoadPlan
    runs: list[Run]
    backlog: list[dict[str, Any]]
    throttled: dict[str, int]
    gave_up: dict[str, int]
    delayed: dict[str, int]
    taken: dict[str, int]
    virtual_seconds: float
    wall_seconds: float
    extra: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        runs = self.runs
        ended = [r for r in runs if r.ended is not None]
        lost = [r for r in runs if r.ended is None]
        wrong = [r for r in ended if r.status != r.expected]
        # Throttling is the only fault the load injects: a run that ends otherwise than its task failed by it.
        throttle_failures = wrong
        to_run_task = [r.run_task - r.requested for r in runs if r.run_task is not None]
        to_end = [r.ended - r.stopped for r in runs if r.ended is not None and r.stopped is not None]
        busiest = max(self.taken, key=lambda k: self.taken[k] / self._capacity(k), default=None)
        return {
            "runsPerSecond": round(self.plan.runs_per_second, 3),
            "scale": self.plan.scale,
            "runsStarted": sum(1 for r in runs if r.started is not None),
            "runsRequested": len(runs),
            "runsEnded": len(ended),
            "runsLost": len(lost),
            "runsEndedTwice": sum(1 for r in runs if r.ends > 1),
            "verdictsDifferingFromTheTask": len(wrong),
            "failedBecauseOfThrottling": len(throttle_failures),
            "wrongEndings": dict(Counter(f"{r.status} {r.error or ''}".strip() for r in wrong)),
            "requestToRunTaskP50": percentile(to_run_task, 0.5),
            "requestToRunTaskP99": percentile(to_run_task, 0.99),
            "stoppedToEndP50": percentile(to_end, 0.5),
            "stoppedToEndP99": percentile(to_end, 0.99),
            "throttledCalls": self.throttled,
            "callsThatGaveUp": self.gave_up,
            "delayed": self.delayed,
            "bindingQuota": busiest,
            "containerLogs": self.extra.get("logs", {}),
            "virtualSeconds": round(self.virtual_seconds),
            "wallSeconds": round(self.wall_seconds, 1),
        }

    def _capacity(self, key: str) -> float:
        from ecsrun.domain.ratequotas import BY_KEY

        quota = BY_KEY[key]
        rate = max(quota.per_second(REGION), self.plan.raised.get(key, 0.0))
        return rate / self.plan.scale * max(1.0, self.virtual_seconds)


def advised(runs_per_day: float = 10_000_000, headroom: float = 2.0, mode: str = "read-back") -> dict[str, float]:
    """The quotas docs/capacity.md says to ask AWS Support for at `runs_per_day` (the typical run, in `mode`):
    every adjustable one used over half, raised to `headroom` times its use."""
    import math

    from ecsrun.cli.capacity import load_calls
    from ecsrun.domain import capacity

    data = load_calls()
    typical = data["typical"]
    usages = capacity.usage(data, runs_per_day, mode=mode, containers=typical["containers"],
                            log_mb=typical["logMB"], region=REGION)  # fmt: skip
    return {
        u.quota.key: math.ceil(u.calls_per_second * headroom / 10) * 10
        for u in usages
        if u.quota.adjustable and u.utilization > 1 / headroom
    }


def run_load(plan: LoadPlan, log: Any = None) -> LoadResult:
    """One load, in this process (the simulation's process-wide setup: moto, the virtual clock, the clients)."""
    from tests.simulation.runner import Simulator

    started = time.perf_counter()
    with Simulator() as simulator:
        table = simulator._dynamodb.create_table(
            TableName="runs-load", **simulator.template.table_definition("RunsTable")
        )
        world = LoadWorld(plan, dynamodb=table, template=simulator.template)
        world.pacing_table = simulator._dynamodb.create_table(
            TableName=PACING_TABLE, **simulator.template.table_definition("PacingTable")
        )
        _install(simulator, world)
        level = simulator._logger.log_level
        simulator._logger.setLevel("ERROR")  # thousands of runs: their INFO lines are nobody's to read
        try:
            world.simulate(log)
        finally:
            world.finish()
            pacing.SharedPace = _SHARED_PACE  # type: ignore[misc]
            simulator._world = None
            simulator._logger.setLevel(level)
    result = LoadResult(plan, list(world.runs.values()), world.backlog, dict(world.quotas.throttled),
                      dict(world.gave_up), dict(world.delayed), dict(world.quotas.taken), world.now - sim.EPOCH,
                      time.perf_counter() - started)  # fmt: skip
    result.extra["logs"] = manifests(world)
    return result


def manifests(world: LoadWorld) -> dict[str, int]:
    """Each run's manifest, by where its containers' logs came from and whether they are complete."""
    found: Counter[str] = Counter()
    for key, body in world.s3.objects.items():
        if key.startswith("runs/") and key.endswith("/manifest.json"):
            for entry in json.loads(body).get("logs", {}).get("containers", []):
                if entry.get("name") == FIRELENS_ROUTER:
                    continue  # the router logs nowhere here (its own awslogs stream would be read back)
                complete = "complete" if entry.get("complete", True) else "INCOMPLETE"
                found[f"{entry.get('source', 'cloudwatch-logs')} {complete}"] += 1
    return dict(found)


PACING_TABLE = "pacing-load"
LOG_READS_PER_SECOND = 8  # template.yaml's LogReadsPerSecond default
_SHARED_PACE = pacing.SharedPace


def _scaled_pace(scale: float) -> Any:
    """SharedPace at its rate / scale (the setting is a whole number of requests a second; the scaled quota is not)."""

    class ScaledPace(_SHARED_PACE):  # type: ignore[misc, valid-type]
        def __init__(self, table: Any, name: str, rate_per_second: float, **kwargs: Any) -> None:
            super().__init__(table, name, rate_per_second / scale, **kwargs)

    return ScaledPace


def _install(simulator: Any, world: LoadWorld) -> None:
    """What Simulator.run does for one world: the clock, the environment, the handlers' clients."""
    import io
    import os
    import random

    simulator._world = world
    world._clock = simulator._clock.move_to  # type: ignore[method-assign]
    simulator._clock.move_to(sim.EPOCH)
    os.environ.update(sim.environment(world))
    if world.load.mode == "firelens":
        os.environ["FIRELENS_LOG_BUCKETS"] = FIRELENS_BUCKET
    random.seed(world.seed)
    simulator._clients.client = lambda service, region=None: world.client(service)
    # GetLogEvents on the stack's shared pace (PacingTable, LOG_READS_PER_SECOND as template.yaml sets them), the
    # pace divided by --scale like every quota; the pace's own writes are not counted against the runs table.
    os.environ.update({"PACING_TABLE": PACING_TABLE, "LOG_READS_PER_SECOND": str(LOG_READS_PER_SECOND)})
    pacing.SharedPace = _scaled_pace(world.load.scale)  # type: ignore[misc]
    simulator._clients.table = lambda table_name, region=None: (
        world.pacing_table if table_name == PACING_TABLE else world.table_proxy
    )
    simulator._logger.registered_handler.setStream(io.StringIO())
    world.logs_text = io.StringIO()


def report(result: LoadResult) -> list[str]:
    s = result.summary()
    plan = result.plan

    def seconds(value: float | None) -> str:
        return "n/a" if value is None else f"{value:,.1f} s"

    lines = [
        "| measure | result |",
        "|---|---|",
        f"| Runs requested / started / ended | {s['runsRequested']:,} / {s['runsStarted']:,} / {s['runsEnded']:,} |",
        f"| Runs lost (not ended when the simulation stopped) | {s['runsLost']:,} |",
        f"| Runs that failed because of throttling | {s['failedBecauseOfThrottling']:,} |",
        f"| Verdicts differing from the task's | {s['verdictsDifferingFromTheTask']:,}"
        + (f" ({_counts(s['wrongEndings'])})" if s["wrongEndings"] else "")
        + " |",
        f"| Request → RunTask p50 / p99 (handlers take no virtual time) | {seconds(s['requestToRunTaskP50'])} / "
        f"{seconds(s['requestToRunTaskP99'])} |",
        f"| STOPPED → execution's end p50 / p99 | {seconds(s['stoppedToEndP50'])} / {seconds(s['stoppedToEndP99'])} |",
        f"| Containers' logs in the manifests, by source | {_counts(s['containerLogs'])} |",
        f"| Throttled calls (each attempt) | {_counts(s['throttledCalls'])} |",
        f"| Waited for a quota without failing | {_counts(s['delayed'])} |",
        f"| Busiest quota (tokens taken / tokens it gave in the time) | {s['bindingQuota']} |",
        f"| Virtual / wall time | {s['virtualSeconds']:,} s / {s['wallSeconds']:,} s |",
    ]
    lines += ["", "Backlog over time (virtual seconds from the first request):", "",
              "| t | requested | waiting to start | tasks running | stopped, not ended | ended |",
              "|---|---|---|---|---|---|"]  # fmt: skip
    # Every minute while runs arrive, then every 5 minutes, and the last.
    shown = [b for i, b in enumerate(result.backlog)
             if (b["t"] <= plan.seconds or b["t"] % 300 < 60 or i == len(result.backlog) - 1)
             and (i == 0 or b != result.backlog[i - 1])]  # fmt: skip
    lines += [
        f"| {b['t']} | {b['requested']:,} | {b['waitingToStart']:,} | {b['tasksRunning']:,} | "
        f"{b['stoppedNotEnded']:,} | {b['ended']:,} |"
        for b in shown
    ]
    return lines


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{k} {v:,}" for k, v in sorted(counts.items(), key=lambda kv: -kv[1])) or "none"


PROFILES = {
    "default": "AWS's default quotas",
    "advised": "the adjustable quotas raised as docs/capacity.md advises at 10 M runs a day",
}
MODES = {"read-back": "Read-back logs", "firelens": "FireLens logs"}


def write_section(path: str, name: str, body: str) -> None:
    """Replace the section `name` of docs/benchmarks.md (between its markers), or add it at the end."""
    import re

    target = Path(path)
    text = target.read_text()
    begin, end = f"<!-- begin {name} -->", f"<!-- end {name} -->"
    section = f"{begin}\n{body.strip()}\n{end}"
    pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end), re.S)
    text = pattern.sub(lambda _: section, text) if pattern.search(text) else f"{text.rstrip()}\n\n{section}\n"
    target.write_text(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=100.0, help="divide every rate and every quota by this")
    parser.add_argument("--seconds", type=float, default=600.0, help="virtual seconds of arrivals")
    parser.add_argument("--drain", type=float, default=3600.0, help="virtual seconds after them for runs to end")
    parser.add_argument("--quotas", choices=(*PROFILES, "both"), default="both",
                        help="default: AWS's defaults; advised: the adjustable ones raised as docs/capacity.md "
                        "advises at 10 M a day; both (default): one after the other")  # fmt: skip
    parser.add_argument("--mode", choices=(*MODES, "both"), default="both",
                        help="how the logs reach S3: read-back (CloudWatch Logs), firelens (a FireLens router's "
                        "objects), both (default)")  # fmt: skip
    parser.add_argument("--json", help="write the summaries to this file")
    parser.add_argument("--write", metavar="FILE", help="record the tables in FILE (markdown), under ## Load")
    args = parser.parse_args(argv)
    profiles = list(PROFILES) if args.quotas == "both" else [args.quotas]
    modes = list(MODES) if args.mode == "both" else [args.mode]
    summaries, status = {}, 0
    for mode in modes:
        for profile in profiles:
            raised = advised(mode=mode) if profile == "advised" else {}
            plan = LoadPlan(scale=args.scale, seconds=args.seconds, drain=args.drain, raised=raised, mode=mode)
            result = run_load(plan, log=lambda b: print(json.dumps(b), file=sys.stderr, flush=True))
            summary = result.summary()
            title = f"{MODES[mode]}, {PROFILES[profile]}"
            summaries[f"{mode} {profile}"] = summary
            lines = report(result)
            print(f"## {title}\n" + json.dumps(summary, indent=2) + "\n" + "\n".join(lines))
            if summary["runsLost"] or summary["failedBecauseOfThrottling"]:
                status = 1
            if args.write:
                command = (f"make load  (python -m tests.simulation.load --scale {args.scale:g} --seconds "
                           f"{args.seconds:g} --drain {args.drain:g} --mode {mode} --quotas {profile})")  # fmt: skip
                raised_text = ", ".join(f"{k} {v:,.0f}/s" for k, v in raised.items()) or "none"
                body = "\n".join([f"### {title}", "", f"Command: `{command}`  ", f"Quotas raised: {raised_text}.",
                                  "", *lines])  # fmt: skip
                section = f"load-{profile}" if mode == "read-back" else f"load-{mode}-{profile}"
                write_section(args.write, section, body)
    if args.json:
        Path(args.json).write_text(json.dumps(summaries, indent=2) + "\n")
    return status


if __name__ == "__main__":
    sys.exit(main())
