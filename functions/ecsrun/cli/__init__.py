"""The `ecsrun` command: one module per command group (local, stack, logs, validate, explain), the command
line in parser.py, how results read in render.py. May import every other layer; nothing imports it.

`ecsrun local run`: exit status 0 the run succeeded, 1 the run failed, 2 the request was invalid or the command
was misused.
`ecsrun start --wait`: exit status 0 the run succeeded, 1 it failed, 2 the request was invalid or AWS could not
be reached (one line says why). `ecsrun status`: 0 found, 1 not found.
`ecsrun local serve`: exit status 130 on Ctrl-C, 0 on SIGTERM, 2 when misused (a port in use).
`ecsrun smoke`: exit status 0 every scenario passed, 1 one failed, 2 misused or the stack cannot be reached.
`ecsrun validate`: exit status 0 the request is valid, 2 it is not (or the command was misused).
`ecsrun explain`: exit status 0 the task's verdict is SUCCEEDED, 1 it is FAILED, 2 the command was misused.
"""

from __future__ import annotations

import sys

from ecsrun.cli.common import EXIT_USAGE, UsageError
from ecsrun.cli.explain import explain
from ecsrun.cli.local import local_event, local_run, local_serve
from ecsrun.cli.logs import logs
from ecsrun.cli.parser import build_parser
from ecsrun.cli.smoke import smoke_command
from ecsrun.cli.stack import on_stack
from ecsrun.cli.validate import validate

__all__ = ["build_parser", "main"]


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
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
        if args.command in ("start", "status", "list"):
            return on_stack(args)
    except UsageError as exc:
        print(f"ecsrun: {exc}", file=sys.stderr)
        return EXIT_USAGE
    parser.error("unknown command")
    return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
