"""Unit tests for ecsrun.domain.runtask: naming a run in ECS, building RunTask, reading task definitions."""

from __future__ import annotations

import json
import random
import re
import string
from pathlib import Path
from typing import Any

import pytest
from ecsrun.domain.models.request import RUN_ID_PATTERN, RunRequest, validate_request
from ecsrun.domain.models.run import ContainerSpec, LogTarget, Run
from ecsrun.domain.runtask import (
    MAX_CLIENT_TOKEN,
    MAX_STARTED_BY,
    client_token,
    container_specs,
    log_stream_name,
    resolve_run,
    run_id_from_started_by,
    run_task_args,
    started_by,
)

EVENTS = Path(__file__).parents[2] / "events"
PREFIX = "ecsrun/"
STARTED_BY_ALLOWED = re.compile(r"^[A-Za-z0-9_/-]+$")
FIRST = string.ascii_letters + string.digits
REST = FIRST + "._-"


def load_event(*parts: str) -> Any:
    return json.loads(EVENTS.joinpath(*parts).read_text())


def random_run_ids(count: int, seed: int = 20261121) -> list[str]:
    rng = random.Random(seed)
    ids = []
    for _ in range(count):
        length = rng.randint(0, 63)
        ids.append(rng.choice(FIRST) + "".join(rng.choice(REST) for _ in range(length)))
    return ids


EDGE_RUN_IDS = ["a", "a.b", "a..b", "a.", "A.b_c-1", "1.2.3", "x" * 64, "a" + "." * 63, "a-_.-_."]


def request(**fields: Any) -> RunRequest:
    parsed, problems = validate_request({"taskDefinition": "ecsrun-hello", **fields})
    assert problems == [], problems
    assert parsed is not None
    return parsed


# ---- startedBy ----


def test_generated_run_ids_are_valid_run_ids() -> None:
    # Guard for the generator below: every generated id matches the runId pattern
    assert all(re.fullmatch(RUN_ID_PATTERN, run_id) for run_id in random_run_ids(500))


def test_started_by_round_trips_many_run_ids() -> None:
    # Given many valid runIds, dots included
    for run_id in EDGE_RUN_IDS + random_run_ids(2000):
        # When each becomes a startedBy and is read back
        value = started_by(PREFIX, run_id)
        # Then the same runId comes back
        assert run_id_from_started_by(PREFIX, value) == run_id, (run_id, value)


def test_started_by_uses_only_characters_ecs_allows() -> None:
    # Given many runIds / Then startedBy holds only letters, digits, '-', '_' and '/'
    for run_id in EDGE_RUN_IDS + random_run_ids(500):
        assert STARTED_BY_ALLOWED.fullmatch(started_by(PREFIX, run_id)), run_id


def test_started_by_replaces_dots_with_slashes() -> None:
    assert started_by(PREFIX, "a.b.c") == "ecsrun/a/b/c"


@pytest.mark.parametrize("value", [None, "", "other/hello-demo", "ecs-svc/1234", "ecsrun", "ecsrun/"])
def test_foreign_or_empty_started_by_gives_no_run_id(value: str | None) -> None:
    # Given a startedBy from elsewhere, empty, or the bare prefix / Then it belongs to no run
    assert run_id_from_started_by(PREFIX, value) is None


def test_started_by_fits_for_longest_run_id_and_prefix() -> None:
    # Given a 64-character prefix and a 64-character runId
    value = started_by("p" * 64, "r" * 64)
    # Then startedBy is within ECS's 128-character limit
    assert len(value) == MAX_STARTED_BY == 128


def test_started_by_too_long_raises() -> None:
    # Given a 65-character prefix and a 64-character runId / Then startedBy refuses to exceed 128
    with pytest.raises(ValueError, match="128"):
        started_by("p" * 65, "r" * 64)


def test_sample_event_started_by_names_its_run() -> None:
    detail = load_event("ecs-events", "stopped-success.json")["detail"]
    assert run_id_from_started_by(PREFIX, detail["startedBy"]) == "hello-demo"


# ---- clientToken ----


def test_client_token_is_deterministic() -> None:
    assert client_token("hello-demo", 1) == client_token("hello-demo", 1)


def test_client_token_fits_ecs_limit() -> None:
    for run_id in EDGE_RUN_IDS + random_run_ids(200):
        token = client_token(run_id, 999)
        assert 0 < len(token) <= MAX_CLIENT_TOKEN == 64


def test_client_token_differs_by_attempt() -> None:
    assert client_token("hello-demo", 1) != client_token("hello-demo", 2)


def test_client_token_differs_by_run_id() -> None:
    tokens = {client_token(run_id, 1) for run_id in random_run_ids(500)}
    assert len(tokens) == len(set(random_run_ids(500)))


# ---- run_task_args ----


def test_run_task_args_carries_request_and_adds_ecsrun_fields() -> None:
    # Given a resolved run
    run = resolve_run(request(**load_event("requests", "fargate.json")), "exec-1", 3600)
    # When RunTask arguments are built
    args = run_task_args(run, PREFIX, attempt=2)
    # Then they are the request's RunTask fields, plus count, startedBy and clientToken
    assert args == {
        **run.request,
        "count": 1,
        "startedBy": "ecsrun/fargate-example",
        "clientToken": client_token("fargate-example", 2),
    }


def test_run_task_args_request_fields_are_unchanged() -> None:
    # Given the fargate sample request
    raw = load_event("requests", "fargate.json")
    run = resolve_run(request(**raw), "exec-1", 3600)
    # When RunTask arguments are built
    args = run_task_args(run, PREFIX)
    # Then the RunTask fields are exactly the ones the user gave, runner fields removed
    ecsrun_fields = {"count", "startedBy", "clientToken"}
    runner_fields = {"runId", "timeoutSeconds", "successExitCodes"}
    assert {k: v for k, v in args.items() if k not in ecsrun_fields} == {
        k: v for k, v in raw.items() if k not in runner_fields
    }


def test_run_task_args_default_attempt_is_one() -> None:
    run = Run(runId="r", timeoutSeconds=1, successExitCodes=[0], request={"taskDefinition": "td"})
    assert run_task_args(run, PREFIX)["clientToken"] == client_token("r", 1)


def test_run_task_args_forces_count_one() -> None:
    run = Run(runId="r", timeoutSeconds=1, successExitCodes=[0], request={"taskDefinition": "td", "count": 1})
    assert run_task_args(run, PREFIX)["count"] == 1


# ---- resolve_run ----


def test_resolve_run_fills_defaults() -> None:
    # Given a request with no runner fields
    run = resolve_run(request(), "my run:1", 1800)
    # Then runId, timeout and success codes take their defaults
    assert run.runId == "my-run-1"
    assert run.timeoutSeconds == 1800
    assert run.successExitCodes == [0]


def test_resolve_run_keeps_runner_fields_given() -> None:
    run = resolve_run(request(runId="mine", timeoutSeconds=5, successExitCodes=[0, 2]), "exec", 1800)
    assert (run.runId, run.timeoutSeconds, run.successExitCodes) == ("mine", 5, [0, 2])


def test_resolve_run_strips_runner_fields_and_count_from_request() -> None:
    # Given a request with every runner field and count
    given = request(cluster="c", count=1, runId="mine", timeoutSeconds=5, successExitCodes=[0], launchType="EC2")
    # When it is resolved
    run = resolve_run(given, "exec", 1800)
    # Then .request holds only RunTask fields ecsrun passes through
    assert run.request == {"cluster": "c", "taskDefinition": "ecsrun-hello", "launchType": "EC2"}


# ---- container_specs ----


def awslogs(**options: str) -> dict[str, Any]:
    return {"logDriver": "awslogs", "options": options}


def test_container_specs_awslogs_with_group_region_and_prefix() -> None:
    td = {
        "containerDefinitions": [
            {
                "name": "app",
                "essential": True,
                "logConfiguration": awslogs(
                    **{"awslogs-group": "/g", "awslogs-region": "eu-west-1", "awslogs-stream-prefix": "ecs"}
                ),
            }
        ]
    }
    assert container_specs(td, "us-east-1") == [
        ContainerSpec(
            name="app",
            essential=True,
            log=LogTarget(group="/g", region="eu-west-1", stream_prefix="ecs"),
            log_driver="awslogs",
        )
    ]


def test_container_specs_awslogs_without_region_uses_default_region() -> None:
    td = {"containerDefinitions": [{"name": "app", "logConfiguration": awslogs(**{"awslogs-group": "/g"})}]}
    [spec] = container_specs(td, "us-west-2")
    assert spec.log is not None
    assert spec.log.region == "us-west-2"


def test_container_specs_awslogs_without_stream_prefix_has_no_prefix() -> None:
    td = {
        "containerDefinitions": [
            {"name": "app", "logConfiguration": awslogs(**{"awslogs-group": "/g", "awslogs-region": "us-east-1"})}
        ]
    }
    [spec] = container_specs(td, "us-east-1")
    assert spec.log == LogTarget(group="/g", region="us-east-1", stream_prefix=None)


def test_container_specs_firelens_has_no_log_target() -> None:
    td = {
        "containerDefinitions": [
            {"name": "app", "logConfiguration": {"logDriver": "awsfirelens", "options": {"Name": "cloudwatch"}}}
        ]
    }
    [spec] = container_specs(td, "us-east-1")
    assert spec.log is None
    assert spec.log_driver == "awsfirelens"


def test_container_specs_no_log_configuration() -> None:
    [spec] = container_specs({"containerDefinitions": [{"name": "app"}]}, "us-east-1")
    assert spec.log is None
    assert spec.log_driver is None


def test_container_specs_essential_defaults_to_true() -> None:
    [spec] = container_specs({"containerDefinitions": [{"name": "app"}]}, "us-east-1")
    assert spec.essential is True


def test_container_specs_from_sample_sidecar_definition() -> None:
    # Given the sidecar task definition
    specs = container_specs(load_event("task-definitions", "sidecar.json"), "us-east-1")
    # Then app is essential, log-router is not, both log to awslogs with prefix "ecs"
    assert [(s.name, s.essential) for s in specs] == [("app", True), ("log-router", False)]
    assert all(s.log == LogTarget(group="/ecs/ecsrun-demo", region="us-east-1", stream_prefix="ecs") for s in specs)


def test_container_specs_without_containers_is_empty() -> None:
    assert container_specs({}, "us-east-1") == []


# ---- log_stream_name ----


def test_log_stream_name_is_prefix_container_task_id() -> None:
    assert (
        log_stream_name("ecs", "app", "5c4b31a4c7e87d74f544d3299423de79") == "ecs/app/5c4b31a4c7e87d74f544d3299423de79"
    )
