"""Copy each container's CloudWatch log stream to S3 as gzip text, streaming, with integrity figures;
a copy that runs short of time pauses at a checkpoint and continues in the next invocation."""

from __future__ import annotations

import io
import zlib
from collections import deque
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import IO, Any

from pydantic import BaseModel

from ecsrun.adapters.cloudwatch_logs import LogPage, LogStreamMissing, iter_log_pages
from ecsrun.adapters.s3.checkpoints import CopyCheckpoints
from ecsrun.adapters.s3.writer import S3StreamWriter, Suspended
from ecsrun.domain.keys import log_key
from ecsrun.domain.logformat import format_event, format_events, iso_utc
from ecsrun.domain.models.logs import ContainerCopy, ContainerLog, CopyCheckpoint, LogProgress
from ecsrun.domain.models.record import RunRecord
from ecsrun.domain.models.run import ContainerSpec
from ecsrun.domain.resumable import GZIP_HEADER, deflate_segment, gzip_trailer, new_hash
from ecsrun.domain.runtask import log_stream_name


def settle_delay(stopped_at: str | None, now: datetime, settle_seconds: float) -> float:
    """Seconds to wait before copying: CloudWatch ingestion lags a container's exit, so the last lines
    written before exit arrive only after it. Bounded by `settle_seconds`; none once that has passed."""
    if not stopped_at or settle_seconds <= 0:
        return 0.0
    stopped = datetime.fromisoformat(stopped_at.replace("Z", "+00:00"))
    return min(float(settle_seconds), max(0.0, settle_seconds - (now - stopped).total_seconds()))


def _format(events: list[dict[str, Any]]) -> list[str]:
    return [format_event(e["timestamp"], e.get("message", "")) for e in events]


def write_pages(
    pages: Iterable[LogPage],
    sink: IO[bytes] | io.RawIOBase,
    tail_lines: int,
    progress: LogProgress | None = None,
    should_pause: Callable[[], bool] | None = None,
) -> LogProgress:
    """Write pages of events to `sink` as one gzip member of formatted lines, starting or continuing `progress`.

    Memory holds one page (at most 1 MB of messages) and the tail, never the log. Each page with events is
    one self-contained deflate segment, so the bytes depend only on the pages, not on where a copy paused:
    a log copied in ten invocations is byte-identical to one copied in one. After each page that is not the
    last, `should_pause()` may stop the copy; the progress returned then says where to continue.
    """
    fresh = progress is None
    state = LogProgress() if progress is None else progress.model_copy(deep=True)
    digest = new_hash(state.hashState)
    pausable = should_pause is not None and digest.resumable
    tail: deque[str] = deque(state.tail, maxlen=tail_lines)
    if fresh:
        sink.write(GZIP_HEADER)
    for page in pages:
        if page.events:
            data = format_events(page.events).encode("utf-8")
            sink.write(deflate_segment(data))
            digest.update(data)
            state.crc32 = zlib.crc32(data, state.crc32)
            state.events += len(page.events)
            state.bytes += len(data)
            state.first = page.events[0]["timestamp"] if state.first is None else state.first
            state.last = page.events[-1]["timestamp"]
            if tail_lines:
                tail.extend(line.rstrip("\n") for line in _format(page.events[-tail_lines:]))
        state.token = page.next_token or state.token
        if pausable and page.next_token is not None and should_pause():  # type: ignore[misc]
            state.hashState, state.tail = digest.state(), list(tail)
            return state
    sink.write(gzip_trailer(state.crc32, state.bytes))
    state.hashState, state.sha256, state.tail = None, digest.hexdigest(), list(tail)
    return state


def _entry(base: ContainerLog, key: str, progress: LogProgress) -> ContainerLog:
    return base.model_copy(
        update={
            "key": key,
            "complete": True,
            "events": progress.events,
            "bytes": progress.bytes,
            "sha256": progress.sha256,
            "firstTimestamp": iso_utc(progress.first) if progress.first is not None else None,
            "lastTimestamp": iso_utc(progress.last) if progress.last is not None else None,
        }
    )


def _not_copyable(spec: ContainerSpec, task_id: str | None) -> ContainerLog | None:
    """The manifest entry of a container whose logs cannot be read, and why; None when they can."""
    if task_id is None:
        return ContainerLog(name=spec.name, copied=False, note="the task never started")
    if spec.log is None:
        note = f"log driver {spec.log_driver!r} is not awslogs" if spec.log_driver else "no log configuration"
        return ContainerLog(name=spec.name, copied=False, note=note)
    if not spec.log.stream_prefix:
        return ContainerLog(
            name=spec.name,
            copied=False,
            logGroup=spec.log.group,
            region=spec.log.region,
            note="awslogs without awslogs-stream-prefix: the stream name is not knowable",
        )
    return None


class CopyProgress(BaseModel):
    """A run's copy: every container's entry once done; otherwise the checkpoint to continue from."""

    entries: list[ContainerLog]
    tails: dict[str, list[str]]
    checkpoint: CopyCheckpoint | None = None

    @property
    def done(self) -> bool:
        return self.checkpoint is None

    def finished(self, run_id: str, seq: int) -> CopyCheckpoint:
        """The checkpoint of a finished copy: every entry, nothing in progress."""
        return CopyCheckpoint(runId=run_id, seq=seq, entries=self.entries, tails=self.tails)


def copy_run_logs(
    record: RunRecord,
    *,
    s3: Any,
    bucket: str,
    logs_client: Callable[[str | None], Any],
    tail_lines: int,
    checkpoint: CopyCheckpoint | None = None,
    should_pause: Callable[[], bool] | None = None,
) -> CopyProgress:
    """Every container with an awslogs stream, sidecars included; no logs is recorded, not raised.

    Continues from `checkpoint` when given. With `should_pause`, the copy may stop after any page or
    container (never before this invocation has made progress) and return a checkpoint instead of entries:
    the pending bytes are staged in S3 first, the checkpoint written last.
    """
    store = CopyCheckpoints(s3, bucket)
    task_id = record.taskArn.rsplit("/", 1)[-1] if record.taskArn else None
    entries = list(checkpoint.entries) if checkpoint else []
    tails = dict(checkpoint.tails) if checkpoint else {}
    current = checkpoint.current if checkpoint else None
    seq = checkpoint.seq + 1 if checkpoint else 1

    def paused(copy: ContainerCopy | None) -> CopyProgress:
        saved = CopyCheckpoint(runId=record.runId, seq=seq, entries=entries, tails=tails, current=copy)
        store.save(saved)
        return CopyProgress(entries=entries, tails=tails, checkpoint=saved)

    for spec in record.containers[len(entries) :]:
        skipped = _not_copyable(spec, task_id)
        if skipped is not None:
            entries.append(skipped)
            continue
        assert spec.log is not None and task_id is not None  # _not_copyable said so
        stream = log_stream_name(spec.log.stream_prefix or "", spec.name, task_id)
        key = log_key(record.runId, spec.name)
        base = ContainerLog(
            name=spec.name, copied=True, logGroup=spec.log.group, logStream=stream, region=spec.log.region
        )
        resumed = current if current is not None and current.name == spec.name else None
        writer = S3StreamWriter(
            s3,
            bucket,
            key,
            resume_from=Suspended(resumed.uploadId, resumed.parts, store.staged(resumed.pendingKey))
            if resumed
            else None,
            ContentType="text/plain; charset=utf-8",
            ContentEncoding="gzip",
        )
        pages = iter_log_pages(
            logs_client(spec.log.region), spec.log.group, stream, resumed.progress.token if resumed else None
        )
        try:
            progress = write_pages(pages, writer, tail_lines, resumed.progress if resumed else None, should_pause)
        except LogStreamMissing as missing:
            writer.abort()
            writer.close()
            entries.append(base.model_copy(update={"copied": False, "note": f"no logs: {missing}"}))
            continue
        except BaseException:
            if resumed is None:  # a resumed upload belongs to the checkpoint a retry continues from
                writer.abort()
            raise
        if not progress.finished:
            held = writer.suspend()
            staged = store.stage(record.runId, spec.name, seq, held.pending)
            return paused(
                ContainerCopy(
                    name=spec.name, progress=progress, uploadId=held.upload_id, parts=held.parts, pendingKey=staged
                )
            )
        writer.close()
        current = None
        tails[spec.name] = progress.tail
        entries.append(_entry(base, key, progress))
        if should_pause is not None and len(entries) < len(record.containers) and should_pause():
            return paused(None)
    return CopyProgress(entries=entries, tails=tails)
