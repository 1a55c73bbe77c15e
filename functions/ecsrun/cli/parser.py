"""The `ecsrun` command line: every command, option and help text (the commands themselves live beside it)."""

from __future__ import annotations

import argparse
import difflib
import re
import sys
from importlib.metadata import PackageNotFoundError, version
from typing import Any, NoReturn

from ecsrun.cli import capacity
from ecsrun.cli.common import (
    EXIT_USAGE,
    aws_options,
    output_option,
    parameter_option,
    task_definitions_option,
)
from ecsrun.cli.stack import STATUSES
from ecsrun.local.faults import catalog_text


class Parser(argparse.ArgumentParser):
    """argparse, with the manners of git and the AWS CLI: a command group given no command prints its help; a
    mistyped command or option gets a "did you mean"; every error is the usage and one line, exit 2."""

    def error(self, message: str) -> NoReturn:
        if self._subparsers is not None and message.startswith("the following arguments are required"):
            self.print_help(sys.stderr)
            self.exit(EXIT_USAGE)
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}{suggestion(message)}\n")

    def unrecognized(self, extras: list[str]) -> NoReturn:
        """Arguments no option of this command takes: this command's usage, and the option meant if it is clear."""
        hint = ""
        for extra in extras:
            flag = extra.split("=", 1)[0]
            if flag.startswith("-"):
                close = difflib.get_close_matches(flag, list(self._option_string_actions), 1, 0.6)
                if close:
                    hint = f"; did you mean {close[0]}?"
                    break
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: unrecognized arguments: {' '.join(extras)}{hint}\n")


def suggestion(message: str) -> str:
    """ "; did you mean 'status'?" for argparse's "invalid choice: 'stauts' (choose from ...)"."""
    found = re.search(r"invalid choice: '([^']*)' \(choose from (.*)\)", message)
    if not found:
        return ""
    choices = re.findall(r"'([^']*)'", found.group(2))
    close = difflib.get_close_matches(found.group(1), choices, 1, 0.5)
    return f"; did you mean {close[0]!r}?" if close else ""


def _version() -> str:
    try:
        return version("ecsrun")
    except PackageNotFoundError:  # run from a checkout without installing it
        return "unknown"


def quotas_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--quotas",
        action="store_true",
        help="enforce AWS's default API rate quotas (token buckets shared by every caller; a call over one is "
        "answered ThrottlingException, as AWS answers it); off by default",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="ecsrun",
        description="Run Amazon ECS tasks from Step Functions and keep their logs. `ecsrun local ...` needs no "
        "AWS account; start, status, list and logs work on a deployed stack.",
        epilog="examples:\n"
        "  ecsrun local run events/requests/hello.json --task-definition events/task-definitions/hello.json\n"
        "  ecsrun validate events/requests/fargate.json\n"
        "  ecsrun start events/requests/fargate.json --wait\n"
        "  ecsrun status fargate-example\n"
        "  ecsrun logs fargate-example --container app\n"
        "  ecsrun timeline fargate-example\n"
        "\n"
        "environment:\n"
        "  ECSRUN_STACK_NAME    the deployed stack (instead of --stack-name)\n"
        "  ECSRUN_LOGS_BUCKET   the logs bucket, for `ecsrun logs` without a stack\n"
        "  AWS_PROFILE, AWS_REGION (then AWS_DEFAULT_REGION) and the other AWS SDK settings, for commands on a\n"
        "  deployed stack; --profile and --region on each of them win over the environment\n"
        "\n"
        "exit statuses: 0 done (the run succeeded), 1 the run failed or was not found, 2 a usage error, an invalid\n"
        "request or AWS out of reach (one line on stderr says which), 130 interrupted (Ctrl-C), 141 the reader of\n"
        "stdout went away (`ecsrun logs RUN | head`), as git. Each command's --help says what it prints.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"ecsrun {_version()}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
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
        "CloudWatch Logs stream its definition names. Prints each state entered and each container's output as "
        "it comes (`app  | line`, as `docker compose up`), then the outcome and the first and last log lines read "
        "back from S3. Exits 0 when the run succeeded, 1 when it failed, 2 when the request was invalid or the "
        "command was misused, 130 when interrupted (the artifacts so far are still written).",
        epilog="example:\n"
        "  ecsrun local run events/requests/failing.json --task-definition events/task-definitions/failing.json\n"
        "  ecsrun local run events/requests/hello.json --task-definition events/task-definitions/hello.json \\\n"
        "      --fault duplicate-stopped-event --fault runtask-slow=3\n\n"
        "faults (--fault NAME[=VALUE], repeatable; the run must still end with the verdict its task earns):\n"
        + catalog_text(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    run.add_argument("request", metavar="REQUEST.json", help="the run request (the state machine input)")
    task_definitions_option(run)
    output_option(run, "document")
    run.add_argument(
        "--artifacts",
        metavar="DIR",
        help="write every S3 object the run produced to DIR/<runId>/<key>, and the run's timeline to "
        "DIR/<runId>/timeline.svg (a folder per run: a runId run again goes to DIR/<runId>~2)",
    )
    run.add_argument(
        "-q", "--quiet", action="store_true", help="print only the summary: no states, no container output"
    )
    parameter_option(run)
    _seeding_options(run)
    quotas_option(run)
    run.add_argument(
        "--fault",
        metavar="NAME[=VALUE]",
        action="append",
        default=[],
        help="inject a named fault into the local run (repeatable; the catalog is below)",
    )
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
    parameter_option(event)
    task_definitions_option(event)
    output_option(event, "document")
    serve = local_commands.add_parser(
        "serve",
        help="serve the local stack to AWS clients (the AWS CLI, boto3, Airflow) on 127.0.0.1",
        description="Run the local stack behind an AWS-compatible endpoint on 127.0.0.1 until Ctrl-C: executions "
        "started with `aws stepfunctions start-execution`, run requests put with `aws events put-events` and "
        "objects read with `aws s3 cp` reach the real state machine and handlers on moto, with IAM and the "
        "limits checked as in `local run`. Prints the stack as `aws cloudformation describe-stacks` shows it "
        "(stack ecsrun-local: the state machine, the bus, the bucket, the table). Exits 0 when stopped by "
        "SIGTERM, 130 on Ctrl-C, 2 when the command is misused (a port in use).",
        epilog="example:\n"
        "  ecsrun local serve --port 4580 &\n"
        "  export AWS_ENDPOINT_URL=http://127.0.0.1:4580 AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing\n"
        "  aws stepfunctions start-execution --state-machine-arn "
        "arn:aws:states:us-east-1:123456789012:stateMachine:ecsrun-local --input file://events/requests/hello.json",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    serve.add_argument(
        "--port", type=int, default=4580, metavar="N", help="the port to listen on (default 4580; 0: any free port)"
    )
    task_definitions_option(serve)
    parameter_option(serve)
    _seeding_options(serve)
    quotas_option(serve)
    smoke = commands.add_parser(
        "smoke",
        help="run the smoke scenarios against a stack (deployed, or `ecsrun local serve`) with the AWS CLI",
        description="Run the same scenarios against any ecsrun stack, through public AWS APIs only (driven by the "
        "AWS CLI): success, a non-zero exit, a timeout, an invalid request, a run requested with "
        "`aws events put-events`, and the success run's log read back from S3. Registers a small task definition "
        "of its own and deregisters it at the end. Prints PASS or FAIL per scenario. Exits 0 when every scenario "
        "passes, 1 when one fails, 2 when the command is misused or the stack cannot be reached.",
        epilog="examples:\n"
        "  ecsrun smoke --stack-name ecsrun --execution-role-arn arn:aws:iam::123456789012:role/ecsTaskExecutionRole\n"
        "  ecsrun smoke --stack-name ecsrun-local --endpoint-url http://127.0.0.1:4580 \\\n"
        "      --execution-role-arn arn:aws:iam::123456789012:role/ecsTaskExecutionRole",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    smoke.add_argument("--stack-name", required=True, help="the stack's name (its outputs name its resources)")
    smoke.add_argument(
        "--execution-role-arn",
        required=True,
        help="the task execution role of the smoke task definition (Fargate's awslogs needs one); it must be in "
        "the stack's PassRoleArns",
    )
    smoke.add_argument("--endpoint-url", help="an AWS-compatible endpoint, such as `ecsrun local serve`'s")
    smoke.add_argument("--region", help="the stack's Region (default: the AWS CLI's)")
    smoke.add_argument("--profile", metavar="NAME", help="a named profile from your AWS config (default: $AWS_PROFILE)")
    smoke.add_argument("--cluster", default="default", help="the cluster to run the tasks on (default: default)")
    smoke.add_argument("--subnets", help="comma-separated subnet IDs (default: the default VPC's)")
    smoke.add_argument("--security-groups", help="comma-separated security group IDs (default: the default VPC's)")
    smoke.add_argument(
        "--assign-public-ip",
        choices=["ENABLED", "DISABLED"],
        default="ENABLED",
        help="ENABLED (default) lets a task in a public subnet pull the image",
    )
    smoke.add_argument("--image", default="public.ecr.aws/docker/library/busybox:stable", help="an image with sh")
    smoke.add_argument("--family", default="ecsrun-smoke", help="the smoke task definition's family")
    smoke.add_argument("--log-group", default="/ecsrun/smoke", help="the tasks' awslogs group (created if missing)")
    smoke.add_argument(
        "--timeout-seconds", type=int, default=20, help="the timeout scenario's run timeout (default 20)"
    )
    smoke.add_argument(
        "--wait-seconds", type=int, default=600, help="how long any one run may take to end (default 600)"
    )
    smoke.add_argument("--aws-cli", metavar="PATH", help="the AWS CLI to drive (default: the one installed here)")
    validate = commands.add_parser(
        "validate",
        help="check a run request offline, as the ValidateRequest state does (no AWS needed)",
        description="Check a run request against ECS's API model and ecsrun's rules, offline, and list every "
        "problem with its field path. With the task definition (--task-definition FILE, or DescribeTaskDefinition "
        "with --stack-name), also warn, without failing, about containers whose logs ecsrun cannot copy (no "
        "awslogs log configuration) and, with --stack-name, about task or execution roles the stack may not pass "
        "(not in its PassRoleArns). Exits 0 when the request is valid (warnings or not), 2 when it is not.",
        epilog="examples:\n"
        "  ecsrun validate events/requests/fargate.json\n"
        "  ecsrun validate events/requests/hello.json --task-definition events/task-definitions/hello.json\n"
        "  ecsrun validate events/requests/fargate.json --stack-name ecsrun",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    validate.add_argument("request", metavar="REQUEST.json", help="the run request (the state machine input)")
    validate.add_argument(
        "--task-definition",
        metavar="FILE",
        help="the request's task definition (RegisterTaskDefinition input or DescribeTaskDefinition output), "
        "for the warnings",
    )
    output_option(validate, "document")
    aws_options(validate)
    explain = commands.add_parser(
        "explain",
        help="judge a stopped task as ecsrun does, and say why",
        description="Judge a stopped ECS task exactly as the TaskStopped function does, and say why: the "
        "outcome, the error name, a one-line reason and whether a retry could help. Exits 0 when the outcome is "
        "SUCCEEDED, 1 when it is FAILED, 2 when the input is bad. A partial record (a task or event missing "
        "taskArn, times or other fields the verdict does not need) is judged too, and the fields it lacks named.",
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
    output_option(explain, "document")
    logs = commands.add_parser(
        "logs",
        help="print a run's logs from S3 by run id (needs only read access to the logs bucket)",
        description="Print a run's logs from S3, decompressed as they stream; with more than one container, each "
        "container's under a '==> name <==' header. The bucket comes from --stack-name, $ECSRUN_LOGS_BUCKET or "
        "$ECSRUN_STACK_NAME; a local run's artifacts from --local DIR. Exits 0 "
        "when it printed, 1 when the run or container has no logs, 2 when it does not know which bucket to read.",
        epilog="examples:\n"
        "  ecsrun logs fargate-example --stack-name ecsrun\n"
        "  ecsrun logs hello-demo --local artifacts --container app",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    logs.add_argument("run_id", metavar="RUN_ID", help="the run's id (runs/<RUN_ID>/ in the bucket)")
    logs.add_argument("--container", metavar="NAME", help="only this container's log")
    logs.add_argument("--url", action="store_true", help="print presigned URLs (valid for an hour) instead of the logs")
    _stack_commands(commands)
    capacity.add_parser(commands, output_option)
    source = logs.add_mutually_exclusive_group()
    source.add_argument("--stack-name", metavar="NAME", help="find the logs bucket from this stack's outputs")
    source.add_argument(
        "--local",
        metavar="DIR",
        help="read the artifacts `ecsrun local run --artifacts DIR` wrote (the run's newest folder there)",
    )
    aws_options(logs, stack=False)
    return parser


def _seeding_options(parser: argparse.ArgumentParser) -> None:
    """What the task definitions need in the account (`environmentFiles` objects, `secrets`), put in the local
    stack before anything runs (local/seeding.py)."""
    parser.add_argument(
        "--s3-object",
        action="append",
        default=[],
        metavar="s3://BUCKET/KEY=FILE",
        help="put FILE in the local S3 as s3://BUCKET/KEY first (an environmentFiles object; repeatable)",
    )
    parser.add_argument(
        "--secret",
        action="append",
        default=[],
        metavar="NAME_OR_ARN=VALUE",
        help="a container secret's value: a Secrets Manager secret's full ARN (with its 6-character suffix, as "
        "the task definition's valueFrom names it) or an SSM parameter's name or ARN (repeatable; never printed)",
    )


def _stack_commands(commands: Any) -> None:
    """start, status, list, stop and timeline: commands on a deployed stack."""
    start = commands.add_parser(
        "start",
        help="start a run on a deployed stack; --wait follows it to its end, --follow tails its logs",
        description="Validate REQUEST.json offline, then start an execution of the stack's state machine. "
        "With --wait, show its progress (state, elapsed time, task status) until it ends. With --follow, tail "
        "the task's CloudWatch Logs streams while it runs (`app  | line`), then say where the S3 copy is. Exits 0 "
        "when the run succeeded (without --wait: when it started), 1 when it failed, 2 when the request was "
        "invalid (nothing is started) or AWS could not be reached (one line says why).",
        epilog="examples:\n"
        "  ecsrun start events/requests/fargate.json --wait --stack-name ecsrun\n"
        "  ecsrun start events/requests/fargate.json --follow",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    start.add_argument("request", metavar="REQUEST.json", help="the run request (the state machine input)")
    start.add_argument("--wait", action="store_true", help="follow the run until it ends")
    start.add_argument(
        "--follow",
        action="store_true",
        help="with --wait (implied): tail the task's log streams while it runs (logs:GetLogEvents)",
    )
    start.add_argument("--name", metavar="EXECUTION", help="execution name (default: the runId plus a suffix)")
    start.add_argument("--poll-seconds", type=float, default=2.0, help=argparse.SUPPRESS)
    output_option(start, "document")
    aws_options(start)
    status = commands.add_parser(
        "status",
        help="a run's state, from the runs table and its execution",
        description="Print a run's state: its record in the runs table (status, task, outcome) and its "
        "execution's status; an array run's children, counted. Exits 0 when found, 1 when no such run or "
        "execution exists, 2 when AWS could not be reached.",
    )
    status.add_argument("run", metavar="RUN_ID|EXECUTION_ARN", help="a runId, or an execution ARN")
    output_option(status, "document")
    aws_options(status)
    listing = commands.add_parser(
        "list",
        help="recent runs (executions of the stack's state machine), newest first",
        description="List the most recent executions of the stack's state machine, newest first: status, "
        "start time, duration, runId, the error name of a failed run, and an array run's children. Exits 0, or 2 "
        "when AWS could not be reached.",
    )
    listing.add_argument("--status", choices=STATUSES, help="only executions with this status")
    listing.add_argument("--limit", type=int, default=20, help="at most this many, 1-1000 (default 20)")
    output_option(listing, "document (its runs under 'runs')")
    aws_options(listing)
    stop = commands.add_parser(
        "stop",
        help="stop a run: its execution is stopped, then its task, and its logs are still copied",
        description="Stop a running run's execution (StopExecution, with the reason as its cause). The stack's "
        "ExecutionEnded function then stops the task, and the logs are still copied when it stops. Exits 0 when "
        "the execution was stopped, 1 when the run is not found or has already ended, 2 when AWS could not be "
        "reached.",
        epilog="example:\n  ecsrun stop nightly-2026-11-21 --reason 'wrong input file'",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    stop.add_argument("run", metavar="RUN_ID|EXECUTION_ARN", help="a runId, or an execution ARN")
    stop.add_argument(
        "--reason", metavar="TEXT", default="stopped with ecsrun stop", help="why (the execution's cause)"
    )
    aws_options(stop)
    timeline = commands.add_parser(
        "timeline",
        help="a picture of a run: its states, attempts, waits, task, containers and log copy on one time axis",
        description="Draw a run on one time axis, from its execution's history and its run record: each "
        "state, retry attempt and wait, the task's lifetime, each container's (from its first to its last log "
        "line, read from the manifest), and the log copy. Writes an SVG (open it in a browser) and prints the "
        "spans. Exits 0 when drawn, 1 when no such run exists, 2 when AWS could not be reached.",
        epilog="example:\n  ecsrun timeline fargate-example --out fargate-example.svg",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    timeline.add_argument("run", metavar="RUN_ID|EXECUTION_ARN", help="a runId, or an execution ARN")
    timeline.add_argument(
        "--out",
        metavar="FILE",
        help="where to write the SVG; - for stdout (default: <temporary folder>/ecsrun/<runId>/timeline.svg; the "
        "last line says where it went)",
    )
    timeline.add_argument("--svg", dest="out", help=argparse.SUPPRESS)  # the option's former name
    aws_options(timeline)
