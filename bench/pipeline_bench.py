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
import statistics
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

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
ASSUMED_BILLED_MS = 100  # per invocation, at the template's 256 MB: an assumption, stated as one
MEMORY_GB = 0.25
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
    """botocore `before-call` hooks on every client the handlers get from ecsrun.adapters.clients."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.invocations: Counter[str] = Counter()
        self.seconds: Counter[str] = Counter()
        self._hooked: set[int] = set()

    def _hook(self, client: Any) -> Any:
        if id(client) not in self._hooked:
            self._hooked.add(id(client))
            client.meta.events.register("before-call.*.*", self._count)
        return client

    def _count(self, event_name: str, **_: Any) -> None:
        _, service, operation = event_name.split(".", 2)
        self.calls[f"{service}:{operation}"] += 1

    def install(self, aws: Any) -> Any:
        """Hook the handlers' clients and the runtime's invocations; returns what undoes it."""
        from ecsrun.adapters import clients

        real_client, real_table = clients.client, clients.table

        def client(service: str, region: str | None = None) -> Any:
            return self._hook(real_client(service, region))

        def table(name: str, region: str | None = None) -> Any:
            resource = real_table(name, region)
            self._hook(resource.meta.client)
            return resource

        client.cache_clear = real_client.cache_clear  # type: ignore[attr-defined]
        table.cache_clear = real_table.cache_clear  # type: ignore[attr-defined]
        clients.client, clients.table = client, table  # type: ignore[assignment]
        route = aws.invoke_handler

        def invoke_handler(logical_id: str, arn: str, event: Any) -> Any:
            self.invocations[logical_id] += 1
            started = time.perf_counter()
            try:
                return route(logical_id, arn, event)
            finally:
                self.seconds[logical_id] += time.perf_counter() - started

        aws.invoke_handler = invoke_handler

        def undo() -> None:
            clients.client, clients.table = real_client, real_table  # type: ignore[assignment]
            del aws.invoke_handler

        return undo


def _item_size(item: dict[str, Any]) -> int:
    """DynamoDB's item size: attribute names plus values (strings as UTF-8, numbers ~ their digits)."""
    return sum(len(k.encode()) + len(json.dumps(v).encode()) for k, v in item.items())


def cost() -> dict[str, Any]:
    from ecsrun.domain.runtask import execution_name
    from ecsrun.local.engine import follow
    from ecsrun.local.runtime import TABLE, LocalAws

    with LocalAws() as aws:
        aws.register_task_definition(TINY_DEFINITION)
        warm = _request("bench-warm")  # import everything once, as a warm Lambda would have
        sfn = aws.client("stepfunctions")
        arn = sfn.start_execution(
            stateMachineArn=aws.state_machine_arn, name=execution_name(warm), input=json.dumps(warm)
        )
        follow(aws, arn["executionArn"])
        counting = Counting()
        undo = counting.install(aws)
        request = _request("bench-cost")
        arn = sfn.start_execution(
            stateMachineArn=aws.state_machine_arn, name=execution_name(request), input=json.dumps(request)
        )["executionArn"]
        try:
            result = follow(aws, arn)
        finally:
            undo()  # the later sections measure the pipeline uncounted
        assert result.status == "SUCCEEDED", result.cause
        history = sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
        states = [e["stateEnteredEventDetails"]["name"] for e in history if e["type"].endswith("StateEntered")]
        item = aws.client("dynamodb").get_item(TableName=TABLE, Key={"runId": {"S": "bench-cost"}})["Item"]
    return {
        "calls": dict(sorted(counting.calls.items())),
        "invocations": dict(counting.invocations),
        "states": states,
        "record_kb": _item_size(item) / 1024,
    }


def price(counted: dict[str, Any]) -> dict[str, float]:
    calls = counted["calls"]
    wru = math.ceil(counted["record_kb"])
    rru = math.ceil(counted["record_kb"] / 4)
    ddb_writes = sum(n for op, n in calls.items() if op.split(":")[1] in DDB_WRITE)
    ddb_reads = sum(n for op, n in calls.items() if op.split(":")[1] in DDB_READ)
    s3_puts = sum(n for op, n in calls.items() if op.startswith("s3:") and op.split(":")[1] in S3_PUT)
    s3_gets = sum(n for op, n in calls.items() if op.startswith("s3:") and op.split(":")[1] not in S3_PUT)
    invocations = sum(counted["invocations"].values())
    lines = {
        "state transitions": len(counted["states"]) * PRICE["transition"],
        "Lambda requests": invocations * PRICE["lambda_request"],
        "Lambda duration (assumed)": invocations
        * ASSUMED_BILLED_MS
        / 1000
        * MEMORY_GB
        * PRICE["lambda_gb_second_arm64"],
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


def _lambda_environment() -> dict[str, str]:
    """What a deployed function's interpreter sees: the runtime's variables and the template's Globals."""
    from ecsrun.local.template import Template

    template = Template(ROOT / "template.yaml")
    variables = template.doc["Globals"]["Function"]["Environment"]["Variables"]
    environment = {k: v for k, v in variables.items() if isinstance(v, str)}
    environment |= {k: "placeholder" for k, v in variables.items() if not isinstance(v, str)}
    environment |= {
        "MAX_ARRAY_SIZE": "10000",
        "DEFAULT_TIMEOUT_SECONDS": "3600",
        "RUN_RECORD_TTL_DAYS": "90",
        "RECONCILE_GRACE_SECONDS": "300",
        "LOG_SETTLE_SECONDS": "10",
        "STARTED_BY_PREFIX": "ecsrun/",
        "ALLOWED_CLUSTERS": "*",
        "ALLOWED_TASK_DEFINITION_FAMILIES": "*",
        "REDACT_SECRETS": "true",
        "POWERTOOLS_SERVICE_NAME": "ecsrun",
        "LAMBDA_TASK_ROOT": "/var/task",
        "AWS_LAMBDA_FUNCTION_NAME": "ecsrun-bench",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(ROOT / "functions"),
    }
    return environment


def _import_ms(module: str, environment: dict[str, str]) -> float:
    code = f"import time; t = time.perf_counter(); import {module}; print((time.perf_counter() - t) * 1000)"
    command = [PYTHON, "-c", code]  # this interpreter, a fixed module name from template.yaml
    out = subprocess.run(command, env=environment, capture_output=True, text=True, check=True).stdout  # noqa: S603
    return float(out)


BREAKDOWN = """
import time
marks = [time.perf_counter()]
import boto3
marks.append(time.perf_counter())
import pydantic
class _First(pydantic.BaseModel):
    x: int
marks.append(time.perf_counter())
from aws_lambda_powertools import Logger, Metrics, Tracer
Logger(); Metrics()
marks.append(time.perf_counter())
Tracer(patch_modules=("botocore",))
marks.append(time.perf_counter())
import aws_lambda_powertools.utilities.parser
marks.append(time.perf_counter())
import ecsrun.adapters.dynamodb, ecsrun.handlers.wiring
marks.append(time.perf_counter())
print(" ".join(str((b - a) * 1000) for a, b in zip(marks, marks[1:])))
"""
BREAKDOWN_PARTS = [
    "boto3",
    "pydantic and a first model",
    "Powertools Logger and Metrics",
    "Powertools Tracer, botocore patched (the X-Ray SDK's recorder)",
    "Powertools Parser (its event-source models)",
    "ecsrun's run record and adapters",
]


def cold_start_breakdown(samples: int) -> list[tuple[str, float]]:
    """Where a handler's import time goes, step by step after boto3: medians over fresh interpreters."""
    environment = _lambda_environment()
    runs = []
    for _ in range(samples):
        command = [PYTHON, "-c", BREAKDOWN]
        out = subprocess.run(command, env=environment, capture_output=True, text=True, check=True).stdout  # noqa: S603
        runs.append([float(x) for x in out.split()])
    return [(part, statistics.median(r[i] for r in runs)) for i, part in enumerate(BREAKDOWN_PARTS)]


def cold_start(samples: int) -> list[dict[str, Any]]:
    from ecsrun.local.template import Template

    handlers = sorted({h.rsplit(".", 1)[0] for h in Template(ROOT / "template.yaml").functions().values()})
    environment = _lambda_environment()
    times: dict[str, list[float]] = {name: [] for name in ["boto3", *handlers]}
    for _ in range(samples):  # interleaved, so drift in the machine's load hits every module alike
        for name in times:
            times[name].append(_import_ms(name, environment))
    boto3_ms = statistics.median(times.pop("boto3"))
    rows = [{"module": "boto3 (baseline)", "ms": boto3_ms, "ratio": 1.0}]
    for name, values in times.items():
        median = statistics.median(values)
        rows.append({"module": name, "ms": median, "ratio": median / boto3_ms})
    return rows


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


def array(size: int, max_concurrency: int) -> dict[str, Any]:
    from ecsrun.local.engine import run_local
    from ecsrun.local.runtime import LocalAws

    with LocalAws() as aws:
        aws.register_task_definition(TINY_DEFINITION)
        started = time.monotonic()
        result = run_local(_request("bench-array", array={"size": size}, maxConcurrency=max_concurrency), [], aws=aws)
        wall = time.monotonic() - started
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


def report(args: argparse.Namespace) -> str:
    out: list[str] = []
    counted = cost()
    priced = price(counted)
    transitions, invocations = len(counted["states"]), sum(counted["invocations"].values())
    polling = [op for op in counted["calls"] if op.split(":")[1] in ("DescribeTasks", "ListTasks", "DescribeExecution")]
    out += [
        "### Per-run cost, counted",
        "",
        "One successful run on the local engine (a task that prints a line), after one warm-up run. Counted, not",
        "estimated: botocore `before-call` hooks on the handlers' clients, the runtime's Lambda invocations, the",
        "states entered in the execution's history. None of these counts depends on how long the task runs.",
        "",
        "| measure | result | target |",
        "|---|---|---|",
        f"| State transitions | {transitions} ({' → '.join(counted['states'])}) | ≤ 12: {_met(transitions <= 12)} |",
        f"| Lambda invocations | {invocations} ({', '.join(f'{k} {v}' for k, v in counted['invocations'].items())})"
        f" | ≤ 5: {_met(invocations <= 5)} |",
        f"| Polling calls (DescribeTasks, ListTasks, DescribeExecution) | {len(polling)} | none: {_met(not polling)} |",
        f"| AWS API calls by the handlers | {sum(counted['calls'].values())}: "
        + ", ".join(f"{op} {n}" for op, n in counted["calls"].items())
        + " | |",
        f"| Run record size | {counted['record_kb']:.1f} KB | |",
        "",
        "Per million runs, at published us-east-1 prices:",
        "",
        "| item | USD per million runs |",
        "|---|---|",
        *[f"| {k} | {v:,.2f} |" for k, v in priced.items()],
        f"| **total** | **{sum(priced.values()):,.2f}** |",
        "",
        f"Lambda duration is the one figure not counted: {ASSUMED_BILLED_MS} ms billed per invocation at 256 MB arm64",
        "is assumed (real durations depend on AWS API latency). ECS and Step Functions API calls and CloudWatch Logs",
        "reads carry no per-request charge; ECS task events on the default bus are free. The reconciler adds, for a",
        "run still waiting after `ReconcileGraceSeconds` (300 s), one GetItem and a hundredth of a DescribeTasks",
        "per pass (every 5 minutes): for a 10-minute task, one pass.",
        "",
        f"The same {TASK_SECONDS // 60}-minute task, other ways (counts from their definitions):",
        "",
        "| design | state transitions | Lambda invocations | ECS calls | USD per million runs (transitions) | lacks |",
        "|---|---|---|---|---|---|",
        f"| ecsrun | {transitions} | {invocations} | RunTask 1, no polling | {sum(priced.values()):,.2f} (all items) |"
        " |",
        *[
            f"| {a['design']} | {a['transitions']} | {a['lambdas']} | {a['calls']} | {a['usd']:,.2f} | {a['lacks']} |"
            for a in alternatives()
        ],
        "",
    ]
    rows = cold_start(args.cold_start_samples)
    worst = max(r["ratio"] for r in rows)
    out += [
        "### Cold start: importing each handler",
        "",
        f"Fresh interpreters, a Lambda-like environment, median of {args.cold_start_samples}, interleaved.",
        "",
        "| module | import ms (median) | ratio to boto3 |",
        "|---|---|---|",
        *[f"| {r['module']} | {r['ms']:.0f} | {r['ratio']:.2f} |" for r in rows],
        "",
        f"Worst ratio {worst:.2f}: target ≤ 1.3: {_met(worst <= 1.3)}.",
        "",
        "Where the time goes, step by step in one fresh interpreter (medians):",
        "",
        "| step | ms |",
        "|---|---|",
        *[f"| {part} | {ms:.0f} |" for part, ms in cold_start_breakdown(args.cold_start_samples)],
        "",
    ]
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
    arr = array(args.array, args.array_concurrency)
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
        "limits are ECS's RunTask rate and Step Functions' quotas.",
    ]
    return "\n".join(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=int(os.environ.get("BENCH_RUNS", 1000)))
    parser.add_argument("--array", type=int, default=int(os.environ.get("BENCH_ARRAY", 500)))
    parser.add_argument("--array-concurrency", type=int, default=50)
    parser.add_argument("--cold-start-samples", type=int, default=11)
    parser.add_argument("--write", metavar="FILE", help="also record the tables in FILE (markdown)")
    args = parser.parse_args()
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
