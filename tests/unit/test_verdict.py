"""Unit tests for ecsrun.verdict.judge, fed with the sample ECS events."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from ecsrun.errors import ErrorName
from ecsrun.models.ecs import EcsTask, TaskContainer, TaskStateChangeEvent
from ecsrun.verdict import judge

EVENTS = Path(__file__).parents[2] / "events"


def load_event(*parts: str) -> Any:
    return json.loads(EVENTS.joinpath(*parts).read_text())


def sample_task(name: str) -> EcsTask:
    return TaskStateChangeEvent.model_validate(load_event("ecs-events", f"{name}.json")).detail


def with_containers(task: EcsTask, *containers: TaskContainer, **fields: Any) -> EcsTask:
    return task.model_copy(update={"containers": list(containers), **fields})


APP_ONLY = {"app": True}
SIDECAR = {"app": True, "log-router": False}


# ---- the error names are a contract ----


@pytest.mark.parametrize(
    ("member", "value"),
    [
        (ErrorName.TASK_FAILED_TO_START, "ECS.TaskFailedToStart"),
        (ErrorName.CONTAINER_EXITED_NON_ZERO, "ECS.ContainerExitedNonZero"),
        (ErrorName.TASK_STOPPED, "ECS.TaskStopped"),
    ],
)
def test_verdict_error_names_are_exact_strings(member: ErrorName, value: str) -> None:
    assert member.value == value
    assert member == value


# ---- sample events ----


def test_stopped_success_succeeds() -> None:
    # Given a task whose only container exited 0
    task = sample_task("stopped-success")
    # When it is judged
    verdict = judge(task, APP_ONLY, [0])
    # Then it succeeded with no error
    assert verdict.succeeded is True
    assert verdict.error is None
    assert verdict.failingContainer is None


def test_stopped_nonzero_fails_on_app_with_its_exit_code() -> None:
    # Given a task whose app exited 3
    verdict = judge(sample_task("stopped-nonzero"), APP_ONLY, [0])
    # Then the verdict names the container and the code
    assert verdict.succeeded is False
    assert verdict.error == ErrorName.CONTAINER_EXITED_NON_ZERO
    assert verdict.failingContainer == "app"
    assert "code 3" in verdict.reason


def test_non_essential_sidecar_exit_code_is_ignored() -> None:
    # Given app exited 0 and a non-essential log-router exited 137
    verdict = judge(sample_task("stopped-sidecar-nonzero"), SIDECAR, [0])
    # Then the run succeeded
    assert verdict.succeeded is True


def test_essential_sidecar_exit_code_fails_the_run() -> None:
    # Given the log-router is marked essential
    verdict = judge(sample_task("stopped-sidecar-nonzero"), {"log-router": True}, [0])
    # Then the run fails on log-router
    assert verdict.succeeded is False
    assert verdict.error == ErrorName.CONTAINER_EXITED_NON_ZERO
    assert verdict.failingContainer == "log-router"
    assert "code 137" in verdict.reason


def test_unknown_containers_count_as_essential() -> None:
    # Given no essential flags at all
    verdict = judge(sample_task("stopped-sidecar-nonzero"), {}, [0])
    # Then every container is essential and log-router's 137 fails the run
    assert verdict.succeeded is False
    assert verdict.failingContainer == "log-router"


def test_failed_to_start_is_task_failed_to_start_with_container_reason() -> None:
    # Given a task that could not pull its image
    verdict = judge(sample_task("stopped-failed-to-start"), APP_ONLY, [0])
    # Then it failed to start, and the reason carries ECS's error
    assert verdict.succeeded is False
    assert verdict.error == ErrorName.TASK_FAILED_TO_START
    assert "CannotPullContainerError" in verdict.reason
    assert verdict.failingContainer is None


def test_empty_containers_is_task_failed_to_start_with_stopped_reason() -> None:
    # Given a task that stopped with no containers (ENI provisioning timed out)
    verdict = judge(sample_task("stopped-empty-containers"), APP_ONLY, [0])
    # Then it failed to start, with the task's stoppedReason
    assert verdict.error == ErrorName.TASK_FAILED_TO_START
    assert "network interface" in verdict.reason


def test_no_containers_is_failed_to_start_whatever_the_stop_code() -> None:
    # Given a task with no containers and an ordinary stop code
    task = with_containers(sample_task("stopped-success"))
    # Then it still failed to start
    assert judge(task, APP_ONLY, [0]).error == ErrorName.TASK_FAILED_TO_START


def test_user_initiated_stop_is_task_stopped_despite_exit_143() -> None:
    # Given a task stopped by StopTask, whose app exited 143
    verdict = judge(sample_task("stopped-user-initiated"), APP_ONLY, [0, 143])
    # Then it is TaskStopped, even though 143 is a success code here
    assert verdict.succeeded is False
    assert verdict.error == ErrorName.TASK_STOPPED
    assert "UserInitiated" in verdict.reason


def test_spot_interruption_is_task_stopped() -> None:
    verdict = judge(sample_task("stopped-spot"), APP_ONLY, [0])
    assert verdict.error == ErrorName.TASK_STOPPED
    assert "Spot" in verdict.reason


def test_host_terminated_is_task_stopped() -> None:
    # Given an EC2 task whose host was terminated (stop code EssentialContainerExited)
    verdict = judge(sample_task("stopped-host-terminated"), APP_ONLY, [0])
    # Then it is TaskStopped, not a container failure
    assert verdict.error == ErrorName.TASK_STOPPED
    assert "terminated" in verdict.reason


@pytest.mark.parametrize("stop_code", ["ServiceSchedulerInitiated", "TerminationNotice"])
def test_other_external_stop_codes_are_task_stopped(stop_code: str) -> None:
    task = sample_task("stopped-success").model_copy(update={"stopCode": stop_code})
    assert judge(task, APP_ONLY, [0]).error == ErrorName.TASK_STOPPED


# ---- order of judgement and exit codes ----


def test_stop_code_is_judged_before_exit_codes() -> None:
    # Given TaskFailedToStart, yet the container reports exit code 0
    task = with_containers(
        sample_task("stopped-success"), TaskContainer(name="app", exitCode=0), stopCode="TaskFailedToStart"
    )
    # When it is judged / Then it is still a failure to start
    verdict = judge(task, APP_ONLY, [0])
    assert verdict.succeeded is False
    assert verdict.error == ErrorName.TASK_FAILED_TO_START


def test_missing_exit_code_on_essential_container_fails() -> None:
    # Given an essential container that reported no exit code
    task = with_containers(sample_task("stopped-success"), TaskContainer(name="app", exitCode=None))
    # Then the run fails on that container
    verdict = judge(task, APP_ONLY, [0])
    assert verdict.error == ErrorName.CONTAINER_EXITED_NON_ZERO
    assert verdict.failingContainer == "app"
    assert "no exit code" in verdict.reason


def test_missing_exit_code_on_non_essential_container_is_ignored() -> None:
    task = with_containers(
        sample_task("stopped-success"),
        TaskContainer(name="app", exitCode=0),
        TaskContainer(name="log-router", exitCode=None),
    )
    assert judge(task, SIDECAR, [0]).succeeded is True


def test_custom_success_exit_codes_make_exit_3_succeed() -> None:
    # Given successExitCodes [0, 3] and an app that exited 3
    verdict = judge(sample_task("stopped-nonzero"), APP_ONLY, [0, 3])
    # Then the run succeeded
    assert verdict.succeeded is True


def test_zero_is_not_a_success_code_unless_listed() -> None:
    # Given successExitCodes [3] and an app that exited 0
    verdict = judge(sample_task("stopped-success"), APP_ONLY, [3])
    # Then the run failed
    assert verdict.error == ErrorName.CONTAINER_EXITED_NON_ZERO


def test_container_reason_is_added_to_exit_code_reason() -> None:
    task = with_containers(
        sample_task("stopped-nonzero"), TaskContainer(name="app", exitCode=137, reason="OutOfMemoryError: killed")
    )
    verdict = judge(task, APP_ONLY, [0])
    assert "code 137" in verdict.reason
    assert "OutOfMemoryError" in verdict.reason


def test_first_failing_essential_container_is_named() -> None:
    task = with_containers(
        sample_task("stopped-nonzero"),
        TaskContainer(name="a", exitCode=0),
        TaskContainer(name="b", exitCode=2),
        TaskContainer(name="c", exitCode=1),
    )
    assert judge(task, {}, [0]).failingContainer == "b"


def test_success_exit_codes_may_be_a_generator() -> None:
    # Given success codes as a one-shot iterable / Then they are still honoured for every container
    task = with_containers(
        sample_task("stopped-success"), TaskContainer(name="a", exitCode=4), TaskContainer(name="b", exitCode=4)
    )
    assert judge(task, {}, (code for code in [0, 4])).succeeded is True


# ---- EcsTask parsing ----


def test_describe_tasks_shape_is_accepted_with_epoch_timestamps_as_iso() -> None:
    # Given a DescribeTasks task with epoch-number timestamps
    raw = load_event("ecs-events", "describe-tasks-stopped.json")["tasks"][0]
    # When it is parsed
    task = EcsTask.model_validate(raw)
    # Then the timestamps are ISO-8601 UTC strings with milliseconds and "Z"
    assert task.startedAt == "2026-11-21T10:15:27.918Z"
    assert task.stoppedAt == "2026-11-21T10:15:42.377Z"
    assert task.createdAt is not None
    assert task.createdAt.endswith("Z")


def test_describe_tasks_shape_judges_like_the_event() -> None:
    raw = load_event("ecs-events", "describe-tasks-stopped.json")["tasks"][0]
    task = EcsTask.model_validate(raw)
    assert task.task_id == "5c4b31a4c7e87d74f544d3299423de79"
    assert judge(task, APP_ONLY, [0]).succeeded is True


def test_event_timestamps_are_kept_as_given() -> None:
    task = sample_task("stopped-success")
    assert task.startedAt == "2026-11-21T10:15:27.918Z"
