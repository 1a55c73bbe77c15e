"""The limits of what crosses a service boundary (ecsrun.domain.limits), and the documents held to them: the
invalid-request report, a run's cause and output, an array's summary, completion events, SendTask* payloads,
the retry wait. Each is tested at and beyond its bound."""

from __future__ import annotations

import json
from typing import Any

import pytest
from ecsrun.adapters.dynamodb import new_record
from ecsrun.domain import array as arrays
from ecsrun.domain import limits
from ecsrun.domain.completion import completion_entry, run_summary
from ecsrun.domain.errors import ErrorName
from ecsrun.domain.models.ecs import EcsTask
from ecsrun.domain.models.request import Problem, problems_report, validate_request
from ecsrun.domain.models.run import ContainerSpec, Run
from ecsrun.domain.models.verdict import Verdict
from ecsrun.domain.outcome import compose
from ecsrun.domain.verdict import judge
from ecsrun.steps.retry import plan_retry

# ---- fit: structural truncation ----


def _report(count: int) -> dict[str, Any]:
    return problems_report([Problem(field=f"field{i}", message="x" * 100) for i in range(count)])


def test_a_document_within_its_bound_is_returned_as_is() -> None:
    document = {"message": "m" * 100, "problems": [1, 2, 3]}
    assert limits.fit(document, len(json.dumps(document))) is document


def test_a_document_one_character_over_is_cut_and_says_so() -> None:
    # Given a report exactly one character over the bound
    document = _report(10)
    limit = len(json.dumps(document)) - 1
    # When it is fitted
    fitted = limits.fit(document, limit)
    # Then it is valid JSON within the bound, with the same keys, and it says what was cut
    assert len(json.dumps(fitted)) <= limit
    assert set(fitted) == {"message", "problems", "truncated"}
    assert fitted["truncated"] == {"problems": {"shown": len(fitted["problems"]), "total": 10}}
    assert fitted["problems"] == document["problems"][: len(fitted["problems"])]


def test_twenty_thousand_problems_fit_in_a_cause_and_keep_the_first_ones() -> None:
    # Given the report of a request with 20,000 bad fields (2.4 MB before this bound existed)
    report = _report(20_000)
    assert len(json.dumps(report)) > 2_000_000
    # When it is fitted to a Step Functions cause
    fitted = limits.fit(report, limits.MAX_CAUSE_CHARS)
    text = json.dumps(fitted)
    # Then it fits, as many problems as fit are listed first to last, and the total is kept
    assert len(text) <= limits.MAX_CAUSE_CHARS
    shown = fitted["truncated"]["problems"]["shown"]
    assert fitted["truncated"]["problems"]["total"] == 20_000
    assert 200 < shown < 300 and fitted["problems"][-1]["field"] == f"field{shown - 1}"
    # And the one-line message names 20 fields and counts the rest
    assert fitted["message"].startswith("the run request has 20000 problems (field0, field1,")
    assert "and 19980 more fields" in fitted["message"]


def test_long_strings_are_cut_with_an_ellipsis_and_their_length_kept() -> None:
    document = {"message": "y" * 100_000, "runId": "r"}
    fitted = limits.fit(document, 1_000)
    assert len(json.dumps(fitted)) <= 1_000
    assert fitted["runId"] == "r"
    assert fitted["message"].endswith(limits.ELLIPSIS)
    assert fitted["truncated"] == {"message": {"characters": 100_000}}


def test_bytes_are_measured_in_utf8_when_asked() -> None:
    # Given multi-byte text whose characters fit but whose UTF-8 bytes do not
    document = {"text": "é" * 1_000}
    assert len(json.dumps(document, ensure_ascii=False)) < 1_500
    fitted = limits.fit(document, 1_500, limits.utf8_bytes)
    assert limits.utf8_bytes(json.dumps(fitted)) <= 1_500


@pytest.mark.parametrize("size", [limits.MAX_CAUSE_CHARS, limits.MAX_CAUSE_CHARS + 1, 10 * limits.MAX_CAUSE_CHARS])
def test_a_json_cause_stays_json_at_and_beyond_the_bound(size: int) -> None:
    # Given a JSON cause of `size` characters
    base = {"runId": "r", "message": ""}
    base["message"] = "z" * (size - len(json.dumps(base)))
    cause = json.dumps(base)
    assert len(cause) == size
    # When it is bounded for SendTaskFailure
    bounded = limits.bounded_cause(cause)
    # Then it is within 32,768 characters and still a JSON object that says whether it was cut
    assert len(bounded) <= limits.MAX_CAUSE_CHARS
    parsed = json.loads(bounded)
    assert parsed["runId"] == "r"
    assert ("truncated" in parsed) == (size > limits.MAX_CAUSE_CHARS)


def test_a_plain_text_cause_is_cut_and_says_how_long_it_was() -> None:
    bounded = limits.bounded_cause("q" * 40_000)
    assert len(bounded) == limits.MAX_CAUSE_CHARS
    assert bounded.endswith("(40000 characters, truncated)")


# ---- the documents ecsrun hands to AWS ----


def _record(message_size: int = 0, **changes: Any) -> Any:
    run = Run(runId="big", timeoutSeconds=60, successExitCodes=[0], request={"taskDefinition": "hello"})
    record = new_record(
        runId="big",
        executionArn="arn:aws:states:us-east-1:123456789012:execution:ecsrun:big",
        startedBy="ecsrun/big",
        clientToken="t",
        run=run,
        ttl_days=1,
        containers=[ContainerSpec(name="app", essential=True)],
    )
    reason = "r" * message_size
    verdict = Verdict.failed(ErrorName.CONTAINER_EXITED_NON_ZERO, reason, "app")
    return record.model_copy(update={"verdict": verdict, **changes})


def test_a_failed_runs_cause_fits_whatever_its_reason_and_log_lines() -> None:
    # Given a run whose failure reason is 100,000 characters and whose last lines are 20 lines of 2,000
    record = _record(100_000)
    tails = {"app": ["l" * 5_000] * 20}
    # When its outcome is composed
    outcome = compose(record, [], tails, bucket="b", manifest="runs/big/manifest.json")
    # Then the Fail state's cause is JSON within 32,768 characters, saying what it cut
    assert len(outcome["cause"]) <= limits.MAX_CAUSE_CHARS
    cause = json.loads(outcome["cause"])
    assert cause["error"] == "ECS.ContainerExitedNonZero"
    assert cause["truncated"]["message"] == {"characters": 100_000}


def test_the_last_log_lines_are_kept_before_the_first_ones() -> None:
    record = _record(10)
    tails = {"app": [f"{i:02d}" + "l" * 1_990 for i in range(20)]}
    cause = json.loads(compose(record, [], tails, bucket="b", manifest="m")["cause"])
    lines = cause["lastLogLines"]["lines"]
    assert lines and lines[-1].startswith("19") and cause["lastLogLines"]["omitted"] == 20 - len(lines)


def test_an_arrays_cause_and_summary_fit_whatever_its_children_said() -> None:
    # Given 10,000 children that all failed with a 10,000-character message
    outcomes = [{"status": "FAILED", "error": "ECS.TaskLost", "message": "m" * 10_000} for _ in range(10_000)]
    summary, failed = arrays.summarize("parent", outcomes, 0)
    assert len(failed) == 10_000 and summary["array"]["failed"] == 10_000
    # When the summarize step bounds them (as it does before they leave the function)
    cause = limits.fit(summary, limits.MAX_CAUSE_CHARS)
    # Then the counts are exact and the listed children are cut to fit, saying so
    assert len(json.dumps(cause)) <= limits.MAX_CAUSE_CHARS
    assert cause["array"]["byOutcome"] == {"ECS.TaskLost": 10_000}
    assert "array.failedChildren" in cause["truncated"]


def test_a_completion_event_entry_fits_eventbridge_whatever_the_run_said() -> None:
    # Given a run summary with a 1 MB message (and multi-byte characters)
    detail = run_summary(
        {"runId": "r", "status": "FAILED", "error": "Run.InternalError", "message": "é" * 600_000}, None
    )
    # When its PutEvents entry is made
    entry = completion_entry(detail, "bus")
    # Then the entry is within EventBridge's 256 KB as EventBridge counts it, and the detail says it was cut
    assert limits.put_events_entry_bytes(entry) <= limits.MAX_PUT_EVENTS_ENTRY_BYTES
    assert json.loads(entry["Detail"])["truncated"]["message"] == {"characters": 600_000}


def test_put_events_entry_size_counts_as_eventbridge_does() -> None:
    entry = {"Source": "ab", "DetailType": "cd", "Detail": '{"é":1}', "Resources": ["r1"], "Time": "now"}
    assert limits.put_events_entry_bytes(entry) == 14 + 2 + 2 + 8 + 2  # é is two bytes of UTF-8


# ---- the retry policy and its wait ----


class _Store:
    """A runs table holding one record (what plan_retry reads and writes)."""

    def __init__(self, record: Any):
        self.record = record

    def get(self, run_id: str) -> Any:
        return self.record

    def begin_attempt(self, record: Any, attempt: int, token: str, **escalated: Any) -> None:
        self.record = record.model_copy(update={"attempt": attempt})


def test_the_retry_wait_never_exceeds_what_a_wait_state_accepts(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a run on its 9th attempt with a policy of 3600 s x 10^n (a ceiling of 3.6e11 s), recorded before
    # validation bounded policies, and a jitter that draws the ceiling
    policy = {"maxAttempts": 10, "intervalSeconds": 3600, "backoffRate": 10.0}
    record = _record(10).model_copy(update={"attempt": 9})
    record = record.model_copy(update={"run": record.run.model_copy(update={"retry": policy})})
    record = record.model_copy(update={"verdict": Verdict.failed(ErrorName.TASK_STOPPED, "spot", retryable=True)})
    monkeypatch.setattr("random.uniform", lambda low, high: high)
    # When the retry is planned
    plan = plan_retry("big", record.executionArn, store=_Store(record))  # type: ignore[arg-type]
    # Then the wait is within a Wait state's 99,999,999 seconds
    assert plan["retry"] is True
    assert plan["waitSeconds"] == limits.MAX_WAIT_SECONDS


def _request(**fields: Any) -> dict[str, Any]:
    return {"taskDefinition": "hello", **fields}


def test_a_retry_policy_whose_waits_outlast_an_execution_is_refused() -> None:
    # Given the largest policy the field types allow: waits of 3600 s x 10^n over 10 attempts
    request, problems = validate_request(
        _request(retry={"maxAttempts": 10, "intervalSeconds": 3600, "backoffRate": 10.0})
    )
    # Then it is refused on "retry", saying why
    assert request is None
    assert [p.field for p in problems] == ["retry"]
    assert "a Standard execution (one year)" in problems[0].message


def test_a_retry_policy_whose_waits_fit_beside_the_timeout_is_accepted() -> None:
    # 3600 s x 2^n over 10 attempts: about 21 days of waits, beside a one-day timeout
    request, problems = validate_request(
        _request(timeoutSeconds=86_400, retry={"maxAttempts": 10, "intervalSeconds": 3600, "backoffRate": 2.0})
    )
    assert problems == [] and request is not None


def test_the_default_timeout_counts_when_the_request_gives_none() -> None:
    _, problems = validate_request(_request(), default_timeout_seconds=limits.MAX_EXECUTION_SECONDS)
    assert [p.field for p in problems] == ["timeoutSeconds"]


def test_a_request_too_large_to_carry_through_the_states_is_refused() -> None:
    # Given a request whose tags alone make it larger than half of a state's 256 KiB
    tags = [{"key": f"k{i}", "value": "v" * 250} for i in range(600)]
    _, problems = validate_request(_request(tags=tags))
    assert "(request)" in [p.field for p in problems]


# ---- ECS rules ----


def test_infrastructure_health_is_a_retryable_task_stopped() -> None:
    # Given a task ECS stopped with the InfrastructureHealth stop code (botocore TaskStopCode)
    task = EcsTask.model_validate(
        {
            "taskArn": "arn:aws:ecs:us-east-1:123456789012:task/default/abc",
            "lastStatus": "STOPPED",
            "stopCode": "InfrastructureHealth",
            "stoppedReason": "Task stopped due to an infrastructure health issue",
            "containers": [{"name": "app", "exitCode": 137}],
        }
    )
    # When it is judged
    verdict = judge(task, {"app": True}, [0])
    # Then it is ECS.TaskStopped, worth another attempt
    assert verdict.error == ErrorName.TASK_STOPPED
    assert verdict.retryable is True


def test_a_container_override_without_a_name_is_refused() -> None:
    # ECS: the name "is required if any override is specified"
    _, problems = validate_request(_request(overrides={"containerOverrides": [{"command": ["echo"]}]}))
    assert [(p.field, p.message) for p in problems] == [
        ("overrides.containerOverrides[0].name", "required: the container this override is for")
    ]
