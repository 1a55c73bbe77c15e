"""Copy each container's CloudWatch log stream to S3 as gzip text, streaming, with integrity figures;
a copy that runs short of time, or must wait for a stream's last lines, pauses at a checkpoint and continues
in the next invocation."""

from __future__ import annotations

import io
import time
import zlib
from collections import deque
from collections.abc import Callable, Iterable
from typing import IO, Any

from ecsrun.adapters.cloudwatch_logs import LogPage, LogReadPaused, LogStreamMissing, iter_log_pages
from ecsrun.adapters.s3.checkpoints import CopyCheckpoints
from ecsrun.adapters.s3.writer import S3StreamWriter, Suspended
from ecsrun.domain import result
from ecsrun.domain.keys import log_key
from ecsrun.domain.logformat import format_event, format_events, iso_utc
from ecsrun.domain.models.base import Model
from ecsrun.domain.models.logs import ContainerCopy, ContainerLog, CopyCheckpoint, LogProgress, LogSource
from ecsrun.domain.models.record import RunRecord
from ecsrun.domain.models.run import ContainerSpec
from ecsrun.domain.resumable import GZIP_HEADER, deflate_segment, gzip_trailer, new_hash
from ecsrun.domain.runtask import log_stream_name
from ecsrun.steps.firelens_logs import FirelensReader, copy_firelens_log


def _format(events: list[dict[str, Any]]) -> list[str]:
    return [format_event(e["timestamp"], e.get("message", "")) for e in events]


class _Member:
    """One container's gzip member of formatted lines, being written to `sink`: starting, or continuing
    `progress`. Memory holds one page (at most 1 MB of messages) and the tail, never the log."""

    def __init__(self, sink: IO[bytes] | io.RawIOBase, tail_lines: int, progress: LogProgress | None) -> None:
        self.sink, self.tail_lines = sink, tail_lines
        self.state = LogProgress() if progress is None else progress.model_copy(deep=True)
        self.digest = new_hash(self.state.hashState)
        self.tail: deque[str] = deque(self.state.tail, maxlen=tail_lines)
        if progress is None:
            sink.write(GZIP_HEADER)

    @property
    def resumable(self) -> bool:
        return bool(self.digest.resumable)

    def write(self, pages: Iterable[LogPage], should_pause: Callable[[], bool] | None) -> bool:
        """Append `pages`; True when they ran out, False when `should_pause()` stopped after a page that was not
        the last. Each page with events is one self-contained deflate segment, so the bytes depend only on the
        events, not on where a copy paused."""
        state = self.state
        pausable = should_pause is not None and self.resumable
        for page in pages:
            if page.events:
                data = format_events(page.events).encode("utf-8")
                self.sink.write(deflate_segment(data))
                self.digest.update(data)
                state.crc32 = zlib.crc32(data, state.crc32)
                state.events += len(page.events)
                state.bytes += len(data)
                state.first = page.events[0]["timestamp"] if state.first is None else state.first
                state.last = page.events[-1]["timestamp"]
                ingested = [e["ingestionTime"] for e in page.events if "ingestionTime" in e]
                if ingested:
                    state.ingested = max(ingested) if state.ingested is None else max(state.ingested, *ingested)
                state.result = result.latest(state.result, page.events)
                if self.tail_lines:
                    self.tail.extend(line.rstrip("\n") for line in _format(page.events[-self.tail_lines :]))
            state.token = page.next_token or state.token
            if pausable and page.next_token is not None and should_pause():  # type: ignore[misc]
                return False
        return True

    def suspend(self) -> LogProgress:
        """The progress so far, for another process to continue (the hash's state included)."""
        self.state.hashState, self.state.tail = self.digest.state(), list(self.tail)
        return self.state.model_copy(deep=True)

    def close(self) -> LogProgress:
        """End the member (gzip trailer) and return its figures."""
        self.sink.write(gzip_trailer(self.state.crc32, self.state.bytes))
        self.state.hashState, self.state.sha256, self.state.tail = None, self.digest.hexdigest(), list(self.tail)
        return self.state


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
    member = _Member(sink, tail_lines, progress)
    return member.close() if member.write(pages, should_pause) else member.suspend()


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
            "resultLine": progress.result,
        }
    )


def _not_copyable(spec: ContainerSpec, task_id: str | None) -> ContainerLog | None:
    """The manifest entry of a container whose logs cannot be read, and why; None when they can."""
    source = LogSource.FIRELENS_S3 if spec.firelens is not None else LogSource.CLOUDWATCH_LOGS
    if task_id is None:
        note = "the task never started"
        return ContainerLog(name=spec.name, copied=False, source=source, note=note, reason=note)
    if spec.log is None:
        note = f"log driver {spec.log_driver!r} is not awslogs" if spec.log_driver else "no log configuration"
        if spec.log_driver == "awsfirelens":
            note = "log driver 'awsfirelens' with an output other than Fluent Bit's s3: not readable back"
        return ContainerLog(name=spec.name, copied=False, note=note, reason=note)
    if not spec.log.stream_prefix:
        note = "awslogs without awslogs-stream-prefix: the stream name is not knowable"
        return ContainerLog(
            name=spec.name, copied=False, logGroup=spec.log.group, region=spec.log.region, note=note, reason=note
        )
    return None


class CopyProgress(Model):
    """A run's copy: every container's entry once done. Otherwise the checkpoint to continue from, and how long
    to wait first (`wait_seconds` > 0: a stream's last lines may
    still be on their way to CloudWatch Logs)."""

    entries: list[ContainerLog]
    tails: dict[str, list[str]]
    checkpoint: CopyCheckpoint | None = None
    wait_seconds: float = 0.0

    @property
    def done(self) -> bool:
        return self.checkpoint is None and self.wait_seconds <= 0

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
    settle: Callable[[LogProgress], float] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    firelens: FirelensReader | None = None,
) -> CopyProgress:
    """Every container with an awslogs stream or FireLens files in S3 (`firelens` reads those: no CloudWatch Logs
    call for them, ecsrun.steps.firelens_logs), sidecars included; no logs is recorded, not raised.

    Continues from `checkpoint` when given. With `should_pause`, the copy may stop after any page or
    container (never before this invocation has made progress) and return a checkpoint instead of entries:
    the pending bytes are staged in S3 first, the checkpoint written last.

    Each stream is read to its end; then `settle(progress)` says how long to wait before that end can be taken
    as complete (ecsrun.domain.logsettle), once per copy: after one wait the stream is taken as it is. A copy
    that can pause returns `wait_seconds` instead of waiting (the state machine waits, not a billed invocation),
    always with a checkpoint: the next invocation reads on from the stream's forward token, never from its
    start (GetLogEvents is the scarcest quota a run touches: 10 calls a second per account and Region, not
    adjustable; two small S3 objects are cheaper than reading a stream twice). One that cannot pause sleeps,
    then reads what arrived meanwhile.
    """
    store = CopyCheckpoints(s3, bucket)
    task_id = record.taskArn.rsplit("/", 1)[-1] if record.taskArn else None
    entries = list(checkpoint.entries) if checkpoint else []
    tails = dict(checkpoint.tails) if checkpoint else {}
    current = checkpoint.current if checkpoint else None
    seq = checkpoint.seq + 1 if checkpoint else 1

    def paused(copy: ContainerCopy | None, wait: float = 0.0) -> CopyProgress:
        saved = CopyCheckpoint(runId=record.runId, seq=seq, entries=entries, tails=tails, current=copy)
        store.save(saved)
        return CopyProgress(entries=entries, tails=tails, checkpoint=saved, wait_seconds=wait)

    for spec in record.containers[len(entries) :]:
        if spec.firelens is not None and task_id is not None:  # the log source: its router's files in S3
            entry, tail = copy_firelens_log(
                record, spec, firelens, s3=s3, bucket=bucket, tail_lines=tail_lines, write=write_pages
            )
            entries.append(entry)
            tails[spec.name] = tail
            continue
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
        member = _Member(writer, tail_lines, resumed.progress if resumed else None)
        wait = 0.0
        try:
            while True:
                pages = iter_log_pages(logs_client(spec.log.region), spec.log.group, stream, member.state.token)
                try:
                    ended = member.write(pages, should_pause)  # False: short of time, mid-stream
                except LogReadPaused as pause:  # throttled until time ran short, or no slot near: continue later
                    if should_pause is None or not member.resumable:
                        continue  # cannot pause: read on, from the token of the last page written
                    ended, wait = False, pause.wait_seconds
                    break
                wait = settle(member.state) if ended and settle is not None else 0.0
                if wait <= 0 or (should_pause is not None and member.resumable):
                    break
                sleep(wait)  # this copy cannot pause: wait here, then read what arrived meanwhile
                settle = None  # once: the settle time is over now
        except LogStreamMissing as missing:
            writer.abort()
            writer.close()
            note = f"no logs: {missing}"
            entries.append(base.model_copy(update={"copied": False, "note": note, "reason": note}))
            continue
        except BaseException:
            if resumed is None:  # a resumed upload belongs to the checkpoint a retry continues from
                writer.abort()
            raise
        if not ended or wait > 0:
            held = writer.suspend()
            staged = store.stage(record.runId, spec.name, seq, held.pending)
            copy = ContainerCopy(
                name=spec.name, progress=member.suspend(), uploadId=held.upload_id, parts=held.parts, pendingKey=staged
            )
            return paused(copy, wait)
        progress = member.close()
        writer.close()
        current = None
        tails[spec.name] = progress.tail
        entries.append(_entry(base, key, progress))
        if should_pause is not None and len(entries) < len(record.containers) and should_pause():
            return paused(None)
    return CopyProgress(entries=entries, tails=tails)
