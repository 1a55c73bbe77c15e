"""DynamoDB and CloudWatch Logs requests on the local engine are served whole, as AWS serves them: moto's backends
are not thread-safe, and the caller, the functions, the agent and EventBridge's deliveries are threads of one
process."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from ecsrun.local.runtime import DEMO_LOG_GROUP, TABLE, LocalAws


@contextmanager
def _threads_switched_often() -> Iterator[None]:
    """A loaded machine: the interpreter switches threads every 10 µs instead of every 5 ms."""
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    try:
        yield
    finally:
        sys.setswitchinterval(interval)


def _while_writing(write: Callable[[], None], read: Callable[[], Any]) -> list[str]:
    """Read in a loop until `write` returns in another thread; what each failed read raised."""
    written, errors = threading.Event(), []

    def writer() -> None:
        try:
            write()
        finally:
            written.set()

    def reader() -> None:
        while not written.is_set():
            try:
                read()
            except Exception as error:  # what moto raised mid-iteration, reported by the caller
                errors.append(repr(error))

    threads = [threading.Thread(target=writer), threading.Thread(target=reader)]
    with _threads_switched_often():
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    return errors


def test_an_item_read_while_another_thread_adds_attributes_to_it_is_answered() -> None:
    with LocalAws() as aws:
        # Given a run record with many attributes
        dynamodb = aws.client("dynamodb")
        key = {"runId": {"S": "busy"}}
        dynamodb.put_item(TableName=TABLE, Item={**key, **{f"note{i}": {"S": "x"} for i in range(500)}})

        def add_attributes() -> None:
            for n in range(50):
                dynamodb.update_item(
                    TableName=TABLE,
                    Key=key,
                    UpdateExpression=f"SET added{n} = :v",
                    ExpressionAttributeValues={":v": {"S": "y"}},
                )

        # When one thread adds attributes to it while another reads it with a projection
        errors = _while_writing(
            add_attributes, lambda: dynamodb.get_item(TableName=TABLE, Key=key, ProjectionExpression="runId")
        )
        # Then every read was answered, and the item holds every attribute written
        assert errors == []
        item = dynamodb.get_item(TableName=TABLE, Key=key)["Item"]
        assert {f"added{n}" for n in range(50)} <= set(item)


def test_log_streams_listed_while_another_thread_creates_them_are_answered() -> None:
    with LocalAws() as aws:
        # Given the demo log group with many streams
        logs = aws.client("logs")
        for n in range(300):
            logs.create_log_stream(logGroupName=DEMO_LOG_GROUP, logStreamName=f"old/{n}")

        def create_streams() -> None:
            for n in range(50):
                logs.create_log_stream(logGroupName=DEMO_LOG_GROUP, logStreamName=f"new/{n}")

        # When one thread creates streams in it while another lists them
        errors = _while_writing(create_streams, lambda: logs.describe_log_streams(logGroupName=DEMO_LOG_GROUP))
        # Then every listing was answered, and the group holds every stream created
        assert errors == []
        pages = logs.get_paginator("describe_log_streams").paginate(logGroupName=DEMO_LOG_GROUP)
        names = {stream["logStreamName"] for page in pages for stream in page["logStreams"]}
        assert {f"new/{n}" for n in range(50)} <= names
