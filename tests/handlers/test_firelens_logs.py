"""The copy-logs function reading a FireLens router's files in S3: the same log file and manifest as a CloudWatch
stream's, with `source` firelens-s3, completeness judged by the rule in docs/logs.md, and no CloudWatch Logs call."""

from __future__ import annotations

import copy
import gzip
import json
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.stub import ANY, Stubber
from ecsrun.adapters import clients
from ecsrun.domain.logformat import iso_utc
from ecsrun.handlers import copy_logs

from tests.conftest import BUCKET, EVENTS, Stack, context, ecs_event
from tests.handlers.helpers import EXECUTION, deliver, start, validated_run

ROUTER_BUCKET = "team-firelens-logs"
DEFINITION = json.loads((EVENTS / "task-definitions" / "firelens-s3.json").read_text())
OPTIONS = DEFINITION["containerDefinitions"][1]["logConfiguration"]["options"]


@pytest.fixture(autouse=True)
def task_role(env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """The sample's task role (its router writes to S3 with it) is one this runner may pass."""
    roles = [DEFINITION["executionRoleArn"], DEFINITION["taskRoleArn"]]
    monkeypatch.setenv("PASS_ROLE_ARNS", ",".join(roles))


@pytest.fixture
def calls(sfn: Stubber, monkeypatch: pytest.MonkeyPatch) -> Iterator[Counter[str]]:
    """Every call the handlers' clients make, by service:operation (botocore's before-call event)."""
    counted: Counter[str] = Counter()
    real = clients.client

    def counting(service: str, region: str | None = None) -> Any:
        client = real(service, region)
        client.meta.events.register("before-call.*.*", _count(counted))
        return client

    with monkeypatch.context() as patch:  # undone before sfn's own patch of the same function
        patch.setattr(clients, "client", counting)
        yield counted


def _count(counted: Counter[str]) -> Any:
    def count(event_name: str, **_: Any) -> None:
        _, service, operation = event_name.split(".", 2)
        counted[f"{service}:{operation}"] += 1

    return count


def _register(stack: Stack, bucket: str = ROUTER_BUCKET, **options: str) -> None:
    document = copy.deepcopy(DEFINITION)
    document["containerDefinitions"][1]["logConfiguration"]["options"].update({"bucket": bucket, **options})
    stack.ecs.register_task_definition(**document)


def _stopped(
    stack: Stack, sfn: Stubber, *, router_exit: int = 0, app_exit: int = 0, stop_code: str = "EssentialContainerExited"
) -> dict[str, Any]:
    """A run of the FireLens sample, started and stopped: the STOPPED event names both containers."""
    request = stack.request("firelens-s3.json")
    started = start(request)
    method = "send_task_success" if app_exit == 0 and router_exit == 0 else "send_task_failure"
    extra = {"output": ANY} if method == "send_task_success" else {"error": ANY, "cause": ANY}
    sfn.add_response(method, {}, {"taskToken": "token-start-1", **extra})
    event = ecs_event("stopped-success.json", taskArn=started["taskArn"], startedBy=f"ecsrun/{started['runId']}")
    app = event["detail"]["containers"][0]
    router = {**app, "name": "log_router", "image": DEFINITION["containerDefinitions"][0]["image"]}
    event["detail"]["containers"] = [{**router, "exitCode": router_exit}, {**app, "exitCode": app_exit}]
    event["detail"]["stopCode"] = stop_code
    deliver(event)
    return {"request": request, **started}


def _record(when: datetime, message: str, task_arn: str, source: str = "stdout") -> str:
    """One line of a Fluent Bit s3 output file, as FireLens with ECS metadata makes it."""
    return json.dumps(
        {
            "date": when.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "container_id": "e54cccfac2b87417f71877907f67879068420042828067ae0867e60a63529d35",
            "container_name": "/ecs-ecsrun-firelens-s3-1-app-a4eafbb3d4c7f1e16e00",
            "source": source,
            "log": message,
            "ecs_cluster": "default",
            "ecs_task_arn": task_arn,
            "ecs_task_definition": "ecsrun-firelens-s3:1",
        }
    )


def _prefix(task_arn: str, container: str = "app") -> str:
    return f"ecsrun-firelens/{container}-firelens-{task_arn.rsplit('/', 1)[-1]}/"


def _key(task_arn: str, when: datetime, uuid: str, container: str = "app") -> str:
    return f"{_prefix(task_arn, container)}{when:%Y/%m/%d/%H_%M_%S}-{uuid}.log"


def _write_files(stack: Stack, task_arn: str, files: list[list[tuple[datetime, str]]]) -> None:
    for n, records in enumerate(files):
        body = "".join(_record(when, message, task_arn) + "\n" for when, message in records)
        stack.s3.put_object(Bucket=ROUTER_BUCKET, Key=_key(task_arn, records[0][0], f"file{n:04d}"), Body=body)


def _copy(request: dict[str, Any], failure: dict[str, Any] | None = None) -> dict[str, Any]:
    payload = {"run": validated_run(request), "executionArn": EXECUTION, **({"failure": failure} if failure else {})}
    response = copy_logs.handler(payload, context())
    assert response["done"] is True, response
    return dict(response["outcome"])


def _manifest(stack: Stack, run_id: str) -> dict[str, Any]:
    return dict(json.loads(stack.s3.get_object(Bucket=BUCKET, Key=f"runs/{run_id}/manifest.json")["Body"].read()))


def _entry(stack: Stack, run_id: str, name: str = "app") -> dict[str, Any]:
    return next(e for e in _manifest(stack, run_id)["logs"]["containers"] if e["name"] == name)


def _text(stack: Stack, key: str) -> list[str]:
    return gzip.decompress(stack.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()).decode().splitlines()


@pytest.fixture
def readable(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Stack:
    """The router's bucket exists and the stack may read it (FirelensLogBuckets)."""
    stack.s3.create_bucket(Bucket=ROUTER_BUCKET)
    monkeypatch.setenv("FIRELENS_LOG_BUCKETS", f"other-bucket,{ROUTER_BUCKET}")
    return stack


def test_router_files_become_the_run_log_with_no_cloudwatch_logs_call(
    readable: Stack, sfn: Stubber, calls: Counter[str]
) -> None:
    # Given a FireLens run whose router exited 0 after the app, and wrote two files under the task's prefix
    stack = readable
    _register(stack)
    run = _stopped(stack, sfn)
    now = datetime.now(UTC).replace(microsecond=123456)
    first = [(now, "hello"), (now + timedelta(milliseconds=5), "héllo wörld ✓")]
    second = [(now + timedelta(seconds=2), "processing"), (now + timedelta(seconds=2, milliseconds=1), "done")]
    _write_files(stack, run["taskArn"], [first, second])
    # And another task's file beside them, which must not be read
    stack.s3.put_object(Bucket=ROUTER_BUCKET, Key=_key(run["taskArn"] + "0", now, "otherxxx"), Body=b"{}\n")
    calls.clear()
    # When logs are copied
    result = _copy(run["request"])
    # Then the run succeeds and its log holds the records' messages, in order, stamped with their dates
    assert result["status"] == "SUCCEEDED"
    entry = _entry(stack, "firelens-demo")
    assert _text(stack, entry["key"]) == [
        f"{iso_utc(round(when.timestamp() * 1000))} {message}" for when, message in first + second
    ]
    # And the manifest entry says where it came from, and that it is complete
    assert entry["source"] == "firelens-s3"
    assert entry["complete"] is True and entry["reason"] is None
    assert entry["copied"] is True and entry["events"] == 4
    assert entry["sourceBucket"] == ROUTER_BUCKET
    assert entry["sourcePrefix"] == _prefix(run["taskArn"])
    assert entry["sourceObjects"] == 2
    # And no CloudWatch Logs call was made
    assert not [call for call in calls if call.startswith("cloudwatch-logs:") or call.startswith("logs:")], calls
    assert calls["s3:ListObjectsV2"] >= 1 and calls["s3:ListMultipartUploads"] >= 1


def test_a_multipart_upload_left_open_makes_the_log_incomplete(readable: Stack, sfn: Stubber) -> None:
    # Given a FireLens run whose router left a multipart upload open under the task's prefix
    stack = readable
    _register(stack)
    run = _stopped(stack, sfn)
    now = datetime.now(UTC)
    _write_files(stack, run["taskArn"], [[(now, "flushed line")]])
    open_key = _key(run["taskArn"], now, "openxxxx")
    stack.s3.create_multipart_upload(Bucket=ROUTER_BUCKET, Key=open_key)
    # When logs are copied
    _copy(run["request"])
    # Then what was written is copied, and the entry says it is not complete, and why
    entry = _entry(stack, "firelens-demo")
    assert entry["copied"] is True and entry["events"] == 1
    assert entry["complete"] is False
    assert "multipart upload" in entry["reason"] and open_key in entry["reason"]


def test_a_router_that_exited_non_zero_makes_the_log_incomplete(readable: Stack, sfn: Stubber) -> None:
    # Given a FireLens run whose router was killed at the end of its stopTimeout (137)
    stack = readable
    _register(stack)
    run = _stopped(stack, sfn, router_exit=137)
    _write_files(stack, run["taskArn"], [[(datetime.now(UTC), "before the kill")]])
    # When logs are copied
    _copy(run["request"], {"Error": "ECS.ContainerExitedNonZero", "Cause": "{}"})
    # Then the entry is not complete, and the reason names the router and its exit code
    entry = _entry(stack, "firelens-demo")
    assert entry["complete"] is False
    assert "log_router exited 137" in entry["reason"]


def test_the_failure_cause_carries_the_last_lines_from_the_router_files(readable: Stack, sfn: Stubber) -> None:
    # Given a FireLens run whose app exited 3 after writing 30 lines
    stack = readable
    _register(stack)
    run = _stopped(stack, sfn, app_exit=3)
    now = datetime.now(UTC)
    _write_files(stack, run["taskArn"], [[(now + timedelta(milliseconds=i), f"line {i}") for i in range(30)]])
    # When logs are copied
    result = _copy(run["request"], {"Error": "ECS.ContainerExitedNonZero", "Cause": "{}"})
    # Then the cause's last lines are the app's last 20, read from the router's files
    cause = json.loads(result["cause"])
    assert cause["lastLogLines"]["container"] == "app"
    assert [line.split(" ", 1)[1] for line in cause["lastLogLines"]["lines"]] == [f"line {i}" for i in range(10, 30)]


def test_a_bucket_the_stack_may_not_read_is_not_read(stack: Stack, sfn: Stubber, calls: Counter[str]) -> None:
    # Given a FireLens run whose router writes to a bucket FirelensLogBuckets does not name (empty: feature off)
    _register(stack, bucket="somebody-elses-bucket")
    run = _stopped(stack, sfn)
    calls.clear()
    # When logs are copied
    _copy(run["request"])
    # Then its entry says why nothing was copied, and no call was made to that bucket
    entry = _entry(stack, "firelens-demo")
    assert entry["copied"] is False and entry["complete"] is False and entry["source"] == "firelens-s3"
    assert "FirelensLogBuckets" in entry["reason"]
    assert calls["s3:ListObjectsV2"] == 0 and calls["s3:GetObject"] <= 1  # at most the copy checkpoint's


def test_a_key_format_without_the_task_before_its_varying_parts_is_refused(readable: Stack, sfn: Stubber) -> None:
    # Given a FireLens output whose keys begin with the time, not the tag
    stack = readable
    _register(stack, s3_key_format="/logs/%Y/%m/%d/$TAG/$UUID.log")
    run = _stopped(stack, sfn)
    # When logs are copied
    _copy(run["request"])
    # Then nothing is listed, and the entry says the task's files cannot be found by prefix
    entry = _entry(stack, "firelens-demo")
    assert entry["copied"] is False and "cannot be found by prefix" in entry["reason"]


def test_gzip_files_and_epoch_dates_are_read(readable: Stack, sfn: Stubber) -> None:
    # Given an output with compression gzip and json_date_format double, as Fluent Bit writes them
    stack = readable
    _register(stack, compression="gzip", json_date_format="double")
    run = _stopped(stack, sfn)
    now = datetime.now(UTC)
    lines = [json.dumps({"date": now.timestamp() + i, "log": f"zipped {i}", "source": "stderr"}) for i in range(3)]
    key = _key(run["taskArn"], now, "gzipxxxx")
    stack.s3.put_object(Bucket=ROUTER_BUCKET, Key=key, Body=gzip.compress(("\n".join(lines) + "\n").encode()))
    # When logs are copied
    _copy(run["request"])
    # Then the lines are the messages, stamped with the records' times
    entry = _entry(stack, "firelens-demo")
    assert _text(stack, entry["key"]) == [
        f"{iso_utc(round((now.timestamp() + i) * 1000))} zipped {i}" for i in range(3)
    ]


def test_a_result_line_in_the_router_files_is_the_runs_result(readable: Stack, sfn: Stubber) -> None:
    # Given a FireLens run whose app printed two result lines, in two of the router's files
    stack = readable
    _register(stack)
    run = _stopped(stack, sfn)
    now = datetime.now(UTC)
    first = [(now, "start"), (now + timedelta(milliseconds=1), '::ecsrun-result::{"rows": 1}')]
    second = [(now + timedelta(seconds=2), '::ecsrun-result::{"rows": 42}'), (now + timedelta(seconds=3), "bye")]
    _write_files(stack, run["taskArn"], [first, second])
    # When logs are copied
    result = _copy(run["request"])
    # Then the last line is the run's result, in its output and its manifest (never as a raw line in an entry)
    assert result["output"]["result"] == {"rows": 42}
    manifest = _manifest(stack, "firelens-demo")
    assert manifest["result"] == {"rows": 42}
    assert all("resultLine" not in entry for entry in manifest["logs"]["containers"])
