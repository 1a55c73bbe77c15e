"""The `ecsrun` command.

Exit status: 0 the run succeeded, 1 the run failed, 2 the request was invalid or the command was misused.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from ecsrun.errors import ErrorName

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """Bad arguments or unreadable input files."""


def _read_json(path: str, what: str) -> Any:
    try:
        return json.loads(Path(path).read_text())
    except OSError as exc:
        raise UsageError(f"cannot read {what} {path}: {exc.strerror}") from exc
    except json.JSONDecodeError as exc:
        raise UsageError(f"{what} {path} is not valid JSON: {exc}") from exc


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ecsrun", description="Run Amazon ECS tasks from Step Functions and keep their logs."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    local = commands.add_parser("local", help="run ecsrun on this machine, with no AWS account")
    local_commands = local.add_subparsers(dest="local_command", required=True)
    run = local_commands.add_parser(
        "run",
        help="run a request through the real state machine and handlers on moto; containers run as host processes",
    )
    run.add_argument("request", metavar="REQUEST.json", help="the run request (the state machine input)")
    run.add_argument(
        "--task-definition",
        action="append",
        default=[],
        metavar="FILE",
        help="a RegisterTaskDefinition input to register first (repeatable)",
    )
    run.add_argument("--output", choices=["text", "json"], default="text", help="json: one JSON document on stdout")
    run.add_argument("--artifacts", metavar="DIR", help="write every S3 object the run produced to DIR/<key>")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "local" and args.local_command == "run":
            return _local_run(args)
    except UsageError as exc:
        print(f"ecsrun: {exc}", file=sys.stderr)
        return EXIT_USAGE
    parser.error("unknown command")
    return EXIT_USAGE


def _local_run(args: argparse.Namespace) -> int:
    request = _read_json(args.request, "request")
    definitions = [_read_json(path, "task definition") for path in args.task_definition]
    from ecsrun.local.engine import StateEntered, run_local, write_artifacts
    from ecsrun.local.runtime import LocalAws, TaskDefinitionRejected, registration_input

    for path, document in zip(args.task_definition, definitions, strict=True):
        if not isinstance(document, dict) or "family" not in registration_input(document):
            raise UsageError(f"task definition {path} is not a RegisterTaskDefinition input (no 'family')")

    text = args.output == "text"

    def show(state: StateEntered) -> None:
        print(f"  +{state.elapsed:6.2f}s  {state.name}", flush=True)

    with LocalAws() as aws:
        for path, document in zip(args.task_definition, definitions, strict=True):
            try:
                aws.register_task_definition(document)
            except TaskDefinitionRejected as rejected:
                raise UsageError(f"task definition {path}: {rejected}") from rejected
        if text:
            print(f"ecsrun local run {args.request}", flush=True)
        result = run_local(request, [], on_state=show if text else None, aws=aws)
    if args.artifacts:
        write_artifacts(result, Path(args.artifacts))
    if text:
        print(render_text(result))
    else:
        print(json.dumps(result.as_json(), indent=2))
    if result.status == "SUCCEEDED":
        return EXIT_OK
    return EXIT_USAGE if result.error == ErrorName.REQUEST_INVALID.value else EXIT_FAILED


def render_text(result: Any) -> str:
    lines: list[str] = [""]
    if result.status == "SUCCEEDED":
        summary = result.output
        lines.append(f"SUCCEEDED  run {summary['runId']}")
    else:
        try:
            summary = json.loads(result.cause or "{}")
        except json.JSONDecodeError:
            summary = {"message": result.cause}
        lines.append(f"{result.status}  {result.error}: {summary.get('message', '')}")
        for problem in summary.get("problems", []):
            lines.append(f"  - {problem['field']}: {problem['message']}")
    task = summary.get("task") or {}
    if task.get("taskArn"):
        lines.append(f"task   {task['taskArn']}")
        stop = f"stopCode {task.get('stopCode')}  ({task.get('stoppedReason')})"
        lines.append(f"       launchType {task.get('launchType')}  {stop}")
        for c in task.get("containers", []):
            kind = "essential" if c.get("essential") else "sidecar  "
            reason = f"  {c['reason']}" if c.get("reason") else ""
            lines.append(f"       {c['name']:<20} {kind}  exit {c.get('exitCode')}{reason}")
    logs = summary.get("logs")
    if logs:
        lines.append(f"logs   s3://{logs['bucket']}/{logs['manifestKey']}")
        for c in logs.get("containers", []):
            if not c.get("key"):
                lines.append(f"       {c['name']}: no logs ({c.get('note')})")
                continue
            lines.append(
                f"       {c['name']}: {c['events']} events, {c['bytes']} bytes  s3://{logs['bucket']}/{c['key']}"
            )
            read_back = result.log_lines(c["key"]) if c["key"] in result.objects else []
            if read_back:
                lines.append(f"         first: {read_back[0]}")
                lines.append(f"         last:  {read_back[-1]}")
    tail = (summary.get("lastLogLines") or {}).get("lines") or []
    if tail and result.status != "SUCCEEDED":
        lines.append(f"last lines of {summary['lastLogLines']['container']}:")
        lines.extend(f"  | {line}" for line in tail)
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
