"""The `ecsrun` commands that act on a deployed stack: start, status, list.

Stack resources come from the stack's outputs (`--stack-name`, or ECSRUN_STACK_NAME). Following a run with
`--wait` polls DescribeExecution from the user's terminal; the pipeline itself never polls.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass
from typing import Any

from ecsrun.errors import ErrorName

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
STATUSES = ("RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED")


@dataclass
class StackResources:
    state_machine_arn: str
    runs_table: str


def add_commands(commands: Any) -> None:
    from ecsrun.cli import output_option

    stack_help = "the ecsrun stack whose outputs name its resources (default: $ECSRUN_STACK_NAME)"
    start = commands.add_parser(
        "start",
        help="start a run on a deployed stack; --wait follows it to its end",
        description="Validate REQUEST.json offline, then start an execution of the stack's state machine. "
        "With --wait, show its progress (state, elapsed time, task status) until it ends. Exits 0 when the run "
        "succeeded (without --wait: when it started), 1 when it failed, 2 when the request was invalid (nothing "
        "is started) or AWS could not be reached (one line says why).",
        epilog="example:\n  ecsrun start events/requests/fargate.json --wait --stack-name ecsrun",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    start.add_argument("request", metavar="REQUEST.json", help="the run request (the state machine input)")
    start.add_argument("--wait", action="store_true", help="follow the run until it ends")
    start.add_argument("--stack-name", metavar="NAME", help=stack_help)
    start.add_argument("--name", metavar="EXECUTION", help="execution name (default: the runId plus a suffix)")
    start.add_argument("--poll-seconds", type=float, default=2.0, help=argparse.SUPPRESS)
    status = commands.add_parser(
        "status",
        help="a run's state, from the runs table and its execution",
        description="Print a run's state: its record in the runs table (status, task, outcome) and its "
        "execution's status. Exits 0 when found, 1 when no such run or execution exists, 2 when AWS could "
        "not be reached.",
    )
    status.add_argument("run", metavar="RUN_ID|EXECUTION_ARN", help="a runId, or an execution ARN")
    status.add_argument("--stack-name", metavar="NAME", help=stack_help)
    output_option(status)
    listing = commands.add_parser(
        "list",
        help="recent runs (executions of the stack's state machine), newest first",
        description="List the most recent executions of the stack's state machine, newest first: status, "
        "start time, runId and execution name. Exits 0, or 2 when AWS could not be reached.",
    )
    listing.add_argument("--status", choices=STATUSES, help="only executions with this status")
    listing.add_argument("--limit", type=int, default=20, help="at most this many (default 20)")
    listing.add_argument("--stack-name", metavar="NAME", help=stack_help)


def stack_resources(stack_output: Any, stack: str) -> StackResources:
    return StackResources(stack_output(stack, "StateMachineArn"), stack_output(stack, "RunsTableName"))


def start(args: argparse.Namespace, request: Any, stack: StackResources, sfn: Any, table: Any, ecs: Any) -> int:
    from ecsrun.models.request import validate_request
    from ecsrun.runtask import execution_name

    _, problems = validate_request(request)
    if problems:
        print(f"{ErrorName.REQUEST_INVALID.value}: not started; {len(problems)} problem(s):")
        for problem in problems:
            print(f"  {problem.field}: {problem.message}")
        return EXIT_USAGE
    name = args.name or execution_name(request)
    arn = sfn.start_execution(stateMachineArn=stack.state_machine_arn, name=name, input=json.dumps(request))[
        "executionArn"
    ]
    print(f"started {arn}", flush=True)
    if not args.wait:
        return EXIT_OK
    return follow(arn, sfn, table, ecs, poll_seconds=args.poll_seconds)


def _current_state(sfn: Any, arn: str) -> str | None:
    history = sfn.get_execution_history(executionArn=arn, reverseOrder=True, maxResults=100)["events"]
    entered = [e for e in history if e["type"].endswith("StateEntered")]
    newest = max(entered, key=lambda e: e["id"], default=None)
    return str(newest["stateEnteredEventDetails"]["name"]) if newest else None


def _task_status(table: Any, ecs: Any, run_id: str | None) -> str | None:
    """The run's status from its record, and its task's: recorded once stopped, asked of ECS until then."""
    record = table.get(run_id) if run_id else None
    if record is None:
        return None
    task = record.task.lastStatus if record.task else None
    if task is None and record.taskArn:
        found = ecs.describe_tasks(cluster=record.clusterArn or "default", tasks=[record.taskArn])["tasks"]
        task = found[0]["lastStatus"] if found else None
    return f"run {record.status.value}" + (f", task {task}" if task else "")


def follow(arn: str, sfn: Any, table: Any, ecs: Any, *, poll_seconds: float) -> int:
    """Print a line whenever the state or the task's status changes, then the result."""
    from ecsrun.runtask import run_id_for_execution

    started = time.monotonic()
    shown = None
    while True:
        described = sfn.describe_execution(executionArn=arn)
        run_id = run_id_for_execution(json.loads(described.get("input") or "null"), described["name"])
        line = (_current_state(sfn, arn), _task_status(table, ecs, run_id))
        if line != shown:
            shown = line
            extra = f"  ({line[1]})" if line[1] else ""
            print(f"  +{time.monotonic() - started:6.1f}s  {line[0] or 'starting'}{extra}", flush=True)
        if described["status"] != "RUNNING":
            return _result(described)
        time.sleep(poll_seconds)


def _result(described: dict[str, Any]) -> int:
    status = described["status"]
    if status == "SUCCEEDED":
        output = json.loads(described.get("output") or "{}")
        array = output.get("array")
        if array:  # an array run's parent
            print(f"SUCCEEDED  {array['succeeded']} of {array['size']} children succeeded  "
                  f"summary s3://{array['bucket']}/{array['summaryKey']}")  # fmt: skip
            return EXIT_OK
        codes = {c["name"]: c.get("exitCode") for c in (output.get("task") or {}).get("containers", [])}
        print(f"SUCCEEDED  exit codes {codes}  logs s3://{(output.get('logs') or {}).get('bucket')}/runs/"
              f"{output.get('runId')}/")  # fmt: skip
        return EXIT_OK
    error = described.get("error")
    try:
        message = json.loads(described.get("cause") or "{}").get("message")
    except json.JSONDecodeError:
        message = described.get("cause")
    print(f"{status}  {error}: {message}")
    return EXIT_USAGE if error == ErrorName.REQUEST_INVALID.value else EXIT_FAILED


def status(args: argparse.Namespace, stack: StackResources, sfn: Any, table: Any) -> int:
    from botocore.exceptions import ClientError

    from ecsrun.runtask import run_id_for_execution

    execution: dict[str, Any] | None = None
    if args.run.startswith("arn:"):
        try:
            execution = sfn.describe_execution(executionArn=args.run)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ExecutionDoesNotExist":
                raise
            print(f"ecsrun: no execution {args.run}")
            return EXIT_FAILED
        run_id = run_id_for_execution(json.loads(execution.get("input") or "null"), execution["name"])
    else:
        run_id = args.run
    record = table.get(run_id) if run_id else None
    if execution is None and record is not None:
        execution = sfn.describe_execution(executionArn=record.executionArn)
    if execution is None and record is None:
        print(f"ecsrun: no run {args.run} in the runs table")
        return EXIT_FAILED
    report = {
        "runId": run_id,
        "executionArn": execution["executionArn"] if execution else None,
        "executionStatus": execution["status"] if execution else None,
        "runStatus": record.status.value if record else None,
        "taskArn": record.taskArn if record else None,
        "taskStatus": record.task.lastStatus if record and record.task else None,
        "error": (record.outcome or {}).get("error") if record else (execution or {}).get("error"),
        "manifestKey": (record.outcome or {}).get("manifestKey") if record else None,
        "array": _array_counts(record.outcome or {}) if record else None,
    }
    if args.output == "json":
        print(json.dumps(report, indent=2))
    else:
        for key, value in report.items():
            if value is not None:
                print(f"{key:16} {value}")
    return EXIT_OK


def _array_counts(outcome: dict[str, Any]) -> dict[str, Any] | None:
    """An array parent's children, counted (None for a single run, or an array still running)."""
    array = outcome.get("array")
    if not array:
        return None
    keys = ("size", "succeeded", "failed", "byOutcome", "summaryKey")
    return {key: array[key] for key in keys if key in array}


def list_runs(args: argparse.Namespace, stack: StackResources, sfn: Any) -> int:
    kwargs: dict[str, Any] = {"stateMachineArn": stack.state_machine_arn, "maxResults": max(1, min(args.limit, 1000))}
    if args.status:
        kwargs["statusFilter"] = args.status
    executions = sfn.list_executions(**kwargs)["executions"]
    for execution in sorted(executions, key=lambda e: e["startDate"], reverse=True):
        print(f"{execution['startDate']:%Y-%m-%d %H:%M:%S}  {execution['status']:10} {execution['name']}")
    return EXIT_OK
