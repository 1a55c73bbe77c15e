"""The FireLens log router, emulated: a task definition's container with `firelensConfiguration` (AWS for Fluent
Bit) receives the lines of every container whose log driver is `awsfirelens`, and its Fluent Bit `s3` output
writes them to the local S3 as Fluent Bit does (docs.fluentbit.io, pipeline/outputs/s3; plugins/out_s3):

- each record tagged `<container>-firelens-<task id>` (FireLens), one JSON object a line: the time under
  `json_date_key` (default `date`, iso8601 with microseconds), Docker's fluentd driver's `container_id`,
  `container_name` and `source` (stdout or stderr) and `log`, then FireLens's `ecs_cluster`, `ecs_task_arn` and
  `ecs_task_definition` unless `enable-ecs-log-metadata` is false;
- buffered per tag, uploaded as `s3_key_format` says (`$TAG`, `$TAG[n]`, `$UUID`, `$INDEX`, strftime of the
  file's first record; "-object" and 8 random characters appended to a PutObject key without `$UUID` or `$INDEX`):
  with `use_put_object On`, a PutObject once `total_file_size` is buffered or the buffer is `upload_timeout` old;
  otherwise a multipart upload, a part each `upload_chunk_size`, completed at `total_file_size` or
  `upload_timeout` after it was created, and a PutObject for a buffer that times out before filling a part;
- on SIGTERM Fluent Bit flushes: what is buffered is sent and open multipart uploads completed, then it exits 0.
  A router killed first (SIGKILL after its stopTimeout: exit 137) loses its buffer and leaves its multipart
  upload open, as the real one does.

The router's process is the definition's command when it has one (a test can make it ignore SIGTERM), else a
stand-in that exits 0 on SIGTERM. ECS's implicit dependency is kept: containers that log through the router
start after it and stop before it.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import json
import secrets
import string
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from ecsrun.domain import firelens

# The router's process when its definition runs the image's own (Fluent Bit): idle until SIGTERM, then exit 0.
STAND_IN = [
    sys.executable,
    "-c",
    "import signal, sys, time\nsignal.signal(signal.SIGTERM, lambda *_: sys.exit(0))\nwhile True: time.sleep(3600)",
]
TICK_SECONDS = 0.1
_SIZES = {"k": 1000, "m": 1000**2, "g": 1000**3}  # Fluent Bit's unit sizes are decimal
_TIMES = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_ALPHANUMERIC = string.ascii_letters + string.digits


def size_bytes(text: str | None, default: int) -> int:
    if not text:
        return default
    value = text.strip().lower().rstrip("b")
    unit = _SIZES.get(value[-1:], 1)
    return int(float(value[:-1] if unit != 1 else value) * unit)


def seconds(text: str | None, default: float) -> float:
    if not text:
        return default
    value = text.strip().lower()
    unit = _TIMES.get(value[-1:], 1)
    return float(value[:-1] if value[-1:] in _TIMES else value) * unit


def _on(text: str | None) -> bool:
    return (text or "").strip().lower() in ("on", "true", "yes", "1")


def _random8() -> str:
    return "".join(secrets.choice(_ALPHANUMERIC) for _ in range(8))


@dataclass
class _Output:
    """One `[OUTPUT] Name s3` section: FireLens makes one per container from its log options."""

    options: dict[str, str]
    target: Any  # ecsrun.domain.models.run.FirelensTarget

    def __post_init__(self) -> None:
        o = self.options
        self.total_file_size = size_bytes(o.get("total_file_size"), 100_000_000)
        self.chunk_size = size_bytes(o.get("upload_chunk_size"), 5_242_880)
        self.upload_timeout = seconds(o.get("upload_timeout"), 600)
        self.use_put_object = _on(o.get("use_put_object"))
        self.static_file_path = _on(o.get("static_file_path"))
        self.has_uuid = "$UUID" in self.target.key_format
        self.has_index = "$INDEX" in self.target.key_format


@dataclass
class _Upload:
    key: str
    upload_id: str
    created: float
    parts: list[dict[str, Any]] = field(default_factory=list)
    size: int = 0


@dataclass
class _Buffer:
    tag: str
    output: _Output
    data: bytearray = field(default_factory=bytearray)
    since: float | None = None  # when data started buffering (monotonic)
    first: datetime | None = None  # the first buffered record's time, for the key
    upload: _Upload | None = None


class Router:
    """One task's router: its outputs by sending container, its buffers by tag."""

    def __init__(self, task: Any, router: Any, senders: dict[str, _Output], s3: Any, notice: Any):
        self.task, self.router, self.s3, self.notice = task, router, s3, notice
        self.outputs = senders
        self.buffers: dict[str, _Buffer] = {}
        self.lock = threading.Lock()
        self.index = 0
        self.metadata = (
            str(
                (router.definition.get("firelensConfiguration") or {})
                .get("options", {})
                .get("enable-ecs-log-metadata", "true")
            ).lower()
            != "false"
        )
        self.done = threading.Event()
        threading.Thread(target=self._timer, name=f"firelens-{task.task_arn[-8:]}", daemon=True).start()

    # ---- receiving ----

    def receive(self, sender: Any, source: str, message: str) -> None:
        output = self.outputs[sender.name]
        with self.lock:
            if self.done.is_set() or not self._listening(sender):
                return  # the router is gone: Docker's fluentd driver has nowhere to send the line
            now = datetime.now(UTC)
            task_id = self.task.task_arn.rsplit("/", 1)[-1]
            tag = firelens.tag(sender.name, task_id)
            buffer = self.buffers.setdefault(tag, _Buffer(tag, output))
            buffer.data += (json.dumps(self._record(sender, source, message, now, output)) + "\n").encode()
            if buffer.since is None:
                buffer.since, buffer.first = time.monotonic(), now
            with contextlib.suppress(_Dropped):
                self._upload_due(buffer, final=False)

    def _listening(self, sender: Any) -> bool:
        """Lines reach the router while it runs; a line read after it exited reaches it only if its container
        had exited first (the log driver sent it before the container was reported stopped)."""
        router = self.router
        if router.exit_code is None:
            return True
        sent, gone = sender.stopped_at, router.stopped_at
        return sent is not None and gone is not None and sent <= gone

    def _record(self, sender: Any, source: str, message: str, now: datetime, output: _Output) -> dict[str, Any]:
        record: dict[str, Any] = {}
        if output.target.date_key:
            record[output.target.date_key] = now.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        task_arn = self.task.task_arn
        definition = self.task.task_definition
        family, revision = definition.get("family", "task"), definition.get("revision", 1)
        suffix = hashlib.sha256((task_arn + sender.name).encode()).hexdigest()
        record.update(
            {
                "container_id": suffix,
                "container_name": f"/ecs-{family}-{revision}-{sender.name}-{suffix[:20]}",
                "source": source,
                "log": message,
            }
        )
        if self.metadata:
            record.update(
                {
                    "ecs_cluster": self.task.cluster_arn.rsplit("/", 1)[-1],
                    "ecs_task_arn": task_arn,
                    "ecs_task_definition": f"{family}:{revision}",
                }
            )
        return record

    # ---- uploading ----

    def _timer(self) -> None:
        while not self.done.wait(TICK_SECONDS):
            with self.lock:
                if self.done.is_set():
                    return
                for buffer in self.buffers.values():
                    with contextlib.suppress(_Dropped):
                        self._upload_due(buffer, final=False)

    def _upload_due(self, buffer: _Buffer, *, final: bool) -> None:
        output, now = buffer.output, time.monotonic()
        timed_out = buffer.since is not None and now - buffer.since >= output.upload_timeout
        if output.use_put_object:
            if buffer.data and (final or timed_out or len(buffer.data) >= output.total_file_size):
                self._put(buffer)
            return
        while len(buffer.data) >= output.chunk_size:
            self._part(buffer, bytes(buffer.data[: output.chunk_size]))
            del buffer.data[: output.chunk_size]
        upload = buffer.upload
        if upload is not None:
            if final or upload.size >= output.total_file_size or now - upload.created >= output.upload_timeout:
                if buffer.data:
                    self._part(buffer, bytes(buffer.data))
                    buffer.data.clear()
                self._complete(buffer)
        elif buffer.data and (final or timed_out):
            self._put(buffer)  # too small for a part: Fluent Bit falls back to PutObject

    def _key(self, buffer: _Buffer, *, put: bool) -> str:
        output, target = buffer.output, buffer.output.target
        if output.has_index:
            self.index += 1
        key = firelens.render_key(
            target.key_format,
            buffer.tag,
            delimiters=target.tag_delimiters,
            first_record=buffer.first or datetime.now(UTC),
            uuid=_random8(),
            index=self.index,
        )
        if put and not output.has_uuid and not output.has_index and not output.static_file_path:
            key += "-object" + _random8()
        return key

    def _body(self, buffer: _Buffer, data: bytes) -> tuple[bytes, dict[str, Any]]:
        if buffer.output.target.compression == "gzip":
            return gzip.compress(data), {"ContentEncoding": "gzip"}
        return data, {}

    def _put(self, buffer: _Buffer) -> None:
        body, extra = self._body(buffer, bytes(buffer.data))
        with self._failing(buffer):
            self.s3.put_object(Bucket=buffer.output.target.bucket, Key=self._key(buffer, put=True), Body=body, **extra)
        buffer.data.clear()
        buffer.since = buffer.first = None

    def _part(self, buffer: _Buffer, data: bytes) -> None:
        bucket = buffer.output.target.bucket
        with self._failing(buffer):
            if buffer.upload is None:
                key = self._key(buffer, put=False)
                created = self.s3.create_multipart_upload(Bucket=bucket, Key=key)
                buffer.upload = _Upload(key, created["UploadId"], time.monotonic())
            upload = buffer.upload
            body, _ = self._body(buffer, data)
            number = len(upload.parts) + 1
            answer = self.s3.upload_part(
                Bucket=bucket, Key=upload.key, UploadId=upload.upload_id, PartNumber=number, Body=body
            )
            upload.parts.append({"ETag": answer["ETag"], "PartNumber": number})
            upload.size += len(data)
        buffer.since = buffer.first = None

    def _complete(self, buffer: _Buffer) -> None:
        upload = buffer.upload
        assert upload is not None
        with self._failing(buffer):
            self.s3.complete_multipart_upload(
                Bucket=buffer.output.target.bucket,
                Key=upload.key,
                UploadId=upload.upload_id,
                MultipartUpload={"Parts": upload.parts},
            )
        buffer.upload = None

    @contextlib.contextmanager
    def _failing(self, buffer: _Buffer) -> Any:
        try:
            yield
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code")
            self.notice(
                f"log router {self.router.name}: s3 output: upload to {buffer.output.target.bucket} failed: {code}; "
                "those records are lost"
            )
            buffer.data.clear()
            buffer.since = buffer.first = None
            raise _Dropped from exc

    # ---- the end ----

    def stop(self) -> None:
        """The task stopped: a router that exited 0 has flushed (its SIGTERM handling); any other lost its buffer."""
        with self.lock:
            self.done.set()
            if self.router.exit_code == 0:
                for buffer in self.buffers.values():
                    with contextlib.suppress(_Dropped):
                        self._upload_due(buffer, final=True)
                return
            lost = sum(len(b.data) for b in self.buffers.values())
            open_uploads = [b.upload.key for b in self.buffers.values() if b.upload is not None]
            if lost or open_uploads:
                self.notice(
                    f"log router {self.router.name} exited {self.router.exit_code} before its last flush: "
                    f"{lost} buffered bytes lost, {len(open_uploads)} multipart upload(s) left open"
                )


class _Dropped(Exception):
    """An upload failed; its records are gone (Fluent Bit's retry_limit is 1 by default)."""


class FirelensRouters:
    """The hook the local agent calls: set up a task's router, hand it lines, stop it with the task."""

    def __init__(self, client: Any, notice: Any):
        self._client, self._notice = client, notice
        self._routers: dict[str, Router] = {}  # by task ARN
        self._senders: dict[int, Router] = {}  # by id() of a container that logs through one

    def prepare(self, task: Any) -> None:
        definitions = {c.name: c for c in task.containers}
        router = next((c for c in task.containers if c.definition.get("firelensConfiguration")), None)
        if router is None:
            return
        senders: dict[str, _Output] = {}
        for container in task.containers:
            config = container.definition.get("logConfiguration") or {}
            if config.get("logDriver") != "awsfirelens" or container is router:
                continue
            options = {str(k).lower(): str(v) for k, v in (config.get("options") or {}).items()}
            target = firelens.target(options, router.name, "us-east-1")
            if target is None:
                self._notice(
                    f"container {container.name}: the local log router emulates Fluent Bit's s3 output only; "
                    f"{options.get('name')!r} drops its lines"
                )
                continue
            senders[container.name] = _Output(options, target)
            # ECS makes each container that logs through the router depend on its start (and so stop before it).
            depends = container.definition.setdefault("dependsOn", [])
            if not any(d.get("containerName") == router.name for d in depends):
                depends.append({"containerName": router.name, "condition": "START"})
        if not router.argv:
            router.argv = list(STAND_IN)
        for bucket in sorted({o.target.bucket for o in senders.values()}):
            self._ensure_bucket(bucket)
        if senders and router.name in definitions:
            emulated = Router(task, router, senders, self._client("s3"), self._notice)
            self._routers[task.task_arn] = emulated
            for container in task.containers:
                if container.name in senders:
                    self._senders[id(container)] = emulated

    def _ensure_bucket(self, bucket: str) -> None:
        """The router's bucket is the user's, not the stack's: a fresh local S3 has none, so it is created (said)."""
        s3 = self._client("s3")
        try:
            s3.head_bucket(Bucket=bucket)
        except ClientError:
            s3.create_bucket(Bucket=bucket)
            self._notice(f"log router: the local S3 had no bucket {bucket}; created it (in AWS it must exist)")

    def receive(self, container: Any, source: str, message: str) -> None:
        """A line `container` wrote on `source` (stdout or stderr); ignored unless it logs through a router."""
        router = self._senders.get(id(container))
        if router is not None:
            router.receive(container, source, message)

    def stop(self, task: Any) -> None:
        """The task's containers have all stopped and their output is read: the router flushes, or loses."""
        router = self._routers.pop(task.task_arn, None)
        if router is not None:
            for container in task.containers:
                self._senders.pop(id(container), None)
            router.stop()
