"""The AWS edges: streaming into S3, and reading a log stream to its true end."""

from __future__ import annotations

import os

import boto3
import pytest
from botocore.stub import Stubber
from ecsrun.adapters.cloudwatch_logs import LogStreamMissing, iter_log_events
from ecsrun.adapters.s3_writer import MIN_PART_SIZE, S3StreamWriter

from tests.conftest import BUCKET, REGION, Stack


def test_a_small_object_is_one_put(stack: Stack) -> None:
    writer = S3StreamWriter(stack.s3, BUCKET, "small.txt", ContentType="text/plain")
    writer.write(b"hello\n")
    writer.close()
    obj = stack.s3.get_object(Bucket=BUCKET, Key="small.txt")
    assert obj["Body"].read() == b"hello\n"
    assert obj["ContentType"] == "text/plain"


def test_a_large_object_streams_in_parts_and_arrives_whole(stack: Stack) -> None:
    # Given 12 MiB written in uneven chunks, with 5 MiB parts
    data = os.urandom(12 * 1024 * 1024 + 17)
    writer = S3StreamWriter(stack.s3, BUCKET, "large.bin", part_size=MIN_PART_SIZE)
    for offset in range(0, len(data), 777_777):
        writer.write(data[offset : offset + 777_777])
    # When closed, Then the object is byte-identical and was uploaded in 3 parts
    writer.close()
    head = stack.s3.head_object(Bucket=BUCKET, Key="large.bin", PartNumber=1)
    assert head["PartsCount"] == 3
    assert stack.s3.get_object(Bucket=BUCKET, Key="large.bin")["Body"].read() == data


def test_an_aborted_upload_leaves_nothing_behind(stack: Stack) -> None:
    writer = S3StreamWriter(stack.s3, BUCKET, "partial.bin", part_size=MIN_PART_SIZE)
    writer.write(os.urandom(MIN_PART_SIZE + 1))  # one part uploaded
    writer.abort()
    writer.close()
    assert "Contents" not in stack.s3.list_objects_v2(Bucket=BUCKET)
    assert "Uploads" not in stack.s3.list_multipart_uploads(Bucket=BUCKET)


def test_parts_below_the_s3_minimum_are_refused() -> None:
    with pytest.raises(ValueError, match="part_size"):
        S3StreamWriter(object(), BUCKET, "k", part_size=MIN_PART_SIZE - 1)


def _page(events: list[str], token: str) -> dict:
    return {
        "events": [{"timestamp": 1000 + i, "message": m, "ingestionTime": 2000} for i, m in enumerate(events)],
        "nextForwardToken": token,
        "nextBackwardToken": "b/0",
    }


def test_empty_pages_before_the_end_do_not_stop_the_read() -> None:
    # Given GetLogEvents returns an empty page with a new token before more events (as it can)
    logs = boto3.client("logs", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")
    stubber = Stubber(logs)
    stubber.add_response("get_log_events", _page(["a", "b"], "f/1"))
    stubber.add_response("get_log_events", _page([], "f/2"))
    stubber.add_response("get_log_events", _page(["c"], "f/3"))
    stubber.add_response("get_log_events", _page([], "f/3"))  # the token repeats: the true end
    # When the stream is read, Then every event is returned and reading stops at the repeated token
    with stubber:
        messages = [e["message"] for e in iter_log_events(logs, "group", "stream")]
    assert messages == ["a", "b", "c"]
    stubber.assert_no_pending_responses()


def test_a_missing_stream_is_reported_as_such(stack: Stack) -> None:
    stack.logs.create_log_group(logGroupName="g")
    with pytest.raises(LogStreamMissing):
        list(iter_log_events(stack.logs, "g", "missing"))
    with pytest.raises(LogStreamMissing):
        list(iter_log_events(stack.logs, "no-such-group", "s"))
