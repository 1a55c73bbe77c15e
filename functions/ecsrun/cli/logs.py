"""`ecsrun logs`: a run's logs from S3 (or an artifacts directory), by run id."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from ecsrun.cli.artifacts import find_run
from ecsrun.cli.common import (
    EXIT_FAILED,
    EXIT_OK,
    LOGS_BUCKET_ENV,
    STACK_NAME_ENV,
    UsageError,
    aws_errors,
    aws_session,
    stack_output,
)


def logs(args: argparse.Namespace) -> int:
    with aws_errors():  # no credentials, no region, access denied: one line, exit 2
        return _print_logs(args)


def _print_logs(args: argparse.Namespace) -> int:
    from ecsrun.adapters.s3.archive import LogsNotFound, containers, lines, read_manifest

    source = _log_source(args)
    try:
        manifest = read_manifest(source, args.run_id)
        chosen = containers(manifest, args.container)
    except LogsNotFound as missing:
        print(f"ecsrun: no logs for run {args.run_id}: {missing}", file=sys.stderr)
        return EXIT_FAILED
    except (ValueError, KeyError, TypeError) as exc:  # not JSON, or not a manifest's shape
        raise UsageError(f"the manifest of run {args.run_id} is not one ecsrun wrote: {exc}") from exc
    if args.url:
        print(f"manifest  {source.url(f'runs/{args.run_id}/manifest.json')}")
        for entry in chosen:
            print(f"{entry['name']}  {source.url(entry['key'])}" if entry.get("key") else f"{entry['name']}  (no logs)")
        return EXIT_OK
    headers = len(chosen) > 1
    for entry in chosen:
        if headers:
            print(f"==> {entry['name']} <==")
        if not entry.get("key"):
            print(f"ecsrun: container {entry['name']} has no logs: {entry.get('note')}", file=sys.stderr)
            continue
        try:
            for line in lines(source, entry["key"]):
                sys.stdout.write(line)
        except BrokenPipeError:
            raise
        except LogsNotFound as missing:
            print(f"ecsrun: no log for container {entry['name']}: {missing}", file=sys.stderr)
            return EXIT_FAILED
        except (OSError, EOFError, UnicodeDecodeError) as exc:  # a truncated or corrupt copy
            raise UsageError(f"the log of container {entry['name']} cannot be read: {exc}") from exc
    return EXIT_OK


def _log_source(args: argparse.Namespace) -> Any:
    from ecsrun.adapters.s3.archive import BucketSource, DirectorySource

    if args.local:
        if not Path(args.local).is_dir():
            raise UsageError(f"--local {args.local} is not a directory")
        folder, holders = find_run(Path(args.local), args.run_id)
        if len(holders) > 1:
            print(
                f"ecsrun: run {args.run_id} is in {len(holders)} folders of {args.local}; reading {folder}, the newest",
                file=sys.stderr,
            )
        return DirectorySource(folder)
    bucket = os.environ.get(LOGS_BUCKET_ENV)
    stack = args.stack_name or (None if bucket else os.environ.get(STACK_NAME_ENV))
    if not bucket and not stack:
        raise UsageError(
            f"which logs bucket? give --stack-name, or set {LOGS_BUCKET_ENV} or {STACK_NAME_ENV}; for a run of "
            "`ecsrun local run --artifacts DIR`, give --local DIR"
        )
    session = aws_session(args)
    if stack:
        bucket = stack_output(session.client("cloudformation"), stack, "LogsBucketName")
    from botocore.config import Config

    # SigV4: presigned URLs must work for KMS-encrypted objects and in every region.
    return BucketSource(session.client("s3", config=Config(signature_version="s3v4")), str(bucket))
