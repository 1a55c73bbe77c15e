"""Calls per run, per API: what one typical run costs ecsrun's own quotas, counted.

Not a test: it prints a table and, with --write, records it in docs/benchmarks.md (`## Calls per run`) and the
figures in bench/calls-per-run.json, which `ecsrun capacity` reads.

A typical run: 2 containers that write 5 MB of log each (50,000 lines of 100 bytes: GetLogEvents' 10,000-event
page is then about its 1 MB page, so moto pages as CloudWatch Logs would), a task of a few seconds standing for a
10-minute one (nothing ecsrun calls while a task runs depends on its length: it does not poll). Counted with the
pipeline bench's botocore `before-call` hooks on every client the handlers use, over `--runs` runs one after
another on the local engine, in the deployed scenarios (the template's LogSettleSeconds): the containers' last
lines ingested after the stop, and a quiet end, which waits in WaitForLogs once.

The JSON file's shape: {"measuredAt", "command", "runs", "scenario", "modes": {"read-back": {"<Service>.<Operation>":
calls per run}}, "typical": {"containers", "logMB", "taskMinutes"}}. Besides API operations, a mode lists
`StepFunctions.StateTransitions` and `Lambda.Invocations` per run (ecsrun's own, not the caller's StartExecution).
The read-back figures are those of the quiet end: the costlier of the two scenarios, so a capacity drawn from
them holds in both.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pipeline_bench
from record import write_section

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "bench" / "calls-per-run.json"
CONTAINERS = 2
LOG_MB = 5
LINE_BYTES = 100  # with its newline
LINES = LOG_MB * 1_000_000 // LINE_BYTES
TASK_MINUTES = 10

# botocore's event names carry the service's hyphenated id; the file names services as AWS's quotas pages do.
SERVICES = {
    "cloudwatch-logs": "CloudWatchLogs",
    "ecs": "ECS",
    "sfn": "StepFunctions",
    "dynamodb": "DynamoDB",
    "s3": "S3",
    "eventbridge": "EventBridge",
    "lambda": "Lambda",
}
SCENARIOS = ["deployed, last lines ingested after the stop", "deployed, quiet end"]
READ_BACK = "deployed, quiet end"


def typical_definition() -> dict[str, Any]:
    """Two containers, one after the other, each writing LINES lines of LINE_BYTES bytes to its own awslogs stream."""
    line = "x" * (LINE_BYTES - 1)
    containers = []
    for name in ("worker", "app"):
        # The worker first, then the app (ECS's dependsOn SUCCESS): an essential container that exits stops
        # the task, so two writing at once would cut the slower one short.
        order = {"dependsOn": [{"containerName": "worker", "condition": "SUCCESS"}]} if name == "app" else {}
        containers.append(
            {
                "name": name,
                "image": "public.ecr.aws/docker/library/busybox:latest",
                "essential": name == "app",
                **order,
                "memory": 64,
                "command": ["sh", "-c", f"yes {line} | head -n {LINES}"],
                "logConfiguration": {
                    "logDriver": "awslogs",
                    "options": {
                        "awslogs-group": "/ecs/ecsrun-calls",
                        "awslogs-region": "us-east-1",
                        "awslogs-stream-prefix": "ecs",
                        "awslogs-create-group": "true",
                    },
                },
            }
        )
    return {**pipeline_bench.TINY_DEFINITION, "family": "ecsrun-calls", "containerDefinitions": containers}


def key(operation: str) -> str:
    """'cloudwatch-logs:GetLogEvents' -> 'CloudWatchLogs.GetLogEvents'."""
    service, name = operation.split(":", 1)
    return f"{SERVICES.get(service, service)}.{name}"


def per_run(counted: dict[str, Any]) -> dict[str, float]:
    runs = counted["runs"]
    figures = {key(op): n / runs for op, n in counted["calls"].items()}
    figures["StepFunctions.StateTransitions"] = counted["transitions"] / runs
    figures["Lambda.Invocations"] = sum(counted["invocations"].values()) / runs
    return dict(sorted(figures.items()))


def measure(runs: int) -> dict[str, dict[str, float]]:
    definition = typical_definition()
    return {
        name: per_run(pipeline_bench.cost(name, definition, runs=runs, prefix=f"calls-{index}"))
        for index, name in enumerate(SCENARIOS)
    }


def table(measured: dict[str, dict[str, float]]) -> list[str]:
    names = list(measured)
    operations = sorted({op for figures in measured.values() for op in figures})
    out = ["| API | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    for op in operations:
        out.append(f"| {op} | " + " | ".join(f"{measured[n].get(op, 0):g}" for n in names) + " |")
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3, help="typical runs counted per scenario")
    parser.add_argument("--write", metavar="FILE", help="also record the table in FILE (markdown) and the JSON file")
    parser.add_argument("--json", metavar="FILE", default=str(DATA), help=f"the figures' file (default {DATA})")
    args = parser.parse_args()
    measured = measure(args.runs)
    lines = table(measured)
    print("\n".join(lines))
    if args.write:
        command = f"make bench  (python bench/calls_bench.py --runs {args.runs})"
        document = {
            "measuredAt": datetime.now(UTC).isoformat(timespec="seconds"),
            "command": command,
            "runs": args.runs,
            "scenario": READ_BACK,
            "modes": {"read-back": measured[READ_BACK]},
            "typical": {"containers": CONTAINERS, "logMB": LOG_MB, "taskMinutes": TASK_MINUTES},
        }
        Path(args.json).write_text(json.dumps(document, indent=2) + "\n")
        body = "\n".join(
            [
                "## Calls per run",
                "",
                "Measured by `bench/calls_bench.py`: ecsrun's own API calls for one typical run (2 containers, 5 MB",
                "of log each), per API, averaged over the runs counted, on the local engine with the template's",
                "LogSettleSeconds. The read-back figures `ecsrun capacity` uses (bench/calls-per-run.json) are the",
                "quiet end's, the costlier scenario.",
                "",
                f"Command: `{command}`",
                "",
                *lines,
            ]
        )
        write_section(args.write, "calls", body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
