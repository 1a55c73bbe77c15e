"""The calls a run makes, measured at several sizes, for `ecsrun capacity` (ecsrun/cli/data/calls-per-run.json).

Not a test. `make bench` runs it after bench/calls_bench.py (when that exists), whose bench/calls-per-run.json
gives the typical run's read-back calls; this script measures how those calls grow per container and per MB of a
container's log, adds the calls other parties make for a run (the caller's StartExecution, the awslogs driver's
CreateLogStream and PutLogEvents, EventBridge's rule invocations) and the DynamoDB units the runs table takes,
derives the FireLens mode, and writes the file the CLI ships with.

Measured: `--runs` runs (averaged) at each of (2 containers, 5 MB each), (3, 5) and (2, 10) on the local engine,
counted with the pipeline bench's botocore `before-call` hooks on the handlers' clients, with the template's
LogSettleSeconds and a quiet end, as calls_bench counts its typical run. Calls grow as f + C x p + C x M x q
around the typical run: (2, 10) - (2, 5) gives q (per container-MB), (3, 5) - (2, 5) gives p + 5q. The typical
figures are calls_bench's (bench/calls-per-run.json) when it has run, else this script's (2, 5) run.

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

ROOT = Path(__file__).resolve().parents[1]
CALLS_FILE = ROOT / "bench" / "calls-per-run.json"
OUT = ROOT / "functions" / "ecsrun" / "cli" / "data" / "calls-per-run.json"
LINE_BYTES = 100
TYPICAL = {"containers": 2, "logMB": 5, "taskMinutes": 10}
POINTS = ((2, 5), (3, 5), (2, 10))  # the typical run, one container more, twice the log
FLUSH_SECONDS = 5  # the awslogs driver's batch frequency
SERVICES = {
    "cloudwatch-logs": "CloudWatchLogs",
    "ecs": "ECS",
    "sfn": "StepFunctions",
    "dynamodb": "DynamoDB",
    "s3": "S3",
    "eventbridge": "EventBridge",
    "lambda": "Lambda",
}
DDB_WRITES = ("PutItem", "UpdateItem", "DeleteItem")
RULE_TARGETS = ("TaskStoppedFunction", "ExecutionEndedFunction")
FIRELENS_S3 = {"S3.ListObjectsV2": 1.0, "S3.GetObject": 1.0, "S3.UploadPartCopy": 1.0}
AWSLOGS_CALLS = ("CloudWatchLogs.GetLogEvents", "CloudWatchLogs.CreateLogStream", "CloudWatchLogs.PutLogEvents")


def definition(containers: int, log_mb: float) -> dict[str, Any]:
    lines = int(log_mb * 1_000_000 // LINE_BYTES)
    text = "x" * (LINE_BYTES - 1)
    return {
        **pipeline_bench.TINY_DEFINITION,
        "family": f"ecsrun-capacity-{containers}x{log_mb:g}",
        "containerDefinitions": [
            {
                **pipeline_bench.TINY_DEFINITION["containerDefinitions"][0],
                "name": f"c{index}",
                # One essential container that outlives the others, so none is stopped before it has written all.
                "essential": index == 0,
                "command": ["sh", "-c", f"yes {text} | head -n {lines}" + ("; sleep 2" if index == 0 else "")],
            }
            for index in range(containers)
        ],
    }


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


def measure(containers: int, log_mb: float, runs: int) -> dict[str, float]:
    """`runs` runs of `containers` containers with `log_mb` MB each, one after another, counted per call and
    averaged (whether a copy waits in WaitForLogs depends on timing: one run alone is noisy)."""
    from ecsrun.domain.runtask import execution_name
    from ecsrun.local.engine import follow
    from ecsrun.local.runtime import TABLE, LocalAws

    family = definition(containers, log_mb)
    transitions, units = 0, 0
    with LocalAws() as aws:
        aws.register_task_definition(family)
        os.environ["LOG_SETTLE_SECONDS"] = str(pipeline_bench.settle_default())  # LocalAws restores it on exit
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


def build(runs: dict[tuple[int, float], dict[str, float]], typical_calls: dict[str, float] | None,
          source: str) -> dict[str, Any]:  # fmt: skip
    per_container, per_mb = slopes(runs)
    c0, m0, minutes = TYPICAL["containers"], TYPICAL["logMB"], TYPICAL["taskMinutes"]
    measured = typical_calls if typical_calls is not None else runs[(c0, m0)]
    # calls_bench's file counts what ecsrun calls; the model also needs the figures only this script counts.
    extra = {k: v for k, v in runs[(c0, m0)].items() if k not in measured}
    read_back = others({**measured, **extra}, c0, m0, minutes)
    driver_container = {"CloudWatchLogs.CreateLogStream": 1.0}
    driver_mb: dict[str, float] = {}  # PutLogEvents follow the task's minutes, not its MB, below 1 MB every 5 s
    fire_per_container = {k: v for k, v in per_container.items() if k not in AWSLOGS_CALLS} | FIRELENS_S3
    fire_per_mb = {k: v for k, v in per_mb.items() if k not in AWSLOGS_CALLS}
    return {
        "measuredAt": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": "make bench  (python bench/capacity_bench.py)",
        "runs": 1,
        "typicalFrom": source,
        "modes": {"read-back": _rounded(read_back), "firelens": _rounded(firelens(read_back, c0))},
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
        "derived": {
            "read-back": "StartExecution (the caller's, 1), CreateLogStream and PutLogEvents (the awslogs driver's: "
            "1 stream and a batch every 5 s per container) are derived from the driver's documented behaviour; "
            "every other call is counted",
            "firelens": "derived, not measured: the read-back calls without CloudWatch Logs reads and without the "
            "containers' awslogs streams, plus what the FireLens source calls on S3 per container "
            "(ListObjectsV2, GetObject, UploadPartCopy: 1 each)",
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
    runs = {}
    for containers, log_mb in POINTS:
        runs[(containers, log_mb)] = measure(containers, log_mb, args.runs)
        print(f"{containers} container(s) x {log_mb:g} MB: {json.dumps(runs[(containers, log_mb)])}", file=sys.stderr)
    document = build(runs, typical_calls, source)
    document["runs"] = args.runs
    document["command"] = f"make bench  (python bench/capacity_bench.py --runs {args.runs})"
    Path(args.out).write_text(json.dumps(document, indent=2) + "\n")
    write_tables(document)
    print(json.dumps(document, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
