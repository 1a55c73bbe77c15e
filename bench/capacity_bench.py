"""The calls a run makes, measured at several sizes, for `ecsrun capacity` (ecsrun/cli/data/calls-per-run.json).

Not a test. `make bench` runs it after bench/calls_bench.py (when that exists), whose bench/calls-per-run.json
gives the typical run's read-back calls; this script measures how those calls grow per container and per MB of a
container's log, adds the calls other parties make for a run (the caller's StartExecution, the awslogs driver's
CreateLogStream and PutLogEvents, EventBridge's rule invocations) and the DynamoDB units the runs table takes,
derives the FireLens mode, and writes the file the CLI ships with.

Measured: the typical run (2 containers, 5 MB each; `--runs` runs averaged) with the template's LogSettleSeconds
and a quiet end, as calls_bench counts it; then (2, 5), (3, 5) and (2, 10) without a settle wait, for the growth.
Counted with the pipeline bench's botocore `before-call` hooks on the handlers' clients. Calls grow as
f + C x p + C x M x q around the typical run: (2, 10) - (2, 5) gives q (per container-MB), (3, 5) - (2, 5) gives
p + 5q. The typical figures are calls_bench's (bench/calls-per-run.json) when it has run, else this script's.
When the checkout has the FireLens log source, the same three sizes run with a FireLens router and that mode is
counted too; until then it is derived:

Derived, and said so in the file:
- StartExecution: one per run (the caller's).
- CreateLogStream: one per awslogs container (the driver creates its stream when the container starts).
- PutLogEvents: the awslogs driver sends a batch every 5 seconds while a container writes, and at most 1 MB a
  batch: max(taskMinutes x 12, MB) per container (moby's awslogs driver: batchPublishFrequency 5 s, 1 MB batches).
- FireLens mode: the read-back calls without GetLogEvents, CreateLogStream and PutLogEvents for the containers
  (the router's own log stream: 1 CreateLogStream, 2 PutLogEvents), plus, per container, what the FireLens source
  calls on S3 (ListObjectsV2 1, GetObject 1, UploadPartCopy 1: one object a container for a task under
  Fluent Bit's default upload_timeout of 10 minutes and total_file_size of 100 MB).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pipeline_bench
from calls_bench import SERVICES  # botocore's service ids as AWS's quotas pages name them

ROOT = Path(__file__).resolve().parents[1]
CALLS_FILE = ROOT / "bench" / "calls-per-run.json"
OUT = ROOT / "functions" / "ecsrun" / "cli" / "data" / "calls-per-run.json"
LINE_BYTES = 100
TYPICAL = {"containers": 2, "logMB": 5, "taskMinutes": 10}
POINTS = ((2, 5), (3, 5), (2, 10))  # the typical run, one container more, twice the log
FLUSH_SECONDS = 5  # the awslogs driver's batch frequency
DDB_WRITES = ("PutItem", "UpdateItem", "DeleteItem")
RULE_TARGETS = ("TaskStoppedFunction", "ExecutionEndedFunction")
FIRELENS_S3 = {"S3.ListObjectsV2": 1.0, "S3.GetObject": 1.0, "S3.UploadPartCopy": 1.0}
AWSLOGS_CALLS = ("CloudWatchLogs.GetLogEvents", "CloudWatchLogs.CreateLogStream", "CloudWatchLogs.PutLogEvents")


FIRELENS_BUCKET = "ecsrun-capacity-firelens"
FIRELENS_OPTIONS = {  # Fluent Bit's s3 output at its defaults for a 10-minute task: one object per container
    "Name": "s3",
    "region": "us-east-1",
    "bucket": FIRELENS_BUCKET,
    "total_file_size": "100M",
    "upload_timeout": "10m",
    "use_put_object": "On",
    "s3_key_format": "/ecsrun-firelens/$TAG/%Y/%m/%d/%H_%M_%S-$UUID.log",
}


def firelens_available() -> bool:
    """Whether this checkout has the FireLens log source (then its mode is measured, not derived)."""
    import importlib.util

    return importlib.util.find_spec("ecsrun.steps.firelens_logs") is not None


def definition(containers: int, log_mb: float, mode: str = "read-back") -> dict[str, Any]:
    lines = int(log_mb * 1_000_000 // LINE_BYTES)
    text = "x" * (LINE_BYTES - 1)
    base = pipeline_bench.TINY_DEFINITION["containerDefinitions"][0]
    apps: list[dict[str, Any]] = [
        {
            **base,
            "name": f"c{index}",
            # One essential container that outlives the others, so none is stopped before it has written all.
            "essential": index == 0,
            "command": ["sh", "-c", f"yes {text} | head -n {lines}" + ("; sleep 2" if index == 0 else "")],
        }
        for index in range(containers)
    ]
    family = f"ecsrun-capacity-{mode}-{containers}x{log_mb:g}"
    if mode == "read-back":
        return {**pipeline_bench.TINY_DEFINITION, "family": family, "containerDefinitions": apps}
    router = {
        "name": "log_router",
        "image": "public.ecr.aws/aws-observability/aws-for-fluent-bit:stable",
        "essential": True,
        "memoryReservation": 50,
        "firelensConfiguration": {"type": "fluentbit", "options": {"enable-ecs-log-metadata": "true"}},
    }
    for app in apps:
        app["logConfiguration"] = {"logDriver": "awsfirelens", "options": dict(FIRELENS_OPTIONS)}
        app["dependsOn"] = [{"containerName": "log_router", "condition": "START"}]
    return {**pipeline_bench.TINY_DEFINITION, "family": family, "containerDefinitions": [router, *apps]}


class IndexCounting(pipeline_bench.Counting):
    """The pipeline bench's counting, plus the runs-table writes that name the sparse `waiting` index's keys."""

    def __init__(self) -> None:
        super().__init__()
        self.index_writes = 0

    def _count(self, event_name: str, **kwargs: Any) -> None:
        super()._count(event_name, **kwargs)
        _, service, operation = event_name.split(".", 2)
        if service == "dynamodb" and operation in DDB_WRITES:
            params = json.dumps(kwargs.get("params") or {}, default=str)
            if "waiting" in params:
                self.index_writes += 1


def measure(
    containers: int, log_mb: float, runs: int, mode: str = "read-back", settle: int | None = None
) -> dict[str, float]:
    """`runs` runs of `containers` containers with `log_mb` MB each, one after another, counted per call and
    averaged (whether a copy waits in WaitForLogs depends on timing: one run alone is noisy)."""
    from ecsrun.domain.runtask import execution_name
    from ecsrun.local.engine import follow
    from ecsrun.local.runtime import TABLE, LocalAws

    family = definition(containers, log_mb, mode)
    transitions, units = 0, 0
    parameters = {"FirelensLogBuckets": FIRELENS_BUCKET} if mode == "firelens" else {}
    with LocalAws(parameters=parameters) as aws:
        if mode == "firelens":
            from botocore.exceptions import ClientError

            try:  # the router's bucket, unless the local stack made it for the parameter
                aws.client("s3").create_bucket(Bucket=FIRELENS_BUCKET)
            except ClientError as exc:
                if exc.response["Error"]["Code"] not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                    raise
        aws.register_task_definition(family)
        # The template's LogSettleSeconds unless told (LocalAws restores the variable on exit).
        os.environ["LOG_SETTLE_SECONDS"] = str(pipeline_bench.settle_default() if settle is None else settle)
        sfn = aws.client("stepfunctions")
        warm = pipeline_bench._request("capacity-warm", taskDefinition=family["family"])
        arn = sfn.start_execution(stateMachineArn=aws.state_machine_arn, name=execution_name(warm),
                                  input=json.dumps(warm))["executionArn"]  # fmt: skip
        follow(aws, arn)
        counting = IndexCounting()
        undo = counting.install(aws)
        try:
            for index in range(runs):
                run_id = f"capacity-run-{index}"
                request = pipeline_bench._request(run_id, taskDefinition=family["family"])
                arn = sfn.start_execution(stateMachineArn=aws.state_machine_arn, name=execution_name(request),
                                          input=json.dumps(request))["executionArn"]  # fmt: skip
                result = follow(aws, arn)
                assert result.status == "SUCCEEDED", result.cause
                history = sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
                transitions += sum(1 for e in history if e["type"].endswith("StateEntered"))
                item = aws.client("dynamodb").get_item(TableName=TABLE, Key={"runId": {"S": run_id}})["Item"]
                units += math.ceil(pipeline_bench._item_size(item) / 1024)
        finally:
            undo()
    calls: dict[str, float] = {}
    for name, count in counting.calls.items():
        service, operation = name.split(":", 1)
        calls[f"{SERVICES.get(service, service)}.{operation}"] = count / runs
    writes = sum(n for key, n in calls.items() if key.startswith("DynamoDB.") and key.split(".")[1] in DDB_WRITES)
    calls["StepFunctions.StateTransitions"] = transitions / runs
    calls["Lambda.Invocations"] = sum(counting.invocations.values()) / runs
    calls["EventBridge.Invocation"] = sum(counting.invocations.get(f, 0) for f in RULE_TARGETS) / runs
    calls["DynamoDB.WriteRequestUnits"] = writes * units / runs
    calls["DynamoDB.WaitingIndexWrite"] = counting.index_writes / runs
    return calls


def slopes(points: dict[tuple[int, float], dict[str, float]]) -> tuple[dict[str, float], dict[str, float]]:
    """Per-container and per-container-MB growth of every call, from runs at (c, m), (c + 1, m), (c, m2)."""
    (c, m), (_, _), (_, m2) = POINTS
    base, wider, longer = points[POINTS[0]], points[POINTS[1]], points[POINTS[2]]
    keys = set(base) | set(wider) | set(longer)
    per_mb = {k: (longer.get(k, 0) - base.get(k, 0)) / (c * (m2 - m)) for k in keys}
    # wider - base = p + q x m (one more container of m MB)
    per_container = {k: wider.get(k, 0) - base.get(k, 0) - per_mb[k] * m for k in keys}
    return ({k: round(v, 4) for k, v in per_container.items() if abs(v) > 1e-6},
            {k: round(v, 4) for k, v in per_mb.items() if abs(v) > 1e-6})  # fmt: skip


def others(calls: dict[str, float], containers: float, log_mb: float, minutes: float) -> dict[str, float]:
    """The calls other parties make for a run, added to the measured ones (see the module's docstring)."""
    return {
        **calls,
        "StepFunctions.StartExecution": 1.0,
        "CloudWatchLogs.CreateLogStream": float(containers),
        "CloudWatchLogs.PutLogEvents": containers * max(minutes * 60 / FLUSH_SECONDS, math.ceil(log_mb)),
    }


def firelens(read_back: dict[str, float], containers: float) -> dict[str, float]:
    calls = {k: v for k, v in read_back.items() if k not in AWSLOGS_CALLS}
    calls["CloudWatchLogs.CreateLogStream"] = 1.0  # the router's own stream
    calls["CloudWatchLogs.PutLogEvents"] = 2.0
    for key, per_container in FIRELENS_S3.items():
        calls[key] = calls.get(key, 0.0) + per_container * containers
    return calls


Points = dict[tuple[int, float], dict[str, float]]


def build(
    runs: Points, typical_calls: dict[str, float], source: str, fire_runs: Points | None = None
) -> dict[str, Any]:
    per_container, per_mb = slopes(runs)
    c0, m0, minutes = TYPICAL["containers"], TYPICAL["logMB"], TYPICAL["taskMinutes"]
    measured = typical_calls
    # calls_bench's file counts what ecsrun calls; the model also needs the figures only this script counts.
    extra = {k: v for k, v in runs[(c0, m0)].items() if k not in measured}
    read_back = others({**measured, **extra}, c0, m0, minutes)
    driver_container = {"CloudWatchLogs.CreateLogStream": 1.0}
    driver_mb: dict[str, float] = {}  # PutLogEvents follow the task's minutes, not its MB, below 1 MB every 5 s
    fire_per_container = {k: v for k, v in per_container.items() if k not in AWSLOGS_CALLS} | FIRELENS_S3
    fire_per_mb = {k: v for k, v in per_mb.items() if k not in AWSLOGS_CALLS}
    fire_mode = firelens(read_back, c0)
    fire_note = (
        "derived, not measured: the read-back calls without CloudWatch Logs reads and without the containers' "
        "awslogs streams, plus what the FireLens source calls on S3 per container (ListObjectsV2, GetObject, "
        "UploadPartCopy: 1 each)"
    )
    if fire_runs:
        # Measured on the local engine's FireLens router: nothing of the containers goes to CloudWatch Logs.
        fire_per_container, fire_per_mb = slopes(fire_runs)
        fire_mode = {**fire_runs[(c0, m0)], "StepFunctions.StartExecution": 1.0}
        fire_note = "counted on the local engine's FireLens router (StartExecution, the caller's, 1 a run)"
    return {
        "measuredAt": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": "make bench  (python bench/capacity_bench.py)",
        "runs": 1,
        "typicalFrom": source,
        "modes": {"read-back": _rounded(read_back), "firelens": _rounded(fire_mode)},
        "typical": dict(TYPICAL),
        "scaling": {
            "read-back": {
                "perContainer": {
                    **per_container,
                    **driver_container,
                    "CloudWatchLogs.PutLogEvents": minutes * 60 / FLUSH_SECONDS,
                },
                "perContainerMB": {**per_mb, **driver_mb},
            },
            "firelens": {"perContainer": fire_per_container, "perContainerMB": fire_per_mb},
        },
        "points": {f"{c}x{m:g}MB": _rounded(calls) for (c, m), calls in runs.items()},
        "firelensPoints": {f"{c}x{m:g}MB": _rounded(calls) for (c, m), calls in (fire_runs or {}).items()},
        "derived": {
            "read-back": "StartExecution (the caller's, 1), CreateLogStream and PutLogEvents (the awslogs driver's: "
            "1 stream and a batch every 5 s per container) are derived from the driver's documented behaviour; "
            "every other call is counted",
            "firelens": fire_note,
        },
    }


ASK_LEVELS = (100_000, 1_000_000, 10_000_000)
DOC = ROOT / "docs" / "capacity.md"
BEGIN, END = "<!-- begin capacity-tables (make bench) -->", "<!-- end capacity-tables -->"


def tables(data: dict[str, Any], region: str = "us-east-1") -> str:
    """The 100 k / 1 M / 10 M runs a day tables for both log modes, and what to ask AWS Support for at each."""
    from ecsrun.domain import capacity

    c0, m0 = TYPICAL["containers"], TYPICAL["logMB"]
    out: list[str] = []
    for mode in capacity.LOG_MODES:
        usages = {n: capacity.usage(data, n, mode=mode, containers=c0, log_mb=m0, region=region) for n in ASK_LEVELS}
        keys = [u.quota.key for u in usages[ASK_LEVELS[-1]]]
        out += [f"### {mode} ({c0} containers x {m0} MB, {region})", "",
                "| quota | calls/run | default/s | adjustable | 100 k/day | 1 M/day | 10 M/day |",
                "|---|---|---|---|---|---|---|"]  # fmt: skip
        for key in keys:
            row = {n: next(u for u in usages[n] if u.quota.key == key) for n in ASK_LEVELS}
            one = row[ASK_LEVELS[0]]
            cells = [_cell(row[n].utilization) for n in ASK_LEVELS]
            out.append(f"| {one.quota.name} | {one.calls_per_run:g} | {one.quota_per_second:,g} | "
                       f"{'yes' if one.quota.adjustable else '**no**'} | " + " | ".join(cells) + " |")  # fmt: skip
        out += ["", "Ask AWS Support for (the quota, and the rate a second that leaves 50 % headroom):", ""]
        for n in ASK_LEVELS:
            over = [u for u in usages[n] if u.utilization > 0.5]
            asks = [f"{u.quota.name} → {math.ceil(u.calls_per_second * 2 / 10) * 10:,}/s" for u in over
                    if u.quota.adjustable]  # fmt: skip
            walls = [u.quota.name for u in over if not u.quota.adjustable and u.utilization > 1]
            line = f"- {n:,} runs a day: " + ("; ".join(asks) if asks else "nothing")
            if walls:
                line += f". Cannot be raised and over its quota: {', '.join(walls)}: use the FireLens log path"
            out.append(line + ".")
        out.append("")
    return "\n".join(out)


def _cell(utilization: float) -> str:
    text = f"{utilization * 100:,.1f} %" if utilization < 10 else f"{utilization * 100:,.0f} %"
    return f"**{text}**" if utilization > 1 else text


def write_tables(data: dict[str, Any]) -> None:
    text = DOC.read_text()
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        tail = rest.split(END, 1)[1]
        DOC.write_text(f"{head}{BEGIN}\n{tables(data)}\n{END}{tail}")


def _rounded(calls: dict[str, float]) -> dict[str, float]:
    return {k: round(v, 4) for k, v in sorted(calls.items()) if v}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=str(OUT), help=f"where to write the file (default {OUT})")
    parser.add_argument("--runs", type=int, default=3, help="runs counted at each size (averaged)")
    parser.add_argument("--tables", action="store_true", help="only rewrite docs/capacity.md's tables from --out")
    args = parser.parse_args()
    if args.tables:
        write_tables(json.loads(Path(args.out).read_text()))
        return 0
    typical_calls, source = None, "measured by this script"
    if CALLS_FILE.exists():
        typical_calls = json.loads(CALLS_FILE.read_text())["modes"]["read-back"]
        source = "bench/calls-per-run.json (bench/calls_bench.py)"
    if typical_calls is None:
        typical_calls = measure(TYPICAL["containers"], TYPICAL["logMB"], args.runs)
        print(f"typical: {json.dumps(typical_calls)}", file=sys.stderr)
    # The growth is measured without a settle wait: whether a copy waits for late lines depends on timing (a long
    # copy often outlasts them), and a wait in one point but not another would read as growth.
    runs = {}
    for containers, log_mb in POINTS:
        runs[(containers, log_mb)] = measure(containers, log_mb, args.runs, settle=0)
        print(f"{containers} container(s) x {log_mb:g} MB: {json.dumps(runs[(containers, log_mb)])}", file=sys.stderr)
    fire_runs = {}
    if firelens_available():
        for containers, log_mb in POINTS:
            fire_runs[(containers, log_mb)] = measure(containers, log_mb, args.runs, "firelens", settle=0)
            print(f"firelens {containers} x {log_mb:g} MB: {json.dumps(fire_runs[(containers, log_mb)])}",
                  file=sys.stderr)  # fmt: skip
    document = build(runs, typical_calls, source, fire_runs)
    document["runs"] = args.runs
    document["command"] = f"make bench  (python bench/capacity_bench.py --runs {args.runs})"
    Path(args.out).write_text(json.dumps(document, indent=2) + "\n")
    write_tables(document)
    print(json.dumps(document, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
