"""What a log copy records: the manifest's entry per container, and the checkpoint of a copy that paused."""

from __future__ import annotations

from dataclasses import field
from enum import StrEnum
from typing import Any

from ecsrun.domain.models.base import Model


class LogSource(StrEnum):
    """Where a container's log was read from."""

    CLOUDWATCH_LOGS = "cloudwatch-logs"  # its awslogs stream, read back with GetLogEvents
    FIRELENS_S3 = "firelens-s3"  # the files its FireLens router's Fluent Bit `s3` output wrote


class ResultLine(Model):
    """The last `::ecsrun-result::` line a container printed (ecsrun.domain.result): its text after the marker
    (cut just past the size bound, so an oversized one is known as such), its full size and its time."""

    text: str
    bytes: int
    timestamp: int = 0


class ContainerLog(Model):
    """One container's entry in the manifest; `copied` False means it had no logs to copy, and `note` says why.
    `complete` means the copy holds everything the container's log source received (a CloudWatch stream read to
    its true end; FireLens files by the rule in ecsrun.domain.firelens); `reason` says why not."""

    name: str
    copied: bool
    complete: bool = False
    source: LogSource = LogSource.CLOUDWATCH_LOGS
    reason: str | None = None
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
    sourceBucket: str | None = None  # firelens-s3: the router's bucket, the task's prefix, the files read
    sourcePrefix: str | None = None
    sourceObjects: int | None = None
    resultLine: ResultLine | None = None  # read by the outcome; never written to the manifest's entry


class LogProgress(Model):
    """One container's text written so far: enough for another process to continue it exactly.
    `sha256` is set once the last page is written; until then `hashState` carries the running hash."""

    token: str | None = None  # GetLogEvents' forward token after the last page written
    events: int = 0
    bytes: int = 0
    crc32: int = 0
    hashState: str | None = None
    sha256: str | None = None
    first: int | None = None
    last: int | None = None
    ingested: int | None = None  # the latest ingestionTime among the events written (evidence the stream settled)
    tail: list[str] = field(default_factory=list)
    result: ResultLine | None = None  # the last result line written so far

    @property
    def finished(self) -> bool:
        return self.sha256 is not None


class ContainerCopy(Model):
    """A container's copy paused mid-stream: its multipart upload, and where the bytes short of a part wait."""

    name: str
    progress: LogProgress
    uploadId: str | None = None
    parts: list[dict[str, Any]] = field(default_factory=list)
    pendingKey: str | None = None


class CopyCheckpoint(Model):
    """Where a run's copy paused: the containers finished, and the one in progress. `seq` counts invocations,
    so each one stages its pending bytes under its own key and a retried invocation never reads half a write."""

    runId: str
    seq: int
    entries: list[ContainerLog] = field(default_factory=list)
    tails: dict[str, list[str]] = field(default_factory=dict)
    current: ContainerCopy | None = None
