"""The `ecsrun` command: one module per command group (local, stack, logs, validate, explain, capacity), the command
line in parser.py, how results read in render.py, the `--output json` document in document.py, the run's
timeline in timeline.py. May import every other layer; nothing imports it.

Exit statuses, for every command: 0 done (the run succeeded, the request is valid, the verdict is SUCCEEDED), 1
the run failed or was not found, 2 a usage error, an invalid request, or AWS out of reach (one line on stderr
says which), 130 interrupted (Ctrl-C: one line, "ecsrun: interrupted"), 141 stdout's reader went away (`| head`),
as git. No Python traceback for any of them. `ecsrun local serve` runs until stopped: 130 on Ctrl-C, 0 on SIGTERM.
`ecsrun smoke`: 0 every scenario passed, 1 one failed, 2 misused or the stack cannot be reached.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys

from ecsrun.cli.capacity import capacity_command
from ecsrun.cli.common import EXIT_CLOSED_PIPE, EXIT_INTERRUPTED, EXIT_USAGE, UsageError
from ecsrun.cli.explain import explain
from ecsrun.cli.local import local_event, local_run, local_serve
from ecsrun.cli.logs import logs
from ecsrun.cli.parser import Parser, build_parser
from ecsrun.cli.smoke import smoke_command
from ecsrun.cli.stack import on_stack
from ecsrun.cli.validate import validate

__all__ = ["build_parser", "main"]


def main(argv: list[str] | None = None) -> int:
    """The console script. Ctrl-C, a closed pipe and input nested too deeply end in one line, never a traceback."""
    try:
        return _main(sys.argv[1:] if argv is None else argv)
    except KeyboardInterrupt as interrupted:  # a command may say, in the same line, what it kept
        _say(f"ecsrun: interrupted; {interrupted}" if str(interrupted) else "ecsrun: interrupted")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader (`head`) went away: say nothing, and keep Python from complaining when it flushes stdout.
        _stdout_to_devnull()
        return EXIT_CLOSED_PIPE
    except RecursionError:
        _say("ecsrun: the input is nested too deeply to read")
        return EXIT_USAGE


def _main(argv: list[str]) -> int:
    parser = build_parser()
    if not argv:  # as git and the AWS CLI: what there is to do, and a usage error's status
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    args, extras = parser.parse_known_args(argv)
    if extras:
        _leaf(parser, args).unrecognized(extras)
    try:
        if args.command == "local" and args.local_command == "run":
            return local_run(args)
        if args.command == "local" and args.local_command == "event":
            return local_event(args)
        if args.command == "local" and args.local_command == "serve":
            return local_serve(args)
        if args.command == "smoke":
            return smoke_command(args)
        if args.command == "validate":
            return validate(args)
        if args.command == "explain":
            return explain(args)
        if args.command == "logs":
            return logs(args)
        if args.command == "capacity":
            return capacity_command(args)
        return on_stack(args)
    except UsageError as exc:
        _say(f"ecsrun: {exc}")
        return EXIT_USAGE


def _leaf(parser: argparse.ArgumentParser, args: argparse.Namespace) -> Parser:
    """The (sub)command the arguments chose, whose usage an error should show."""
    current = parser
    while True:
        chooser = next((a for a in current._actions if isinstance(a, argparse._SubParsersAction)), None)
        name = getattr(args, chooser.dest, None) if chooser is not None else None
        if chooser is None or name not in chooser.choices:
            assert isinstance(current, Parser)
            return current
        current = chooser.choices[name]


def _say(line: str) -> None:
    with contextlib.suppress(OSError, ValueError):
        print(line, file=sys.stderr, flush=True)


def _stdout_to_devnull() -> None:
    # Not a real file (a test's capture): nothing will be flushed to a pipe.
    with contextlib.suppress(OSError, ValueError):
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


if __name__ == "__main__":
    sys.exit(main())
