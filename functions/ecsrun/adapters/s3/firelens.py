"""The files a FireLens router's Fluent Bit `s3` output wrote: listed under a task's prefix, read line by line.

Reading needs s3:ListBucket (objects and multipart uploads) and s3:GetObject on the router's bucket, which the
stack grants only for the buckets its FirelensLogBuckets parameter names.
"""

from __future__ import annotations

import codecs
import gzip
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from ecsrun.domain.errors import EcsrunError

GZIP_MAGIC = b"\x1f\x8b"


class FirelensFilesUnreadable(EcsrunError):
    """The router's bucket cannot be listed or read (no such bucket, or access denied)."""


@dataclass(frozen=True)
class RouterFile:
    key: str
    size: int
    last_modified: datetime


def _natural(key: str) -> list[Any]:
    """Numbers compare as numbers ($INDEX 10 after 9), so keys sort in the order Fluent Bit wrote them."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", key)]


def _unreadable(bucket: str, exc: ClientError) -> FirelensFilesUnreadable:
    error = exc.response.get("Error", {})
    return FirelensFilesUnreadable(f"s3://{bucket}: {error.get('Code')}: {error.get('Message', '')}".rstrip(": "))


class RouterFiles:
    """One bucket's files, through an S3 client of the bucket's region."""

    def __init__(self, s3: Any, bucket: str):
        self._s3, self.bucket = s3, bucket

    def listed(self, prefix: str) -> list[RouterFile]:
        """Every file under `prefix`, in the order they were written (upload time, then key)."""
        found: list[RouterFile] = []
        try:
            for page in self._s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
                found.extend(
                    RouterFile(item["Key"], int(item.get("Size", 0)), item["LastModified"])
                    for item in page.get("Contents", [])
                )
        except ClientError as exc:
            raise _unreadable(self.bucket, exc) from exc
        # S3's LastModified has whole seconds: within one, the key's own order ($INDEX, time fields) decides.
        return sorted(found, key=lambda f: (f.last_modified.replace(microsecond=0), _natural(f.key)))

    def open_uploads(self, prefix: str) -> list[str]:
        """Keys of multipart uploads started under `prefix` and neither completed nor aborted."""
        keys: list[str] = []
        try:
            pages = self._s3.get_paginator("list_multipart_uploads").paginate(Bucket=self.bucket, Prefix=prefix)
            for page in pages:
                keys.extend(upload["Key"] for upload in page.get("Uploads", []))
        except ClientError as exc:
            raise _unreadable(self.bucket, exc) from exc
        return keys

    def lines(self, key: str) -> Iterator[str]:
        """The file's lines, decompressed (Fluent Bit's `compression gzip`) and decoded as they are read: memory
        holds one chunk, never the file."""
        try:
            body = self._s3.get_object(Bucket=self.bucket, Key=key)["Body"]
        except ClientError as exc:
            raise _unreadable(self.bucket, exc) from exc
        head = body.read(2)
        raw: Any = _Prepended(head, body)
        stream: Any = gzip.GzipFile(fileobj=raw) if head == GZIP_MAGIC else raw
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        pending = ""
        try:
            while chunk := stream.read(1024 * 1024):
                pending += decoder.decode(chunk)
                *complete, pending = pending.split("\n")
                yield from complete
            pending += decoder.decode(b"", final=True)
            if pending:
                yield pending
        finally:
            body.close()


class _Prepended:
    """A body whose first bytes were read already (to sniff gzip), readable from the start again."""

    def __init__(self, head: bytes, body: Any):
        self._head, self._body = head, body

    def read(self, size: int = -1) -> bytes:
        if self._head:
            head, self._head = self._head, b""
            if size is None or size < 0:
                return head + bytes(self._body.read())
            return head + bytes(self._body.read(max(0, size - len(head))))
        return bytes(self._body.read() if size is None or size < 0 else self._body.read(size))
