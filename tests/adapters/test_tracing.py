"""Every AWS call a function makes is one X-Ray subsegment of its invocation, sent to the daemon over UDP."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from ecsrun.adapters import clients
from ecsrun.plumbing import tracing

from tests.conftest import TABLE, Stack

ROOT, PARENT = "1-67891233-abcdef012345678912345678", "53995c3f42cd8ad8"


@pytest.fixture
def daemon(monkeypatch: pytest.MonkeyPatch) -> Iterator[socket.socket]:
    """A UDP socket where the X-Ray daemon would listen, and a sampled invocation's trace header."""
    listening = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    listening.bind(("127.0.0.1", 0))
    listening.settimeout(2)
    monkeypatch.setenv("AWS_XRAY_DAEMON_ADDRESS", f"127.0.0.1:{listening.getsockname()[1]}")
    monkeypatch.setenv("_X_AMZN_TRACE_ID", f"Root={ROOT};Parent={PARENT};Sampled=1")
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "false")
    clients.reset()  # clients made from here on are traced
    yield listening
    listening.close()
    clients.reset()


def _received(daemon: socket.socket, first_within: float = 10) -> list[dict[str, Any]]:
    """Every document sent: the first is waited for (a loaded machine may be slow to send it), then 0.5 s of quiet
    ends the list."""
    documents = []
    daemon.settimeout(first_within)
    try:
        while True:
            datagram = daemon.recv(65_536)
            daemon.settimeout(0.5)
            header, _, body = datagram.partition(b"\n")
            assert json.loads(header) == {"format": "json", "version": 1}
            documents.append(json.loads(body))
    except TimeoutError:
        return documents


def test_a_call_is_a_subsegment_of_the_invocation(stack: Stack, daemon: socket.socket) -> None:
    # Given a traced table, in a sampled invocation
    table = clients.table(TABLE)
    # When the function reads an item
    table.get_item(Key={"runId": "nothing"})
    # Then the daemon gets one subsegment of the invocation's segment, named as the X-Ray SDK names it (the
    # service's endpoint prefix)
    [document] = _received(daemon)
    assert document["type"] == "subsegment" and document["namespace"] == "aws"
    assert (document["trace_id"], document["parent_id"]) == (ROOT, PARENT)
    assert document["name"] == "dynamodb" and len(document["id"]) == 16
    assert document["aws"]["operation"] == "GetItem" and document["aws"]["region"] == "us-east-1"
    assert document["http"] == {"response": {"status": 200}}
    assert (document["error"], document["throttle"], document["fault"]) == (False, False, False)
    assert 0 <= document["end_time"] - document["start_time"] < 60


def test_a_refused_call_is_an_error_and_the_call_still_fails_as_it_would(stack: Stack, daemon: socket.socket) -> None:
    # Given a traced ECS client (made here: the process-wide cache can be refilled by another test's late thread
    # with a client made before tracing was on), When it describes a task definition that does not exist
    ecs = tracing.trace_calls(boto3.client("ecs", region_name="us-east-1"))
    with pytest.raises(ecs.exceptions.ClientError):
        ecs.describe_task_definition(taskDefinition="no-such-family")
    # Then the subsegment says the call failed on the client's side, and the service's error code
    [document] = _received(daemon)
    assert document["name"] == "ecs" and document["aws"]["operation"] == "DescribeTaskDefinition"
    assert document["http"]["response"]["status"] >= 400 and document["error"] is True
    assert document["fault"] is False
    [exception] = document["cause"]["exceptions"]
    assert exception["type"] == "ClientException" and exception["remote"] is True


def test_a_call_that_never_got_an_answer_is_a_fault(env: None, daemon: socket.socket) -> None:
    # Given a client whose endpoint refuses connections, without retries
    config = Config(retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=1)
    s3 = tracing.trace_calls(
        boto3.client("s3", region_name="us-east-1", endpoint_url="http://127.0.0.1:9", config=config)
    )
    # When a call cannot connect, Then it raises as it would, and its subsegment is a fault naming the exception
    with pytest.raises(Exception, match="Could not connect"):
        s3.list_buckets()
    [document] = _received(daemon)
    assert document["name"] == "s3" and document["fault"] is True
    assert document["cause"]["exceptions"][0]["type"] == "EndpointConnectionError"


@pytest.mark.parametrize(
    "header",
    [f"Root={ROOT};Parent={PARENT};Sampled=0", "", f"Root={ROOT};Sampled=1"],
    ids=["not sampled", "no trace header (outside Lambda)", "no parent"],
)
def test_nothing_is_sent_for_an_invocation_that_is_not_traced(
    stack: Stack, daemon: socket.socket, monkeypatch: pytest.MonkeyPatch, header: str
) -> None:
    monkeypatch.setenv("_X_AMZN_TRACE_ID", header)
    clients.table(TABLE).get_item(Key={"runId": "nothing"})
    assert _received(daemon, first_within=2) == []


def test_with_tracing_disabled_clients_are_not_traced(
    stack: Stack, daemon: socket.socket, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given POWERTOOLS_TRACE_DISABLED (the local engine's and the tests' setting) when the client is made
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    clients.reset()
    clients.table(TABLE).get_item(Key={"runId": "nothing"})
    assert _received(daemon, first_within=2) == []


def test_a_daemon_that_cannot_be_reached_costs_the_call_nothing(
    stack: Stack, daemon: socket.socket, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a daemon address that is not even an address
    monkeypatch.setenv("AWS_XRAY_DAEMON_ADDRESS", "not-an-address")
    # When the function calls AWS, Then the call succeeds
    assert "Item" not in clients.table(TABLE).get_item(Key={"runId": "nothing"})
