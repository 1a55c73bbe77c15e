"""What every `ecsrun` command shares: exit statuses, the one-line usage error, reading JSON files,
the options several commands take, and a stack's outputs."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
LOGS_BUCKET_ENV = "ECSRUN_LOGS_BUCKET"
STACK_NAME_ENV = "ECSRUN_STACK_NAME"


class UsageError(Exception):
    """Bad arguments or unreadable input files."""


def read_json(path: str, what: str) -> Any:
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


def parameter_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--parameter",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a template parameter's value for the local stack (repeatable; a list parameter takes "
        "comma-separated values), e.g. PassRoleArns=arn:aws:iam::123456789012:role/ecsTaskExecutionRole",
    )


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
