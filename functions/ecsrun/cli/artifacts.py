"""`ecsrun local run --artifacts DIR`: each run's objects and picture in a folder of its own, `DIR/<runId>/`.

A folder is never reused: running the same runId again writes `DIR/<runId>~2/` (`~` is not a runId character, so
no other run's folder can be named so), and the command says where it wrote. Inside, every S3 object the run
produced sits at its key (`runs/<runId>/manifest.json`, `runs/<runId>/logs/app.log.gz`, an array's children under
their own `runs/<child>/`), beside `timeline.svg`. Interrupted, the lines the containers had written so far are
kept too, read back from the local CloudWatch Logs (`interrupted/<runId of the task>/<container>.log`): the log
copy never ran, so they are nowhere else.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

from ecsrun.cli.common import UsageError

TIMELINE = "timeline.svg"
INTERRUPTED = "interrupted"
# A runId (domain/models/request.py's pattern): anything else (an invalid request's runId) names no folder.
_RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def run_folder(root: Path, run_id: str | None, fallback: str) -> Path:
    """A folder under `root` no earlier run wrote: `<runId>`, else `<runId>~2`, `~3`..."""
    name = run_id if run_id and _RUN_ID.fullmatch(run_id) else fallback
    if not _RUN_ID.fullmatch(name):
        name = "run"
    candidate, count = root / name, 1
    while candidate.exists():
        count += 1
        candidate = root / f"{name}~{count}"
    return candidate


def find_run(root: Path, run_id: str) -> tuple[Path, list[Path]]:
    """Where `ecsrun logs RUN --local DIR` reads: DIR itself when it holds `runs/<RUN>/` (a run's folder, or a
    directory of S3 keys), else the newest of DIR's run folders that holds it (an array child sits in its
    parent's). Also every folder that holds it, oldest first, so the caller can say there were several."""
    if (root / "runs" / run_id).is_dir():
        return root, [root]
    found = sorted(
        (folder for folder in root.iterdir() if folder.is_dir() and (folder / "runs" / run_id).is_dir()),
        key=lambda folder: (folder / "runs" / run_id).stat().st_mtime,
    )
    return (found[-1] if found else root), found


def write_run(folder: Path, objects: dict[str, bytes], svg: str) -> None:
    """The run's S3 objects at their keys, and its timeline, in its own folder."""
    from ecsrun.local.engine import LocalResult, write_artifacts

    try:
        folder.mkdir(parents=True, exist_ok=False)
        write_artifacts(
            LocalResult(execution_arn="", status="", objects=objects),
            folder,
            on_refused=lambda key: print(
                f"ecsrun: --artifacts: not written, outside {folder}: {key!r}", file=sys.stderr
            ),
        )
        (folder / TIMELINE).write_text(svg)
    except OSError as exc:
        raise UsageError(f"--artifacts {folder.parent}: {exc.strerror}: {exc.filename}") from exc


def write_lines_so_far(folder: Path, aws: Any, run_of: Any) -> list[Path]:
    """Each container's lines as its log stream holds them now (GetLogEvents from the head until the token
    stops changing), for a run interrupted before its log copy."""
    written = []
    logs = aws.client("logs")
    for task in aws.agent.tasks():
        owner = run_of(task.started_by) or task.task_arn.rsplit("/", 1)[-1]
        for container in task.containers:
            if container.log_group is None or container.log_stream is None:
                continue
            lines = _stream_lines(logs, container.log_group, container.log_stream)
            if not lines:
                continue
            path = folder / INTERRUPTED / owner / f"{container.name}.log"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("".join(f"{line}\n" for line in lines))
            written.append(path)
    return written


def _stream_lines(logs: Any, group: str, stream: str) -> list[str]:
    from botocore.exceptions import ClientError

    lines: list[str] = []
    kwargs: dict[str, Any] = {"logGroupName": group, "logStreamName": stream, "startFromHead": True}
    try:
        while True:
            page = logs.get_log_events(**kwargs)
            lines += [str(event["message"]) for event in page.get("events", [])]
            token = page.get("nextForwardToken")
            if not token or token == kwargs.get("nextToken"):
                return lines
            kwargs["nextToken"] = token
    except ClientError:  # the stream was never created (the container wrote nothing)
        return lines
