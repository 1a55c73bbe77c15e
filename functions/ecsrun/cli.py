"""The `ecsrun` command.

`ecsrun local run`: exit status 0 the run succeeded, 1 the run failed, 2 the request was invalid or the command
was misused.
`ecsrun start --wait`: exit status 0 the run succeeded, 1 it failed, 2 the request was invalid or AWS could not
be reached (one line says why). `ecsrun status`: 0 found, 1 not found.
`ecsrun validate`: exit status 0 the request is valid, 2 it is not (or the command was misused).
`ecsrun explain`: exit status 0 the task's verdict is SUCCEEDED, 1 it is FAILED, 2 the command was misused.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ecsrun.errors import ErrorName
from ecsrun.models.ecs import EcsTask, TaskStateChangeEvent
from ecsrun.runtask import container_specs
from ecsrun.verdict import Verdict, describe_exit_code, judge

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


def output_option(parser: argparse.ArgumentParser, shape: str = "object") -> None:
    parser.add_argument("--output", choices=["text", "json"], default="text", help=f"json: one JSON {shape} on stdout")


def task_definitions_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--task-definition",
        action="append",
        default=[],
        metavar="FILE",
        help="a RegisterTaskDefinition input to register first (repeatable)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ecsrun",
        description="Run Amazon ECS tasks from Step Functions and keep their logs. `ecsrun local ...` needs no "
        "AWS account; start, status, list and logs work on a deployed stack.",
        epilog="examples:\n"
        "  ecsrun local run events/requests/hello.json --task-definition events/task-definitions/hello.json\n"
        "  ecsrun validate events/requests/fargate.json\n"
        "  ecsrun start events/requests/fargate.json --wait\n"
        "  ecsrun status fargate-example\n"
        "  ecsrun logs fargate-example --container app\n"
        "\n"
        "environment:\n"
        "  ECSRUN_STACK_NAME    the deployed stack (instead of --stack-name)\n"
        "  ECSRUN_LOGS_BUCKET   the logs bucket, for `ecsrun logs` without a stack\n"
        "  AWS_PROFILE, AWS_REGION and the other AWS SDK settings, for commands on a deployed stack\n"
        "\n"
        "Each command's --help says what it prints and its exit statuses.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    local = commands.add_parser(
        "local",
        help="run ecsrun on this machine, with no AWS account",
        description="Run the real state machine and handlers on moto, in this process; containers run as host "
        "processes (their images are ignored). No AWS account, no Docker.",
    )
    local_commands = local.add_subparsers(dest="local_command", required=True)
    run = local_commands.add_parser(
        "run",
        help="run a request through the real state machine and handlers on moto; containers run as host processes",
        description="Start an execution of the real state machine (statemachine/) with REQUEST.json, on moto, "
        "with the real handlers; each container's command runs as a host process and its output goes to the "
        "CloudWatch Logs stream its definition names. Prints each state entered, then the outcome and the first "
        "and last log lines read back from S3. Exits 0 when the run succeeded, 1 when it failed, 2 when the "
        "request was invalid or the command was misused.",
        epilog="example:\n"
        "  ecsrun local run events/requests/failing.json --task-definition events/task-definitions/failing.json",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    run.add_argument("request", metavar="REQUEST.json", help="the run request (the state machine input)")
    task_definitions_option(run)
    output_option(run, "document")
    run.add_argument("--artifacts", metavar="DIR", help="write every S3 object the run produced to DIR/<key>")
    event = local_commands.add_parser(
        "event",
        help="deliver an event to the local stack's EventBridge rules and follow every run it starts",
        description="Deliver an EventBridge event to the rules of the local stack (template.yaml), and of any "
        "--rules template, exactly as EventBridge would: a rule whose pattern matches starts an execution with "
        "the input its target shapes (InputPath or InputTransformer). Then follow each run to its end. Exits 0 "
        "when every run succeeded, 1 when one failed, 2 when the event started no run or the input was bad.",
        epilog="examples:\n"
        "  ecsrun local event events/requests/eventbridge-put-events.json \\\n"
        "      --task-definition events/task-definitions/hello.json\n"
        "  ecsrun local event events/triggers/s3-object-created.json --rules examples/s3-trigger/template.yaml \\\n"
        "      --parameter BucketName=example-bucket --parameter TaskDefinition=ecsrun-object-processor \\\n"
        "      --parameter Container=app --parameter Subnets=subnet-0123456789abcdef0 \\\n"
        "      --parameter SecurityGroups=sg-0123456789abcdef0 \\\n"
        "      --task-definition events/task-definitions/object-processor.json",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    event.add_argument(
        "event",
        metavar="EVENT.json",
        help="an event as a rule receives it (source, detail-type, detail ...), or a list of PutEvents entries as "
        "`aws events put-events --entries` takes them (any bus but 'default' is the stack's bus)",
    )
    event.add_argument(
        "--rules",
        action="append",
        default=[],
        metavar="TEMPLATE",
        help="a stack template whose EventBridge rules target the ecsrun state machine (repeatable)",
    )
    event.add_argument(
        "--parameter",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a template parameter's value (repeatable); a list parameter takes comma-separated values",
    )
    task_definitions_option(event)
    output_option(event, "document")
    validate = commands.add_parser(
        "validate",
        help="check a run request offline, as the ValidateRequest state does (no AWS needed)",
        description="Check a run request against ECS's API model and ecsrun's rules, offline, and list every "
        "problem with its field path. Exits 0 when the request is valid, 2 when it is not.",
    )
    validate.add_argument("request", metavar="REQUEST.json", help="the run request (the state machine input)")
    output_option(validate, "object")
    explain = commands.add_parser(
        "explain",
        help="judge a stopped task as ecsrun does, and say why",
        description="Judge a stopped ECS task exactly as the TaskStopped function does, and say why: the "
        "outcome, the error name, a one-line reason and whether a retry could help. Exits 0 when the outcome is "
        "SUCCEEDED, 1 when it is FAILED, 2 when the input is bad.",
        epilog="example:\n  ecsrun explain events/ecs-events/stopped-oom.json",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    explain.add_argument(
        "file",
        metavar="FILE",
        help="an 'ECS Task State Change' event, a DescribeTasks task, or a DescribeTasks response with one task",
    )
    explain.add_argument(
        "--task-definition",
        metavar="FILE",
        help="the task's definition (RegisterTaskDefinition input or DescribeTaskDefinition output), for which "
        "containers are essential; without it every container counts as essential",
    )
    explain.add_argument(
        "--success-exit-codes",
        default="0",
        metavar="CODES",
        help="comma-separated exit codes (0-255) counted as success for essential containers (default: 0)",
    )
    output_option(explain, "object")
    logs = commands.add_parser(
        "logs",
        help="print a run's logs from S3 by run id (needs only read access to the logs bucket)",
        description="Print a run's logs from S3, each container's under a '==> name <==' header, decompressed "
        "as they stream. The bucket comes from --stack-name, $ECSRUN_LOGS_BUCKET or $ECSRUN_STACK_NAME. Exits 0 "
        "when it printed, 1 when the run or container has no logs, 2 when it does not know which bucket to read.",
        epilog="examples:\n"
        "  ecsrun logs fargate-example --stack-name ecsrun\n"
        "  ecsrun logs hello-demo --local artifacts --container app",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    logs.add_argument("run_id", metavar="RUN_ID", help="the run's id (runs/<RUN_ID>/ in the bucket)")
    logs.add_argument("--container", metavar="NAME", help="only this container's log")
    logs.add_argument("--url", action="store_true", help="print presigned URLs (valid for an hour) instead of the logs")
    from ecsrun import cli_aws

    cli_aws.add_commands(commands)
    source = logs.add_mutually_exclusive_group()
    source.add_argument("--stack-name", metavar="NAME", help="find the logs bucket from this stack's outputs")
    source.add_argument(
        "--local", metavar="DIR", help="read an artifacts directory from `ecsrun local run --artifacts`"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "local" and args.local_command == "run":
            return _local_run(args)
        if args.command == "local" and args.local_command == "event":
            return _local_event(args)
        if args.command == "validate":
            return _validate(args)
        if args.command == "explain":
            return _explain(args)
        if args.command == "logs":
            return _logs(args)
        if args.command in ("start", "status", "list"):
            return _on_stack(args)
    except UsageError as exc:
        print(f"ecsrun: {exc}", file=sys.stderr)
        return EXIT_USAGE
    parser.error("unknown command")
    return EXIT_USAGE


LOGS_BUCKET_ENV = "ECSRUN_LOGS_BUCKET"
STACK_NAME_ENV = "ECSRUN_STACK_NAME"


def _logs(args: argparse.Namespace) -> int:
    from ecsrun.logread import LogsNotFound, containers, lines, read_manifest

    source = _log_source(args)
    try:
        manifest = read_manifest(source, args.run_id)
        chosen = containers(manifest, args.container)
    except LogsNotFound as missing:
        print(f"ecsrun: no logs for run {args.run_id}: {missing}", file=sys.stderr)
        return EXIT_FAILED
    if args.url:
        print(f"manifest  {source.url(f'runs/{args.run_id}/manifest.json')}")
        for entry in chosen:
            print(f"{entry['name']}  {source.url(entry['key'])}" if entry.get("key") else f"{entry['name']}  (no logs)")
        return EXIT_OK
    headers = len(chosen) > 1
    for entry in chosen:
        if headers:
            print(f"==> {entry['name']} <==")
        if not entry.get("key"):
            print(f"ecsrun: container {entry['name']} has no logs: {entry.get('note')}", file=sys.stderr)
            continue
        for line in lines(source, entry["key"]):
            sys.stdout.write(line)
    return EXIT_OK


def _on_stack(args: argparse.Namespace) -> int:
    """start, status and list: the stack found from its outputs; AWS errors as one line, not a traceback."""
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError

    from ecsrun import cli_aws
    from ecsrun.adapters.runs_table import RunsTable

    stack_name = args.stack_name or os.environ.get(STACK_NAME_ENV)
    if not stack_name:
        raise UsageError(f"which stack? give --stack-name or set {STACK_NAME_ENV}")
    request = _read_json(args.request, "request") if args.command == "start" else None
    try:
        cloudformation = boto3.client("cloudformation")
        stack = cli_aws.stack_resources(lambda name, key: _stack_output(cloudformation, name, key), stack_name)
        sfn = boto3.client("stepfunctions")
        table = RunsTable(boto3.resource("dynamodb").Table(stack.runs_table))
        if args.command == "start":
            return cli_aws.start(args, request, stack, sfn, table, boto3.client("ecs"))
        if args.command == "status":
            return cli_aws.status(args, stack, sfn, table)
        return cli_aws.list_runs(args, stack, sfn)
    except NoCredentialsError:
        raise UsageError("no AWS credentials: set AWS_PROFILE, or run `aws configure` / `aws sso login`") from None
    except NoRegionError:
        raise UsageError("no AWS region: set AWS_REGION or AWS_DEFAULT_REGION, or a region in your profile") from None
    except ClientError as exc:
        error = exc.response.get("Error", {})
        raise UsageError(f"{exc.operation_name}: {error.get('Code')}: {error.get('Message')}") from None
    except BotoCoreError as exc:
        raise UsageError(str(exc)) from None


def _log_source(args: argparse.Namespace) -> Any:
    from ecsrun.logread import BucketSource, DirectorySource

    if args.local:
        if not Path(args.local).is_dir():
            raise UsageError(f"--local {args.local} is not a directory")
        return DirectorySource(Path(args.local))
    import boto3

    bucket = os.environ.get(LOGS_BUCKET_ENV)
    stack = args.stack_name or (None if bucket else os.environ.get(STACK_NAME_ENV))
    if stack:
        bucket = _stack_output(boto3.client("cloudformation"), stack, "LogsBucketName")
    if not bucket:
        raise UsageError(f"which logs bucket? give --stack-name, or set {LOGS_BUCKET_ENV} or {STACK_NAME_ENV}")
    from botocore.config import Config

    # SigV4: presigned URLs must work for KMS-encrypted objects and in every region.
    return BucketSource(boto3.client("s3", config=Config(signature_version="s3v4")), bucket)


def _stack_output(cloudformation: Any, stack: str, name: str) -> str:
    from botocore.exceptions import ClientError

    try:
        outputs = cloudformation.describe_stacks(StackName=stack)["Stacks"][0].get("Outputs", [])
    except ClientError as exc:
        raise UsageError(f"stack {stack}: {exc.response.get('Error', {}).get('Message', exc)}") from exc
    for output in outputs:
        if output["OutputKey"] == name:
            return str(output["OutputValue"])
    raise UsageError(f"stack {stack} has no output {name}: is it an ecsrun stack?")


def _validate(args: argparse.Namespace) -> int:
    from ecsrun.models.request import problems_report, validate_request

    request, problems = validate_request(_read_json(args.request, "request"))
    if args.output == "json":
        if request is None:
            report = {"valid": False, "error": ErrorName.REQUEST_INVALID.value, **problems_report(problems)}
        else:
            report = {"valid": True, "problems": []}
        print(json.dumps(report, indent=2))
    elif request is None:
        report = problems_report(problems)
        print(f"{ErrorName.REQUEST_INVALID.value}: {args.request}: {report['message']}")
        for problem in problems:
            print(f"  {problem.field}: {problem.message}")
    else:
        print(f"{args.request}: a valid run request")
    return EXIT_OK if request is not None else EXIT_USAGE


def _task_definitions(paths: list[str]) -> list[tuple[str, Any]]:
    from ecsrun.local.runtime import registration_input

    definitions = [(path, _read_json(path, "task definition")) for path in paths]
    for path, document in definitions:
        if not isinstance(document, dict) or "family" not in registration_input(document):
            raise UsageError(f"task definition {path} is not a RegisterTaskDefinition input (no 'family')")
    return definitions


def _register(aws: Any, definitions: list[tuple[str, Any]]) -> None:
    from ecsrun.local.runtime import TaskDefinitionRejected

    for path, document in definitions:
        try:
            aws.register_task_definition(document)
        except TaskDefinitionRejected as rejected:
            raise UsageError(f"task definition {path}: {rejected}") from rejected


def _show_state(state: Any) -> None:
    print(f"  +{state.elapsed:6.2f}s  {state.name}", flush=True)


def _exit_status(result: Any) -> int:
    if result.status == "SUCCEEDED":
        return EXIT_OK
    return EXIT_USAGE if result.error == ErrorName.REQUEST_INVALID.value else EXIT_FAILED


def _local_run(args: argparse.Namespace) -> int:
    request = _read_json(args.request, "request")
    definitions = _task_definitions(args.task_definition)
    from ecsrun.local.engine import run_local, write_artifacts
    from ecsrun.local.runtime import LocalAws

    text = args.output == "text"
    with LocalAws() as aws:
        _register(aws, definitions)
        if text:
            print(f"ecsrun local run {args.request}", flush=True)
        result = run_local(request, [], on_state=_show_state if text else None, aws=aws)
    if args.artifacts:
        write_artifacts(result, Path(args.artifacts))
    if text:
        print(render_text(result))
    else:
        print(json.dumps(result.as_json(), indent=2))
    return _exit_status(result)


def _local_event(args: argparse.Namespace) -> int:
    event = _read_json(args.event, "event")
    definitions = _task_definitions(args.task_definition)
    parameters = {}
    for item in args.parameter:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UsageError(f"--parameter {item!r} is not KEY=VALUE")
        parameters[key] = value
    entries = event if isinstance(event, list) else None
    if entries is not None and not all(
        isinstance(e, dict) and {"Source", "DetailType", "Detail"} <= set(e) for e in entries
    ):
        raise UsageError(f"{args.event}: a list must hold PutEvents entries (Source, DetailType, Detail)")
    if entries is None and not (isinstance(event, dict) and {"source", "detail-type", "detail"} <= set(event)):
        raise UsageError(
            f"{args.event} is not an EventBridge event (source, detail-type, detail) nor PutEvents entries"
        )
    from ecsrun.local.engine import follow
    from ecsrun.local.runtime import LocalAws

    text = args.output == "text"
    with LocalAws(parameters=parameters) as aws:
        _register(aws, definitions)
        for template in args.rules:
            try:
                aws.add_triggers(Path(template))
            except (OSError, LookupError) as exc:
                raise UsageError(f"--rules {template}: {exc}") from exc
        started = aws.put_events(entries) if entries is not None else aws.deliver_event(event)
        if not started:
            print(f"ecsrun: {args.event} matched no rule that starts a run; nothing started", file=sys.stderr)
            return EXIT_USAGE
        results = []
        for arn in started:
            if text:
                print(f"ecsrun local event {args.event}: execution {arn.rsplit(':', 1)[-1]}", flush=True)
            result = follow(aws, arn, on_state=_show_state if text else None)
            results.append(result)
            if text:
                print(render_text(result))
    if not text:
        print(json.dumps([result.as_json() for result in results], indent=2))
    statuses = [_exit_status(result) for result in results]
    return max(statuses)


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
    lines += _array_lines(summary.get("array"))
    tail = (summary.get("lastLogLines") or {}).get("lines") or []
    if tail and result.status != "SUCCEEDED":
        lines.append(f"last lines of {summary['lastLogLines']['container']}:")
        lines.extend(f"  | {line}" for line in tail)
    return "\n".join(lines)


def _array_lines(array: dict[str, Any] | None) -> list[str]:
    """An array run's parent: its children's counts and the first failed ones."""
    if not array:
        return []
    lines = [
        f"array  {array['size']} children: {array['succeeded']} succeeded, {array['failed']} failed "
        f"({array['failurePercentage']:g}%; {array['toleratedFailurePercentage']:g}% tolerated)"
    ]
    lines += [f"       {outcome}: {count}" for outcome, count in array["byOutcome"].items()]
    for child in array["failedChildren"][:10]:
        lines.append(f"       failed {child['runId']}: {child['error']}: {child['message']}")
    if array["failed"] > 10:
        lines.append(f"       … and {array['failed'] - 10} more")
    lines.append(f"       summary s3://{array['bucket']}/{array['summaryKey']}")
    return lines


# ---- ecsrun explain ----


def _explain(args: argparse.Namespace) -> int:
    success_codes = parse_success_exit_codes(args.success_exit_codes)
    task = parse_task(_read_json(args.file, "file"), args.file)
    essential: dict[str, bool] = {}
    if args.task_definition:
        essential = essential_flags(_read_json(args.task_definition, "task definition"), args.task_definition, task)
    # Without a task definition judge() counts every container as essential, as it does for unknown names.
    verdict = judge(task, essential, success_codes)
    if args.output == "json":
        print(
            json.dumps(
                {
                    "outcome": "SUCCEEDED" if verdict.succeeded else "FAILED",
                    "error": verdict.error.value if verdict.error is not None else None,
                    "reason": verdict.reason,
                    "retryable": verdict.retryable and not verdict.succeeded,
                }
            )
        )
    else:
        print(render_explanation(task, essential, verdict))
    return EXIT_OK if verdict.succeeded else EXIT_FAILED


def parse_success_exit_codes(value: str) -> list[int]:
    codes = []
    for part in value.split(","):
        text = part.strip()
        if not re.fullmatch(r"[0-9]{1,3}", text) or int(text) > 255:
            raise UsageError(f"--success-exit-codes must be comma-separated integers from 0 to 255; got {value!r}")
        codes.append(int(text))
    return codes


def parse_task(document: Any, path: str) -> EcsTask:
    """An `ECS Task State Change` event, a DescribeTasks task, or a DescribeTasks response holding one task."""
    if not isinstance(document, dict):
        raise UsageError(f"{path} is neither an ECS Task State Change event nor a DescribeTasks task")
    try:
        if "detail" in document:
            kind = document.get("detail-type")
            if kind != "ECS Task State Change":
                raise UsageError(f"{path} is not an 'ECS Task State Change' event (its detail-type is {kind!r})")
            task = TaskStateChangeEvent.model_validate(document).detail
        elif "taskArn" in document:
            task = EcsTask.model_validate(document)
        elif isinstance(document.get("tasks"), list):
            tasks = document["tasks"]
            if len(tasks) != 1:
                raise UsageError(f"{path} is a DescribeTasks response with {len(tasks)} tasks; give it exactly one")
            task = EcsTask.model_validate(tasks[0])
        else:
            raise UsageError(f"{path} is neither an ECS Task State Change event nor a DescribeTasks task")
    except ValidationError as exc:
        raise UsageError(f"{path} is not a valid ECS task: {_first_problem(exc)}") from exc
    status = (task.lastStatus or "").strip()
    if status and status != "STOPPED":
        raise UsageError(f"task {task.task_id} has not stopped (lastStatus {status}); only a stopped task is judged")
    return task


def essential_flags(document: Any, path: str, task: EcsTask) -> dict[str, bool]:
    """Container name -> essential, read by the same code the start function uses."""
    definition = document.get("taskDefinition", document) if isinstance(document, dict) else None
    containers = definition.get("containerDefinitions") if isinstance(definition, dict) else None
    if (
        not isinstance(definition, dict)
        or not isinstance(containers, list)
        or not all(isinstance(c, dict) and isinstance(c.get("name"), str) for c in containers)
    ):
        raise UsageError(
            f"task definition {path} is neither a RegisterTaskDefinition input nor a DescribeTaskDefinition output "
            "(no containerDefinitions with names)"
        )
    region = task.taskArn.split(":")[3] if task.taskArn.count(":") >= 5 else ""
    try:
        specs = container_specs(definition, region)
    except ValidationError as exc:
        raise UsageError(f"task definition {path} has an invalid container: {_first_problem(exc)}") from exc
    return {spec.name: spec.essential for spec in specs}


def _first_problem(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error["loc"]) or "(top level)"
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"{where}: {error['msg']}{more}"


def render_explanation(task: EcsTask, essential: dict[str, bool], verdict: Verdict) -> str:
    lines = ["SUCCEEDED" if verdict.succeeded else f"FAILED  {verdict.error}", verdict.reason]
    if not verdict.succeeded:
        lines.append(f"retryable: {'yes' if verdict.retryable else 'no'}")
    stopped_reason = " ".join((task.stoppedReason or "").split())
    lines.append(f"task   {task.taskArn}")
    lines.append(
        f"       stopCode {(task.stopCode or '').strip() or '-'}" + (f"  ({stopped_reason})" if stopped_reason else "")
    )
    for c in task.containers:
        kind = "essential" if essential.get(c.name, True) else "sidecar"
        code = "-" if c.exitCode is None else str(c.exitCode)
        signal = describe_exit_code(c.exitCode) if c.exitCode is not None else None
        notes = [note for note in (signal, " ".join((c.reason or "").split())) if note]
        mark = "  <- failing" if c.name == verdict.failingContainer else ""
        lines.append(f"       {c.name:<20} {kind:<9}  exit {code:<4} {'; '.join(notes)}".rstrip() + mark)
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
