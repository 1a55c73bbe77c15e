"""retry.on and retry.escalate are validated like every field: bounds, one clear message per problem."""

from __future__ import annotations

from typing import Any

from ecsrun.domain.models.request import validate_request
from ecsrun.domain.runtask import resolve_run

BASE = {"taskDefinition": "job", "cluster": "default"}


def _problems(retry: Any) -> dict[str, str]:
    request, problems = validate_request({**BASE, "retry": retry})
    assert (request is None) == bool(problems)
    return {p.field: p.message for p in problems}


def test_valid_rules_and_escalation_travel_with_the_run() -> None:
    # Given a policy with rules and both escalations
    retry = {
        "maxAttempts": 4,
        "on": [{"exitCodes": [75], "errors": ["ECS.ContainerExitedNonZero"], "action": "RETRY"}, {"action": "EXIT"}],
        "escalate": {"memoryFactor": 2, "maxMemoryMiB": 8192, "spotFallback": "FARGATE"},
    }
    request, problems = validate_request({**BASE, "retry": retry})
    # Then they are accepted and kept in the run's retry policy
    assert problems == []
    assert request is not None
    run = resolve_run(request, "exec", 3600)
    assert run.retry["on"] == retry["on"] and run.retry["escalate"] == retry["escalate"]


def test_a_policy_without_rules_dumps_as_before() -> None:
    request, _ = validate_request({**BASE, "retry": {"maxAttempts": 2}})
    assert request is not None
    assert resolve_run(request, "exec", 3600).retry == {"maxAttempts": 2, "intervalSeconds": 10, "backoffRate": 2.0}


def test_each_problem_gets_one_message_with_its_path() -> None:
    # Given rules and an escalation with one problem each
    problems = _problems(
        {
            "on": [
                {"exitCodes": [75, 256], "action": "RETRY"},
                {"errors": ["ECS.TaskLost"], "action": "RETRY"},
                {"reasonContains": [""], "action": "RETRY"},
                {"exitCodes": [1], "action": "retry"},
                {"exitCode": [1], "action": "EXIT"},
                {"exitCodes": [], "action": "EXIT"},
            ],
            "escalate": {"memoryFactor": 1, "maxMemoryMiB": 64, "spotFallback": "EC2"},
        }
    )
    # Then each is named where it is
    assert problems == {
        "retry.on[0].exitCodes[1]": "must be an exit code, an integer 0-255; got 256",
        "retry.on[1].errors[0]": problems["retry.on[1].errors[0]"],
        "retry.on[2].reasonContains[0]": "must be a string of 1-255 characters; got ''",
        "retry.on[3].action": 'must be "RETRY" or "EXIT"; got \'retry\'',
        "retry.on[4].exitCode": "unknown field: a rule takes exitCodes, errors, reasonContains and action",
        "retry.on[5].exitCodes": "must be a non-empty list; got []",
        "retry.escalate.memoryFactor": "must be a number above 1 and at most 8; got 1",
        "retry.escalate.maxMemoryMiB": "must be an integer 128-122880 (MiB); got 64",
        "retry.escalate.spotFallback": "must be \"FARGATE\"; got 'EC2'",
    }
    assert problems["retry.on[1].errors[0]"].startswith("must be one of ECS.CapacityUnavailable")
    assert "ECS.TaskLost" not in problems["retry.on[1].errors[0]"].split(";")[0]


def test_memory_factor_needs_its_maximum_and_rules_are_bounded() -> None:
    together = "give memoryFactor and maxMemoryMiB together (the factor raises, the maximum bounds)"
    assert _problems({"escalate": {"memoryFactor": 2}}) == {"retry.escalate.maxMemoryMiB": together}
    assert _problems({"on": [{"action": "EXIT"}] * 11}) == {"retry.on": "must have at most 10 rules; got 11"}
    assert _problems({"on": []}) == {"retry.on": "must be a non-empty list of rules; got []"}
    assert "retry.escalate" in _problems({"escalate": {}})
    assert _problems({"escalate": {"memoryFactor": float("nan"), "maxMemoryMiB": 1024}}) == {
        "retry.escalate.memoryFactor": "must be a number above 1 and at most 8; got nan"
    }
