"""retry.escalate: more memory after an OOM kill (valid Fargate sizes kept), FARGATE after a Spot interruption."""

from __future__ import annotations

from typing import Any

from ecsrun.domain.escalation import Sizes, escalate, fargate_size, raise_memory, sizes, spot_fallback
from ecsrun.domain.models.run import Run
from ecsrun.domain.request_rules import FARGATE_SIZES
from ecsrun.domain.retry_rules import Failure
from ecsrun.domain.runtask import client_token, run_task_args

FARGATE: dict[str, Any] = {"taskDefinition": "job", "launchType": "FARGATE"}
OOM = Failure(error="ECS.ContainerExitedNonZero", exitCode=137, reasons=("OutOfMemoryError",), outOfMemory="app")


def test_memory_doubles_within_the_cpu_it_has() -> None:
    # Given a 512-unit 1024 MiB Fargate task killed for memory
    change = raise_memory(FARGATE, Sizes(cpu=512, memory=1024), "app", 2, 8192)
    # Then the next attempt has 2048 MiB, the same cpu
    assert change.changed == {"memory": "1024 -> 2048"}
    assert change.fields == {"overrides": {"memory": "2048"}}


def test_cpu_rises_when_the_memory_needs_it() -> None:
    # Given 256 units and 2048 MiB (256's largest), doubled
    change = raise_memory(FARGATE, Sizes(cpu=256, memory=2048), "app", 2, 30720)
    # Then 4096 MiB needs 512 units: both change, and the pair is a valid Fargate size
    assert change.changed == {"cpu": "256 -> 512", "memory": "2048 -> 4096"}
    assert change.fields["overrides"] == {"cpu": "512", "memory": "4096"}
    assert 4096 in FARGATE_SIZES[512]


def test_the_maximum_caps_and_says_so() -> None:
    # Given 3072 MiB tripled under maxMemoryMiB 4096
    change = raise_memory(FARGATE, Sizes(cpu=1024, memory=3072), "app", 3, 4096)
    assert change.changed == {"memory": "3072 -> 4096"}
    # And at the maximum, nothing changes and a note says why
    capped = raise_memory(FARGATE, Sizes(cpu=1024, memory=4096), "app", 2, 4096)
    assert capped.changed == {} and capped.fields == {}
    assert "not raised" in capped.notes[0]


def test_every_fargate_size_chosen_is_valid() -> None:
    # Given every valid size and a range of factors and maxima
    for cpu, memories in FARGATE_SIZES.items():
        for memory in memories:
            for factor, most in ((1.5, 122880), (2, 8192), (8, 61440)):
                # When escalated
                chosen = fargate_size(cpu, memory, min(int(memory * factor), most), most)
                # Then the choice is a valid pair with more memory, never less cpu, within the maximum
                if chosen is not None:
                    new_cpu, new_memory = chosen
                    assert new_memory in FARGATE_SIZES[new_cpu]
                    assert memory < new_memory <= most and new_cpu >= cpu


def test_a_container_hard_limit_rises_too_within_the_task() -> None:
    # Given an EC2 task whose container has memory 256 in its definition and the task 1024
    now = sizes({"taskDefinition": "job"}, None, "1024", {"app": 256})
    change = raise_memory({"taskDefinition": "job"}, now, "app", 2, 4096)
    # Then both rise: the task to 2048, the container's override to 512
    assert change.changed == {"memory": "1024 -> 2048", "containers.app.memory": "256 -> 512"}
    assert change.fields["overrides"]["containerOverrides"] == [{"name": "app", "memory": 512}]


def test_the_request_overrides_are_where_the_size_starts_and_are_kept() -> None:
    # Given a request that overrides memory to 2 GB and sets an environment
    request = {
        **FARGATE,
        "overrides": {
            "memory": "2 GB",
            "containerOverrides": [{"name": "app", "environment": [{"name": "A", "value": "1"}]}],
        },
    }
    now = sizes(request, "256", "512", {})
    change = escalate({"memoryFactor": 2, "maxMemoryMiB": 8192}, OOM, request, now)
    # Then it starts from 2048, and the container's environment override stays
    assert change.changed == {"cpu": "256 -> 512", "memory": "2048 -> 4096"}
    assert change.fields["overrides"]["containerOverrides"][0]["environment"] == [{"name": "A", "value": "1"}]


def test_spot_fallback_moves_the_strategy_to_fargate() -> None:
    # Given a FARGATE_SPOT strategy interrupted
    request = {"taskDefinition": "job", "capacityProviderStrategy": [{"capacityProvider": "FARGATE_SPOT", "weight": 1}]}
    spot = Failure(error="ECS.TaskStopped", exitCode=None, reasons=("SpotInterruption",), spotInterrupted=True)
    change = escalate({"spotFallback": "FARGATE"}, spot, request, Sizes(cpu=256, memory=512))
    # Then the next attempt runs on FARGATE
    assert change.fields == {"capacityProviderStrategy": [{"capacityProvider": "FARGATE", "weight": 1}]}
    assert change.changed == {"capacityProvider": "FARGATE_SPOT -> FARGATE"}
    # And a request without Spot changes nothing
    assert spot_fallback(FARGATE, "FARGATE").changed == {}


def test_no_escalation_without_its_cause() -> None:
    # Given memoryFactor and an exit 1 (no OOM)
    plain = Failure(error="ECS.ContainerExitedNonZero", exitCode=1, reasons=())
    assert escalate({"memoryFactor": 2, "maxMemoryMiB": 4096}, plain, FARGATE, Sizes(256, 512)).changed == {}


def test_the_next_runtask_uses_the_escalated_fields_with_its_own_client_token() -> None:
    # Given a run and the fields an OOM escalation chose for attempt 2
    run = Run(runId="r1", timeoutSeconds=60, successExitCodes=[0], request={**FARGATE, "overrides": {"memory": "512"}})
    fields = raise_memory(run.request, Sizes(cpu=256, memory=512), "app", 2, 4096).fields
    # When RunTask's arguments are built for attempt 2, twice
    first = run_task_args(run, "ecsrun/", attempt=2, fields=fields)
    # Then they carry the raised memory, the attempt's clientToken, and are the same each time (one task per attempt)
    assert first["overrides"] == {"memory": "1024"}
    assert first["clientToken"] == client_token("r1", 2) != client_token("r1", 1)
    assert run_task_args(run, "ecsrun/", attempt=2, fields=fields) == first
    assert run_task_args(run, "ecsrun/", attempt=1)["overrides"] == {"memory": "512"}
