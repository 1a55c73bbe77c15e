"""`ecsrun capacity`: for N runs a day, every AWS rate quota a run touches, how much of it they use, and which one
binds first. Reads the calls per run `make bench` measured (data/calls-per-run.json, shipped with the CLI) and the
quota table (ecsrun.domain.ratequotas); calls AWS for nothing."""

from __future__ import annotations

import argparse
import json
import math
import os
import re
from importlib import resources
from typing import Any

from ecsrun.cli.common import EXIT_OK, UsageError
from ecsrun.domain import capacity
from ecsrun.domain.ratequotas import DEFAULT_REGION, LARGE_REGIONS

DATA_FILE = "calls-per-run.json"
DATA_ENV = "ECSRUN_CALLS_PER_RUN"  # another measured file (a bench run of your own task definition)
REGION_SHAPE = re.compile(r"[a-z]{2}(-[a-z]+)+-\d+")


def load_calls(path: str | None = None) -> dict[str, Any]:
    """The measured calls per run: `path`, else $ECSRUN_CALLS_PER_RUN, else the file shipped with the CLI."""
    chosen = path or os.environ.get(DATA_ENV)
    try:
        if chosen:
            with open(chosen, encoding="utf-8") as handle:
                text = handle.read()
        else:
            text = resources.files("ecsrun.cli").joinpath("data", DATA_FILE).read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read the measured calls per run ({chosen or DATA_FILE}): {exc.strerror}") from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"the measured calls per run ({chosen or DATA_FILE}) is not JSON: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("modes"), dict):
        raise UsageError(f"the measured calls per run ({chosen or DATA_FILE}) has no 'modes' object")
    return data


def region_of(args: argparse.Namespace) -> str:
    """--region, else AWS_REGION, AWS_DEFAULT_REGION, the profile's region, else us-east-1 (no credentials needed)."""
    region = getattr(args, "region", None) or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    if not region:
        try:
            import botocore.session

            region = botocore.session.Session().get_config_variable("region")
        except Exception:  # noqa: BLE001 - an unreadable profile only means no region from it
            region = None
    region = str(region or DEFAULT_REGION)
    if not REGION_SHAPE.fullmatch(region):
        raise UsageError(f"--region {region!r} is not a Region name (such as us-east-1 or eu-west-1)")
    return region


def _positive(value: float, flag: str, *, zero: bool = False) -> float:
    if math.isnan(value) or math.isinf(value) or value < 0 or (value == 0 and not zero):
        raise UsageError(f"{flag} must be a {'non-negative' if zero else 'positive'} number, not {value:g}")
    return value


def report(args: argparse.Namespace, data: dict[str, Any]) -> dict[str, Any]:
    """The capacity document (what --output json prints)."""
    runs = _positive(args.runs_per_day, "--runs-per-day")
    typical = data.get("typical") or {}
    containers = _positive(float(args.containers if args.containers is not None else typical.get("containers", 2)),
                           "--containers")  # fmt: skip
    log_mb = _positive(float(args.log_mb if args.log_mb is not None else typical.get("logMB", 5)), "--log-mb",
                       zero=True)  # fmt: skip
    region = region_of(args)
    try:
        usages = capacity.usage(data, runs, mode=args.log_mode, containers=containers, log_mb=log_mb, region=region)
    except capacity.CapacityDataError as exc:
        raise UsageError(str(exc)) from exc
    first = capacity.binding(usages)
    mode_note = (data.get("derived") or {}).get(args.log_mode)
    return {
        "runsPerDay": int(runs) if runs == int(runs) else runs,
        "runsPerSecond": round(runs / capacity.SECONDS_A_DAY, 3),
        "region": region,
        "largeRegion": region in LARGE_REGIONS,
        "logMode": args.log_mode,
        "containers": int(containers),
        "logMB": int(log_mb) if log_mb == int(log_mb) else log_mb,
        "measured": {
            "measuredAt": data.get("measuredAt"),
            "command": data.get("command"),
            "typical": typical,
            "derived": mode_note,
        },
        "quotas": [u.document(region) for u in usages],
        "binding": first.document(region) if first is not None else None,
    }


def capacity_command(args: argparse.Namespace) -> int:
    document = report(args, load_calls(getattr(args, "calls_file", None)))
    if args.output == "json":
        print(json.dumps(document, indent=2))
    else:
        print(render(document))
    return EXIT_OK


def _percent(value: float) -> str:
    return f"{value * 100:,.1f}%" if value < 10 else f"{value * 100:,.0f}%"


def _count(value: float | None) -> str:
    if value is None:
        return "unbounded"
    return f"{value:,.0f}"


def render(document: dict[str, Any]) -> str:
    """The document as a table a person reads."""
    head = (
        f"{document['runsPerDay']:,.0f} runs a day ({document['runsPerSecond']:,.1f}/s) in {document['region']}, "
        f"{document['logMode']} logs, {document['containers']:g} container(s) x {document['logMB']:g} MB of log"
    )
    rows = [("API", "calls/run", "quota/s", "adjustable", "utilization", "max runs/day")]
    for quota in document["quotas"]:
        rows.append(
            (
                quota["name"],
                f"{quota['callsPerRun']:g}",
                f"{quota['quotaPerSecond']:,g}",
                "yes" if quota["adjustable"] else "NO",
                _percent(quota["utilization"]),
                _count(quota["maxRunsPerDay"]),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [head, ""]
    for row in rows:
        cells = [row[0].ljust(widths[0])] + [cell.rjust(width) for cell, width in zip(row[1:], widths[1:], strict=True)]
        lines.append("  ".join(cells).rstrip())
    binding = document["binding"]
    lines.append("")
    if binding is None:
        lines.append("binding: none (the measured calls touch no quota)")
    else:
        over = " OVER ITS QUOTA" if binding["utilization"] > 1 else ""
        lines.append(
            f"binding: {binding['name']} ({'adjustable' if binding['adjustable'] else 'cannot be raised'}), "
            f"{_percent(binding['utilization'])} used{over}; it allows {_count(binding['maxRunsPerDay'])} runs a day"
        )
    derived = document["measured"].get("derived")
    measured_at = document["measured"].get("measuredAt") or "unknown"
    lines.append(f"calls per run measured {measured_at} by {document['measured'].get('command') or 'make bench'}")
    if derived:
        lines.append(f"{document['logMode']}: {derived}")
    return "\n".join(lines)


def add_parser(commands: Any, output_option: Any) -> None:
    """The `capacity` command's options (parser.py calls this)."""
    parser = commands.add_parser(
        "capacity",
        help="which AWS quota N runs a day use, and which binds first (no AWS call)",
        description="For N runs a day: every AWS rate quota a run touches (per account and Region), the calls a "
        "run makes against it (measured by `make bench` on the local engine, scaled to your containers and log "
        "size), its default, whether AWS raises it on request, how much of it N runs use, and the first that "
        "binds. Calls AWS for nothing. Exits 0, or 2 on a usage error. docs/capacity.md cites each quota.",
        epilog="examples:\n"
        "  ecsrun capacity --runs-per-day 1000000\n"
        "  ecsrun capacity --runs-per-day 10000000 --log-mode firelens --region eu-central-1 --output json",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--runs-per-day", type=float, required=True, metavar="N", help="runs a day (e.g. 1e6)")
    parser.add_argument(
        "--containers", type=int, metavar="C", help="containers per task that log (default: the measured run's, 2)"
    )
    parser.add_argument(
        "--log-mb", type=float, metavar="M", help="MB of log per container (default: the measured run's, 5)"
    )
    parser.add_argument(
        "--log-mode",
        choices=capacity.LOG_MODES,
        default="read-back",
        help="read-back: logs copied from CloudWatch Logs (GetLogEvents); firelens: from S3, written by a "
        "FireLens router (default read-back)",
    )
    parser.add_argument(
        "--region",
        metavar="REGION",
        help="the Region whose quotas apply (default: $AWS_REGION, $AWS_DEFAULT_REGION, the profile's, us-east-1)",
    )
    parser.add_argument(
        "--calls-file", metavar="FILE", help=f"another measured calls-per-run file (default: ${DATA_ENV}, else "
        "the one shipped with ecsrun)"
    )  # fmt: skip
    output_option(parser, "object")


__all__ = ["add_parser", "capacity_command", "load_calls", "render", "report"]
