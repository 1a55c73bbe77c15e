"""`ecsrun validate`: a request checked offline, as the ValidateRequest state checks it; with its task
definition (a file, or DescribeTaskDefinition on the stack's account), warnings that do not fail it."""

from __future__ import annotations

import argparse
import json
from typing import Any

from ecsrun.cli.common import (
    EXIT_OK,
    EXIT_USAGE,
    UsageError,
    aws_errors,
    aws_session,
    read_json,
    stack_name,
)
from ecsrun.cli.document import document
from ecsrun.cli.preflight import print_will_not_start, stack_preflight
from ecsrun.domain.errors import ErrorName


def definition_error(path: str, problems: list[tuple[str, str]]) -> str:
    """A task definition RegisterTaskDefinition would refuse, in one line: the same for `ecsrun validate
    --task-definition` and `ecsrun local run`."""
    listed = "; ".join(f"{field}: {message}" for field, message in problems)
    count = f"{len(problems)} problems: " if len(problems) > 1 else ""
    return f"task definition {path}: {count}{listed}"


def checked_definition(path: str) -> Any:
    """A task definition file, read and checked as RegisterTaskDefinition checks it (a UsageError if not)."""
    from ecsrun.local.taskdef import definition_problems

    document = read_json(path, "task definition")
    problems = definition_problems(document)
    if problems:
        raise UsageError(definition_error(path, problems))
    return document


def validate(args: argparse.Namespace) -> int:
    from ecsrun.domain.models.request import Problem, problems_report, validate_request

    raw = read_json(args.request, "request", max_depth=None)  # a request too deep is one of its problems
    request, problems = validate_request(raw)
    definition = checked_definition(args.task_definition) if args.task_definition else None
    if isinstance(raw, dict) and definition is not None:
        # What local run's ValidateRequest finds against the account: the task definition the request names, its
        # launch type and network mode, the containers its overrides name (steps/account_checks.py).
        found = _run_task_problems(raw, definition)
        problems = sorted([*problems, *(Problem(field=f, message=m) for f, m in found)], key=lambda p: p.field)
        if found:
            request = None
    warnings, described = _warnings(args, raw) if request is not None else ([], None)
    run_id = raw.get("runId") if isinstance(raw, dict) and isinstance(raw.get("runId"), str) else None
    # With the stack: the preflight ValidateRequest runs before RunTask (cli/preflight.py), the same checks.
    predicted = stack_preflight(args, raw, described) if described is not None else []
    if predicted:
        return print_will_not_start(args, run_id, predicted, warnings)
    if args.output == "json":
        if request is None:
            report = problems_report(problems)
            doc = document(
                status="FAILED",
                run_id=run_id,
                error=ErrorName.REQUEST_INVALID.value,
                message=report["message"],
                cause=report,
                valid=False,
                problems=report["problems"],
                warnings=warnings,
            )
        else:
            doc = document(
                status="SUCCEEDED",
                run_id=run_id,
                message="a valid run request",
                valid=True,
                problems=[],
                warnings=warnings,
            )
        print(json.dumps(doc, indent=2))
    elif request is None:
        report = problems_report(problems)
        print(f"{ErrorName.REQUEST_INVALID.value}: {args.request}: {report['message']}")
        for problem in problems:
            print(f"  {problem.field}: {problem.message}")
    else:
        print(f"{args.request}: a valid run request")
        for warning in warnings:
            print(f"warning: {warning['field']}: {warning['message']}")
    return EXIT_OK if request is not None else EXIT_USAGE


def _run_task_problems(request: dict[str, Any], document: Any) -> list[tuple[str, str]]:
    from ecsrun.local.taskdef import registered_as
    from ecsrun.steps.account_checks import task_definition_problems

    if not isinstance(request.get("taskDefinition"), str):
        return []  # already a problem of the request itself
    return list(task_definition_problems(request, registered_as(request, document)))


def _warnings(args: argparse.Namespace, request: dict[str, Any]) -> tuple[list[dict[str, str]], Any]:
    """What will not fail the validation here but will disappoint: needs the task definition (a file, or the
    account's); with the stack, also the roles it may pass (its PassRoleArns parameter). With the task definition
    the account described (None otherwise)."""
    definition: Any = None
    pass_roles: list[str] | None = None
    described = None
    if args.task_definition:
        definition = checked_definition(args.task_definition)
    elif args.stack_name or args.profile or args.region:
        definition, pass_roles = _from_account(args, request)
        described = definition
    if definition is None:
        return [], None
    if isinstance(definition, dict) and isinstance(definition.get("taskDefinition"), dict):
        definition = definition["taskDefinition"]
    containers = definition.get("containerDefinitions") if isinstance(definition, dict) else None
    if not isinstance(containers, list):
        raise UsageError("the task definition has no containerDefinitions")
    warnings = log_warnings(containers)
    if pass_roles is not None:
        warnings += role_warnings(request, definition, pass_roles)
    return warnings, described


def role_warnings(request: dict[str, Any], definition: dict[str, Any], pass_roles: list[str]) -> list[dict[str, str]]:
    """The task definition's (or the overrides') roles the stack may not pass to ECS: ValidateRequest refuses
    such a run (steps/account_checks.role_problems, the same check)."""
    from ecsrun.steps.account_checks import role_problems

    return [
        {"field": field, "message": f"{message}; the stack's ValidateRequest will refuse this run"}
        for field, message in role_problems(request, definition, pass_roles)
    ]


def log_warnings(containers: list[Any]) -> list[dict[str, str]]:
    """Containers whose logs ecsrun cannot copy: no awslogs log configuration, or no stream prefix (the
    stream's name is then unknown). Pure."""
    found = []
    for index, container in enumerate(containers):
        if not isinstance(container, dict):
            continue
        name = container.get("name") or f"#{index}"
        field = f"containerDefinitions[{index}].logConfiguration"
        config = container.get("logConfiguration") or {}
        options = config.get("options") or {}
        if config.get("logDriver") != "awslogs":
            driver = config.get("logDriver")
            why = f"logs with {driver!r}, not awslogs" if driver else "has no log configuration"
            found.append(
                {
                    "field": field,
                    "container": name,
                    "message": f"container {name} {why}: ecsrun cannot copy its logs (its manifest entry will "
                    "say so), and a failure shows none of its last lines",
                }
            )
        elif not options.get("awslogs-group") or not options.get("awslogs-stream-prefix"):
            missing = "awslogs-group" if not options.get("awslogs-group") else "awslogs-stream-prefix"
            found.append(
                {
                    "field": f"{field}.options",
                    "container": name,
                    "message": f"container {name} has no {missing}: its log stream's name is unknown, so ecsrun "
                    "cannot copy its logs",
                }
            )
    return found


def _from_account(args: argparse.Namespace, request: dict[str, Any]) -> tuple[Any, list[str] | None]:
    """The task definition the request names (DescribeTaskDefinition) and the stack's PassRoleArns patterns
    (its parameter, from DescribeStacks; None when the stack does not say)."""
    name = stack_name(args)  # validating against an account means naming the stack
    session = aws_session(args)
    with aws_errors():
        stacks = session.client("cloudformation").describe_stacks(StackName=name)["Stacks"]
        answer = session.client("ecs").describe_task_definition(taskDefinition=request["taskDefinition"])
    parameters = {p.get("ParameterKey"): p.get("ParameterValue") for p in (stacks[0].get("Parameters") or [])}
    roles = parameters.get("PassRoleArns")
    patterns = None if roles is None else [r.strip() for r in str(roles).split(",") if r.strip()]
    return answer["taskDefinition"], patterns
