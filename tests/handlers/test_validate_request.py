"""The validate-request function: a valid request becomes `$.run`; a bad one never reaches ECS."""

from __future__ import annotations

import json

from tests.conftest import load_event
from tests.handlers.helpers import EXECUTION, validate


def test_valid_request_resolves_the_run(env: None) -> None:
    # Given the console-ready hello request, When validated
    result = validate(load_event("requests/hello.json"))
    # Then the run carries its id, timeout and codes, and the request keeps only RunTask fields
    assert result["valid"] is True
    run = result["run"]
    assert run["runId"] == "hello-demo"
    assert run["timeoutSeconds"] == 300
    assert run["successExitCodes"] == [0]
    assert run["request"]["taskDefinition"] == "ecsrun-hello"
    assert not {"runId", "timeoutSeconds", "successExitCodes"} & set(run["request"])
    # And the execution ARN travels with it, so later states know which execution owns the run
    assert result["executionArn"] == EXECUTION


def test_defaults_come_from_the_execution_and_the_environment(env: None) -> None:
    # Given a request with no runner fields, When validated in execution "nightly:2026-11-21"
    result = validate({"taskDefinition": "td"}, "nightly:2026-11-21")
    # Then the runId is derived from the execution name and the timeout from DEFAULT_TIMEOUT_SECONDS
    assert result["run"]["runId"] == "nightly-2026-11-21"
    assert result["run"]["timeoutSeconds"] == 900


def test_invalid_request_names_every_problem(env: None) -> None:
    # Given a request with several problems, When validated
    result = validate(load_event("requests/invalid.json"))
    # Then it is rejected with RunRequest.Invalid and the cause lists each field
    assert result["valid"] is False
    assert result["error"] == "RunRequest.Invalid"
    cause = json.loads(result["cause"])
    fields = {p["field"] for p in cause["problems"]}
    assert {
        "taskDefinitionn",
        "taskDefinition",
        "capacityProviderStrategy",
        "count",
        "runId",
        "timeoutSeconds",
    } <= fields
    assert "no task was started" in cause["message"]


def test_a_request_that_is_not_an_object_is_rejected(env: None) -> None:
    result = validate(["taskDefinition"])
    assert result["valid"] is False
    assert json.loads(result["cause"])["problems"] == [
        {"field": "(request)", "message": "must be a JSON object; got list"}
    ]
