"""Unit tests for ecsrun.domain.verdict.judge, fed with the sample ECS events."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from ecsrun.domain.errors import ErrorName
from ecsrun.domain.models.ecs import EcsTask, TaskContainer, TaskStateChangeEvent
from ecsrun.domain.models.verdict import Verdict
from ecsrun.domain.verdict import judge

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


# ---- retryable ----


def test_retryable_defaults_to_false() -> None:
    # Given a verdict built without saying whether it is retryable (as older run records were)
    verdict = Verdict.model_validate({"succeeded": False, "error": "ECS.TaskStopped", "reason": "stopped"})
    # Then it is not retryable
    assert verdict.retryable is False


def test_success_is_not_retryable() -> None:
    assert judge(sample_task("stopped-success"), APP_ONLY, [0]).retryable is False


# ---- failed starts ----


def failed_start(
    stopped_reason: str | None, *containers: TaskContainer, stop_code: str = "TaskFailedToStart"
) -> EcsTask:
    return with_containers(
        sample_task("stopped-failed-to-start"), *containers, stopCode=stop_code, stoppedReason=stopped_reason
    )


def test_eni_provisioning_timeout_is_a_retryable_failed_start() -> None:
    # Given a task with no containers whose network interface was not provisioned in time
    verdict = judge(sample_task("stopped-empty-containers"), APP_ONLY, [0])
    # Then it failed to start, and trying again may work
    assert verdict.error == ErrorName.TASK_FAILED_TO_START
    assert verdict.retryable is True


def test_missing_image_is_a_failed_start_that_is_not_retryable() -> None:
    # Given an image pull that failed because the tag does not exist ("3.13-slimm: not found")
    verdict = judge(sample_task("stopped-failed-to-start"), APP_ONLY, [0])
    # Then pulling again would fail the same way
    assert verdict.error == ErrorName.TASK_FAILED_TO_START
    assert verdict.retryable is False


def test_failed_start_reason_names_the_container_and_the_cause() -> None:
    verdict = judge(sample_task("stopped-failed-to-start"), APP_ONLY, [0])
    assert verdict.reason.startswith("task failed to start: container 'app': CannotPullContainerError: ")


def test_failed_start_reason_is_the_stopped_reason_when_no_container_gives_one() -> None:
    # Given a failed start whose only explanation is the task's stoppedReason
    verdict = judge(sample_task("stopped-secret-access-denied"), APP_ONLY, [0])
    # Then the reason quotes it
    assert verdict.reason.startswith("task failed to start: ResourceInitializationError: unable to pull secrets")


def test_failed_start_reason_prefers_an_essential_containers_reason() -> None:
    # Given a sidecar and the app both carrying a reason, the sidecar first
    task = failed_start(
        None,
        TaskContainer(name="log-router", reason="CannotStartContainerError: sidecar could not start"),
        TaskContainer(name="app", reason="CannotPullContainerError: i/o timeout"),
    )
    # When it is judged with the sidecar non-essential
    verdict = judge(task, SIDECAR, [0])
    # Then the reason names the app's cause, and counts the other
    assert "container 'app': CannotPullContainerError: i/o timeout (and 1 other container)" in verdict.reason


def test_failed_start_reason_is_one_line() -> None:
    # Given a container reason spread over several lines
    task = failed_start(None, TaskContainer(name="app", reason="CannotPullContainerError:\n  dial tcp: i/o timeout\n"))
    # Then the reason is one line
    assert (
        judge(task, APP_ONLY, [0]).reason
        == "task failed to start: container 'app': CannotPullContainerError: dial tcp: i/o timeout"
    )


def test_failed_start_with_no_reason_at_all_says_so() -> None:
    task = failed_start("", TaskContainer(name="app", reason=""))
    assert judge(task, APP_ONLY, [0]).reason == "task failed to start: no reason given"


@pytest.mark.parametrize(
    "reason",
    [
        "ResourceInitializationError: unable to pull secrets or registry auth: execution resource retrieval failed: "
        "unable to retrieve ecr registry auth: service call has been retried 3 time(s): RequestError: send request "
        "failed caused by: Post https://api.ecr.us-east-1.amazonaws.com/: dial tcp 52.46.0.1:443: i/o timeout",
        "CannotPullContainerError: pull image manifest has been retried 5 time(s): failed to do request: Head "
        "https://public.ecr.aws/v2/docker/library/python/manifests/3.13-slim: dial tcp: i/o timeout",
        "Timeout waiting for network interface provisioning to complete.",
        "ENI provisioning failed: the subnet has no free IP addresses",
        "Fargate capacity is unavailable at this time. Please try again later or in a different availability zone",
        "RESOURCE:MEMORY",
        "Task failed to start: the task's ephemeral storage could not be provisioned",
        "SpotInterruption: Your Spot Task was interrupted.",
    ],
)
def test_transient_start_failures_are_retryable(reason: str) -> None:
    # Given a failed start whose reason shows a transient cause
    task = failed_start(reason, TaskContainer(name="app"))
    # When it is judged
    verdict = judge(task, APP_ONLY, [0])
    # Then it is a retryable failed start
    assert verdict.error == ErrorName.TASK_FAILED_TO_START
    assert verdict.retryable is True


@pytest.mark.parametrize(
    "reason",
    [
        "CannotStartContainerError: Error response from daemon: failed to create shim task: OCI runtime create "
        'failed: exec: "/app/run.sh": stat /app/run.sh: no such file or directory: unknown',
        "CannotPullContainerError: invalid reference format",
        "ResourceInitializationError: unable to pull secrets or registry auth: execution resource retrieval failed: "
        "unable to retrieve secret from asm: service call has been retried 1 time(s): ResourceNotFoundException: "
        "Secrets Manager can't find the specified secret.",
        "ResourceInitializationError: failed to validate logger args: create stream has been retried 1 times: "
        "failed to create Cloudwatch log stream: ResourceNotFoundException: The specified log group does not exist.",
        "an unknown cause nobody has seen before",
    ],
)
def test_other_start_failures_are_not_retryable(reason: str) -> None:
    task = failed_start(reason, TaskContainer(name="app"))
    verdict = judge(task, APP_ONLY, [0])
    assert verdict.error == ErrorName.TASK_FAILED_TO_START
    assert verdict.retryable is False


def test_access_denied_wins_over_a_transient_looking_error_name() -> None:
    # Given a ResourceInitializationError (transient-looking) caused by AccessDeniedException
    verdict = judge(sample_task("stopped-secret-access-denied"), APP_ONLY, [0])
    # Then a retry would not help: the execution role needs a permission
    assert verdict.error == ErrorName.TASK_FAILED_TO_START
    assert verdict.retryable is False


def test_cannot_start_container_is_a_failed_start_that_is_not_retryable() -> None:
    verdict = judge(sample_task("stopped-cannot-start"), APP_ONLY, [0])
    assert verdict.error == ErrorName.TASK_FAILED_TO_START
    assert verdict.retryable is False
    assert "CannotStartContainerError" in verdict.reason


def test_a_container_reason_alone_can_make_a_failed_start_retryable() -> None:
    # Given a generic stoppedReason, and the transient cause only on the container
    task = failed_start(
        "Task failed to start", TaskContainer(name="app", reason="CannotPullContainerError: i/o timeout")
    )
    assert judge(task, APP_ONLY, [0]).retryable is True


def test_an_empty_stop_code_is_missing_not_a_failed_start() -> None:
    # Given stopCode "" and an app that exited 0
    task = with_containers(sample_task("stopped-success"), TaskContainer(name="app", exitCode=0), stopCode="")
    # Then the exit codes decide
    assert judge(task, APP_ONLY, [0]).succeeded is True


# ---- stopped from outside ----


def test_host_terminated_is_retryable_and_names_the_instance() -> None:
    verdict = judge(sample_task("stopped-host-terminated"), APP_ONLY, [0])
    assert verdict.retryable is True
    assert "i-0123456789abcdef0" in verdict.reason


def test_host_stopped_wins_over_the_stop_code() -> None:
    # Given a UserInitiated stop code, but the host EC2 instance was stopped
    task = sample_task("stopped-host-terminated").model_copy(
        update={"stopCode": "UserInitiated", "stoppedReason": "Host EC2 (instance i-0fedcba9876543210) stopped."}
    )
    # Then it is the host, retryable, whatever the stop code says
    verdict = judge(task, APP_ONLY, [0])
    assert verdict.error == ErrorName.TASK_STOPPED
    assert verdict.retryable is True
    assert "instance i-0fedcba9876543210, was stopped" in verdict.reason


def test_host_stopped_wins_over_successful_exit_codes() -> None:
    task = with_containers(sample_task("stopped-host-terminated"), TaskContainer(name="app", exitCode=0))
    assert judge(task, APP_ONLY, [0]).error == ErrorName.TASK_STOPPED


@pytest.mark.parametrize(
    ("stop_code", "retryable"),
    [
        ("SpotInterruption", True),
        ("TerminationNotice", True),
        ("UserInitiated", False),
        ("ServiceSchedulerInitiated", False),
    ],
)
def test_external_stop_codes_are_task_stopped_and_retryable_only_when_the_capacity_went(
    stop_code: str, retryable: bool
) -> None:
    # Given a task stopped from outside with this stop code
    task = sample_task("stopped-spot").model_copy(update={"stopCode": stop_code, "stoppedReason": "stopped"})
    # When it is judged
    verdict = judge(task, APP_ONLY, [0, 143])
    # Then it is TaskStopped, retryable as the stop code says, and the reason names the stop code
    assert verdict.error == ErrorName.TASK_STOPPED
    assert verdict.retryable is retryable
    assert stop_code in verdict.reason


def test_external_stop_with_an_empty_reason_has_no_dangling_colon() -> None:
    task = sample_task("stopped-user-initiated").model_copy(update={"stoppedReason": ""})
    assert (
        judge(task, APP_ONLY, [0]).reason
        == "task was stopped before it finished (UserInitiated, stopped by a StopTask call)"
    )


# ---- exit codes ----


def test_oom_killed_essential_container_fails_with_a_memory_reason() -> None:
    # Given an app the kernel killed for using too much memory (exit 137, OutOfMemoryError)
    verdict = judge(sample_task("stopped-oom"), APP_ONLY, [0])
    # Then it is a container failure that says so, and it is not retryable
    assert verdict.error == ErrorName.CONTAINER_EXITED_NON_ZERO
    assert verdict.failingContainer == "app"
    assert verdict.retryable is False
    assert verdict.reason == (
        "essential container 'app' was killed for using too much memory "
        "(OutOfMemoryError: Container killed due to memory usage); exit code 137"
    )


def test_oom_reason_without_an_exit_code_is_still_a_memory_failure() -> None:
    task = with_containers(
        sample_task("stopped-oom"), TaskContainer(name="app", exitCode=None, reason="OutOfMemoryError: killed")
    )
    verdict = judge(task, APP_ONLY, [0])
    assert verdict.error == ErrorName.CONTAINER_EXITED_NON_ZERO
    assert "too much memory (OutOfMemoryError: killed)" in verdict.reason
    assert "has no exit code" in verdict.reason


def test_oom_killed_sidecar_does_not_fail_the_run() -> None:
    # Given app exited 0 and a non-essential sidecar was OOM-killed
    task = with_containers(
        sample_task("stopped-oom"),
        TaskContainer(name="app", exitCode=0),
        TaskContainer(name="log-router", exitCode=137, reason="OutOfMemoryError: Container killed due to memory usage"),
    )
    # Then the run succeeded
    assert judge(task, SIDECAR, [0]).succeeded is True


def test_exit_137_without_oom_reason_is_described_as_sigkill() -> None:
    task = with_containers(sample_task("stopped-nonzero"), TaskContainer(name="app", exitCode=137))
    verdict = judge(task, APP_ONLY, [0])
    assert verdict.reason == "essential container 'app' exited with code 137 (killed: SIGKILL)"
    assert verdict.retryable is False


@pytest.mark.parametrize(
    ("code", "description"),
    [
        (139, "(segmentation fault: SIGSEGV)"),
        (143, "(terminated: SIGTERM)"),
        (134, "(aborted: SIGABRT)"),
        (162, "(killed by signal 34)"),
    ],
)
def test_exit_codes_above_128_are_described_as_signal_deaths(code: int, description: str) -> None:
    task = with_containers(sample_task("stopped-nonzero"), TaskContainer(name="app", exitCode=code))
    assert judge(task, APP_ONLY, [0]).reason == f"essential container 'app' exited with code {code} {description}"


def test_exit_codes_beyond_any_signal_are_not_described_as_signals() -> None:
    task = with_containers(sample_task("stopped-nonzero"), TaskContainer(name="app", exitCode=255))
    assert judge(task, APP_ONLY, [0]).reason == "essential container 'app' exited with code 255"


def test_signal_and_container_reason_are_both_given_on_one_line() -> None:
    task = with_containers(
        sample_task("stopped-nonzero"), TaskContainer(name="app", exitCode=137, reason="Task was\nstopped")
    )
    reason = judge(task, APP_ONLY, [0]).reason
    assert reason == "essential container 'app' exited with code 137 (killed: SIGKILL; Task was stopped)"


def test_an_empty_container_reason_is_missing() -> None:
    task = with_containers(sample_task("stopped-nonzero"), TaskContainer(name="app", exitCode=1, reason=""))
    assert judge(task, APP_ONLY, [0]).reason == "essential container 'app' exited with code 1"


def test_missing_exit_code_reason_quotes_the_container_reason() -> None:
    task = with_containers(
        sample_task("stopped-success"), TaskContainer(name="app", exitCode=None, reason="DockerTimeoutError: stop")
    )
    verdict = judge(task, APP_ONLY, [0])
    assert verdict.reason == "essential container 'app' has no exit code (DockerTimeoutError: stop)"
    assert verdict.retryable is False


def test_container_exit_failures_are_not_retryable() -> None:
    assert judge(sample_task("stopped-nonzero"), APP_ONLY, [0]).retryable is False
