"""A write-only file object that streams into an S3 object, in multipart parts once it is large."""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

MIN_PART_SIZE = 5 * 1024 * 1024  # S3's minimum for every part but the last
DEFAULT_PART_SIZE = 8 * 1024 * 1024


@dataclass
class Suspended:
    """A write stopped part-way, to be continued by another process: the multipart upload so far (if one
    was started), its parts, and the bytes short of a full part, which the caller keeps somewhere durable."""

    upload_id: str | None
    parts: list[dict[str, Any]]
    pending: bytes


class S3StreamWriter(io.RawIOBase):
    """Holds at most one part in memory. Small objects become one PutObject; large ones a multipart upload.
    `suspend()` stops without completing, and `resume_from` continues that write in a new writer."""

    def __init__(
        self,
        s3: Any,
        bucket: str,
        key: str,
        *,
        part_size: int = DEFAULT_PART_SIZE,
        resume_from: Suspended | None = None,
        **put_args: Any,
    ):
        super().__init__()
        if part_size < MIN_PART_SIZE:
            raise ValueError(f"part_size must be at least {MIN_PART_SIZE} bytes")
        self._s3, self._bucket, self._key = s3, bucket, key
        self._part_size = part_size
        self._put_args = put_args
        self._buffer = bytearray(resume_from.pending if resume_from else b"")
        self._upload_id: str | None = resume_from.upload_id if resume_from else None
        self._parts: list[dict[str, Any]] = list(resume_from.parts) if resume_from else []
        self._resumed = self._upload_id is not None
        self._aborted = self._suspended = False
        self.bytes_written = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        chunk = bytes(data)
        self._buffer += chunk
        self.bytes_written += len(chunk)
        while len(self._buffer) >= self._part_size:
            self._upload_part(bytes(self._buffer[: self._part_size]))
            del self._buffer[: self._part_size]
        return len(chunk)

    def _upload_part(self, body: bytes) -> None:
        if self._upload_id is None:
            created = self._s3.create_multipart_upload(Bucket=self._bucket, Key=self._key, **self._put_args)
            self._upload_id = created["UploadId"]
        number = len(self._parts) + 1
        response = self._s3.upload_part(
            Bucket=self._bucket, Key=self._key, UploadId=self._upload_id, PartNumber=number, Body=body
        )
        self._parts.append({"ETag": response["ETag"], "PartNumber": number})

    def close(self) -> None:
        if self.closed:
            return
        if self._aborted or self._suspended:
            super().close()
            return
        try:
            if self._upload_id is None:
                self._s3.put_object(Bucket=self._bucket, Key=self._key, Body=bytes(self._buffer), **self._put_args)
            else:
                if self._buffer:
                    self._upload_part(bytes(self._buffer))
                self._s3.complete_multipart_upload(
                    Bucket=self._bucket,
                    Key=self._key,
                    UploadId=self._upload_id,
                    MultipartUpload={"Parts": self._parts},
                )
            self._buffer.clear()
        except Exception:
            if not self._resumed:  # a resumed upload belongs to a checkpoint that a retry will continue from
                self.abort()
            raise
        finally:
            super().close()

    @property
    def uploading(self) -> bool:
        """A multipart upload has begun: some of the object is in S3 already."""
        return self._upload_id is not None

    def suspend(self) -> Suspended:
        """Close without completing the object (write() has already uploaded every full part)."""
        suspended = Suspended(self._upload_id, list(self._parts), bytes(self._buffer))
        self._suspended = True
        self._buffer.clear()
        super().close()
        return suspended

    def abort(self) -> None:
        """Drop an unfinished upload so no partial object or orphaned parts remain; close() then writes nothing."""
        self._aborted = True
        if self._upload_id is not None:
            self._s3.abort_multipart_upload(Bucket=self._bucket, Key=self._key, UploadId=self._upload_id)
            self._upload_id = None
