"""The validate-request function: a valid request becomes `$.run`; a bad one never reaches ECS."""

from __future__ import annotations

import io
import json

import pytest

from tests.conftest import Stack, load_event
from tests.handlers.helpers import EXECUTION, validate


def test_valid_request_resolves_the_run(stack: Stack) -> None:
    # Given the console-ready hello request and its task definition, When validated
    stack.register("hello.json")
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


def test_defaults_come_from_the_execution_and_the_environment(stack: Stack) -> None:
    # Given a request with no runner fields, When validated in execution "nightly:2026-11-21"
    stack.register("hello.json")
    network = {"awsvpcConfiguration": {"subnets": [stack.subnet]}}
    request = {"taskDefinition": "ecsrun-hello", "launchType": "FARGATE", "networkConfiguration": network}
    result = validate(request, "nightly:2026-11-21")
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


# ---- the allowlists and the account ----


def _problems(result: dict) -> dict[str, str]:
    """Field → its messages (joined with " | " when a field has several)."""
    assert result["valid"] is False and result["error"] == "RunRequest.Invalid", result
    found: dict[str, list[str]] = {}
    for problem in json.loads(result["cause"])["problems"]:
        found.setdefault(problem["field"], []).append(problem["message"])
    return {field: " | ".join(messages) for field, messages in found.items()}


def test_a_cluster_outside_the_allowlist_is_refused_before_ecs_is_asked(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a runner allowed only clusters named batch-*
    monkeypatch.setenv("ALLOWED_CLUSTERS", "batch-*, etl")
    stack.register("hello.json")
    # When a request names the default cluster, Then the problem names the cluster and the allowlist
    problems = _problems(validate(stack.request()))
    assert problems == {"cluster": "cluster 'default' is not one this runner may use (AllowedClusters: batch-*, etl)"}


def test_a_task_definition_family_outside_the_allowlist_is_refused(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ALLOWED_TASK_DEFINITION_FAMILIES", "etl-*")
    stack.register("hello.json")
    arn = "arn:aws:ecs:us-east-1:123456789012:task-definition/ecsrun-hello:1"
    problems = _problems(validate(stack.request(taskDefinition=arn)))
    assert set(problems) == {"taskDefinition"} and "'ecsrun-hello'" in problems["taskDefinition"]


def test_allowed_patterns_match_names_and_arns(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALLOWED_CLUSTERS", "def*")
    monkeypatch.setenv("ALLOWED_TASK_DEFINITION_FAMILIES", "ecsrun-?ello,other")
    stack.register("hello.json")
    cluster = "arn:aws:ecs:us-east-1:123456789012:cluster/default"
    assert validate(stack.request(cluster=cluster, taskDefinition="ecsrun-hello:1"))["valid"] is True


@pytest.mark.parametrize(
    ("cluster", "where"),
    [
        ("arn:aws:ecs:us-east-1:210987654321:cluster/default", "account 210987654321, Region us-east-1"),
        ("arn:aws:ecs:eu-west-1:123456789012:cluster/default", "account 123456789012, Region eu-west-1"),
    ],
)
def test_a_cluster_of_another_account_or_region_is_refused(stack: Stack, cluster: str, where: str) -> None:
    # Given a cluster named like this account's "default", but in another account or Region
    stack.register("hello.json")
    # When a request names it by ARN
    problems = _problems(validate(stack.request(cluster=cluster)))
    # Then the problem says where it is and where the runner starts tasks (a lookup by name would find "default")
    assert problems == {
        "cluster": f"cluster {cluster!r} is in {where}; this runner starts tasks in account 123456789012, "
        "Region us-east-1 only"
    }


def test_a_cluster_arn_is_looked_up_by_its_arn(stack: Stack) -> None:
    # Given this account's default cluster named by its full ARN
    stack.register("hello.json")
    arn = stack.ecs.describe_clusters(clusters=["default"])["clusters"][0]["clusterArn"]
    # Then it is valid, as RunTask would take it
    assert validate(stack.request(cluster=arn))["valid"] is True


def test_a_role_the_runner_may_not_pass_is_refused_naming_pass_role_arns(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a stack deployed with PassRoleArns left empty (its default) and a task definition with an execution role
    monkeypatch.setenv("PASS_ROLE_ARNS", "")
    stack.register("hello.json")
    # When a request for it is validated
    problems = _problems(validate(stack.request()))
    # Then RunTask is never reached: the problem names the role and the parameter that would allow it
    assert problems == {
        "taskDefinition": "ecsrun-hello:1's executionRoleArn arn:aws:iam::123456789012:role/ecsTaskExecutionRole is "
        "not one this runner may pass to ECS: add it to the stack's PassRoleArns parameter (now empty)"
    }


def test_roles_in_overrides_must_be_passable_too(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a runner that may pass the execution role and any app-* role
    monkeypatch.setenv(
        "PASS_ROLE_ARNS", "arn:aws:iam::123456789012:role/ecsTaskExecutionRole,arn:aws:iam::*:role/app-*"
    )
    stack.register("hello.json")
    allowed = {"taskRoleArn": "arn:aws:iam::123456789012:role/app-reader"}
    refused = {"taskRoleArn": "arn:aws:iam::123456789012:role/admin"}
    # Then an override naming an app-* role is valid, and one naming another role is refused on that field
    assert validate(stack.request(overrides=allowed))["valid"] is True
    problems = _problems(validate(stack.request(overrides=refused)))
    assert list(problems) == ["overrides.taskRoleArn"]
    assert "the task role override arn:aws:iam::123456789012:role/admin is not one" in problems["overrides.taskRoleArn"]


def test_twenty_thousand_bad_fields_make_a_bounded_cause_that_says_it_was_cut(stack: Stack) -> None:
    # Given a request with 20,000 unknown fields
    stack.register("hello.json")
    request = {"taskDefinition": "ecsrun-hello", **{f"unknownField{i:05d}": i for i in range(20_000)}}
    # When it is validated
    result = validate(request)
    # Then the Fail state's cause is JSON within Step Functions' 32,768 characters, first problems first
    assert result["valid"] is False
    assert len(result["cause"]) <= 32_768
    cause = json.loads(result["cause"])
    assert cause["truncated"]["problems"]["total"] >= 20_000
    assert [p["field"] for p in cause["problems"][:2]] == ["(request)", "unknownField00000"]
    assert cause["message"].startswith("the run request has ")


def test_a_task_definition_that_does_not_exist_is_a_problem_not_an_exception(stack: Stack) -> None:
    problems = _problems(validate(stack.request(taskDefinition="ecsrun-nothing")))
    assert problems == {"taskDefinition": "no task definition 'ecsrun-nothing' in this account and region"}


def test_an_inactive_task_definition_is_refused(stack: Stack) -> None:
    arn = stack.register("hello.json")
    stack.ecs.deregister_task_definition(taskDefinition=arn)
    problems = _problems(validate(stack.request(taskDefinition="ecsrun-hello:1")))
    assert problems["taskDefinition"] == "ecsrun-hello:1 is INACTIVE: ECS runs only ACTIVE task definitions"


def test_a_missing_cluster_and_an_unknown_container_are_named_together(stack: Stack) -> None:
    # Given a request for a cluster that does not exist, overriding a container the definition lacks
    stack.register("hello.json")
    overrides = {"containerOverrides": [{"name": "app"}, {"name": "worker", "command": ["true"]}]}
    problems = _problems(validate(stack.request(cluster="nowhere", overrides=overrides)))
    # Then both are problems, each at its own field
    assert problems == {
        "cluster": "no cluster 'nowhere' in this account and region",
        "overrides.containerOverrides[1].name": "ecsrun-hello:1 has no container 'worker' (its containers: app)",
    }


def test_a_launch_type_the_definition_is_not_compatible_with_is_refused(stack: Stack) -> None:
    # Given a definition that requires FARGATE (ECS validates it for EC2 and FARGATE)
    stack.register("hello.json")
    request = stack.request(launchType="EXTERNAL")
    del request["networkConfiguration"]
    problems = _problems(validate(request))
    assert "ecsrun-hello:1 is compatible with EC2, FARGATE, not EXTERNAL" in problems["launchType"].split(" | ")


def test_a_capacity_provider_the_cluster_lacks_is_refused(stack: Stack) -> None:
    stack.register("hello.json")
    strategy = [{"capacityProvider": "FARGATE"}, {"capacityProvider": "gpu-asg", "weight": 1}]
    problems = _problems(validate(stack.request("capacity-provider.json", capacityProviderStrategy=strategy)))
    assert problems == {
        "capacityProviderStrategy[1].capacityProvider": (
            "cluster 'default' has no capacity provider 'gpu-asg' (it has: FARGATE, FARGATE_SPOT)"
        )
    }


def test_an_ec2_task_needs_a_container_instance_in_the_cluster(stack: Stack) -> None:
    stack.register("hello.json")
    request = stack.request(launchType="EC2")
    del request["networkConfiguration"]["awsvpcConfiguration"]["assignPublicIp"]
    problems = _problems(validate(request))
    assert problems == {"launchType": "cluster 'default' has no registered container instances to place an EC2 task on"}


# ---- secrets, and what the logs say ----


@pytest.fixture
def log(monkeypatch: pytest.MonkeyPatch) -> io.StringIO:
    """What the functions' Powertools logger writes (its handler's stream is bound when it is created)."""
    from ecsrun.plumbing.observability import logger

    stream = io.StringIO()
    monkeypatch.setattr(logger.registered_handler, "stream", stream)
    return stream


def _drain(stream: io.StringIO) -> str:
    text = stream.getvalue()
    stream.seek(0)
    stream.truncate()
    return text


SECRET = "s3cr3t-hunter2"


def _with_secret_problem(stack: Stack) -> dict:
    environment = [{"name": "DB_PASSWORD", "value": SECRET}, {"name": "RETRIES", "value": 3}, SECRET]
    return stack.request(overrides={"containerOverrides": [{"name": "app", "environment": environment}]})


def test_environment_values_are_never_quoted_in_problems_or_logs(stack: Stack, log: io.StringIO) -> None:
    # Given a request whose environment overrides are malformed and hold a secret
    stack.register("hello.json")
    result = validate(_with_secret_problem(stack))
    # Then the problems name the fields but quote no value, and neither the cause nor the function's logs hold it
    problems = _problems(result)
    assert set(problems) == {
        "overrides.containerOverrides[0].environment[1].value",
        "overrides.containerOverrides[0].environment[2]",
    }
    assert all("value hidden" in message for message in problems.values())
    assert SECRET not in result["cause"] and "'3'" not in result["cause"]
    logged = _drain(log)
    assert "run request rejected" in logged and "environment[1].value" in logged  # the problems were logged
    assert SECRET not in logged


def test_redaction_can_be_turned_off_for_a_stack_without_secrets(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDACT_SECRETS", "false")
    stack.register("hello.json")
    problems = _problems(validate(_with_secret_problem(stack)))
    assert problems["overrides.containerOverrides[0].environment[2]"] == f"must be an object; got string '{SECRET}'"


def test_offline_and_account_problems_come_in_one_answer(stack: Stack) -> None:
    # Given a request with a type error and a cluster that does not exist
    stack.register("hello.json")
    problems = _problems(validate(stack.request(cluster="nowhere", timeoutSeconds="60")))
    # Then both are reported together
    assert set(problems) == {"cluster", "timeoutSeconds"}


def test_malformed_names_are_not_looked_up(stack: Stack) -> None:
    # Given names that are themselves invalid, Then the problems are those, with no lookup errors added
    problems = _problems(validate(stack.request(taskDefinition="../x", cluster=["default"])))
    assert set(problems) == {"taskDefinition", "cluster"}
    assert "no task definition" not in problems["taskDefinition"]


def _log_lines(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def test_every_log_line_names_the_run_and_execution_of_its_own_invocation(stack: Stack, log: io.StringIO) -> None:
    # Given two invocations in the same (warm) process, for two different runs
    stack.register("hello.json")
    validate({"taskDefinition": "x", "count": 2, "runId": "first-run"}, execution_arn="arn:exec:first")
    first = _log_lines(_drain(log))
    validate({"taskDefinition": "x", "count": 2}, "second-exec", execution_arn="arn:exec:second")
    second = _log_lines(_drain(log))
    # Then every line carries its own invocation's runId and execution ARN, never the previous one's
    assert first and all((e["runId"], e["executionArn"]) == ("first-run", "arn:exec:first") for e in first)
    assert second and all((e["runId"], e["executionArn"]) == ("second-exec", "arn:exec:second") for e in second)
