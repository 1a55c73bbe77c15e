"""The copy-logs function: every container's log in S3, a manifest, and the run's final outcome."""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import json
import math
import time
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber
from ecsrun.adapters import clients
from ecsrun.adapters.dynamodb import RunsTable
from ecsrun.domain.logformat import iso_utc
from ecsrun.handlers import copy_logs, wiring
from ecsrun.steps.finish import finish_run

from tests.conftest import BUCKET, EVENTS, REGION, TABLE, Stack, context, ecs_event, listen_for_completions
from tests.handlers.helpers import EXECUTION, deliver, start, start_run, validated_run, validated_then

# The lines were written an hour ago, by the clock the code and moto read: CloudWatch Logs takes events of the
# last 14 days only, so a fixed date would age out of it (and `make test` runs this suite a year ahead).
T0 = (int(time.time()) - 3600) * 1000


def _run_to_stop(stack: Stack, sfn: Stubber, definition: str, request: str, sample: str, method: str) -> dict:
    stack.register(definition)
    started = start(stack.request(request))
    sfn.add_response(
        method,
        {},
        {
            "taskToken": "token-start-1",
            **({"output": ANY} if method == "send_task_success" else {"error": ANY, "cause": ANY}),
        },
    )
    deliver(ecs_event(sample, taskArn=started["taskArn"], startedBy=f"ecsrun/{started['runId']}"))
    return started


def _write_logs(stack: Stack, container: str, task_arn: str, messages: list[str]) -> str:
    stream = f"ecs/{container}/{task_arn.rsplit('/', 1)[-1]}"
    with contextlib.suppress(stack.logs.exceptions.ResourceAlreadyExistsException):
        stack.logs.create_log_group(logGroupName="/ecs/ecsrun-demo")
    stack.logs.create_log_stream(logGroupName="/ecs/ecsrun-demo", logStreamName=stream)
    for start_at in range(0, len(messages), 10_000):  # PutLogEvents takes at most 10,000 events
        batch = messages[start_at : start_at + 10_000]
        events = [{"timestamp": T0 + start_at + i, "message": m} for i, m in enumerate(batch)]
        stack.logs.put_log_events(logGroupName="/ecs/ecsrun-demo", logStreamName=stream, logEvents=events)
    return stream


def _payload(request: dict, failure: dict | None = None, execution: str = EXECUTION) -> dict:
    return {"run": validated_run(request), "executionArn": execution, **({"failure": failure} if failure else {})}


def _copy(request: dict, failure: dict | None = None, execution: str = EXECUTION) -> dict:
    """One invocation with the whole of Lambda's time: the copy finishes in it."""
    response = copy_logs.handler(_payload(request, failure, execution), context())
    assert response["done"] is True and response["checkpoint"] is None, response
    return dict(response["outcome"])


def _copy_in_steps(payload: dict, monkeypatch: pytest.MonkeyPatch, *, repeat_each: int = 1) -> tuple[dict, int]:
    """Invoke as the state machine does, feeding each result back as $.logCopy, with so little time to spare
    that every invocation pauses at its first chance. `repeat_each` re-sends each payload, as a retried
    invocation would after the first attempt had already saved its checkpoint."""
    monkeypatch.setenv("COPY_RESERVE_SECONDS", str(10**6))
    invocations = 0
    while True:
        for _ in range(repeat_each):
            response = copy_logs.handler(payload, context())
            invocations += 1
        if response["done"]:
            assert response["checkpoint"] is None
            return dict(response["outcome"]), invocations
        assert response["outcome"] is None and response["checkpoint"]["seq"] >= 1
        payload = {**payload, "logCopy": response}


def _object(stack: Stack, key: str) -> bytes:
    return stack.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()


def test_success_copies_logs_and_writes_the_manifest(stack: Stack, sfn: Stubber) -> None:
    # Given a run that succeeded and wrote three lines
    started = _run_to_stop(stack, sfn, "hello.json", "hello.json", "stopped-success.json", "send_task_success")
    stream = _write_logs(stack, "app", started["taskArn"], ["hello", "héllo wörld ✓", "done"])
    # When logs are copied
    result = _copy(stack.request())
    # Then the output names the task and where its logs are
    assert result["status"] == "SUCCEEDED"
    output = result["output"]
    assert output["runId"] == "hello-demo"
    assert output["status"] == "SUCCEEDED"
    assert output["task"]["taskArn"] == started["taskArn"]
    assert output["task"]["containers"] == [{"name": "app", "essential": True, "exitCode": 0, "reason": None}]
    assert output["logs"]["bucket"] == BUCKET
    assert output["logs"]["manifestKey"] == "runs/hello-demo/manifest.json"
    entry = output["logs"]["containers"][0]
    assert entry | {"bytes": 0} == {
        "name": "app",
        "logGroup": "/ecs/ecsrun-demo",
        "logStream": stream,
        "key": "runs/hello-demo/logs/app.log.gz",
        "events": 3,
        "bytes": 0,
    }
    # And the S3 object is gzip text, one event per line, with ISO-8601 UTC timestamps
    text = gzip.decompress(_object(stack, entry["key"])).decode()
    assert text.splitlines() == [
        f"{iso_utc(T0)} hello",
        f"{iso_utc(T0 + 1)} héllo wörld ✓",
        f"{iso_utc(T0 + 2)} done",
    ]
    assert entry["bytes"] == len(text.encode())
    # And the manifest records the sha256 of the uncompressed text
    manifest = json.loads(_object(stack, "runs/hello-demo/manifest.json"))
    assert manifest["logs"]["containers"][0]["sha256"] == hashlib.sha256(text.encode()).hexdigest()
    assert manifest["logs"]["containers"][0]["complete"] is True
    assert manifest["status"] == "SUCCEEDED"
    record = stack.table.get_item(Key={"runId": "hello-demo"})["Item"]
    assert record["status"] == "SUCCEEDED"


def test_failure_cause_carries_the_last_twenty_lines(stack: Stack, sfn: Stubber) -> None:
    # Given a failed run whose container wrote 30 lines
    started = _run_to_stop(stack, sfn, "failing.json", "failing.json", "stopped-nonzero.json", "send_task_failure")
    _write_logs(stack, "app", started["taskArn"], [f"line {i}" for i in range(30)])
    # When logs are copied
    result = _copy(stack.request("failing.json"), {"Error": "ECS.ContainerExitedNonZero", "Cause": "{}"})
    # Then the outcome is the verdict's error, with the failing container's last 20 lines
    assert result["status"] == "FAILED"
    assert result["error"] == "ECS.ContainerExitedNonZero"
    cause = json.loads(result["cause"])
    assert cause["message"] == "essential container 'app' exited with code 3"
    assert cause["lastLogLines"]["container"] == "app"
    assert [line.split(" ", 1)[1] for line in cause["lastLogLines"]["lines"]] == [f"line {i}" for i in range(10, 30)]
    assert cause["logs"]["containers"][0]["events"] == 30
    assert cause["task"]["containers"][0]["exitCode"] == 3
    # And the logs were still copied in full
    assert len(gzip.decompress(_object(stack, "runs/failing-demo/logs/app.log.gz")).splitlines()) == 30


def test_a_container_without_logs_is_recorded_not_an_error(stack: Stack, sfn: Stubber) -> None:
    # Given a succeeded run whose container never wrote to its stream
    _run_to_stop(stack, sfn, "hello.json", "hello.json", "stopped-success.json", "send_task_success")
    # When logs are copied, Then the run still succeeds and the manifest says there were no logs
    result = _copy(stack.request())
    assert result["status"] == "SUCCEEDED"
    entry = result["output"]["logs"]["containers"][0]
    assert entry["key"] is None
    assert entry["note"].startswith("no logs:")
    assert "Contents" not in stack.s3.list_objects_v2(Bucket=BUCKET, Prefix="runs/hello-demo/logs/")


def test_a_log_longer_than_one_page_is_copied_whole(stack: Stack, sfn: Stubber) -> None:
    # Given 25,000 events (GetLogEvents returns at most 10,000 a page)
    started = _run_to_stop(stack, sfn, "hello.json", "hello.json", "stopped-success.json", "send_task_success")
    _write_logs(stack, "app", started["taskArn"], [f"event {i}" for i in range(25_000)])
    # When logs are copied, Then every event is in S3, in order
    result = _copy(stack.request())
    assert result["output"]["logs"]["containers"][0]["events"] == 25_000
    lines = gzip.decompress(_object(stack, "runs/hello-demo/logs/app.log.gz")).decode().splitlines()
    assert [line.split(" ", 1)[1] for line in (lines[0], lines[9_999], lines[10_000], lines[-1])] == [
        "event 0",
        "event 9999",
        "event 10000",
        "event 24999",
    ]


def test_a_run_whose_task_never_started_still_gets_a_manifest(stack: Stack, sfn: Stubber) -> None:
    # Given RunTask was refused: the cluster was gone by the time the run started
    stack.register("hello.json")
    sfn.add_response(
        "send_task_failure", {}, {"taskToken": "token-start-1", "error": "ECS.RunTaskFailed", "cause": ANY}
    )
    run = validated_then(stack.request(), cluster="missing")
    start_run(run)
    # When logs are copied, Then the outcome is ECS.RunTaskFailed and the manifest says the task never started
    failure = {"Error": "ECS.RunTaskFailed", "Cause": "{}"}
    response = copy_logs.handler({"run": run, "executionArn": EXECUTION, "failure": failure}, context())
    result = response["outcome"]
    assert result["error"] == "ECS.RunTaskFailed"
    manifest = json.loads(_object(stack, "runs/hello-demo/manifest.json"))
    assert manifest["logs"]["containers"] == [
        {
            "name": "app",
            "copied": False,
            "complete": False,
            "source": "cloudwatch-logs",
            "reason": "the task never started",
            "logGroup": None,
            "logStream": None,
            "region": None,
            "key": None,
            "events": 0,
            "bytes": 0,
            "sha256": None,
            "firstTimestamp": None,
            "lastTimestamp": None,
            "note": "the task never started",
            "sourceBucket": None,
            "sourcePrefix": None,
            "sourceObjects": None,
        }
    ]


def test_a_duplicate_execution_never_touches_the_first_runs_logs(stack: Stack, sfn: Stubber) -> None:
    # Given a finished run with its manifest
    started = _run_to_stop(stack, sfn, "hello.json", "hello.json", "stopped-success.json", "send_task_success")
    _write_logs(stack, "app", started["taskArn"], ["first run"])
    _copy(stack.request())
    before = _object(stack, "runs/hello-demo/manifest.json")
    # When another execution with the same runId reaches the copy step
    other = "arn:aws:states:us-east-1:123456789012:execution:ecsrun:second"
    result = _copy(stack.request(), {"Error": "Run.Duplicate", "Cause": None}, execution=other)
    # Then it fails as a duplicate naming the first execution, and the first run's objects are unchanged
    assert result["error"] == "Run.Duplicate"
    assert json.loads(result["cause"])["firstExecutionArn"] == EXECUTION
    assert _object(stack, "runs/hello-demo/manifest.json") == before


# ---- a log too large for one invocation ----


def _staged(stack: Stack, run_id: str) -> list[str]:
    """What a finished copy left under .copy/: only its checkpoint, saved as finished."""
    listed = stack.s3.list_objects_v2(Bucket=BUCKET, Prefix=f"runs/{run_id}/.copy/")
    return [item["Key"].rsplit("/", 1)[-1] for item in listed.get("Contents", [])]


def test_a_copy_paused_at_every_page_is_byte_identical_to_one_made_in_one_invocation(
    stack: Stack, sfn: Stubber, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a 25,000-event log: three GetLogEvents pages
    started = _run_to_stop(stack, sfn, "hello.json", "hello.json", "stopped-success.json", "send_task_success")
    messages = [f"event {i} ünïcödé" for i in range(25_000)]
    _write_logs(stack, "app", started["taskArn"], messages)
    key = "runs/hello-demo/logs/app.log.gz"
    # When it is copied in one invocation, and again with every invocation pausing after its first page
    whole = _copy(stack.request())
    whole_bytes = _object(stack, key)
    # (the record as it was before that copy ended the run: a CopyLogs retried after the end copies nothing again)
    stack.table.update_item(
        Key={"runId": "hello-demo"},
        UpdateExpression="SET #s = :stopped REMOVE outcome, logsCopied, announced",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":stopped": "STOPPED"},
    )
    stepped, invocations = _copy_in_steps(_payload(stack.request()), monkeypatch)
    # Then it took one invocation per page, plus one whose read found the end, and the object and its
    # figures are the same, byte for byte
    assert invocations == 4
    assert _object(stack, key) == whole_bytes
    assert stepped["output"]["logs"] == whole["output"]["logs"]
    entry = json.loads(_object(stack, "runs/hello-demo/manifest.json"))["logs"]["containers"][0]
    text = gzip.decompress(whole_bytes)
    assert entry["events"] == 25_000 and entry["bytes"] == len(text) and entry["complete"] is True
    assert entry["sha256"] == hashlib.sha256(text).hexdigest()
    assert [line.split(" ", 1)[1] for line in text.decode().splitlines()] == messages
    # And no staged bytes are left behind
    assert _staged(stack, "hello-demo") == ["checkpoint.json"]


def test_a_retried_invocation_after_a_saved_checkpoint_loses_and_repeats_nothing(
    stack: Stack, sfn: Stubber, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a multi-page log, and every invocation sent twice (the first attempt saved its checkpoint,
    # then died before the state machine saw its answer)
    started = _run_to_stop(stack, sfn, "hello.json", "hello.json", "stopped-success.json", "send_task_success")
    messages = [f"line {i}" for i in range(21_000)]
    _write_logs(stack, "app", started["taskArn"], messages)
    # When the copy is driven to its end
    outcome, _ = _copy_in_steps(_payload(stack.request()), monkeypatch, repeat_each=2)
    # Then every line is there exactly once, in order, and the manifest's hash is of that text
    text = gzip.decompress(_object(stack, "runs/hello-demo/logs/app.log.gz"))
    assert [line.split(" ", 1)[1] for line in text.decode().splitlines()] == messages
    manifest = json.loads(_object(stack, "runs/hello-demo/manifest.json"))
    assert manifest["logs"]["containers"][0]["sha256"] == hashlib.sha256(text).hexdigest()
    assert outcome["output"]["logs"]["containers"][0]["events"] == 21_000
    assert _staged(stack, "hello-demo") == ["checkpoint.json"]


def test_a_copy_pauses_between_containers_and_keeps_each_ones_tail(
    stack: Stack, sfn: Stubber, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a failed two-container run, each container with one page of logs
    started = _run_to_stop(
        stack, sfn, "two-containers.json", "two-containers.json", "stopped-nonzero.json", "send_task_failure"
    )
    names = [
        c["name"]
        for c in json.loads((EVENTS / "task-definitions/two-containers.json").read_text())["containerDefinitions"]
    ]
    for name in names:
        _write_logs(stack, name, started["taskArn"], [f"{name} {i}" for i in range(30)])
    # When the copy pauses at every chance
    outcome, invocations = _copy_in_steps(
        _payload(stack.request("two-containers.json"), {"Error": "ECS.ContainerExitedNonZero", "Cause": "{}"}),
        monkeypatch,
    )
    # Then it paused after each container's page and between the containers (2 + 2 invocations), copied
    # both, and the cause still has the failing container's last lines
    assert invocations == 4
    cause = json.loads(outcome["cause"])
    assert [c["events"] for c in cause["logs"]["containers"]] == [30, 30]
    assert len(cause["lastLogLines"]["lines"]) == 20
    assert _staged(stack, started["runId"]) == ["checkpoint.json"]


# ---- a stream's last lines, ingested late ----


def _iso(epoch_ms: int) -> str:
    return datetime.fromtimestamp(epoch_ms / 1000, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class LateFinalBatch:
    """GetLogEvents as CloudWatch Logs answers it (events oldest first, each with its `ingestionTime`; at the end
    of the stream the forward token you sent comes back), over each container's stream (`ecs/<name>/<task id>`),
    whose final batch, the awslogs driver's flush when the container stopped, becomes readable only when
    `arrive()` is called."""

    def __init__(self, **streams: tuple[list[dict[str, Any]], list[dict[str, Any]]]) -> None:
        self.events = {name: list(readable) for name, (readable, _) in streams.items()}
        self.final = {name: list(final) for name, (_, final) in streams.items()}
        self.served: list[dict[str, Any]] = []  # every event answered, in order: a stream read twice repeats some

    def arrive(self) -> None:
        for name, final in self.final.items():
            self.events[name] += final
        self.final = {name: [] for name in self.final}

    def get_log_events(self, *, logGroupName: str, logStreamName: str, startFromHead: bool, **kwargs: Any) -> dict:
        assert startFromHead is True
        events = self.events[logStreamName.split("/")[1]]
        token = kwargs.get("nextToken")
        start = int(token[2:]) if token else 0
        page = events[start : start + 10_000]
        end = start + len(page)
        self.served += page
        return {"events": page, "nextForwardToken": f"f/{end:08d}", "nextBackwardToken": f"b/{start:08d}"}


def _use_logs(monkeypatch: pytest.MonkeyPatch, fake: LateFinalBatch) -> None:
    """The handlers' wiring reads logs through `fake`; every other client is the usual one."""

    def client(service: str, region: str | None = None) -> Any:
        return fake if service == "logs" else clients.client(service, region)

    monkeypatch.setattr(wiring, "clients", SimpleNamespace(client=client, table=clients.table))


def _stopped_now(
    stack: Stack, sfn: Stubber, name: str = "hello.json", sample: str = "stopped-success.json"
) -> tuple[int, int]:
    """A run whose containers stopped 2 s ago and whose task stopped 1 s ago: (executionStoppedAt, stoppedAt) ms."""
    now = int(time.time() * 1000)
    containers_stopped, stopped = now - 2000, now - 1000
    stack.register(name)
    started = start(stack.request(name))
    method = "send_task_success" if sample == "stopped-success.json" else "send_task_failure"
    expected = {"output": ANY} if method == "send_task_success" else {"error": ANY, "cause": ANY}
    sfn.add_response(method, {}, {"taskToken": "token-start-1", **expected})
    event = ecs_event(
        sample,
        taskArn=started["taskArn"],
        startedBy=f"ecsrun/{started['runId']}",
        executionStoppedAt=_iso(containers_stopped),
        stoppedAt=_iso(stopped),
    )
    deliver(event)
    return containers_stopped, stopped


def _events(lines: list[str], written: int, ingested: int) -> list[dict[str, Any]]:
    return [{"timestamp": written + i, "message": m, "ingestionTime": ingested} for i, m in enumerate(lines)]


def _lines(stack: Stack, run_id: str = "hello-demo", container: str = "app") -> list[str]:
    text = gzip.decompress(_object(stack, f"runs/{run_id}/logs/{container}.log.gz")).decode()
    return [line.split(" ", 1)[1] for line in text.splitlines()]


def test_a_last_line_still_on_its_way_is_waited_for_by_the_state_machine_then_copied(
    stack: Stack, sfn: Stubber, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a task that wrote its last line just before it exited: the earlier lines were ingested while it ran,
    # the last one travels in the driver's final flush, which CloudWatch Logs has not ingested yet
    containers_stopped, stopped = _stopped_now(stack, sfn)
    logs = LateFinalBatch(
        app=(
            _events(["starting", "working"], containers_stopped - 9000, ingested=containers_stopped - 6000),
            _events(["last line before exit"], containers_stopped - 5, ingested=containers_stopped + 400),
        )
    )
    _use_logs(monkeypatch, logs)
    payload = _payload(stack.request())
    # When the copy runs (LogSettleSeconds 10)
    monkeypatch.setenv("LOG_SETTLE_SECONDS", "10")
    first = copy_logs.handler(payload, context())
    # Then it does not finish on what is there, nor wait inside the invocation: it asks the state machine to wait
    # out the rest of the settle time, from a checkpoint at the stream's forward token
    assert first["done"] is False and first["outcome"] is None and first["checkpoint"] == {"seq": 1}
    assert 1 <= first["waitSeconds"] <= 10
    assert "checkpoint.json" in _staged(stack, "hello-demo")
    assert first["waitSeconds"] >= math.ceil((stopped + 10_000 - time.time() * 1000) / 1000) - 1
    # When the final batch arrives meanwhile and the state machine continues the copy
    logs.arrive()
    second = copy_logs.handler({**payload, "logCopy": first}, context())
    # Then the copy is done, with every line, the last one included, once
    assert second["done"] is True and second["waitSeconds"] == 0
    assert second["outcome"]["status"] == "SUCCEEDED"
    assert _lines(stack) == ["starting", "working", "last line before exit"]
    assert second["outcome"]["output"]["logs"]["containers"][0]["events"] == 3
    entry = json.loads(_object(stack, "runs/hello-demo/manifest.json"))["logs"]["containers"][0]
    assert entry["events"] == 3 and entry["complete"] is True
    # And no event was read twice: the continued copy read on from where the first invocation stopped
    assert [e["message"] for e in logs.served] == ["starting", "working", "last line before exit"]


def test_a_final_batch_already_ingested_is_copied_without_waiting(
    stack: Stack, sfn: Stubber, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the driver's final flush (ingested after the containers stopped) is already readable, 1 s after the
    # task stopped
    containers_stopped, _ = _stopped_now(stack, sfn)
    logs = LateFinalBatch(
        app=(
            _events(["starting"], containers_stopped - 9000, ingested=containers_stopped - 6000)
            + _events(["last line before exit"], containers_stopped - 5, ingested=containers_stopped + 400),
            [],
        )
    )
    _use_logs(monkeypatch, logs)
    monkeypatch.setenv("LOG_SETTLE_SECONDS", "10")
    # When the copy runs, Then it finishes in this invocation: nothing more can come
    response = copy_logs.handler(_payload(stack.request()), context())
    assert response["done"] is True and response["waitSeconds"] == 0
    assert _lines(stack) == ["starting", "last line before exit"]


def test_a_quiet_end_is_taken_as_it_is_once_the_settle_time_has_passed(
    stack: Stack, sfn: Stubber, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given nothing was ingested after the containers stopped, and the task stopped 1 s ago
    containers_stopped, _ = _stopped_now(stack, sfn)
    logs = LateFinalBatch(
        app=(_events(["all done"], containers_stopped - 9000, ingested=containers_stopped - 6000), [])
    )
    _use_logs(monkeypatch, logs)
    # When LogSettleSeconds is 1 (already passed), Then the copy finishes with what there is
    monkeypatch.setenv("LOG_SETTLE_SECONDS", "1")
    response = copy_logs.handler(_payload(stack.request()), context())
    assert response["done"] is True
    assert _lines(stack) == ["all done"]
    # And with LogSettleSeconds 0 the same
    monkeypatch.setenv("LOG_SETTLE_SECONDS", "0")
    assert copy_logs.handler(_payload(stack.request()), context())["done"] is True


def test_the_state_machine_waits_once_per_run_whatever_the_clocks_say(
    stack: Stack, sfn: Stubber, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a quiet end (nothing ingested after the containers stopped), and a clock by which the settle time has
    # not run out even after the state machine waited (ECS's stop time ahead of this clock)
    containers_stopped, _ = _stopped_now(stack, sfn)
    logs = LateFinalBatch(
        app=(_events(["all done"], containers_stopped - 9000, ingested=containers_stopped - 6000), [])
    )
    _use_logs(monkeypatch, logs)
    monkeypatch.setenv("LOG_SETTLE_SECONDS", "10")
    payload = _payload(stack.request())
    first = copy_logs.handler(payload, context())
    assert first["done"] is False and first["waitSeconds"] > 0
    # When the copy is continued after the wait, at a moment this clock still finds inside the settle time
    second = copy_logs.handler({**payload, "logCopy": first}, context())
    # Then it does not ask to wait again: the stream is taken as it is
    assert second["done"] is True and second["waitSeconds"] == 0
    assert _lines(stack) == ["all done"]


def test_a_wait_after_another_containers_log_is_in_s3_continues_from_a_checkpoint(
    stack: Stack, sfn: Stubber, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given two containers: the first one's final flush is in, the second one's is still on its way
    containers_stopped, _ = _stopped_now(stack, sfn, "two-containers.json", "stopped-nonzero.json")
    before, after = containers_stopped - 6000, containers_stopped + 400
    logs = LateFinalBatch(
        app=(_events(["app 1", "app last"], containers_stopped - 9000, ingested=after), []),
        worker=(
            _events(["worker 1"], containers_stopped - 9000, ingested=before),
            _events(["worker last"], containers_stopped - 5, ingested=after),
        ),
    )
    _use_logs(monkeypatch, logs)
    monkeypatch.setenv("LOG_SETTLE_SECONDS", "10")
    failure = {"Error": "ECS.ContainerExitedNonZero", "Cause": "{}"}
    payload = _payload(stack.request("two-containers.json"), failure)
    # When the copy runs
    first = copy_logs.handler(payload, context())
    # Then the first container's log is in S3 and the copy waits at a checkpoint, not from scratch
    assert first["done"] is False and first["waitSeconds"] > 0 and first["checkpoint"]["seq"] == 1
    assert _lines(stack, "two-containers-demo", "app") == ["app 1", "app last"]
    # When the second container's last line arrives and the copy continues
    logs.arrive()
    second = copy_logs.handler({**payload, "logCopy": first}, context())
    # Then both logs are whole, each line once, and the cause's figures count them
    assert second["done"] is True
    assert _lines(stack, "two-containers-demo", "worker") == ["worker 1", "worker last"]
    assert [c["events"] for c in json.loads(second["outcome"]["cause"])["logs"]["containers"]] == [2, 2]
    assert _staged(stack, "two-containers-demo") == ["checkpoint.json"]


def test_a_copy_that_cannot_pause_waits_in_process_then_reads_what_arrived(
    stack: Stack, sfn: Stubber, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a run whose last line is still on its way, copied by a caller that cannot pause (no should_pause:
    # the logs of a run whose execution had ended)
    containers_stopped, _ = _stopped_now(stack, sfn)
    logs = LateFinalBatch(
        app=(
            _events(["starting"], containers_stopped - 9000, ingested=containers_stopped - 6000),
            _events(["last line before exit"], containers_stopped - 5, ingested=containers_stopped + 400),
        )
    )
    record = RunsTable(clients.table(TABLE)).get("hello-demo")
    assert record is not None
    slept: list[float] = []

    def sleep(seconds: float) -> None:  # the batch arrives while the copy sleeps
        slept.append(seconds)
        logs.arrive()

    # When the run is finished with a 10 s settle time
    outcome, copied = finish_run(
        record,
        store=RunsTable(clients.table(TABLE)),
        s3=stack.s3,
        bucket=BUCKET,
        logs_client=lambda region: logs,
        tail_lines=20,
        settle_seconds=10,
        sleep=sleep,
    )
    # Then it slept once, for the rest of the settle time, and copied the last line that arrived meanwhile
    assert len(slept) == 1 and 0 < slept[0] <= 10
    assert outcome is not None and copied.done
    assert _lines(stack) == ["starting", "last line before exit"]


# ---- completion events ----


def _listen(monkeypatch: pytest.MonkeyPatch) -> Any:
    """The stack's bus, with every ecsrun completion event sent to a queue this test reads."""
    monkeypatch.setenv("EVENT_BUS_NAME", "ecsrun-runs")
    boto3.client("events", region_name=REGION).create_event_bus(Name="ecsrun-runs")
    return listen_for_completions(lambda service: boto3.client(service, region_name=REGION), "ecsrun-runs")


def test_a_succeeded_run_puts_run_succeeded_on_the_bus(
    stack: Stack, sfn: Stubber, monkeypatch: pytest.MonkeyPatch
) -> None:
    received = _listen(monkeypatch)
    started = _run_to_stop(stack, sfn, "hello.json", "hello.json", "stopped-success.json", "send_task_success")
    _write_logs(stack, "app", started["taskArn"], ["done"])
    _copy(stack.request())
    [event] = received()
    assert (event["source"], event["detail-type"]) == ("ecsrun", "ecsrun.RunSucceeded")
    detail = event["detail"]
    assert detail["runId"] == "hello-demo" and detail["status"] == "SUCCEEDED" and detail["error"] is None
    assert detail["taskArn"] == started["taskArn"] and detail["exitCodes"] == {"app": 0}
    assert detail["executionArn"] == EXECUTION
    assert detail["logs"] == {
        "bucket": BUCKET,
        "manifestKey": "runs/hello-demo/manifest.json",
        "keys": {"app": "runs/hello-demo/logs/app.log.gz"},
    }


def test_a_failed_run_puts_run_failed_with_its_error_name(
    stack: Stack, sfn: Stubber, monkeypatch: pytest.MonkeyPatch
) -> None:
    received = _listen(monkeypatch)
    started = _run_to_stop(stack, sfn, "failing.json", "failing.json", "stopped-nonzero.json", "send_task_failure")
    _write_logs(stack, "app", started["taskArn"], ["boom"])
    _copy(stack.request("failing.json"), {"Error": "ECS.ContainerExitedNonZero", "Cause": "{}"})
    [event] = received()
    assert event["detail-type"] == "ecsrun.RunFailed"
    detail = event["detail"]
    assert (detail["status"], detail["error"]) == ("FAILED", "ECS.ContainerExitedNonZero")
    assert detail["message"] == "essential container 'app' exited with code 3"
    assert detail["exitCodes"] == {"app": 3}


def test_an_invalid_request_puts_run_failed_too(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.handlers.helpers import validate

    received = _listen(monkeypatch)
    validate({"taskDefinition": "x", "count": 2, "runId": "bad-1"})
    [event] = received()
    detail = event["detail"]
    assert event["detail-type"] == "ecsrun.RunFailed"
    assert (detail["runId"], detail["error"], detail["taskArn"]) == ("bad-1", "RunRequest.Invalid", None)
    assert detail["message"].startswith("the run request has")


def test_a_duplicate_execution_ends_run_duplicate_and_puts_nothing_on_the_bus(
    stack: Stack, sfn: Stubber, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a finished run, and a second execution with the same runId reaching the copy step
    started = _run_to_stop(stack, sfn, "hello.json", "hello.json", "stopped-success.json", "send_task_success")
    _write_logs(stack, "app", started["taskArn"], ["first run"])
    _copy(stack.request())
    received = _listen(monkeypatch)
    other = "arn:aws:states:us-east-1:123456789012:execution:ecsrun:second"
    result = _copy(stack.request(), {"Error": "Run.Duplicate", "Cause": None}, execution=other)
    # Then the second execution ends Run.Duplicate, and nothing is put on the bus under the owner's runId
    assert result["error"] == "Run.Duplicate" and json.loads(result["cause"])["executionArn"] == other
    assert received() == []


def test_the_copy_reports_bytes_run_time_and_failures_by_error_name(
    stack: Stack, sfn: Stubber, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ecsrun.plumbing.observability import metrics

    # Given a failed run whose task ran between the event's startedAt and stoppedAt
    started = _run_to_stop(stack, sfn, "failing.json", "failing.json", "stopped-nonzero.json", "send_task_failure")
    _write_logs(stack, "app", started["taskArn"], ["one", "two"])
    recorded: dict[str, tuple[str, float]] = {}
    monkeypatch.setattr(metrics, "add_metric", lambda name, unit, value: recorded.update({name: (unit, value)}))
    # When its logs are copied
    result = _copy(stack.request("failing.json"), {"Error": "ECS.ContainerExitedNonZero", "Cause": "{}"})
    # Then the metrics say how much was copied, how long the task ran, and which failure it was
    event = json.loads((EVENTS / "ecs-events" / "stopped-nonzero.json").read_text())["detail"]
    ran = (_parse(event["stoppedAt"]) - _parse(event["startedAt"])).total_seconds()
    assert recorded["LogBytesCopied"] == ("Bytes", json.loads(result["cause"])["logs"]["containers"][0]["bytes"])
    assert recorded["TaskRunSeconds"] == ("Seconds", ran) and ran > 0
    assert recorded["RunsFailed"] == recorded["RunsFailed.ECS.ContainerExitedNonZero"] == ("Count", 1)
    assert "RunsSucceeded" not in recorded


def _parse(stamp: str) -> Any:
    from datetime import datetime

    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def test_a_result_found_before_a_pause_survives_it_with_no_extra_read(
    stack: Stack, sfn: Stubber, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a 25,000-event log (three GetLogEvents pages) whose only result line is on the first page
    started = _run_to_stop(stack, sfn, "hello.json", "hello.json", "stopped-success.json", "send_task_success")
    messages = [f"event {i}" for i in range(25_000)]
    messages[3] = '::ecsrun-result::{"rows": 42}'
    _write_logs(stack, "app", started["taskArn"], messages)
    # When it is copied with every invocation pausing after its first page
    stepped, invocations = _copy_in_steps(_payload(stack.request()), monkeypatch)
    # Then the result crossed the checkpoints, and reading it cost no invocation (nor read) more than the copy
    assert invocations == 4
    assert stepped["output"]["result"] == {"rows": 42}
    # And the manifest and the run record carry it
    assert json.loads(_object(stack, "runs/hello-demo/manifest.json"))["result"] == {"rows": 42}
    outcome = json.loads(stack.table.get_item(Key={"runId": "hello-demo"})["Item"]["outcome"])
    assert outcome["output"]["result"] == {"rows": 42}


def test_a_failed_runs_result_error_is_recorded_beside_its_error(stack: Stack, sfn: Stubber) -> None:
    # Given a run whose app exited non-zero after printing a result line that is not JSON
    started = _run_to_stop(stack, sfn, "failing.json", "failing.json", "stopped-nonzero.json", "send_task_failure")
    _write_logs(stack, "app", started["taskArn"], ["work", "::ecsrun-result::{oops", "error: could not open input"])
    # When logs are copied
    result = _copy(stack.request("failing.json"), {"Error": "ECS.ContainerExitedNonZero", "Cause": "{}"})
    # Then the verdict is the exit code's, and the cause and the record say why the result was not taken
    assert result["error"] == "ECS.ContainerExitedNonZero"
    why = json.loads(result["cause"])["resultError"]
    assert why.startswith("the result is not JSON")
    outcome = json.loads(stack.table.get_item(Key={"runId": "failing-demo"})["Item"]["outcome"])
    assert outcome["resultError"] == why
