"""Checkpoints of log copies that paused, kept in the logs bucket beside the run's logs.

The checkpoint document is small and rewritten whole after the pending bytes it names are staged, so an
invocation that dies between the two leaves the previous checkpoint intact and still consistent.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from ecsrun.domain.keys import checkpoint_key, pending_key, staging_prefix
from ecsrun.domain.models.logs import CopyCheckpoint


class CopyCheckpoints:
    def __init__(self, s3: Any, bucket: str):
        self._s3, self._bucket = s3, bucket

    def load(self, run_id: str) -> CopyCheckpoint | None:
        try:
            body = self._s3.get_object(Bucket=self._bucket, Key=checkpoint_key(run_id))["Body"].read()
        except ClientError as exc:
            # S3 answers 403 rather than 404 for a missing key unless ListBucket covers it, and the copy's
            # ListBucket is conditioned on a prefix that a GetObject request does not carry.
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "AccessDenied", "403"):
                return None
            raise
        return CopyCheckpoint.model_validate_json(body)

    def save(self, checkpoint: CopyCheckpoint) -> None:
        self._s3.put_object(
            Bucket=self._bucket,
            Key=checkpoint_key(checkpoint.runId),
            Body=checkpoint.model_dump_json().encode(),
            ContentType="application/json",
        )

    def stage(self, run_id: str, container: str, seq: int, data: bytes) -> str | None:
        """Keep bytes short of a multipart part until the next invocation; None when there are none."""
        if not data:
            return None
        key = pending_key(run_id, container, seq)
        self._s3.put_object(Bucket=self._bucket, Key=key, Body=data)
        return key

    def staged(self, key: str | None) -> bytes:
        if key is None:
            return b""
        body: bytes = self._s3.get_object(Bucket=self._bucket, Key=key)["Body"].read()
        return body

    def discard_staged(self, run_id: str) -> None:
        """Remove every staged remainder once the copy is done (also those a retry superseded). The checkpoint
        itself stays, saved as finished: a retry of the last invocation then recomposes the same outcome
        instead of copying everything again. It expires with the run's logs."""
        pages = self._s3.get_paginator("list_objects_v2").paginate(Bucket=self._bucket, Prefix=staging_prefix(run_id))
        keep = checkpoint_key(run_id)
        keys = [{"Key": item["Key"]} for page in pages for item in page.get("Contents", []) if item["Key"] != keep]
        for start in range(0, len(keys), 1000):  # DeleteObjects takes at most 1,000 keys
            self._s3.delete_objects(Bucket=self._bucket, Delete={"Objects": keys[start : start + 1000], "Quiet": True})
