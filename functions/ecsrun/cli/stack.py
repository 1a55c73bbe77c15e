"""The `ecsrun` commands that act on a deployed stack: start, status, list.

Stack resources come from the stack's outputs (`--stack-name`, or ECSRUN_STACK_NAME). Following a run with
`--wait` polls DescribeExecution from the user's terminal; the pipeline itself never polls.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from dataclasses import dataclass
from typing import Any

from ecsrun.cli.common import EXIT_FAILED, EXIT_OK, EXIT_USAGE, STACK_NAME_ENV, UsageError, read_json, stack_output
from ecsrun.domain.errors import ErrorName

STATUSES = ("RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED")


@dataclass
class StackResources:
    state_machine_arn: str
    runs_table: str


def stack_resources(stack_output: Any, stack: str) -> StackResources:
    return StackResources(stack_output(stack, "StateMachineArn"), stack_output(stack, "RunsTableName"))


def start(args: argparse.Namespace, request: Any, stack: StackResources, sfn: Any, table: Any, ecs: Any) -> int:
    from ecsrun.domain.models.request import validate_request
    from ecsrun.domain.runtask import execution_name

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
    from ecsrun.domain.runtask import run_id_for_execution

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

    from ecsrun.domain.runtask import run_id_for_execution

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


def on_stack(args: argparse.Namespace) -> int:
    """start, status and list: the stack found from its outputs; AWS errors as one line, not a traceback."""
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError

    from ecsrun.adapters.dynamodb import RunsTable

    stack_name = args.stack_name or os.environ.get(STACK_NAME_ENV)
    if not stack_name:
        raise UsageError(f"which stack? give --stack-name or set {STACK_NAME_ENV}")
    request = read_json(args.request, "request") if args.command == "start" else None
    try:
        cloudformation = boto3.client("cloudformation")
        stack = stack_resources(lambda name, key: stack_output(cloudformation, name, key), stack_name)
        sfn = boto3.client("stepfunctions")
        table = RunsTable(boto3.resource("dynamodb").Table(stack.runs_table))
        if args.command == "start":
            return start(args, request, stack, sfn, table, boto3.client("ecs"))
        if args.command == "status":
            return status(args, stack, sfn, table)
        return list_runs(args, stack, sfn)
    except NoCredentialsError:
        raise UsageError("no AWS credentials: set AWS_PROFILE, or run `aws configure` / `aws sso login`") from None
    except NoRegionError:
        raise UsageError("no AWS region: set AWS_REGION or AWS_DEFAULT_REGION, or a region in your profile") from None
    except ClientError as exc:
        error = exc.response.get("Error", {})
        raise UsageError(f"{exc.operation_name}: {error.get('Code')}: {error.get('Message')}") from None
    except BotoCoreError as exc:
        raise UsageError(str(exc)) from None
