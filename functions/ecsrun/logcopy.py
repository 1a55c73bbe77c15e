"""Copy each container's CloudWatch log stream to S3 as gzip text, streaming, with integrity figures."""

from __future__ import annotations

import gzip
import hashlib
import io
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from typing import IO, Any

from pydantic import BaseModel

from ecsrun.adapters.cloudwatch_logs import LogStreamMissing, iter_log_events
from ecsrun.adapters.s3_writer import S3StreamWriter
from ecsrun.logformat import format_event, iso_utc
from ecsrun.models.record import RunRecord
from ecsrun.runtask import log_stream_name

CHUNK_EVENTS = 1000
COMPRESS_LEVEL = 6  # zlib's own default: most of level 9's ratio at a fraction of its time


def settle_delay(stopped_at: str | None, now: datetime, settle_seconds: float) -> float:
    """Seconds to wait before copying: CloudWatch ingestion lags a container's exit, so the last lines
    written before exit arrive only after it. Bounded by `settle_seconds`; none once that has passed."""
    if not stopped_at or settle_seconds <= 0:
        return 0.0
    stopped = datetime.fromisoformat(stopped_at.replace("Z", "+00:00"))
    return min(float(settle_seconds), max(0.0, settle_seconds - (now - stopped).total_seconds()))


def log_key(run_id: str, container: str) -> str:
    return f"runs/{run_id}/logs/{container}.log.gz"


def manifest_key(run_id: str) -> str:
    return f"runs/{run_id}/manifest.json"


class ContainerLog(BaseModel):
    """One container's entry in the manifest; `copied` False means it had no logs to copy, and `note` says why.
    `complete` means the stream was read to its true end (the forward token repeated)."""

    name: str
    copied: bool
    complete: bool = False
    logGroup: str | None = None
    logStream: str | None = None
    region: str | None = None
    key: str | None = None
    events: int = 0
    bytes: int = 0
    sha256: str | None = None
    firstTimestamp: str | None = None
    lastTimestamp: str | None = None
    note: str | None = None


class WrittenLog(BaseModel):
    events: int
    bytes: int
    sha256: str
    firstTimestamp: str | None
    lastTimestamp: str | None
    tail: list[str]


def _chunks(events: Iterable[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    chunk: list[dict[str, Any]] = []
    for event in events:
        chunk.append(event)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def write_log(events: Iterable[dict[str, Any]], sink: IO[bytes] | io.RawIOBase, tail_lines: int) -> WrittenLog:
    """Format events into gzip text on `sink`. Memory holds one chunk of events and the tail, never the log;
    each chunk is encoded, hashed and compressed in one call, which keeps per-event overhead small."""
    digest = hashlib.sha256()
    tail: deque[str] = deque(maxlen=tail_lines)
    count = size = 0
    first = last = None
    with gzip.GzipFile(fileobj=sink, mode="wb", mtime=0, compresslevel=COMPRESS_LEVEL) as gz:
        for chunk in _chunks(events, CHUNK_EVENTS):
            lines = [format_event(e["timestamp"], e.get("message", "")) for e in chunk]
            data = "".join(lines).encode("utf-8")
            gz.write(data)
            digest.update(data)
            count += len(chunk)
            size += len(data)
            first = chunk[0]["timestamp"] if first is None else first
            last = chunk[-1]["timestamp"]
            if tail_lines:
                tail.extend(line.rstrip("\n") for line in lines[-tail_lines:])
    return WrittenLog(
        events=count,
        bytes=size,
        sha256=digest.hexdigest(),
        firstTimestamp=iso_utc(first) if first is not None else None,
        lastTimestamp=iso_utc(last) if last is not None else None,
        tail=list(tail),
    )


def copy_run_logs(
    record: RunRecord,
    *,
    s3: Any,
    bucket: str,
    logs_client: Callable[[str | None], Any],
    tail_lines: int,
) -> tuple[list[ContainerLog], dict[str, list[str]]]:
    """Every container with an awslogs stream, sidecars included. No logs is recorded, not raised."""
    task_id = record.taskArn.rsplit("/", 1)[-1] if record.taskArn else None
    entries: list[ContainerLog] = []
    tails: dict[str, list[str]] = {}
    for spec in record.containers:
        if task_id is None:
            entries.append(ContainerLog(name=spec.name, copied=False, note="the task never started"))
            continue
        if spec.log is None:
            note = f"log driver {spec.log_driver!r} is not awslogs" if spec.log_driver else "no log configuration"
            entries.append(ContainerLog(name=spec.name, copied=False, note=note))
            continue
        if not spec.log.stream_prefix:
            entries.append(
                ContainerLog(
                    name=spec.name,
                    copied=False,
                    logGroup=spec.log.group,
                    region=spec.log.region,
                    note="awslogs without awslogs-stream-prefix: the stream name is not knowable",
                )
            )
            continue
        stream = log_stream_name(spec.log.stream_prefix, spec.name, task_id)
        key = log_key(record.runId, spec.name)
        base = ContainerLog(
            name=spec.name, copied=True, logGroup=spec.log.group, logStream=stream, region=spec.log.region
        )
        writer = S3StreamWriter(s3, bucket, key, ContentType="text/plain; charset=utf-8", ContentEncoding="gzip")
        try:
            written = write_log(
                iter_log_events(logs_client(spec.log.region), spec.log.group, stream), writer, tail_lines
            )
        except LogStreamMissing as missing:
            writer.abort()
            writer.close()
            entries.append(base.model_copy(update={"copied": False, "note": f"no logs: {missing}"}))
            continue
        except BaseException:
            writer.abort()
            raise
        writer.close()
        tails[spec.name] = written.tail
        entries.append(
            base.model_copy(
                update={
                    "key": key,
                    "complete": True,
                    "events": written.events,
                    "bytes": written.bytes,
                    "sha256": written.sha256,
                    "firstTimestamp": written.firstTimestamp,
                    "lastTimestamp": written.lastTimestamp,
                }
            )
        )
    return entries, tails
