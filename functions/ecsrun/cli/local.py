"""`ecsrun local run` and `ecsrun local event`: the real state machine and handlers on moto, in this process."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from ecsrun.cli.artifacts import run_folder, write_lines_so_far, write_run
from ecsrun.cli.common import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    UsageError,
    read_json,
    reader_gone,
)
from ecsrun.cli.document import document
from ecsrun.cli.render import ContainerLines, render_text, show_state
from ecsrun.cli.timeline import (
    Outcome,
    Span,
    container_spans,
    history_spans,
    outcome_of,
    render_svg,
    task_spans,
)
from ecsrun.cli.validate import checked_definition
from ecsrun.domain.errors import ErrorName

# The reconciler runs every few seconds locally (the deployed schedule: minutes), so a run whose STOPPED event is
# lost still ends within a minute with the verdict its task earned.
RECONCILE_EVERY, RECONCILE_GRACE = 5.0, 5


def _task_definitions(paths: list[str]) -> list[tuple[str, Any]]:
    """Each --task-definition, checked as `ecsrun validate --task-definition` checks it (one line, exit 2)."""
    return [(path, checked_definition(path)) for path in paths]


def _register(aws: Any, definitions: list[tuple[str, Any]]) -> None:
    from ecsrun.local.runtime import TaskDefinitionRejected

    # What the local engine does differently from ECS (a secret set to a placeholder): a line each, on stderr.
    aws.agent.on_notice = lambda text: print(f"ecsrun local: {text}", file=sys.stderr, flush=True)
    for path, document_ in definitions:
        try:
            aws.register_task_definition(document_)
        except TaskDefinitionRejected as rejected:
            raise UsageError(f"task definition {path}: {rejected}") from rejected


def _container_names(definitions: list[tuple[str, Any]]) -> list[str]:
    from ecsrun.local.runtime import registration_input

    return [
        str(c.get("name"))
        for _, document_ in definitions
        for c in registration_input(document_).get("containerDefinitions") or []
        if isinstance(c, dict)
    ]


def _exit_status(result: Any) -> int:
    if result.status == "SUCCEEDED":
        return EXIT_OK
    return EXIT_USAGE if result.error == ErrorName.REQUEST_INVALID.value else EXIT_FAILED


def result_document(result: Any) -> dict[str, Any]:
    """A local run's `--output json` document (cli/document.py's shape)."""
    summary = result.output if isinstance(result.output, dict) else None
    if summary is None:
        try:
            cause = json.loads(result.cause or "null")
        except json.JSONDecodeError:
            cause = None
        summary = cause if isinstance(cause, dict) else {}
    return document(
        status=result.status,
        run_id=summary.get("runId"),
        execution_arn=result.execution_arn,
        error=result.error,
        output=result.output,
        cause=result.cause,
    )


def _seeds(args: argparse.Namespace) -> list[Any]:
    from ecsrun.local.seeding import SeedError, parse_s3_object, parse_secret

    try:
        return [
            *(parse_s3_object(item) for item in getattr(args, "s3_object", [])),
            *(parse_secret(item) for item in getattr(args, "secret", [])),
        ]
    except SeedError as exc:
        raise UsageError(str(exc)) from exc


def local_run(args: argparse.Namespace) -> int:
    from ecsrun.local import faults

    try:
        chosen = faults.parse(args.fault)
    except faults.FaultError as exc:
        raise UsageError(str(exc)) from exc
    request = read_json(args.request, "request")
    definitions = _task_definitions(args.task_definition)
    seeds = _seeds(args)
    from ecsrun.domain.runtask import execution_name
    from ecsrun.local.engine import run_local
    from ecsrun.local.runtime import LocalAws
    from ecsrun.local.seeding import plant

    text = args.output == "text"
    chatty = text and not args.quiet
    is_array = isinstance(request, dict) and "array" in request
    printer = ContainerLines(_container_names(definitions), array=is_array)

    def closed_pipe() -> None:  # stdout's reader went away (`| head`): stop now, not when the task ends
        if printer.closed or reader_gone():
            raise BrokenPipeError

    parameters = _parameters(args)
    _check_parameters([], parameters)
    with LocalAws(
        parameters=parameters,
        reconcile_every=RECONCILE_EVERY,
        reconcile_grace=RECONCILE_GRACE,
        rate_quotas=bool(getattr(args, "quotas", False)),
    ) as aws:
        _register(aws, definitions)
        plant(aws, seeds)
        faults.install(aws, chosen)
        if chatty:
            aws.agent.on_line = lambda started_by, name, line: printer(_run_of(started_by), name, line)
            print(f"ecsrun local run {args.request}", flush=True)
        try:
            result = run_local(request, [], on_state=show_state if chatty else None, aws=aws, on_tick=closed_pipe)
        except KeyboardInterrupt:
            # Interrupted: keep what the run wrote so far, the lines its containers wrote, and the picture of it.
            if args.artifacts:
                run_id = request.get("runId") if isinstance(request, dict) else None
                where = _interrupted_artifacts(aws, Path(args.artifacts), run_id, execution_name(request))
                raise KeyboardInterrupt(f"what the run wrote so far is in {where}") from None
            raise
        folder = None
        if args.artifacts:
            run_id = result_document(result).get("runId")
            folder = run_folder(Path(args.artifacts), run_id, result.execution_arn.rsplit(":", 1)[-1])
            write_run(folder, result.objects, render_svg(local_timeline(aws), *timeline_title(result)))
    if text:
        print(render_text(result))
        if folder is not None:
            run_id = result_document(result).get("runId") or "RUN_ID"
            print(f"artifacts {folder}  (ecsrun logs {run_id} --local {args.artifacts})")
    else:
        print(json.dumps(result_document(result), indent=2))
        if folder is not None:
            print(f"ecsrun local run: artifacts in {folder}", file=sys.stderr)
    return _exit_status(result)


def _run_of(started_by: str) -> str | None:
    from ecsrun.domain.runtask import run_id_from_started_by
    from ecsrun.local.runtime import STARTED_BY_PREFIX

    return run_id_from_started_by(STARTED_BY_PREFIX, started_by)


def _interrupted_artifacts(aws: Any, root: Path, run_id: Any, fallback: str) -> Path:
    """An interrupted run's folder: its S3 objects so far, the lines its containers wrote, its timeline."""
    import time

    time.sleep(0.3)  # the agent's readers put what was already in the pipes
    folder = run_folder(root, run_id if isinstance(run_id, str) else None, fallback)
    title = f"ecsrun local run {run_id if isinstance(run_id, str) else fallback}"
    write_run(folder, aws.objects("runs/"), render_svg(local_timeline(aws), title, Outcome("INTERRUPTED")))
    try:
        write_lines_so_far(folder, aws, _run_of)
    except OSError as exc:
        raise UsageError(f"--artifacts {root}: {exc.strerror}") from exc
    return folder


def local_timeline(aws: Any) -> list[Span]:
    """Every execution of the local stack, every task and every container process the local agent ran, on one
    time axis. The first execution is the run drawn; any other (an array's children) is grouped under its runId,
    with its tasks and containers."""
    from ecsrun.domain.runtask import run_id_for_execution

    sfn = aws.client("stepfunctions")
    spans: list[Span] = []
    executions = sorted(
        sfn.list_executions(stateMachineArn=aws.state_machine_arn)["executions"], key=lambda e: e["startDate"]
    )
    main_run = None
    for index, execution in enumerate(executions):
        described = sfn.describe_execution(executionArn=execution["executionArn"])
        try:
            request = json.loads(described.get("input") or "null")
        except json.JSONDecodeError:
            request = None
        run_id = run_id_for_execution(request, execution["name"])
        if index == 0:
            main_run = run_id
        group = "" if index == 0 else run_id or execution["name"]
        events = sfn.get_execution_history(executionArn=execution["executionArn"], maxResults=1000)["events"]
        spans += [replace(span, group=group) for span in history_spans(events, f"execution {execution['name']}")]
    for task in aws.agent.tasks():
        owner = _run_of(task.started_by)
        group = "" if owner in (None, main_run) else str(owner)
        spans += task_spans(
            {"taskArn": task.task_arn, "createdAt": task.created_at, "startedAt": task.started_at,
             "stoppedAt": task.stopped_at, "stopCode": task.stop_code},
            group,
        )  # fmt: skip
        spans += container_spans(
            [
                {
                    "name": c.name,
                    "start": c.started_iso,
                    "stop": c.stopped_iso,
                    "exitCode": c.exit_code,
                    "essential": c.essential,
                    "dependsOn": c.definition.get("dependsOn") or [],
                }
                for c in task.containers
            ],
            source="process",
            group=group,
        )
    return spans


def timeline_title(result: Any) -> tuple[str, Outcome]:
    """The local run's picture's title and outcome (status, error name, exit codes)."""
    doc = result_document(result)
    summary = result.output if isinstance(result.output, dict) else doc.get("cause")
    title = f"ecsrun local run {doc.get('runId') or result.execution_arn.rsplit(':', 1)[-1]}"
    return title, outcome_of(result.status, summary, result.error)


def _parameters(args: argparse.Namespace) -> dict[str, str]:
    parameters = {}
    for item in getattr(args, "parameter", []):
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UsageError(f"--parameter {item!r} is not KEY=VALUE")
        parameters[key] = value
    return parameters


def _check_parameters(templates: list[Path], given: dict[str, str]) -> None:
    """Every --parameter names a parameter of a template in play, and every parameter a --rules template
    needs (no default) is given: otherwise its rules would be wired with holes in them."""
    from ecsrun.local.runtime import SUPPLIED_REFERENCES, project_root
    from ecsrun.local.template import Template

    declared: dict[str, dict[str, Any]] = {}
    needed: dict[str, str] = {}
    for path in [project_root() / "template.yaml", *templates]:
        try:
            parameters = Template(path).doc.get("Parameters") or {}
        except (OSError, ValueError) as exc:
            raise UsageError(f"--rules {path}: {getattr(exc, 'strerror', None) or exc}") from exc
        declared.update(parameters)
        if path in templates:
            needed.update(
                {
                    name: str(path)
                    for name, spec in parameters.items()
                    if "Default" not in (spec or {}) and name not in SUPPLIED_REFERENCES
                }
            )
    unknown = sorted(set(given) - set(declared))
    if unknown:
        raise UsageError(
            f"--parameter {unknown[0]}: no such parameter in template.yaml or the --rules templates "
            f"(they take: {', '.join(sorted(declared))})"
        )
    missing = sorted(name for name in needed if name not in given)
    if missing:
        listed = " ".join(f"--parameter {name}=..." for name in missing)
        raise UsageError(f"{needed[missing[0]]} needs a value for each parameter without a default: {listed}")


def local_event(args: argparse.Namespace) -> int:
    event = read_json(args.event, "event")
    definitions = _task_definitions(args.task_definition)
    parameters = _parameters(args)
    templates = [Path(template) for template in args.rules]
    _check_parameters(templates, parameters)
    entries = event if isinstance(event, list) else None
    if entries is not None and not all(
        isinstance(e, dict) and {"Source", "DetailType", "Detail"} <= set(e) for e in entries
    ):
        raise UsageError(f"{args.event}: a list must hold PutEvents entries (Source, DetailType, Detail)")
    if entries is None and not (isinstance(event, dict) and {"source", "detail-type", "detail"} <= set(event)):
        raise UsageError(
            f"{args.event} is not an EventBridge event (source, detail-type, detail) nor PutEvents entries"
        )
    if entries is not None:
        for entry in entries:
            try:
                json.loads(entry["Detail"])
            except (TypeError, ValueError) as exc:
                raise UsageError(f"{args.event}: an entry's Detail is not a JSON string: {exc}") from exc
    from ecsrun.local.engine import follow
    from ecsrun.local.runtime import LocalAws

    text = args.output == "text"
    with LocalAws(parameters=parameters, reconcile_every=RECONCILE_EVERY, reconcile_grace=RECONCILE_GRACE) as aws:
        _register(aws, definitions)
        for template in templates:
            try:
                aws.add_triggers(template)
            except (OSError, LookupError, ValueError) as exc:
                raise UsageError(f"--rules {template}: {exc}") from exc
        started = aws.put_events(entries) if entries is not None else aws.deliver_event(event)
        if not started:
            print(f"ecsrun: {args.event} matched no rule that starts a run; nothing started", file=sys.stderr)
            return EXIT_USAGE
        results = []
        for arn in started:
            if text:
                print(f"ecsrun local event {args.event}: execution {arn.rsplit(':', 1)[-1]}", flush=True)
            result = follow(aws, arn, on_state=show_state if text else None)
            results.append(result)
            if text:
                print(render_text(result))
    if not text:
        print(json.dumps([result_document(result) for result in results], indent=2))
    statuses = [_exit_status(result) for result in results]
    return max(statuses)


def local_serve(args: argparse.Namespace) -> int:
    """Serve the local stack until Ctrl-C (130) or SIGTERM (0); the stack's outputs as JSON on stdout."""
    import signal
    import threading

    from ecsrun.local.runtime import LocalAws
    from ecsrun.local.seeding import plant
    from ecsrun.local.serve import LocalServer, PortInUse, check_port

    definitions = _task_definitions(args.task_definition)
    seeds = _seeds(args)
    try:
        check_port("127.0.0.1", args.port)  # before building the stack, which takes a while
    except PortInUse as exc:
        raise UsageError(str(exc)) from exc
    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    # Ctrl-C stops it even when started in the background (a shell makes background jobs ignore SIGINT).
    interrupt = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with LocalAws(
            parameters=_parameters(args),
            reconcile_every=RECONCILE_EVERY,
            reconcile_grace=RECONCILE_GRACE,
            rate_quotas=bool(getattr(args, "quotas", False)),
        ) as aws:
            _register(aws, definitions)
            plant(aws, seeds)
            try:
                server = LocalServer(aws, port=args.port).__enter__()
            except PortInUse as exc:
                raise UsageError(str(exc)) from exc
            try:
                exports = " ".join(f"{k}={v}" for k, v in server.environment().items())
                print(f"ecsrun local serve: {server.endpoint} (Ctrl-C stops it)", file=sys.stderr)
                print(f"  export {exports}", file=sys.stderr)
                print(json.dumps(server.describe_stacks(), indent=2, default=str), flush=True)
                while not stop.wait(0.5):
                    pass
            except KeyboardInterrupt:
                print("ecsrun local serve: stopped", file=sys.stderr)
                return EXIT_INTERRUPTED
            finally:
                server.__exit__(None, None, None)
    finally:
        signal.signal(signal.SIGTERM, previous)
        signal.signal(signal.SIGINT, interrupt)
    print("ecsrun local serve: stopped", file=sys.stderr)
    return EXIT_OK
