"""`ecsrun validate`: a request checked offline, as the ValidateRequest state checks it."""

from __future__ import annotations

import argparse
import json

from ecsrun.cli.common import (
    EXIT_OK,
    EXIT_USAGE,
    read_json,
)
from ecsrun.domain.errors import ErrorName


def validate(args: argparse.Namespace) -> int:
    from ecsrun.domain.models.request import problems_report, validate_request

    request, problems = validate_request(read_json(args.request, "request"))
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
