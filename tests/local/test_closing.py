"""Closing a local stack: nothing of it acts afterwards. Tests open stacks one after another in one process, on
one moto; a function of the last stack that ran late (an aborted parent's child, an announcement) wrote a run
record into the next test's table, which then saw its own child as a duplicate."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

from ecsrun.local.runtime import LocalAws

from tests.conftest import EVENTS

STARTED = threading.Event()
RELEASE = threading.Event()
CALLS: list[str] = []


def slow_handler(event: Any, context: Any) -> dict[str, Any]:
    """A function still running when its stack is asked to close."""
    STARTED.set()
    RELEASE.wait(timeout=30)
    CALLS.append("slow finished")
    return {"ok": True}


def counting_handler(event: Any, context: Any) -> dict[str, Any]:
    CALLS.append("counted")
    return {"ok": True}


def _stub(aws: LocalAws, logical_id: str, handler: str) -> str:
    aws.handlers[logical_id] = f"{__name__}.{handler}"
    return f"arn:aws:lambda:us-east-1:123456789012:function:{logical_id}"


def test_a_function_invoked_once_the_stack_closes_does_not_run() -> None:
    # Given a stack that has closed
    CALLS.clear()
    aws = LocalAws()
    aws.__enter__()
    arn = _stub(aws, "Counting", "counting_handler")
    aws.__exit__(None, None, None)
    # When a late thread invokes one of its functions
    result, failed = aws.invoke_handler("Counting", arn, {})
    # Then the function does not run, and the invocation fails as a refused one
    assert CALLS == []
    assert failed and result["errorType"] == "LocalStackClosed"


def test_closing_waits_for_a_function_in_flight() -> None:
    # Given a stack with a function still running
    CALLS.clear()
    STARTED.clear()
    RELEASE.clear()
    aws = LocalAws()
    aws.__enter__()
    arn = _stub(aws, "Slow", "slow_handler")
    worker = threading.Thread(target=aws.invoke_handler, args=("Slow", arn, {}))
    worker.start()
    assert STARTED.wait(timeout=10)
    # When the stack closes while it runs
    closer = threading.Thread(target=aws.__exit__, args=(None, None, None))
    closer.start()
    time.sleep(0.5)
    # Then the close waits for it, and ends once it has finished
    assert closer.is_alive()
    RELEASE.set()
    closer.join(timeout=30)
    worker.join(timeout=5)
    assert not closer.is_alive()
    assert CALLS == ["slow finished"]


def test_an_execution_still_running_when_the_stack_closes_is_stopped() -> None:
    # Given a stack with an execution waiting for its task (a child whose parent was aborted, say)
    definition = json.loads((EVENTS / "task-definitions" / "slow.json").read_text())
    request = {
        "cluster": "default",
        "taskDefinition": "ecsrun-slow",
        "launchType": "FARGATE",
        "networkConfiguration": {"awsvpcConfiguration": {"subnets": ["subnet-0123456789abcdef0"]}},
        "runId": "left-running",
    }
    with LocalAws() as aws:
        aws.register_task_definition(definition)
        sfn = aws.client("stepfunctions")
        started = sfn.start_execution(stateMachineArn=aws.state_machine_arn, input=json.dumps(request))
        deadline = time.monotonic() + 30
        while not any(t.started_at for t in aws.agent._tasks.values()):
            assert time.monotonic() < deadline, "the task never started"
            time.sleep(0.05)
        # When the stack stops what still runs, as it does when it closes
        aws._stop_running_executions()
        # Then the execution is no longer running: moto's worker unwinds in this stack
        assert sfn.describe_execution(executionArn=started["executionArn"])["status"] == "ABORTED"
