"""Drive the handlers the way the state machine does."""

from __future__ import annotations

import json
from typing import Any

from ecsrun.handlers import start_task, task_stopped, validate_request

from tests.conftest import context

EXECUTION = "arn:aws:states:us-east-1:123456789012:execution:ecsrun:first"


def validate(request: Any, execution_name: str = "first", execution_arn: str = EXECUTION) -> dict[str, Any]:
    payload = {"request": request, "executionName": execution_name, "executionArn": execution_arn}
    return dict(validate_request.handler(payload, context()))


def validated_run(request: Any, execution_name: str = "first") -> dict[str, Any]:
    result = validate(request, execution_name)
    assert result["valid"], result
    return dict(result["run"])


def start(request: Any, *, token: str = "token-start-1", execution: str = EXECUTION) -> dict[str, Any]:
    return start_run(validated_run(request), token=token, execution=execution)


def start_run(run: dict[str, Any], *, token: str = "token-start-1", execution: str = EXECUTION) -> dict[str, Any]:
    """Start a run that was validated already (what changed in the account since then is the start's to meet)."""
    return dict(start_task.handler({"run": run, "taskToken": token, "executionArn": execution}, context()))


def validated_then(request: Any, **request_changes: Any) -> dict[str, Any]:
    """A run validated against the account as it was, whose RunTask fields then no longer hold: the cluster or
    task definition was deleted between ValidateRequest and StartTask."""
    run = validated_run(request)
    run["request"].update(request_changes)
    return run


def deliver(event: dict[str, Any]) -> dict[str, Any]:
    return dict(task_stopped.handler(event, context()))


def execution_event(
    status: str, request: Any, *, name: str = "first", arn: str = EXECUTION, **detail: Any
) -> dict[str, Any]:
    """A Step Functions `Execution Status Change` event as EventBridge delivers it (input included when known)."""
    return {
        "version": "0",
        "id": "315c1398-40ff-a850-213b-158f73e60175",
        "detail-type": "Step Functions Execution Status Change",
        "source": "aws.states",
        "account": "123456789012",
        "time": "2026-11-21T10:20:00Z",
        "region": "us-east-1",
        "resources": [arn],
        "detail": {
            "executionArn": arn,
            "stateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:ecsrun",
            "name": name,
            "status": status,
            "startDate": 1795256100000,
            "stopDate": 1795256400000,
            "input": json.dumps(request) if request is not None else None,
            "inputDetails": {"included": request is not None},
            **detail,
        },
    }
