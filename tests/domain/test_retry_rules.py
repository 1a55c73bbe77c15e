"""retry.on: the first matching rule decides; else the default ("not now", or an OOM kill escalation can answer)."""

from __future__ import annotations

from ecsrun.domain.errors import ErrorName
from ecsrun.domain.models.ecs import EcsTask
from ecsrun.domain.models.verdict import Verdict
from ecsrun.domain.retry_rules import Failure, decide, failure_of
from ecsrun.domain.verdict import judge

OOM = "OutOfMemoryError: Container killed due to memory usage"


def _task(exit_code: int | None, reason: str | None = None, **extra: object) -> EcsTask:
    container = {"name": "app", "exitCode": exit_code, **({"reason": reason} if reason else {})}
    return EcsTask.model_validate(
        {
            "taskArn": "arn:aws:ecs:us-east-1:123456789012:task/default/abc",
            "stopCode": "EssentialContainerExited",
            "stoppedReason": "Essential container in task exited",
            "containers": [container],
            **extra,
        }
    )


def _failure(task: EcsTask) -> Failure:
    return failure_of(judge(task, {"app": True}, [0]), task, {"app": True})


def test_an_exit_code_rule_matches_the_essential_containers_exit_code() -> None:
    # Given a task whose essential container exited 75
    failure = _failure(_task(75))
    # When rules for 75 (RETRY) and 2 (EXIT) are read
    rules = [{"exitCodes": [2], "action": "EXIT"}, {"exitCodes": [75], "action": "RETRY"}]
    decision = decide(rules, failure)
    # Then the second rule decides
    assert (decision.retry, decision.by) == (True, "retry.on[1]")
    assert failure.summary == "ECS.ContainerExitedNonZero: exit code 75"


def test_the_first_match_wins_and_exit_stops() -> None:
    # Given exit 2 matched by an EXIT rule before a catch-all RETRY
    decision = decide([{"exitCodes": [2], "action": "EXIT"}, {"action": "RETRY"}], _failure(_task(2)))
    # Then no retry
    assert (decision.retry, decision.by) == (False, "retry.on[0]")


def test_every_condition_of_a_rule_must_hold() -> None:
    # Given a rule for exit 75 with the error ECS.TaskStopped, and a container exit 75 (ECS.ContainerExitedNonZero)
    rule = {"exitCodes": [75], "errors": ["ECS.TaskStopped"], "action": "RETRY"}
    # Then it does not match, and the default (not retryable) decides
    assert decide([rule], _failure(_task(75))) == decide(None, _failure(_task(75)))
    assert decide([rule], _failure(_task(75))).retry is False


def test_reason_contains_reads_the_container_and_stopped_reasons() -> None:
    # Given an OOM-killed container
    failure = _failure(_task(137, OOM))
    # When a rule looks for "OutOfMemoryError" (case-sensitive) and another for the stopped reason
    assert decide([{"reasonContains": ["OutOfMemoryError"], "action": "RETRY"}], failure).retry is True
    assert decide([{"reasonContains": ["outofmemoryerror"], "action": "RETRY"}], failure).retry is False
    assert decide([{"reasonContains": ["Essential container"], "action": "RETRY"}], failure).retry is True


def test_without_a_match_the_default_retries_only_not_now_failures() -> None:
    # Given a Spot interruption (retryable) and a plain exit 1 (not)
    spot = _failure(_task(143, stopCode="SpotInterruption", stoppedReason="Your Spot Task was interrupted."))
    plain = _failure(_task(1))
    # Then the default retries the first only, and says so
    assert (decide([{"exitCodes": [75], "action": "RETRY"}], spot).retry, decide(None, spot).by) == (True, "default")
    assert decide(None, plain).retry is False
    assert spot.spotInterrupted is True


def test_an_oom_kill_is_retried_by_default_only_when_memory_can_grow() -> None:
    # Given an OOM-killed essential container
    failure = _failure(_task(137, OOM))
    assert failure.outOfMemory == "app"
    # Then escalation that can raise the memory retries it; without it, the default does not
    assert decide(None, failure, memory_can_grow=True).retry is True
    assert decide(None, failure, memory_can_grow=True).by == "retry.escalate"
    assert decide(None, failure, memory_can_grow=False).retry is False
    # And an EXIT rule still wins over the escalation
    assert decide([{"exitCodes": [137], "action": "EXIT"}], failure, memory_can_grow=True).retry is False


def test_a_refused_runtask_is_matched_by_its_answer() -> None:
    # Given RunTask refused for capacity (no task)
    verdict = Verdict.failed(ErrorName.CAPACITY_UNAVAILABLE, "RESOURCE:FARGATE capacity unavailable", retryable=True)
    failure = failure_of(verdict, None, {})
    # Then an errors rule can stop retrying it, and reasonContains reads RunTask's answer
    assert decide([{"errors": ["ECS.CapacityUnavailable"], "action": "EXIT"}], failure).retry is False
    assert decide([{"reasonContains": ["RESOURCE:FARGATE"], "action": "EXIT"}], failure).by == "retry.on[0]"


def test_rules_never_retry_a_lost_task() -> None:
    # Given a lost task (it may still run), under a catch-all RETRY rule
    failure = failure_of(Verdict.failed(ErrorName.TASK_LOST, "lost"), None, {})
    # Then it is not retried
    assert decide([{"action": "RETRY"}], failure).retry is False
