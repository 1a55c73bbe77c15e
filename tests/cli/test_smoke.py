"""`ecsrun smoke`'s pure parts: what it registers and sends, and how it judges each scenario's end."""

from __future__ import annotations

import json
from typing import Any

from ecsrun.cli import smoke
from ecsrun.domain.models.request import validate_request

SETTINGS = smoke.Settings(
    stack="ecsrun",
    subnets=["subnet-0123456789abcdef0"],
    security_groups=["sg-0123456789abcdef0"],
    execution_role_arn="arn:aws:iam::123456789012:role/ecsTaskExecutionRole",
    region="eu-west-1",
)


def test_the_task_definition_is_a_fargate_one_with_awslogs_and_the_execution_role() -> None:
    definition = smoke.task_definition(SETTINGS)
    assert definition["requiresCompatibilities"] == ["FARGATE"] and definition["networkMode"] == "awsvpc"
    assert definition["executionRoleArn"] == SETTINGS.execution_role_arn
    [container] = definition["containerDefinitions"]
    assert container["logConfiguration"]["options"] == {
        "awslogs-group": "/ecsrun/smoke",
        "awslogs-stream-prefix": "smoke",
        "awslogs-region": "eu-west-1",
    }


def test_every_run_request_it_sends_is_valid_for_ecsrun() -> None:
    arn = "arn:aws:ecs:eu-west-1:123456789012:task-definition/ecsrun-smoke:1"
    for request in (
        smoke.run_request(SETTINGS, arn, "smoke-1-ok", "echo ecsrun-smoke-ok"),
        smoke.run_request(SETTINGS, arn, "smoke-1-slow", "sleep 600", timeoutSeconds=20),
    ):
        _, problems = validate_request(request)
        assert problems == []
        assert request["overrides"]["containerOverrides"][0]["name"] == smoke.CONTAINER


def _described(status: str, **fields: Any) -> dict[str, Any]:
    return {"status": status, **fields}


def test_success_needs_a_succeeded_execution_with_a_manifest() -> None:
    output = json.dumps({"logs": {"manifestKey": "runs/r/manifest.json"}})
    assert smoke.judge_success(_described("SUCCEEDED", output=output)) == (
        True,
        "SUCCEEDED, manifest runs/r/manifest.json",
    )
    passed, detail = smoke.judge_success(_described("FAILED", error="Run.TimedOut", cause="{}"))
    assert not passed and detail.startswith("FAILED Run.TimedOut")


def test_a_failure_scenario_needs_the_named_error_and_its_check() -> None:
    judge = smoke.judge_failure("ECS.ContainerExitedNonZero", smoke.exit_code_3)
    cause = {"task": {"containers": [{"name": "app", "exitCode": 3}]}}
    assert judge(_described("FAILED", error="ECS.ContainerExitedNonZero", cause=json.dumps(cause)))[0] is True
    other = {"task": {"containers": [{"name": "app", "exitCode": 1}]}}
    passed, detail = judge(_described("FAILED", error="ECS.ContainerExitedNonZero", cause=json.dumps(other)))
    assert not passed and "expected app: 3" in detail
    passed, detail = judge(_described("SUCCEEDED"))
    assert not passed and "expected FAILED ECS.ContainerExitedNonZero" in detail


def test_an_invalid_request_must_list_its_problems() -> None:
    judge = smoke.judge_failure("RunRequest.Invalid", smoke.no_task)
    with_problems = json.dumps({"problems": [{"field": "count", "message": "must be 1"}]})
    assert judge(_described("FAILED", error="RunRequest.Invalid", cause=with_problems))[0] is True
    assert judge(_described("FAILED", error="RunRequest.Invalid", cause="{}"))[0] is False


def test_the_log_must_hold_the_line_the_task_printed() -> None:
    assert smoke.log_holds("2026-11-25T00:00:00Z ecsrun-smoke-ok\n", "ecsrun-smoke-ok") == (
        True,
        "1 line(s), with 'ecsrun-smoke-ok'",
    )
    assert smoke.log_holds("", "ecsrun-smoke-ok")[0] is False
