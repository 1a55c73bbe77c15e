"""Request checks that come from ECS's API model (ecsrun.domain.apishape) and from its cross-field rules."""

from __future__ import annotations

from typing import Any

import botocore.session
import pytest
from ecsrun.domain.apishape import check, operation_input
from ecsrun.domain.request_rules import FARGATE_SIZES, parse_cpu, parse_memory, problems

NET = {"awsvpcConfiguration": {"subnets": ["subnet-1"]}}


def fargate(**fields: Any) -> dict[str, Any]:
    return {"taskDefinition": "td", "launchType": "FARGATE", "networkConfiguration": NET, **fields}


def test_enums_follow_the_sdk_model_not_a_copy() -> None:
    # Given the launch types in the botocore model that ships with the SDK
    model = botocore.session.get_session().get_service_model("ecs")
    launch_types = model.shape_for("LaunchType").enum
    shape = operation_input("ecs", "RunTask")
    # Then every one of them is accepted and anything else is refused, naming the model's list
    for launch in launch_types:
        assert list(check(shape, {"taskDefinition": "td", "launchType": launch})) == []
    [(field, message)] = check(shape, {"taskDefinition": "td", "launchType": "SPOT"})
    assert field == "launchType" and message == f"must be one of {', '.join(launch_types)}; got 'SPOT'"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"count": True}, "must be an integer; got boolean True"),
        ({"enableExecuteCommand": "yes"}, "must be true or false; got string 'yes'"),
        ({"cluster": 5}, "must be a string; got integer 5"),
        ({"tags": [{"key": "k" * 129}]}, "must be at most 128 characters; got 129"),
        ({"capacityProviderStrategy": [{"capacityProvider": "a", "weight": 1001}]}, "must be at most 1000; got 1001"),
        ({"cluster": None}, "must not be null; leave the field out instead"),
    ],
)
def test_types_and_limits_are_strict_as_the_model_defines(value: dict[str, Any], message: str) -> None:
    found = list(check(operation_input("ecs", "RunTask"), {"taskDefinition": "td", **value}))
    assert [m for _, m in found] == [message]


@pytest.mark.parametrize(
    ("cpu", "memory"),
    [
        ("256", "512"),
        ("0.25 vCPU", "0.5 GB"),
        ("1 vCPU", "2 GB"),
        ("1024", "8192"),
        ("16384", "122880"),
        ("4096", "30 GB"),
    ],
)
def test_valid_fargate_sizes_are_accepted(cpu: str, memory: str) -> None:
    assert list(problems(fargate(overrides={"cpu": cpu, "memory": memory}))) == []


def test_fargate_size_table_matches_the_documented_bounds() -> None:
    assert {cpu: (m[0], m[-1]) for cpu, m in FARGATE_SIZES.items()} == {
        256: (512, 2048),
        512: (1024, 4096),
        1024: (2048, 8192),
        2048: (4096, 16384),
        4096: (8192, 30720),
        8192: (16384, 61440),
        16384: (32768, 122880),
    }
    assert 1536 not in FARGATE_SIZES[256]


def test_cpu_and_memory_units_parse_as_ecs_accepts_them() -> None:
    assert [parse_cpu(v) for v in ("1024", "1 vCPU", "0.25 vcpu", "2vCPU", "abc", "1.3")] == [
        1024,
        1024,
        256,
        2048,
        None,
        None,
    ]
    assert [parse_memory(v) for v in ("2048", "2 GB", "0.5GB", "3 TB")] == [2048, 2048, 512, None]


def test_platform_version_is_allowed_when_the_cluster_default_decides() -> None:
    # Given neither launchType nor a strategy: the cluster's default capacity provider strategy may be Fargate
    request = {"taskDefinition": "td", "platformVersion": "LATEST"}
    assert list(problems(request)) == []


def test_platform_version_and_public_ip_are_fine_on_fargate() -> None:
    awsvpc = {"awsvpcConfiguration": {"subnets": ["s"], "assignPublicIp": "ENABLED"}}
    assert list(problems(fargate(platformVersion="1.4.0", networkConfiguration=awsvpc))) == []


def test_names_as_ecs_documents_them_are_accepted() -> None:
    arn = "arn:aws:ecs:us-east-1:123456789012:task-definition/ecsrun-hello:3"
    cluster = "arn:aws-us-gov:ecs:us-gov-west-1:123456789012:cluster/batch_jobs"
    request = {
        "taskDefinition": arn,
        "cluster": cluster,
        "overrides": {"containerOverrides": [{"name": "log_router-1"}]},
    }
    assert list(problems(request)) == []
    assert list(problems({"taskDefinition": "ecsrun-hello:12"})) == []
