"""The pipeline, measured: per-run cost (counted), cold start, 1,000 concurrent runs, a 500-item array.

Not a test: it prints tables and, with --write, records them in docs/benchmarks.md with the command.

- Cost: one successful run on the local engine, counted with botocore `before-call` hooks on every client the
  handlers use (API calls by operation), the Lambda invocations the runtime routes, and the states entered in
  the execution's history; priced at published us-east-1 prices. Beside it, the same counts for an
  `ecs:runTask.sync` state machine and for a 6-second DescribeTasks polling loop, from their definitions (a
  polling loop's counts follow from the task's length; nothing else varies).
- Cold start: each handler module imported in fresh interpreters with a Lambda-like environment (the runtime's
  variables and the template's), against `import boto3` alone; medians.
- Concurrency and arrays: runs started together on the local engine, then the invariants checked.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import coldstart
from record import write_section

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable

# Published us-east-1 prices, USD (Step Functions, Lambda, DynamoDB on-demand, S3 Standard, EventBridge pages).
PRICE = {
    "transition": 0.025 / 1000,  # Standard workflows, per state transition
    "lambda_request": 0.20 / 1_000_000,
    "lambda_gb_second_arm64": 0.0000133334,
    "dynamodb_wru": 0.625 / 1_000_000,  # on-demand write request unit
    "dynamodb_rru": 0.125 / 1_000_000,  # on-demand read request unit
    "s3_put": 0.005 / 1000,  # PUT, COPY, POST, LIST (multipart calls included)
    "s3_get": 0.0004 / 1000,
    "custom_event": 1.00 / 1_000_000,  # PutEvents, per 64 KB chunk
}
TASK_SECONDS = 600  # the compared task: 10 minutes
POLL_SECONDS = 6  # boto3's ECS `tasks_stopped` waiter delay, which EcsRunTaskOperator and many loops use
S3_PUT = {"PutObject", "CreateMultipartUpload", "UploadPart", "CompleteMultipartUpload", "CopyObject", "ListObjectsV2"}
DDB_WRITE = {"PutItem", "UpdateItem", "DeleteItem"}
DDB_READ = {"GetItem", "Query", "BatchGetItem"}

TINY_DEFINITION = {
    "family": "ecsrun-bench",
    "networkMode": "awsvpc",
    "requiresCompatibilities": ["FARGATE"],
    "cpu": "256",
    "memory": "512",
    "containerDefinitions": [
        {
            "name": "app",
            "image": "public.ecr.aws/docker/library/busybox:latest",
            "essential": True,
            "memory": 64,
            "command": ["echo", "done"],
            "logConfiguration": {
                "logDriver": "awslogs",
                "options": {
                    "awslogs-group": "/ecs/ecsrun-bench",
                    "awslogs-region": "us-east-1",
                    "awslogs-stream-prefix": "ecs",
                    "awslogs-create-group": "true",
                },
            },
        }
    ],
}


def _request(run_id: str, **extra: Any) -> dict[str, Any]:
    return {
        "cluster": "default",
        "taskDefinition": "ecsrun-bench",
        "launchType": "FARGATE",
        "networkConfiguration": {"awsvpcConfiguration": {"subnets": ["subnet-0123456789abcdef0"]}},
        "runId": run_id,
        **extra,
    }


# ---------------------------------------------------------------------------
# Per-run cost, counted
# ---------------------------------------------------------------------------


class Counting:
    """botocore `before-call` hooks on every client the handlers get from ecsrun.adapters.clients, the runtime's
    Lambda invocations with their durations, and which clients each function asked for."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.invocations: Counter[str] = Counter()
        self.durations: dict[str, list[float]] = {}  # logical id -> seconds of each invocation
        self.created: dict[str, set[str]] = {}  # logical id -> clients it asked for ("table" for the runs table)
        self._hooked: set[int] = set()
        self._current = threading.local()

    def _hook(self, client: Any) -> Any:
        if id(client) not in self._hooked:
            self._hooked.add(id(client))
            client.meta.events.register("before-call.*.*", self._count)
        return client

    def _count(self, event_name: str, **_: Any) -> None:
        _, service, operation = event_name.split(".", 2)
        self.calls[f"{service}:{operation}"] += 1

    def _asked(self, name: str) -> None:
        logical_id = getattr(self._current, "logical_id", None)
        if logical_id is not None:
            self.created.setdefault(logical_id, set()).add(name)

    def install(self, aws: Any) -> Any:
        """Hook the handlers' clients and the runtime's invocations; returns what undoes it."""
        from ecsrun.adapters import clients

        real_client, real_table = clients.client, clients.table

        def client(service: str, region: str | None = None) -> Any:
            self._asked(service)
            return self._hook(real_client(service, region))

        def table(name: str, region: str | None = None) -> Any:
            self._asked("table")
            resource = real_table(name, region)
            self._hook(resource.meta.client)
            return resource

        client.cache_clear = real_client.cache_clear  # type: ignore[attr-defined]
        table.cache_clear = real_table.cache_clear  # type: ignore[attr-defined]
        clients.client, clients.table = client, table  # type: ignore[assignment]
        route = aws.invoke_handler

        def invoke_handler(logical_id: str, arn: str, event: Any) -> Any:
            self.invocations[logical_id] += 1
            outer = getattr(self._current, "logical_id", None)
            self._current.logical_id = logical_id
            started = time.perf_counter()
            try:
                return route(logical_id, arn, event)
            finally:
                self.durations.setdefault(logical_id, []).append(time.perf_counter() - started)
                self._current.logical_id = outer

        aws.invoke_handler = invoke_handler

        def undo() -> None:
            clients.client, clients.table = real_client, real_table  # type: ignore[assignment]
            del aws.invoke_handler

        return undo


def _item_size(item: dict[str, Any]) -> int:
    """DynamoDB's item size: attribute names plus values (strings as UTF-8, numbers ~ their digits)."""
    return sum(len(k.encode()) + len(json.dumps(v).encode()) for k, v in item.items())


def memory_mb() -> dict[str, int]:
    """Each function's MemorySize (template.yaml: the function's own, else Globals)."""
    from ecsrun.local.template import Template

    template = Template(ROOT / "template.yaml")
    default = int(template.doc["Globals"]["Function"]["MemorySize"])
    return {
        logical_id: int(template.resources[logical_id]["Properties"].get("MemorySize", default))
        for logical_id in template.functions()
    }


def settle_default() -> int:
    from ecsrun.local.template import Template

    return int(Template(ROOT / "template.yaml").parameter_default("LogSettleSeconds"))


# The scenarios a run is counted in. The local engine's agent puts every line before it reports the task
# STOPPED, so the runtime sets LOG_SETTLE_SECONDS to 0; the deployed default (template.yaml) is measured too,
# once with the containers' last lines in the driver's final flush, which CloudWatch Logs ingests after the
# containers stopped (emulated: the bench puts a line to each stream after the task stopped, before ECS's
# event goes out), and once with a quiet end (nothing ingested after the stop).
SCENARIOS = {
    "local": {"settle": 0, "final_flush": False},
    "deployed, last lines ingested after the stop": {"settle": None, "final_flush": True},
    "deployed, quiet end": {"settle": None, "final_flush": False},
}


def cost(
    scenario: str, definition: dict[str, Any] | None = None, runs: int = 1, prefix: str = "bench-cost"
) -> dict[str, Any]:
    """`runs` successful runs of `definition` (TINY_DEFINITION by default), one after another, counted in
    `scenario` (calls summed over the runs; the run record, states and times are the last run's); with the
    STOPPED event's time and the execution's end."""
    from ecsrun.domain.runtask import execution_name
    from ecsrun.local.engine import follow
    from ecsrun.local.runtime import TABLE, LocalAws
    from ecsrun.steps import finish

    setup = SCENARIOS[scenario]
    settle = setup["settle"] if setup["settle"] is not None else settle_default()
    with LocalAws() as aws:
        aws.register_task_definition(definition or TINY_DEFINITION)
        os.environ["LOG_SETTLE_SECONDS"] = str(settle)  # LocalAws restores it on exit
        marks: dict[str, float] = {}
        logs = aws.client("logs")

        def stopped(event: dict[str, Any]) -> list[dict[str, Any]]:
            detail = event.get("detail", {})
            if event.get("detail-type") == "ECS Task State Change" and detail.get("lastStatus") == "STOPPED":
                task = aws.agent.task(detail["taskArn"])
                if setup["final_flush"] and task is not None:
                    time.sleep(0.002)  # strictly after the millisecond the agent recorded as the containers' stop
                    for container in task.containers:
                        if container.log_group:
                            logs.put_log_events(
                                logGroupName=container.log_group,
                                logStreamName=container.log_stream,
                                logEvents=[{"timestamp": int(time.time() * 1000), "message": "final flush"}],
                            )
                marks.setdefault("stopped", time.time())
            return [event]

        aws.event_faults = stopped
        warm = _request("bench-warm")  # the same path once, uncounted, as a warm Lambda would have run it
        sfn = aws.client("stepfunctions")
        arn = sfn.start_execution(
            stateMachineArn=aws.state_machine_arn, name=execution_name(warm), input=json.dumps(warm)
        )
        follow(aws, arn["executionArn"])
        marks.clear()
        copy_seconds: list[float] = []
        real_copy = finish.copy_run_logs

        def timed_copy(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return real_copy(*args, **kwargs)
            finally:
                copy_seconds.append(time.perf_counter() - started)

        finish.copy_run_logs = timed_copy  # type: ignore[assignment]
        counting = Counting()
        undo = counting.install(aws)
        transitions = 0
        try:
            for index in range(runs):
                run_id = prefix if runs == 1 else f"{prefix}-{index}"
                marks.clear()
                request = _request(run_id, taskDefinition=(definition or TINY_DEFINITION)["family"])
                arn = sfn.start_execution(
                    stateMachineArn=aws.state_machine_arn, name=execution_name(request), input=json.dumps(request)
                )["executionArn"]
                result = follow(aws, arn)
                assert result.status == "SUCCEEDED", result.cause
                history = sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
                states = [e["stateEnteredEventDetails"]["name"] for e in history if e["type"].endswith("StateEntered")]
                transitions += len(states)
        finally:
            undo()  # the later sections measure the pipeline uncounted
            finish.copy_run_logs = real_copy  # type: ignore[assignment]
        described = sfn.describe_execution(executionArn=arn)
        item = aws.client("dynamodb").get_item(TableName=TABLE, Key={"runId": {"S": run_id}})["Item"]
    return {
        "scenario": scenario,
        "runs": runs,
        "transitions": transitions,
        "settle": settle,
        "calls": dict(sorted(counting.calls.items())),
        "invocations": dict(counting.invocations),
        "durations": counting.durations,
        "created": counting.created,
        "states": states,
        "record_kb": _item_size(item) / 1024,
        "stopped_to_end_s": described["stopDate"].timestamp() - marks["stopped"],
        "copy_s": sum(copy_seconds),
    }


def billed_ms(seconds: float) -> int:
    """Lambda bills duration rounded up to the next millisecond."""
    return math.ceil(seconds * 1000)


def price(counted: dict[str, Any], memory: dict[str, int]) -> dict[str, float]:
    calls = counted["calls"]
    wru = math.ceil(counted["record_kb"])
    rru = math.ceil(counted["record_kb"] / 4)
    ddb_writes = sum(n for op, n in calls.items() if op.split(":")[1] in DDB_WRITE)
    ddb_reads = sum(n for op, n in calls.items() if op.split(":")[1] in DDB_READ)
    s3_puts = sum(n for op, n in calls.items() if op.startswith("s3:") and op.split(":")[1] in S3_PUT)
    s3_gets = sum(n for op, n in calls.items() if op.startswith("s3:") and op.split(":")[1] not in S3_PUT)
    invocations = sum(counted["invocations"].values())
    gb_seconds = sum(
        billed_ms(seconds) / 1000 * memory[logical_id] / 1024
        for logical_id, durations in counted["durations"].items()
        for seconds in durations
    )
    lines = {
        "state transitions": len(counted["states"]) * PRICE["transition"],
        "Lambda requests": invocations * PRICE["lambda_request"],
        "Lambda duration (counted)": gb_seconds * PRICE["lambda_gb_second_arm64"],
        "DynamoDB": ddb_writes * wru * PRICE["dynamodb_wru"] + ddb_reads * rru * PRICE["dynamodb_rru"],
        "S3": s3_puts * PRICE["s3_put"] + s3_gets * PRICE["s3_get"],
        "EventBridge (completion event)": calls.get("eventbridge:PutEvents", 0) * PRICE["custom_event"],
    }
    return {k: v * 1_000_000 for k, v in lines.items()}


def alternatives(duration: int = TASK_SECONDS, interval: int = POLL_SECONDS) -> list[dict[str, Any]]:
    """The compared designs' counts for one task of `duration` seconds, from their definitions."""
    polls = math.ceil(duration / interval)
    return [
        {
            "design": "`ecs:runTask.sync` state machine (one Task state)",
            "transitions": 1,
            "lambdas": 0,
            "calls": "RunTask 1; DescribeTasks by the service on your behalf (not disclosed, counts against your rate)",
            "usd": 1 * PRICE["transition"] * 1e6,
            "lacks": "log copy, exit-code verdict, idempotent start",
        },
        {
            "design": f"Step Functions loop: RunTask, then Wait {interval} s + DescribeTasks + Choice",
            "transitions": 1 + 3 * polls + 1,
            "lambdas": 0,
            "calls": f"RunTask 1; DescribeTasks {polls}",
            "usd": (1 + 3 * polls + 1) * PRICE["transition"] * 1e6,
            "lacks": "log copy, idempotent start; cost grows with the task's length",
        },
        {
            "design": f"Worker polling DescribeTasks every {interval} s (EcsRunTaskOperator's waiter)",
            "transitions": 0,
            "lambdas": 0,
            "calls": f"RunTask 1; DescribeTasks {polls}",
            "usd": 0.0,
            "lacks": f"holds a worker slot for {duration // 60} minutes; logs fetched only while it waits",
        },
    ]


# ---------------------------------------------------------------------------
# Cold start
# ---------------------------------------------------------------------------


def template_variables() -> dict[str, str]:
    """The template's Globals variables as a deployed function sees them (references become placeholders)."""
    from ecsrun.local.template import Template

    template = Template(ROOT / "template.yaml")
    variables = template.doc["Globals"]["Function"]["Environment"]["Variables"]
    environment = {k: v for k, v in variables.items() if isinstance(v, str)}
    environment |= {k: "placeholder" for k, v in variables.items() if not isinstance(v, str)}
    return environment


# ---------------------------------------------------------------------------
# Concurrency and arrays
# ---------------------------------------------------------------------------


def _wait_all(aws: Any, arns: list[str], limit: float) -> None:
    sfn = aws.client("stepfunctions")
    pending = set(arns)
    deadline = time.monotonic() + limit
    while pending and time.monotonic() < deadline:
        running: set[str] = set()
        pages = sfn.get_paginator("list_executions").paginate(
            stateMachineArn=aws.state_machine_arn, statusFilter="RUNNING"
        )
        for page in pages:
            running |= {e["executionArn"] for e in page["executions"]}
        pending &= running
        time.sleep(0.5)


def _invariants(aws: Any, expected_tasks: int) -> dict[str, Any]:
    from ecsrun.local.runtime import TABLE

    ecs = aws.client("ecs")
    started_by: list[str] = []
    for status in ("RUNNING", "STOPPED"):
        for page in ecs.get_paginator("list_tasks").paginate(desiredStatus=status):
            for chunk in range(0, len(page["taskArns"]), 100):
                tasks = ecs.describe_tasks(cluster="default", tasks=page["taskArns"][chunk : chunk + 100])["tasks"]
                started_by += [t["startedBy"] for t in tasks]
    waiting = 0
    for page in aws.client("dynamodb").get_paginator("scan").paginate(TableName=TABLE):
        waiting += sum(1 for item in page["Items"] if "waiting" in item)
    sfn = aws.client("stepfunctions")
    running = sum(
        len(p["executions"])
        for p in sfn.get_paginator("list_executions").paginate(
            stateMachineArn=aws.state_machine_arn, statusFilter="RUNNING"
        )
    )
    return {
        "tasks": len(started_by),
        "started_twice": len(started_by) - len(set(started_by)),
        "right_count": len(started_by) == expected_tasks,
        "waiting_records": waiting,
        "running_executions": running,
    }


def concurrency(runs: int) -> dict[str, Any]:
    from ecsrun.domain.runtask import execution_name
    from ecsrun.local.runtime import LocalAws

    with LocalAws() as aws:
        aws.register_task_definition(TINY_DEFINITION)
        sfn = aws.client("stepfunctions")
        started = time.monotonic()
        arns = []
        for index in range(runs):
            request = _request(f"conc-{index}")
            arns.append(
                sfn.start_execution(
                    stateMachineArn=aws.state_machine_arn, name=execution_name(request), input=json.dumps(request)
                )["executionArn"]
            )
        launched = time.monotonic() - started
        _wait_all(aws, arns, limit=3600)
        wall = time.monotonic() - started
        statuses = Counter(sfn.describe_execution(executionArn=arn)["status"] for arn in arns)
        aws.agent.wait_all(timeout=60)
        checks = _invariants(aws, runs)
    return {"runs": runs, "launch_s": launched, "wall_s": wall, "statuses": dict(statuses), **checks}


def array(size: int, max_concurrency: int, observed: dict[str, set[str]]) -> dict[str, Any]:
    from ecsrun.local.engine import run_local
    from ecsrun.local.runtime import LocalAws

    with LocalAws() as aws:
        aws.register_task_definition(TINY_DEFINITION)
        counting = Counting()  # for the clients each function asks for (the cold start's fair measure)
        undo = counting.install(aws)
        started = time.monotonic()
        try:
            request = _request("bench-array", array={"size": size}, maxConcurrency=max_concurrency)
            result = run_local(request, [], aws=aws)
        finally:
            undo()
        wall = time.monotonic() - started
        for logical_id, services in counting.created.items():
            observed.setdefault(logical_id, set()).update(services)
        aws.agent.wait_all(timeout=60)
        checks = _invariants(aws, size)
    summary = (result.output or json.loads(result.cause or "{}")).get("array", {})
    return {"size": size, "max_concurrency": max_concurrency, "status": result.status, "wall_s": wall,
            "succeeded": summary.get("succeeded"), **checks}  # fmt: skip


# ---------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------


def _met(ok: bool) -> str:
    return "met" if ok else "NOT MET"


def _ms(durations: dict[str, list[float]]) -> str:
    return ", ".join(
        f"{logical_id.removesuffix('Function')} {' + '.join(f'{billed_ms(s):,}' for s in values)}"
        for logical_id, values in durations.items()
    )


def _path(paths: list[str], counted: dict[str, Any]) -> int:
    return paths.index(" → ".join(counted["states"])) + 1


def cost_report(observed: dict[str, set[str]]) -> list[str]:
    memory = memory_mb()
    runs = [cost(name) for name in SCENARIOS]
    for counted in runs:
        for logical_id, services in counted["created"].items():
            observed.setdefault(logical_id, set()).update(services)
    priced = [price(counted, memory) for counted in runs]
    names = [f"{c['scenario']} (LogSettleSeconds {c['settle']})" for c in runs]
    head = "| measure | " + " | ".join(names) + " |"
    rule = "|---|" + "---|" * len(runs)

    def row(label: str, values: list[str]) -> str:
        return f"| {label} | " + " | ".join(values) + " |"

    polls = ("DescribeTasks", "ListTasks", "DescribeExecution")
    polling = [sum(n for op, n in c["calls"].items() if op.split(":")[1] in polls) for c in runs]
    paths = list(dict.fromkeys(" → ".join(c["states"]) for c in runs))
    deployed = runs[1]
    out = [
        "### Per-run cost, counted",
        "",
        "One successful run on the local engine (a task that prints a line), after one warm-up run, in three",
        "scenarios. `local`: the local engine as it runs (its agent puts every line before it reports the task",
        "STOPPED, so LogSettleSeconds is 0 there). `deployed`: the template's default LogSettleSeconds, once with",
        "the containers' last lines ingested after the containers stopped (as the awslogs driver's final flush is;",
        "the bench puts one line to each stream after the task stopped, before ECS's event goes out) and once with",
        "a quiet end (nothing ingested after the stop). Counted, not estimated: botocore `before-call` hooks on the",
        "handlers' clients, the runtime's Lambda invocations and how long each took (billed as Lambda bills:",
        "rounded up to the millisecond, times the function's MemorySize in template.yaml), the states entered in",
        "the execution's history.",
        "",
        head,
        rule,
        row("State transitions", [f"{len(c['states'])} (path {_path(paths, c)})" for c in runs]),
        row("Lambda invocations", [str(sum(c["invocations"].values())) for c in runs]),
        row("Billed ms per invocation", [_ms(c["durations"]) for c in runs]),
        row("Polling calls (DescribeTasks, ListTasks, DescribeExecution)", [str(p) for p in polling]),
        row("AWS API calls by the handlers", [str(sum(c["calls"].values())) for c in runs]),
        row("Run record size", [f"{c['record_kb']:.1f} KB" for c in runs]),
        "",
        *[f"Path {index}: {path}.  " for index, path in enumerate(paths, 1)],
        f"API calls ({SCENARIOS_LABEL[1]}): " + ", ".join(f"{op} {n}" for op, n in deployed["calls"].items()) + ".",
        "",
        "Per million runs, at published us-east-1 prices (Step Functions Standard, Lambda arm64, DynamoDB",
        "on-demand, S3 Standard, EventBridge custom events):",
        "",
        "| item | " + " | ".join(names) + " |",
        rule,
        *[row(item, [f"{p[item]:,.2f}" for p in priced]) for item in priced[0]],
        row("**total**", [f"**{sum(p.values()):,.2f}**" for p in priced]),
        "",
        "Lambda duration counts what the handlers did on this machine against moto: on AWS each API call takes",
        "longer (tens of ms), so read it as a floor; each function's first invocation in a new execution",
        "environment also bills its INIT phase (see the cold start below). ECS and Step Functions API calls and",
        "CloudWatch Logs reads carry no per-request charge; ECS task events on the default bus are free. The",
        "reconciler adds, for a run still waiting after `ReconcileGraceSeconds` (300 s), one GetItem and a",
        "hundredth of a DescribeTasks per pass (every 5 minutes): for a 10-minute task, one pass.",
        "",
        "### From the STOPPED event to the execution's end",
        "",
        "Wall time from ECS's STOPPED event (handed to EventBridge) to the execution's `stopDate`, and how much of",
        "it the copy itself took (`copy_run_logs`); the rest is ecsrun's own time: TaskStopped, the callback, the",
        "state machine's transitions, CopyLogs' reads and writes around the copy, and any wait for the logs.",
        "",
        "| scenario | STOPPED → end | the copy itself | ecsrun's own time | target |",
        "|---|---|---|---|---|",
        *[
            f"| {name} | {c['stopped_to_end_s']:.2f} s | {c['copy_s']:.2f} s | "
            f"{c['stopped_to_end_s'] - c['copy_s']:.2f} s | "
            + (
                f"≤ 2 s for a task whose logs are already ingested: {_met(c['stopped_to_end_s'] - c['copy_s'] <= 2)}"
                if index < 2
                else ""
            )
            + " |"
            for index, (name, c) in enumerate(zip(names, runs, strict=True))
        ],
        "",
        f"The same {TASK_SECONDS // 60}-minute task, other ways (counts from their definitions):",
        "",
        "| design | state transitions | Lambda invocations | ECS calls | USD per million runs | lacks |",
        "|---|---|---|---|---|---|",
        *[
            f"| ecsrun, {name} | {len(c['states'])} | {sum(c['invocations'].values())} | RunTask 1, no polling | "
            f"{sum(p.values()):,.2f} (all items) | |"
            for name, c, p in zip(names[1:], runs[1:], priced[1:], strict=True)
        ],
        *[
            f"| {a['design']} | {a['transitions']} | {a['lambdas']} | {a['calls']} | {a['usd']:,.2f} (transitions)"
            f" | {a['lacks']} |"
            for a in alternatives()
        ],
        "",
    ]
    return out


SCENARIOS_LABEL = list(SCENARIOS)


def cold_report(samples: int, observed: dict[str, set[str]]) -> list[str]:
    from ecsrun.local.template import Template

    measured = coldstart.measure(samples, template_variables())
    rows = measured["rows"]
    worst = max(rows, key=lambda r: r["fair_ratio"])
    worst_import = max(r["import_ratio"] for r in rows)
    drift = coldstart.observed_clients(observed, Template(ROOT / "template.yaml").functions())
    groups = list(next(iter(measured["breakdown"].values())))
    out = [
        "### Cold start",
        "",
        f"Fresh interpreters that see only what a deployed function's sees, median of {samples}, interleaved"
        " (bench/coldstart.py says how), in ms of the process's CPU time (which other load on this shared machine"
        " does not inflate). Import only: the handler's module against `import boto3`. The fair",
        "measure: the handler imported and the boto3 clients its first invocation creates (built as its wiring",
        "builds them, with the modules its code imports lazily), against a bare handler that imports boto3 and",
        "creates the same clients.",
        "",
        "| handler | import ms | ratio to boto3 | + its clients, ms | bare boto3 + the same clients, ms | fair ratio |"
        " clients |",
        "|---|---|---|---|---|---|---|",
        f"| boto3 (baseline) | {measured['boto3_ms']:.0f} | 1.00 | | | | |",
        *[
            f"| {r['handler'].rsplit('.', 1)[1]} | {r['import_ms']:.0f} | {r['import_ratio']:.2f} | {r['fair_ms']:.0f}"
            f" | {r['bare_ms']:.0f} | {r['fair_ratio']:.2f} | {', '.join(r['clients'])} |"
            for r in rows
        ],
        "",
        f"Worst fair ratio {worst['fair_ratio']:.2f} ({worst['handler'].rsplit('.', 1)[1]}): target ≤ 1.2:"
        f" {_met(worst['fair_ratio'] <= 1.2)}. Worst import-only ratio {worst_import:.2f}.",
        *(["", "Clients the bench's runs saw that the fair measure lacks: " + "; ".join(drift) + "."] if drift else []),
        *(
            [
                "",
                "Imported inside functions of the modules a handler loads, off its first invocation's common"
                " path (an aborted run's copy, say), so not in the fair measure: "
                + "; ".join(f"{h.rsplit('.', 1)[1]}: {', '.join(m)}" for h, m in measured["rarer"].items() if m)
                + ".",
            ]
            if any(measured["rarer"].values())
            else []
        ),
        "",
        "Where the fair measure's time goes (ms of CPU, medians of `python -X importtime` self times by package; a",
        "standard-library module counts for whoever imported it first; the last column is the measured time minus",
        "the import time: creating the clients and module-level work such as patching; importtime inflates",
        "every figure a little):",
        "",
        "| handler | " + " | ".join(groups) + " |",
        "|---|" + "---|" * len(groups),
        *[
            f"| {handler.rsplit('.', 1)[1]} | " + " | ".join(f"{parts[g]:.0f}" for g in groups) + " |"
            for handler, parts in measured["breakdown"].items()
        ],
        "",
    ]
    return out


def report(args: argparse.Namespace) -> str:
    out: list[str] = []
    observed: dict[str, set[str]] = {}
    sections = set(args.sections.split(","))
    if "cost" in sections:
        out += cost_report(observed)
    if "array" in sections:
        arr = array(args.array, args.array_concurrency, observed)
    if "cold" in sections:
        out += cold_report(args.cold_start_samples, observed)
    if "concurrency" in sections:
        out += concurrency_report(args)
    if "array" in sections:
        out += array_report(args, arr)
    return "\n".join(out)


def concurrency_report(args: argparse.Namespace) -> list[str]:
    out: list[str] = []
    conc = concurrency(args.runs)
    ok = (
        conc["statuses"] == {"SUCCEEDED": args.runs}
        and conc["right_count"]
        and not conc["started_twice"]
        and not conc["waiting_records"]
        and not conc["running_executions"]
    )
    out += [
        f"### {args.runs:,} runs started together",
        "",
        "| measure | result |",
        "|---|---|",
        f"| Last StartExecution answered (the first runs execute meanwhile) | {conc['launch_s']:.1f} s |",
        f"| Wall time until the last ended | {conc['wall_s']:.1f} s ({args.runs / conc['wall_s']:.1f} runs/s) |",
        f"| Terminal states | {conc['statuses']} |",
        f"| Tasks started / started twice | {conc['tasks']} / {conc['started_twice']} |",
        f"| Records still waiting / executions still running | {conc['waiting_records']} / "
        f"{conc['running_executions']} |",
        f"| Invariants (all SUCCEEDED, one task each, nothing waiting) | {_met(ok)} |",
        "",
    ]
    return out


def array_report(args: argparse.Namespace, arr: dict[str, Any]) -> list[str]:
    out: list[str] = []
    ok = (
        arr["status"] == "SUCCEEDED"
        and arr["succeeded"] == args.array
        and arr["right_count"]
        and not arr["started_twice"]
        and not arr["waiting_records"]
        and not arr["running_executions"]
    )
    out += [
        f"### A {args.array}-item array run",
        "",
        "| measure | result |",
        "|---|---|",
        f"| Parent | {arr['status']}, {arr['succeeded']} children succeeded |",
        f"| Wall time (maxConcurrency {arr['max_concurrency']}) | {arr['wall_s']:.1f} s"
        f" ({args.array / arr['wall_s']:.1f} children/s) |",
        f"| Tasks started / started twice | {arr['tasks']} / {arr['started_twice']} |",
        f"| Records still waiting / executions still running | {arr['waiting_records']} / "
        f"{arr['running_executions']} |",
        f"| Invariants | {_met(ok)} |",
        "",
        "The local engine's speed is moto's and this machine's (every run is real handler code, a real ASL",
        "interpreter and a host process per task, on one interpreter lock): it bounds nothing on AWS, where the",
        "limits are the AWS quotas docs/capacity.md lists (`ecsrun capacity` says which binds first).",
    ]
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=int(os.environ.get("BENCH_RUNS", 1000)))
    parser.add_argument("--array", type=int, default=int(os.environ.get("BENCH_ARRAY", 500)))
    parser.add_argument("--array-concurrency", type=int, default=50)
    parser.add_argument("--cold-start-samples", type=int, default=11)
    parser.add_argument("--sections", default="cost,cold,concurrency,array", help="which to run (comma-separated)")
    parser.add_argument("--write", metavar="FILE", help="also record the tables in FILE (markdown)")
    args = parser.parse_args()
    if args.write and set(args.sections.split(",")) != {"cost", "cold", "concurrency", "array"}:
        parser.error("--write records every section: run them all")
    body = report(args)
    print(body)
    if args.write:
        command = (
            f"make bench  (python bench/pipeline_bench.py --runs {args.runs} --array {args.array}"
            f" --array-concurrency {args.array_concurrency} --cold-start-samples {args.cold_start_samples})"
        )
        machine = f"{platform.python_implementation()} {platform.python_version()}, {os.cpu_count()} cores"
        write_section(
            args.write,
            "pipeline",
            "## The pipeline: cost, cold start, concurrency, arrays\n\n"
            f"Measured by `bench/pipeline_bench.py`.\n\nCommand: `{command}`  \nMachine: {machine}\n\n{body}",
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
