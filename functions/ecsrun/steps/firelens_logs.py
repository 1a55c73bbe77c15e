"""A container's log from the files its FireLens router wrote to S3 (Fluent Bit's `s3` output), copied into the
run's log file in the same form as a CloudWatch stream's, with no CloudWatch Logs call.

The files are JSON records; the run's log is `<ISO time> <message>` lines, gzip: each file is read line by line
and re-written, so memory holds one chunk and one page, never a file. (A server-side UploadPartCopy cannot do
that: it copies bytes as they are, and every part but the last must be at least 5 MiB.)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from ecsrun.adapters.cloudwatch_logs import LogPage
from ecsrun.adapters.s3.firelens import FirelensFilesUnreadable, RouterFiles
from ecsrun.adapters.s3.writer import S3StreamWriter
from ecsrun.domain import firelens
from ecsrun.domain.keys import log_key
from ecsrun.domain.logformat import iso_utc
from ecsrun.domain.models.logs import ContainerLog, LogProgress, LogSource
from ecsrun.domain.models.record import RunRecord
from ecsrun.domain.models.run import ContainerSpec, FirelensTarget

PAGE_EVENTS = 1000


class FirelensReader:
    """Reads routers' files from the buckets the stack may read (FirelensLogBuckets), with an S3 client per
    region (`s3_for`)."""

    def __init__(self, s3_for: Callable[[str | None], Any], buckets: frozenset[str]):
        self._s3_for, self.buckets = s3_for, buckets

    def files(self, target: FirelensTarget) -> RouterFiles:
        return RouterFiles(self._s3_for(target.region), target.bucket)


def _pages(files: RouterFiles, keys: list[tuple[str, int]], target: FirelensTarget) -> Iterator[LogPage]:
    page: list[dict[str, Any]] = []
    for key, written_ms in keys:
        fallback = written_ms
        for line in files.lines(key):
            event = firelens.record_event(line, target, fallback)
            if event is None:
                continue
            fallback = event["timestamp"]
            page.append(event)
            if len(page) >= PAGE_EVENTS:
                yield LogPage(page, None)
                page = []
    if page:
        yield LogPage(page, None)


def _states(record: RunRecord, target: FirelensTarget) -> tuple[firelens.ContainerState | None, list[Any], str | None]:
    """The router and the containers that log through it, as the stopped task reports them."""
    task = record.task
    exits = {c.name: c.exitCode for c in task.containers} if task else {}
    essential = record.essential
    router = (
        firelens.ContainerState(target.router, exits.get(target.router), essential.get(target.router, True))
        if task and target.router in exits
        else None
    )
    senders = [
        firelens.ContainerState(spec.name, exits.get(spec.name), spec.essential)
        for spec in record.containers
        if spec.firelens is not None and spec.firelens.router == target.router
    ]
    return router, senders, task.stopCode if task else None


def copy_firelens_log(
    record: RunRecord,
    spec: ContainerSpec,
    reader: FirelensReader | None,
    *,
    s3: Any,
    bucket: str,
    tail_lines: int,
    write: Callable[..., LogProgress],
) -> tuple[ContainerLog, list[str]]:
    """The manifest entry of `spec`'s log (source firelens-s3) and its last lines; the log itself is written to
    the run's key in `bucket`. `write` is ecsrun.steps.copy_logs.write_pages (pages to a gzip member)."""
    target = spec.firelens
    assert target is not None and record.taskArn is not None
    task_id = record.taskArn.rsplit("/", 1)[-1]
    base = ContainerLog(name=spec.name, copied=False, source=LogSource.FIRELENS_S3, sourceBucket=target.bucket)

    def not_copied(reason: str) -> tuple[ContainerLog, list[str]]:
        return base.model_copy(update={"note": reason, "reason": reason}), []

    if reader is None or target.bucket not in reader.buckets:
        return not_copied(f"bucket {target.bucket} is not one this stack may read (parameter FirelensLogBuckets)")
    where = firelens.task_objects(target.key_format, firelens.tag(spec.name, task_id), task_id, target.tag_delimiters)
    if where is None:
        return not_copied(
            f"s3_key_format {target.key_format!r} does not name the task ($TAG) before its first time or random "
            "part: the task's files cannot be found by prefix"
        )
    files = reader.files(target)
    try:
        listed = [f for f in files.listed(where.prefix) if where.matches(f.key)]
        open_uploads = [key for key in files.open_uploads(where.prefix) if where.matches(key)]
    except FirelensFilesUnreadable as unreadable:
        return not_copied(f"no logs: {unreadable}")
    router, senders, stop_code = _states(record, target)
    judged = firelens.completeness(router=router, senders=senders, stop_code=stop_code, open_uploads=open_uploads)
    key = log_key(record.runId, spec.name)
    keys = [(f.key, round(f.last_modified.timestamp() * 1000)) for f in listed]
    writer = S3StreamWriter(s3, bucket, key, ContentType="text/plain; charset=utf-8", ContentEncoding="gzip")
    try:
        progress = write(_pages(files, keys, target), writer, tail_lines)
        writer.close()
    except FirelensFilesUnreadable as unreadable:
        writer.abort()
        writer.close()
        return not_copied(f"no logs: {unreadable}")
    except BaseException:
        writer.abort()
        raise
    entry = base.model_copy(
        update={
            "copied": True,
            "key": key,
            "complete": judged.complete,
            "reason": judged.reason,
            "region": target.region,
            "events": progress.events,
            "bytes": progress.bytes,
            "sha256": progress.sha256,
            "firstTimestamp": iso_utc(progress.first) if progress.first is not None else None,
            "lastTimestamp": iso_utc(progress.last) if progress.last is not None else None,
            "sourcePrefix": where.prefix,
            "sourceObjects": len(listed),
            "resultLine": progress.result,
        }
    )
    return entry, progress.tail
