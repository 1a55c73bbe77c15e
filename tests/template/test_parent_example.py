"""The example caller (examples/parent-state-machine): it hands ecsrun its task token, catches ecsrun's names, and
its role can start ecsrun's executions and nothing else ecsrun-related."""

from __future__ import annotations

import json
from typing import Any

from ecsrun.domain.errors import ErrorName
from ecsrun.local.template import Template

from tests.conftest import ROOT

EXAMPLE = ROOT / "examples" / "parent-state-machine"


def _asl() -> dict[str, Any]:
    return dict(json.loads((EXAMPLE / "parent.asl.json").read_text()))


def _statements() -> list[dict[str, Any]]:
    machine = Template(EXAMPLE / "template.yaml").doc["Resources"]["NightlyReport"]["Properties"]
    return [s for policy in machine["Policies"] for s in policy["Statement"]]


def test_the_parent_waits_for_ecsruns_answer_on_its_own_token() -> None:
    # Given the example's task state
    state = _asl()["States"]["RunReport"]
    # Then it starts ecsrun with .waitForTaskToken, its token as callbackTaskToken, and never waits forever
    assert state["Resource"] == "arn:aws:states:::states:startExecution.waitForTaskToken"
    assert state["Parameters"]["StateMachineArn"] == "${EcsrunStateMachineArn}"
    assert state["Parameters"]["Input"]["callbackTaskToken.$"] == "$$.Task.Token"
    assert state["TimeoutSeconds"] > 7200  # the largest timeoutSeconds it passes, plus the stop wait and the copy


def test_the_parent_catches_only_names_ecsrun_documents() -> None:
    # Given every error name the example's Catch and Retry match
    state = _asl()["States"]["RunReport"]
    matched = {name for rule in state["Catch"] + state["Retry"] for name in rule["ErrorEquals"]}
    # Then each is one of ecsrun's names, or one of Step Functions' own
    ours = {e.value for e in ErrorName}
    assert {n for n in matched if not n.startswith(("States.", "StepFunctions."))} <= ours
    assert "ECS.ContainerExitedNonZero" in matched


def test_the_callers_role_may_start_ecsrun_and_nothing_more_of_it() -> None:
    # Given the example's IAM
    statements = {s["Sid"]: s for s in _statements()}
    # Then the one ecsrun statement is StartExecution on ecsrun's state machine; the rest is log delivery
    assert statements["StartEcsrunRuns"]["Action"] == "states:StartExecution"
    assert statements["StartEcsrunRuns"]["Resource"] == {"Ref": "EcsrunStateMachineArn"}
    assert set(statements) == {"StartEcsrunRuns", "DeliverExecutionLogs"}
    assert all(a.startswith("logs:") for a in statements["DeliverExecutionLogs"]["Action"])
