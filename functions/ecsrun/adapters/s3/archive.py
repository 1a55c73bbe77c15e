"""Read a run's logs back by run id, from the logs bucket or from an artifacts directory.

Streaming: a log is decompressed line by line as it is read, whatever its size.
"""

from __future__ import annotations

import gzip
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, Protocol

from botocore.exceptions import ClientError

from ecsrun.domain.errors import EcsrunError
from ecsrun.domain.keys import manifest_key

PRESIGNED_SECONDS = 3600


class LogsNotFound(EcsrunError):
    """No manifest for this run id (or no such container in it)."""


class LogSource(Protocol):
    def open(self, key: str) -> IO[bytes]: ...

    def url(self, key: str) -> str: ...


class BucketSource:
    """The stack's logs bucket; needs s3:GetObject only."""

    def __init__(self, s3: Any, bucket: str):
        self._s3, self._bucket = s3, bucket

    def open(self, key: str) -> IO[bytes]:
        try:
            return self._s3.get_object(Bucket=self._bucket, Key=key)["Body"]  # type: ignore[no-any-return]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "AccessDenied"):
                raise LogsNotFound(f"s3://{self._bucket}/{key}: {exc.response['Error'].get('Code')}") from exc
            raise

    def url(self, key: str) -> str:
        params = {"Bucket": self._bucket, "Key": key}
        return str(self._s3.generate_presigned_url("get_object", Params=params, ExpiresIn=PRESIGNED_SECONDS))


class DirectorySource:
    """An artifacts directory written by `ecsrun local run --artifacts DIR` (DIR/<key>)."""

    def __init__(self, root: Path):
        self._root = root

    def open(self, key: str) -> IO[bytes]:
        path = self._root / key
        if not path.is_file():
            raise LogsNotFound(f"{path}: no such file")
        return path.open("rb")

    def url(self, key: str) -> str:
        return (self._root / key).resolve().as_uri()


def read_manifest(source: LogSource, run_id: str) -> dict[str, Any]:
    with source.open(manifest_key(run_id)) as body:
        return dict(json.load(body))


def containers(manifest: dict[str, Any], only: str | None = None) -> list[dict[str, Any]]:
    entries = list(manifest.get("logs", {}).get("containers", []))
    if only is None:
        return entries
    chosen = [e for e in entries if e["name"] == only]
    if not chosen:
        names = ", ".join(e["name"] for e in entries) or "none"
        raise LogsNotFound(f"run {manifest.get('runId')} has no container {only!r} (containers: {names})")
    return chosen


def lines(source: LogSource, key: str) -> Iterator[str]:
    """The log's lines, decompressed as they are read."""
    with source.open(key) as raw, gzip.GzipFile(fileobj=raw) as unzipped:
        yield from io.TextIOWrapper(unzipped, encoding="utf-8", newline="\n")
