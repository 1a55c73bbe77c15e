"""What every `ecsrun` command shares: exit statuses, the one-line usage error, reading JSON files, the options
several commands take, the AWS session (--region, --profile) and AWS errors as one line, and a stack's outputs."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import select
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ecsrun.domain import jsonbounds

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells and git report Ctrl-C
EXIT_CLOSED_PIPE = 141  # 128 + SIGPIPE, as git ends when its reader went away (`ecsrun logs RUN | head`)
LOGS_BUCKET_ENV = "ECSRUN_LOGS_BUCKET"
STACK_NAME_ENV = "ECSRUN_STACK_NAME"
REGION_ADVICE = (
    "no AWS region: give --region, or set AWS_REGION (or AWS_DEFAULT_REGION), or a region in your profile "
    "(`aws configure set region eu-west-1`)"
)
CREDENTIALS_ADVICE = "no AWS credentials: set AWS_PROFILE, or run `aws configure` / `aws sso login`"


class UsageError(Exception):
    """Bad arguments, unreadable input files, or AWS out of reach: one line on stderr, exit 2."""


def read_json(path: str, what: str, *, max_depth: int | None = jsonbounds.MAX_DEPTH) -> Any:
    """A JSON file as UTF-8 text (a byte-order mark is fine) within ecsrun's bounds (ecsrun.domain.jsonbounds;
    `max_depth` None: the caller bounds the depth itself); anything else is a UsageError that says why."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {what} {path}: {exc.strerror}") from exc
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UsageError(
            f"{what} {path} is not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start})"
        ) from exc
    try:
        return jsonbounds.loads(text, max_depth=max_depth)
    except jsonbounds.JsonBoundsError as exc:  # the same bounds, and words, as every handler's
        raise UsageError(f"{what} {path} is out of bounds at {exc}") from exc
    except json.JSONDecodeError as exc:
        raise UsageError(f"{what} {path} is not valid JSON: {exc}") from exc


def execution_input(described: dict[str, Any]) -> Any:
    """A described execution's input as JSON within bounds; None when there is none, or none ecsrun reads (then
    the execution's name stands for its runId, as ExecutionEnded does)."""
    try:
        return jsonbounds.loads(described.get("input") or "null", max_depth=jsonbounds.MAX_REQUEST_DEPTH)
    except ValueError:
        return None


def reader_gone() -> bool:
    """True when stdout is a pipe whose reader has closed it, known without writing to it (poll reports an
    error on a pipe's write end once its read end is closed)."""
    try:
        poller = select.poll()
        poller.register(sys.stdout.fileno(), select.POLLOUT)
        return any(events & (select.POLLERR | select.POLLHUP) for _, events in poller.poll(0))
    except (OSError, ValueError, AttributeError):  # not a file (a test's capture), or no poll on this platform
        return False


def output_option(parser: argparse.ArgumentParser, shape: str = "object") -> None:
    parser.add_argument(
        "--output",
        choices=["text", "json"],
        default="text",
        help=f"json: one JSON {shape} on stdout, in the shape docs/cli.md describes",
    )


def task_definitions_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--task-definition",
        action="append",
        default=[],
        metavar="FILE",
        help="a RegisterTaskDefinition input to register first (repeatable)",
    )


def parameter_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--parameter",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a template parameter's value for the local stack (repeatable; a list parameter takes "
        "comma-separated values), e.g. PassRoleArns=arn:aws:iam::123456789012:role/ecsTaskExecutionRole",
    )


def aws_options(parser: argparse.ArgumentParser, *, stack: bool = True) -> None:
    """--stack-name, --region and --profile: the options of every command that calls AWS."""
    if stack:
        parser.add_argument(
            "--stack-name",
            metavar="NAME",
            help=f"the ecsrun stack whose outputs name its resources (default: ${STACK_NAME_ENV})",
        )
    parser.add_argument(
        "--region",
        metavar="REGION",
        help="the AWS Region (default: $AWS_REGION, then $AWS_DEFAULT_REGION, then the profile's)",
    )
    parser.add_argument(
        "--profile", metavar="NAME", help="a named profile from your AWS config (default: $AWS_PROFILE)"
    )


def stack_name(args: argparse.Namespace) -> str:
    name = getattr(args, "stack_name", None) or os.environ.get(STACK_NAME_ENV)
    if not name:
        raise UsageError(f"which stack? give --stack-name or set {STACK_NAME_ENV}")
    return str(name)


def aws_session(args: argparse.Namespace) -> Any:
    """A boto3 session for --profile and --region. botocore itself reads only AWS_DEFAULT_REGION (checked on
    botocore 1.43: AWS_REGION alone gives NoRegionError), so AWS_REGION is passed on explicitly, ahead of
    AWS_DEFAULT_REGION, as the AWS CLI v2 ranks them."""
    import boto3

    region = getattr(args, "region", None) or os.environ.get("AWS_REGION") or None
    with aws_errors():
        return boto3.Session(profile_name=getattr(args, "profile", None) or None, region_name=region)


@contextlib.contextmanager
def aws_errors() -> Iterator[None]:
    """Every AWS failure as one line a person can act on (a UsageError), never a traceback."""
    from botocore.exceptions import (
        BotoCoreError,
        ClientError,
        NoCredentialsError,
        NoRegionError,
        PartialCredentialsError,
        ProfileNotFound,
    )

    try:
        yield
    except (NoCredentialsError, PartialCredentialsError):
        raise UsageError(CREDENTIALS_ADVICE) from None
    except NoRegionError:
        raise UsageError(REGION_ADVICE) from None
    except ProfileNotFound as exc:
        raise UsageError(f"{exc}: see `aws configure list-profiles`") from None
    except ClientError as exc:
        error = exc.response.get("Error", {})
        raise UsageError(f"{exc.operation_name}: {error.get('Code')}: {error.get('Message')}") from None
    except BotoCoreError as exc:
        raise UsageError(" ".join(str(exc).split())) from None


def stack_output(cloudformation: Any, stack: str, name: str) -> str:
    from botocore.exceptions import ClientError

    try:
        outputs = cloudformation.describe_stacks(StackName=stack)["Stacks"][0].get("Outputs", [])
    except ClientError as exc:
        raise UsageError(f"stack {stack}: {exc.response.get('Error', {}).get('Message', exc)}") from exc
    for output in outputs:
        if output["OutputKey"] == name:
            return str(output["OutputValue"])
    raise UsageError(f"stack {stack} has no output {name}: is it an ecsrun stack?")
