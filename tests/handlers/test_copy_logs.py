"""The copy-logs function: every container's log in S3, a manifest, and the run's final outcome."""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import json
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber
from ecsrun.handlers import copy_logs

from tests.conftest import BUCKET, EVENTS, REGION, Stack, context, ecs_event, listen_for_completions
from tests.handlers.helpers import EXECUTION, deliver, start, start_run, validated_run, validated_then

T0 = 1_795_000_000_000  # 2026-11-18T11:06:40Z, in milliseconds


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
        "2026-11-18T11:06:40.000Z hello",
        "2026-11-18T11:06:40.001Z héllo wörld ✓",
        "2026-11-18T11:06:40.002Z done",
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


def test_a_duplicate_execution_is_announced_as_run_duplicate(
    stack: Stack, sfn: Stubber, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a finished run, and a second execution with the same runId reaching the copy step
    started = _run_to_stop(stack, sfn, "hello.json", "hello.json", "stopped-success.json", "send_task_success")
    _write_logs(stack, "app", started["taskArn"], ["first run"])
    _copy(stack.request())
    received = _listen(monkeypatch)
    other = "arn:aws:states:us-east-1:123456789012:execution:ecsrun:second"
    _copy(stack.request(), {"Error": "Run.Duplicate", "Cause": None}, execution=other)
    # Then the second execution's end is announced, naming it, as Run.Duplicate
    [event] = received()
    assert (event["detail-type"], event["detail"]["error"]) == ("ecsrun.RunFailed", "Run.Duplicate")
    assert event["detail"]["executionArn"] == other


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
