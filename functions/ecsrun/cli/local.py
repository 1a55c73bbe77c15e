"""`ecsrun local run` and `ecsrun local event`: the real state machine and handlers on moto, in this process."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from ecsrun.cli.common import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    UsageError,
    read_json,
)
from ecsrun.cli.render import render_text, show_state
from ecsrun.domain.errors import ErrorName

# The reconciler runs every few seconds locally (the deployed schedule: minutes), so a run whose STOPPED event is
# lost still ends within a minute with the verdict its task earned.
RECONCILE_EVERY, RECONCILE_GRACE = 5.0, 5


def _task_definitions(paths: list[str]) -> list[tuple[str, Any]]:
    from ecsrun.local.runtime import registration_input

    definitions = [(path, read_json(path, "task definition")) for path in paths]
    for path, document in definitions:
        if not isinstance(document, dict) or "family" not in registration_input(document):
            raise UsageError(f"task definition {path} is not a RegisterTaskDefinition input (no 'family')")
    return definitions


def _register(aws: Any, definitions: list[tuple[str, Any]]) -> None:
    from ecsrun.local.runtime import TaskDefinitionRejected

    # What the local engine does differently from ECS (a secret set to a placeholder): a line each, on stderr.
    aws.agent.on_notice = lambda text: print(f"ecsrun local: {text}", file=sys.stderr, flush=True)

    for path, document in definitions:
        try:
            aws.register_task_definition(document)
        except TaskDefinitionRejected as rejected:
            raise UsageError(f"task definition {path}: {rejected}") from rejected


def _parameters(args: argparse.Namespace) -> dict[str, str]:
    """--parameter KEY=VALUE ...: the local stack's template parameters."""
    parameters = {}
    for item in getattr(args, "parameter", []):
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UsageError(f"--parameter {item!r} is not KEY=VALUE")
        parameters[key] = value
    return parameters


def _exit_status(result: Any) -> int:
    if result.status == "SUCCEEDED":
        return EXIT_OK
    return EXIT_USAGE if result.error == ErrorName.REQUEST_INVALID.value else EXIT_FAILED


def local_run(args: argparse.Namespace) -> int:
    from ecsrun.local import faults

    try:
        chosen = faults.parse(args.fault)
    except faults.FaultError as exc:
        raise UsageError(str(exc)) from exc
    request = read_json(args.request, "request")
    definitions = _task_definitions(args.task_definition)
    from ecsrun.local.engine import run_local, write_artifacts
    from ecsrun.local.runtime import LocalAws

    text = args.output == "text"
    with LocalAws(
        parameters=_parameters(args), reconcile_every=RECONCILE_EVERY, reconcile_grace=RECONCILE_GRACE
    ) as aws:
        _register(aws, definitions)
        faults.install(aws, chosen)
        if text:
            print(f"ecsrun local run {args.request}", flush=True)
        result = run_local(request, [], on_state=show_state if text else None, aws=aws)
    if args.artifacts:
        write_artifacts(result, Path(args.artifacts))
    if text:
        print(render_text(result))
    else:
        print(json.dumps(result.as_json(), indent=2))
    return _exit_status(result)


def local_event(args: argparse.Namespace) -> int:
    event = read_json(args.event, "event")
    definitions = _task_definitions(args.task_definition)
    parameters = _parameters(args)
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
    with LocalAws(parameters=parameters, reconcile_every=RECONCILE_EVERY, reconcile_grace=RECONCILE_GRACE) as aws:
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
            result = follow(aws, arn, on_state=show_state if text else None)
            results.append(result)
            if text:
                print(render_text(result))
    if not text:
        print(json.dumps([result.as_json() for result in results], indent=2))
    statuses = [_exit_status(result) for result in results]
    return max(statuses)


def local_serve(args: argparse.Namespace) -> int:
    """Serve the local stack until Ctrl-C (130) or SIGTERM (0); the stack's outputs as JSON on stdout."""
    import signal
    import threading

    from ecsrun.local.runtime import LocalAws
    from ecsrun.local.serve import LocalServer, PortInUse, check_port

    definitions = _task_definitions(args.task_definition)
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
            parameters=_parameters(args), reconcile_every=RECONCILE_EVERY, reconcile_grace=RECONCILE_GRACE
        ) as aws:
            _register(aws, definitions)
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


EXIT_INTERRUPTED = 130  # 128 + SIGINT, as a shell reports a command Ctrl-C ended
