"""End to end: array runs through the real ASL on the local engine (Distributed Map, nested executions).

Invariants after every array: each child a run of its own with its own logs, no task started twice, nothing
left waiting, and the parent's verdict made from the children's records.
"""

from __future__ import annotations

import gzip
import json
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from botocore.config import Config
from ecsrun.adapters import clients
from ecsrun.cli import main
from ecsrun.local.engine import LocalResult, run_local
from ecsrun.local.runtime import BUCKET, BUS, TABLE, LocalAws
from moto.core.exceptions import JsonRESTError

from tests.conftest import EVENTS

REQUEST = {
    "cluster": "default",
    "taskDefinition": "ecsrun-array",
    "launchType": "FARGATE",
    "networkConfiguration": {"awsvpcConfiguration": {"subnets": ["subnet-0123456789abcdef0"]}},
    "runId": "batch",
}


def _definition() -> dict[str, Any]:
    return json.loads((EVENTS / "task-definitions" / "array.json").read_text())


@pytest.fixture
def aws() -> Iterator[LocalAws]:
    with LocalAws() as local:
        local.register_task_definition(_definition())
        yield local


def _log(result: LocalResult, run_id: str) -> list[str]:
    body = result.objects[f"runs/{run_id}/logs/app.log.gz"]
    return [line.split(" ", 1)[1] for line in gzip.decompress(body).decode().splitlines()]


def _records(aws: LocalAws) -> dict[str, dict[str, Any]]:
    # moto's in-process table is not thread-safe: a scan that copies an item while a handler thread still writes
    # to it (a child's late TaskStopped, say) raises "dictionary changed size during iteration". DynamoDB does not;
    # read again.
    for _ in range(4):
        try:
            items = aws.client("dynamodb").scan(TableName=TABLE)["Items"]
            break
        except RuntimeError:
            time.sleep(0.1)
    else:
        items = aws.client("dynamodb").scan(TableName=TABLE)["Items"]
    return {item["runId"]["S"]: item for item in items}


def _tasks(aws: LocalAws) -> list[dict[str, Any]]:
    ecs = aws.client("ecs")
    arns = {arn for status in ("RUNNING", "STOPPED") for arn in ecs.list_tasks(desiredStatus=status)["taskArns"]}
    return ecs.describe_tasks(cluster="default", tasks=sorted(arns))["tasks"] if arns else []


def _assert_invariants(aws: LocalAws, children: int) -> None:
    records = _records(aws)
    assert all("openShard" not in r for r in records.values()), "a run is still waiting"
    tasks = _tasks(aws)
    started_by = [t["startedBy"] for t in tasks]
    assert len(started_by) == len(set(started_by)) == children, started_by  # one task per child, none twice


def test_an_array_runs_one_child_per_item_each_under_its_own_run_id(aws: LocalAws) -> None:
    items = ["a.csv", {"day": 3}, "c.csv"]
    result = run_local({**REQUEST, "array": {"items": items}}, [], aws=aws)
    assert result.status == "SUCCEEDED", result.cause
    # The parent's output counts the children
    summary = result.output["array"]
    assert (summary["size"], summary["succeeded"], summary["failed"]) == (3, 3, 0)
    assert summary["byOutcome"] == {"SUCCEEDED": 3}
    # Each child saw its index and item, and its logs are under its own runId
    assert _log(result, "batch-0") == ["child 0 of 3: a.csv"]
    assert _log(result, "batch-1") == ['child 1 of 3: {"day":3}']
    assert _log(result, "batch-2") == ["child 2 of 3: c.csv"]
    assert {f"runs/batch-{i}/manifest.json" for i in range(3)} <= set(result.objects)
    # The summary object lists them; the parent's record is finished
    written = json.loads(result.objects["runs/batch/array/summary.json"])
    assert written["status"] == "SUCCEEDED" and written["failedChildren"] == []
    assert _records(aws)["batch"]["status"]["S"] == "SUCCEEDED"
    _assert_invariants(aws, 3)


def test_a_size_array_passes_each_index_as_the_item(aws: LocalAws) -> None:
    result = run_local({**REQUEST, "array": {"size": 4}}, [], aws=aws)
    assert result.status == "SUCCEEDED", result.cause
    assert [_log(result, f"batch-{i}") for i in range(4)] == [[f"child {i} of 4: {i}"] for i in range(4)]
    _assert_invariants(aws, 4)


def test_failures_beyond_the_tolerance_fail_the_parent_and_name_each_failed_child(aws: LocalAws) -> None:
    request = {**REQUEST, "array": {"items": ["ok", "fail", "ok", "fail"]}, "toleratedFailurePercentage": 25}
    result = run_local(request, [], aws=aws)
    assert (result.status, result.error) == ("FAILED", "Run.ArrayFailed")
    cause = json.loads(result.cause or "{}")
    assert cause["message"] == "2 of 4 children failed (50%), more than the 25% tolerated"
    assert [(c["index"], c["runId"], c["error"]) for c in cause["array"]["failedChildren"]] == [
        (1, "batch-1", "ECS.ContainerExitedNonZero"),
        (3, "batch-3", "ECS.ContainerExitedNonZero"),
    ]
    assert "exited with code 3" in cause["array"]["failedChildren"][0]["message"]
    # A failed child still has its logs
    assert _log(result, "batch-1") == ["child 1 of 4: fail"]
    assert _records(aws)["batch"]["status"]["S"] == "FAILED"
    _assert_invariants(aws, 4)


def test_failures_within_the_tolerance_let_the_parent_succeed(aws: LocalAws) -> None:
    request = {**REQUEST, "array": {"items": ["ok", "fail", "ok", "ok"]}, "toleratedFailurePercentage": 25}
    result = run_local(request, [], aws=aws)
    assert result.status == "SUCCEEDED", result.cause
    assert result.output["array"]["byOutcome"] == {"ECS.ContainerExitedNonZero": 1, "SUCCEEDED": 3}


def test_a_second_execution_of_the_same_array_starts_no_child(aws: LocalAws) -> None:
    request = {**REQUEST, "array": {"size": 2}}
    first = run_local(request, [], aws=aws)
    assert first.status == "SUCCEEDED", first.cause
    second = run_local(request, [], aws=aws)
    assert (second.status, second.error) == ("FAILED", "Run.Duplicate")
    assert first.execution_arn in json.loads(second.cause or "{}")["message"]
    _assert_invariants(aws, 2)


def test_max_concurrency_bounds_the_children_running_at_once(aws: LocalAws) -> None:
    request = {**REQUEST, "array": {"items": ["slow"] * 6}, "maxConcurrency": 2}
    result = run_local(request, [], aws=aws)
    assert result.status == "SUCCEEDED", result.cause
    spans = [(_time(t["startedAt"]), _time(t["stoppedAt"])) for t in _tasks(aws)]
    overlap = max(sum(1 for s, e in spans if s <= moment < e) for moment, _ in spans)
    assert overlap <= 2, spans


def _time(value: Any) -> float:
    return value.timestamp() if isinstance(value, datetime) else float(value)


def test_run_task_throttling_makes_children_wait_not_fail(aws: LocalAws, monkeypatch: pytest.MonkeyPatch) -> None:
    from moto.ecs.models import EC2ContainerServiceBackend

    # The SDK gives up at once, so the throttling reaches the state machine (Throttled, retried)
    monkeypatch.setattr(clients, "_ECS_CONFIG", Config(retries={"mode": "standard", "total_max_attempts": 1}))
    original = EC2ContainerServiceBackend.run_task
    refusals = iter(range(3))

    def throttled(*args: Any, **kwargs: Any) -> Any:
        if next(refusals, None) is not None:
            raise JsonRESTError("ThrottlingException", "Rate exceeded")
        return original(*args, **kwargs)

    monkeypatch.setattr(EC2ContainerServiceBackend, "run_task", throttled)
    retry = {"maxAttempts": 5, "intervalSeconds": 1, "backoffRate": 1.0}
    result = run_local({**REQUEST, "array": {"size": 3}, "retry": retry}, [], aws=aws)
    # No child fails, and the three refusals cost no attempt: each start waited and was tried again
    assert result.status == "SUCCEEDED", (result.cause, result.states)
    assert result.output["array"]["byOutcome"] == {"SUCCEEDED": 3}
    attempts = [json.loads(r["attempts"]["S"]) for k, r in _records(aws).items() if k != "batch" and "attempts" in r]
    assert sum(1 for runs in attempts for a in runs if a.get("error") == "ECS.Throttled") == 0
    assert all(int(r["attempt"]["N"]) == 1 for k, r in _records(aws).items() if k != "batch" and "attempt" in r)
    _assert_invariants(aws, 3)


def test_the_cli_shows_the_array_and_exits_1_when_it_failed(capsys: pytest.CaptureFixture[str], tmp_path: Any) -> None:
    path = tmp_path / "array.json"
    path.write_text(json.dumps({**REQUEST, "array": {"items": ["ok", "fail"]}}))
    definition = str(EVENTS / "task-definitions" / "array.json")
    assert main(["local", "run", str(path), "--task-definition", definition]) == 1
    out = capsys.readouterr().out
    assert "FAILED  Run.ArrayFailed: 1 of 2 children failed (50%), more than the 0% tolerated" in out
    assert "array  2 children: 1 succeeded, 1 failed" in out
    assert "failed batch-1: ECS.ContainerExitedNonZero" in out
    assert f"summary s3://{BUCKET}/runs/batch/array/summary.json" in out


def test_an_aborted_parent_is_recorded_and_announced_as_aborted(aws: LocalAws) -> None:
    from tests.conftest import listen_for_completions

    completions = listen_for_completions(aws.client, BUS)
    outcome: dict[str, LocalResult] = {}
    request = {**REQUEST, "array": {"items": ["slow", "slow"]}, "maxConcurrency": 1}
    runner = threading.Thread(target=lambda: outcome.update(r=run_local(request, [], aws=aws)))
    runner.start()
    # When the parent is stopped while its first child runs
    _wait_for(lambda: any(t.started_at for t in aws.agent._tasks.values()))
    sfn = aws.client("stepfunctions")
    executions = sfn.list_executions(stateMachineArn=aws.state_machine_arn)["executions"]
    parent = next(e for e in executions if e["name"].count("-") == 1)  # children are named <parent>-<index>
    sfn.stop_execution(executionArn=parent["executionArn"], cause="operator")
    runner.join(timeout=60)
    # Then the parent's record says ABORTED and its end is announced once, as Run.Aborted
    assert outcome["r"].status == "ABORTED"
    assert _records(aws)["batch"]["status"]["S"] == "ABORTED"
    _wait_for(lambda: any(e["detail"]["runId"] == "batch" for e in completions()))
    parents = [e for e in completions() if e["detail"]["runId"] == "batch"]
    assert [(e["detail-type"], e["detail"]["error"]) for e in parents] == [("ecsrun.RunFailed", "Run.Aborted")]


def _wait_for(condition: Any, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.05)


def test_children_started_together_check_their_log_group_one_at_a_time(aws: LocalAws) -> None:
    # Given an agent whose log-group listing takes a while (moto's Logs backend is not thread-safe: a listing
    # while another task's thread creates the group failed with "dictionary changed size during iteration", and the
    # child then had no exit code)
    logs = aws.agent._logs
    listing, overlaps, guard = [0], [0], threading.Lock()

    def slow_listing(**kwargs: Any) -> Any:
        with guard:
            listing[0] += 1
            overlaps[0] = max(overlaps[0], listing[0])
        time.sleep(0.3)
        try:
            return logs.describe_log_groups(**kwargs)
        finally:
            with guard:
                listing[0] -= 1

    class SlowLogs:
        def __getattr__(self, name: str) -> Any:
            return slow_listing if name == "describe_log_groups" else getattr(logs, name)

    aws.agent._logs = SlowLogs()
    # When an array's children start together
    result = run_local({**REQUEST, "array": {"size": 3}, "maxConcurrency": 3}, [], aws=aws)
    # Then no two listings overlapped, and every child ran to its own end
    assert overlaps[0] == 1
    assert result.status == "SUCCEEDED", result.cause
    _assert_invariants(aws, 3)
