"""The AWS edges: streaming into S3, and reading a log stream to its true end."""

from __future__ import annotations

import json
import os

import boto3
import pytest
from botocore.stub import ANY, Stubber
from ecsrun.adapters.cloudwatch_logs import LogStreamMissing, iter_log_pages
from ecsrun.adapters.s3.writer import MIN_PART_SIZE, S3StreamWriter, Suspended
from ecsrun.domain.keys import checkpoint_key

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


def test_a_suspended_upload_continues_in_a_new_writer_and_arrives_whole(stack: Stack) -> None:
    # Given a write suspended after 1.5 parts, its short remainder kept aside (as a checkpoint keeps it)
    data = os.urandom(3 * MIN_PART_SIZE + 99)
    first = S3StreamWriter(stack.s3, BUCKET, "resumed.bin", part_size=MIN_PART_SIZE)
    first.write(data[: MIN_PART_SIZE + MIN_PART_SIZE // 2])
    held = first.suspend()
    assert held.upload_id is not None and len(held.parts) == 1 and len(held.pending) == MIN_PART_SIZE // 2
    # Then nothing is visible yet: the upload is neither completed nor aborted
    assert "Contents" not in stack.s3.list_objects_v2(Bucket=BUCKET)
    assert len(stack.s3.list_multipart_uploads(Bucket=BUCKET)["Uploads"]) == 1
    # When a new writer resumes from it and writes the rest
    second = S3StreamWriter(stack.s3, BUCKET, "resumed.bin", part_size=MIN_PART_SIZE, resume_from=held)
    second.write(data[MIN_PART_SIZE + MIN_PART_SIZE // 2 :])
    second.close()
    # Then the object is byte-identical, in 4 parts
    assert stack.s3.get_object(Bucket=BUCKET, Key="resumed.bin")["Body"].read() == data
    assert stack.s3.head_object(Bucket=BUCKET, Key="resumed.bin", PartNumber=1)["PartsCount"] == 4


def test_a_small_suspended_write_has_no_upload_and_ends_as_one_put(stack: Stack) -> None:
    first = S3StreamWriter(stack.s3, BUCKET, "tiny.txt")
    first.write(b"hello ")
    held = first.suspend()
    assert held == Suspended(None, [], b"hello ")
    second = S3StreamWriter(stack.s3, BUCKET, "tiny.txt", resume_from=held)
    second.write(b"world")
    second.close()
    assert stack.s3.get_object(Bucket=BUCKET, Key="tiny.txt")["Body"].read() == b"hello world"
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
    # When the stream is read
    with stubber:
        pages = list(iter_log_pages(logs, "group", "stream"))
    # Then every event is returned, reading stops at the repeated token, and the terminal page is not a page
    assert [e["message"] for p in pages for e in p.events] == ["a", "b", "c"]
    assert [p.next_token for p in pages] == ["f/1", "f/2", "f/3"]
    stubber.assert_no_pending_responses()


def test_reading_resumes_from_a_forward_token() -> None:
    # Given a reader that stopped after the page whose forward token is f/1
    logs = boto3.client("logs", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")
    stubber = Stubber(logs)
    expected = {"logGroupName": "group", "logStreamName": "stream", "startFromHead": True, "nextToken": "f/1"}
    stubber.add_response("get_log_events", _page(["c"], "f/2"), expected)
    stubber.add_response("get_log_events", _page([], "f/2"), {**expected, "nextToken": "f/2"})
    # When reading resumes from that token, Then the first call asks for it and only later events come back
    with stubber:
        pages = list(iter_log_pages(logs, "group", "stream", "f/1"))
    assert [e["message"] for p in pages for e in p.events] == ["c"]
    stubber.assert_no_pending_responses()


def test_a_missing_stream_is_reported_as_such(stack: Stack) -> None:
    stack.logs.create_log_group(logGroupName="g")
    with pytest.raises(LogStreamMissing):
        list(iter_log_pages(stack.logs, "g", "missing"))
    with pytest.raises(LogStreamMissing):
        list(iter_log_pages(stack.logs, "no-such-group", "s"))


def test_copy_checkpoints_round_trip_and_leave_only_the_checkpoint_when_done(stack: Stack) -> None:
    from ecsrun.adapters.s3.checkpoints import CopyCheckpoints
    from ecsrun.domain.models.logs import ContainerCopy, CopyCheckpoint, LogProgress

    store = CopyCheckpoints(stack.s3, BUCKET)
    # Given no checkpoint yet, Then loading finds none
    assert store.load("run-1") is None
    # When pending bytes are staged (none staged when there are none) and the checkpoint saved
    assert store.stage("run-1", "app", 1, b"") is None
    first = store.stage("run-1", "app", 1, b"gzip bytes short of a part")
    second = store.stage("run-1", "app", 2, b"later bytes")
    saved = CopyCheckpoint(
        runId="run-1",
        seq=2,
        current=ContainerCopy(name="app", progress=LogProgress(token="f/2", events=9), pendingKey=second),
    )
    store.save(saved)
    # Then it loads back whole, and each staged key holds its own bytes
    assert store.load("run-1") == saved
    assert store.staged(first) == b"gzip bytes short of a part" and store.staged(second) == b"later bytes"
    assert store.staged(None) == b""
    # When the copy is done, Then the staged bytes go (superseded ones too) and the checkpoint stays
    store.discard_staged("run-1")
    listed = stack.s3.list_objects_v2(Bucket=BUCKET, Prefix="runs/run-1/")
    assert [o["Key"] for o in listed["Contents"]] == [checkpoint_key("run-1")]


def test_a_record_without_a_token_is_moved_on_only_while_it_still_has_none(stack: Stack) -> None:
    """DynamoDB compares a missing attribute with nothing: `#taskToken = :null` would never hold for an array's
    parent (which has no token), so its condition asks for the attribute's absence instead."""
    from ecsrun.adapters.dynamodb import RunsTable, new_record
    from ecsrun.domain.errors import StaleRecord
    from ecsrun.domain.models.run import Run

    table = boto3.resource("dynamodb", region_name=REGION).Table("runs-test")
    store = RunsTable(table)
    run = Run(runId="parent", timeoutSeconds=60, successExitCodes=[0], request={})
    record = new_record(runId="parent", executionArn="arn:x", startedBy="", clientToken="", run=run, ttl_days=1)
    store.create(record)
    # Given a record read without a token, When it is aborted from that state, Then the write holds
    aborted = store.mark_aborted(record, "gone")
    assert (aborted.status.value, aborted.stopReason) == ("ABORTED", "gone")
    # And when a token appeared meanwhile, the same write from the old read is refused
    other = new_record(runId="other", executionArn="arn:x", startedBy="", clientToken="", run=run, ttl_days=1)
    store.create(other)
    table.update_item(
        Key={"runId": "other"}, UpdateExpression="SET taskToken = :t", ExpressionAttributeValues={":t": "t"}
    )
    with pytest.raises(StaleRecord):
        store.mark_aborted(other, "gone")


# ---- Step Functions callbacks: within SendTaskFailure's bounds ----


def test_a_failure_cause_too_long_for_step_functions_is_sent_as_bounded_json() -> None:
    # Given a cause of 100,000 characters (a JSON document) and an error name of 300
    from ecsrun.adapters.stepfunctions import Callbacks

    sfn = boto3.client("stepfunctions", region_name="us-east-1")
    sent: dict[str, str] = {}
    with Stubber(sfn) as stub:
        stub.add_response("send_task_failure", {}, {"taskToken": "t", "error": ANY, "cause": ANY})
        sfn.meta.events.register("before-parameter-build.*.*", lambda params, **_: sent.update(params))
        # When it is sent (the Stubber checks every parameter against the API model: cause <= 32,768, error <= 256)
        Callbacks(sfn).fail("t", "E" * 300, json.dumps({"runId": "r", "message": "m" * 100_000}))
    # Then the cause is still JSON, says it was cut, and the error is within 256 characters
    assert len(sent["error"]) == 256
    cause = json.loads(sent["cause"])
    assert len(sent["cause"]) <= 32_768
    assert cause["runId"] == "r" and cause["truncated"] == {"message": {"characters": 100_000}}
