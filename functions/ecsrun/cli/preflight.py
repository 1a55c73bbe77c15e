"""`ecsrun validate --stack-name`: the preflight ValidateRequest runs before RunTask (steps/preflight.py, the same
code), with the caller's credentials in the stack's account and Region, and its problems printed."""

from __future__ import annotations

import argparse
import json
from typing import Any

from ecsrun.cli.common import EXIT_USAGE, aws_errors, aws_session
from ecsrun.cli.document import document
from ecsrun.domain.errors import ErrorName


def stack_preflight(args: argparse.Namespace, request: Any, definition: dict[str, Any]) -> list[dict[str, str]]:
    """Each problem ECS would fail on, as ValidateRequest finds it."""
    from ecsrun.steps.preflight import run_preflight

    if not isinstance(request, dict):
        return []
    session = aws_session(args)
    with aws_errors():
        region = session.region_name or session.client("ecs").meta.region_name
        account = session.client("sts").get_caller_identity()["Account"]
        found = run_preflight(
            request,
            definition,
            lambda service, where: session.client(service, region_name=where or region),
            region=region,
            account=account,
        )
    return found.problems


def print_will_not_start(
    args: argparse.Namespace, run_id: str | None, problems: list[dict[str, str]], warnings: list[dict[str, str]]
) -> int:
    """The problems as the execution would fail with them (RunRequest.WillNotStart); exits 2, as an invalid
    request does."""
    from ecsrun.domain.preflight import report

    cause = report(problems)
    name = ErrorName.REQUEST_WILL_NOT_START.value
    if args.output == "json":
        doc = document(
            status="FAILED",
            run_id=run_id,
            error=name,
            message=cause["message"],
            cause=cause,
            valid=False,
            problems=problems,
            warnings=warnings,
        )
        print(json.dumps(doc, indent=2))
    else:
        print(f"{name}: {args.request}: {cause['message']}")
        for problem in problems:
            print(f"  {problem['field']}: {problem['predicts']}: {problem['message']}")
        for warning in warnings:
            print(f"warning: {warning['field']}: {warning['message']}")
    return EXIT_USAGE
