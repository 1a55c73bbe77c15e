"""Contract tests of statemachine/ecsrun.asl.json: its shape, its error names, and its wiring to template.yaml."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from ecsrun.domain.errors import TASK_VERDICT_ERRORS, ErrorName
from ecsrun.domain.retry_fields import RETRIABLE_ERRORS
from ecsrun.local.template import Template

ROOT = Path(__file__).resolve().parents[2]
ASL_PATH = ROOT / "statemachine" / "ecsrun.asl.json"

LAMBDA_INVOKE = "arn:${Partition}:states:::lambda:invoke"
WAIT_FOR_TASK_TOKEN = "arn:${Partition}:states:::lambda:invoke.waitForTaskToken"
LAMBDA_SERVICE_ERRORS = {
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
}
TERMINAL_TYPES = {"Succeed", "Fail"}

# Failures that may mean "not now": StartTaskAndWait sends them to PlanRetry, which retries or gives up.
# Failures PlanRetry judges (retry.on's rules, else the "not now" default): the names retry_fields lets rules match.
RETRYABLE_NAMES = {name.value for name in RETRIABLE_ERRORS}
# Failures that never get another attempt: StartTaskAndWait sends them straight to CopyLogs.
FINAL_NAMES = {
    ErrorName.TASK_LOST.value,
    ErrorName.DUPLICATE.value,
}
TASK_VERDICT_NAMES = RETRYABLE_NAMES | FINAL_NAMES
# Every other name is decided by CopyLogs and raised by a Fail state after the "RunSucceeded?" Choice.
# Run.Aborted is recorded in the table and manifest only: the execution had already ended.
# Run.ArrayFailed is decided by SummarizeArray, for an array run's parent.
NOT_OUTCOMES = (
    ErrorName.REQUEST_INVALID,
    ErrorName.REQUEST_WILL_NOT_START,
    ErrorName.LOG_COPY_FAILED,
    ErrorName.ABORTED,
    ErrorName.ARRAY_FAILED,
)
# The array parent's own Fail states (its runId taken, its children failed beyond tolerance).
ARRAY_FAIL_STATES = {"ArrayRunDuplicate", "RunArrayFailed"}
OUTCOME_NAMES = sorted(e.value for e in ErrorName if e not in NOT_OUTCOMES)


def _asl_text() -> str:
    return ASL_PATH.read_text()


def _asl() -> dict[str, Any]:
    return json.loads(_asl_text())


def _states() -> dict[str, dict[str, Any]]:
    return _asl()["States"]


def _transitions(state: dict[str, Any]) -> Iterator[str]:
    """Every state name `state` can move to: Next, Default, Choice rules and Catch targets."""
    if "Next" in state:
        yield state["Next"]
    if "Default" in state:
        yield state["Default"]
    for rule in state.get("Choices", []):
        if "Next" in rule:
            yield rule["Next"]
    for catcher in state.get("Catch", []):
        yield catcher["Next"]


def _is_terminal(state: dict[str, Any]) -> bool:
    return state["Type"] in TERMINAL_TYPES or state.get("End") is True


def _reachable_from(start: str, states: dict[str, dict[str, Any]]) -> set[str]:
    seen: set[str] = set()
    todo = [start]
    while todo:
        name = todo.pop()
        if name in seen or name not in states:
            continue
        seen.add(name)
        todo.extend(_transitions(states[name]))
    return seen


def _fail_states(error: str) -> dict[str, dict[str, Any]]:
    """The single run's Fail states raising `error` (the array parent's are tested on their own)."""
    return {
        name: s
        for name, s in _states().items()
        if s["Type"] == "Fail" and s.get("Error") == error and name not in ARRAY_FAIL_STATES
    }


def _lambda_tasks() -> list[str]:
    return sorted(
        name
        for name, s in _states().items()
        if s["Type"] == "Task" and str(s.get("Resource", "")).startswith(LAMBDA_INVOKE)
    )


def _states_with(field: str) -> list[tuple[str, str]]:
    return sorted((name, field) for name, s in _states().items() if s.get(field))


def _or_empty(collect: Callable[[], list[Any]]) -> list[Any]:
    """Parameters for a test, or none if the ASL cannot be read: the JSON tests then report why."""
    try:
        return collect()
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return []


def _walk_strings(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield key
            yield from _walk_strings(value)
    elif isinstance(node, list):
        for item in node:
            yield from _walk_strings(item)
    elif isinstance(node, str):
        yield node


# ---------------------------------------------------------------------------
# Language and substitutions
# ---------------------------------------------------------------------------


def test_asl_is_a_json_object_with_states_and_a_start_state():
    # Given the ASL file's text
    text = _asl_text()

    # When it is parsed as JSON
    doc = json.loads(text)

    # Then it is a state machine document whose StartAt names one of its states
    assert isinstance(doc, dict)
    assert isinstance(doc.get("States"), dict) and doc["States"]
    assert doc.get("StartAt") in doc["States"]


def test_asl_declares_the_jsonpath_query_language():
    # Given the parsed ASL
    doc = _asl()

    # When its top-level QueryLanguage is read
    language = doc.get("QueryLanguage")

    # Then it is JSONPath, and no state overrides it
    assert language == "JSONPath"
    overrides = {name: s["QueryLanguage"] for name, s in doc["States"].items() if "QueryLanguage" in s}
    assert {name: lang for name, lang in overrides.items() if lang != "JSONPath"} == {}


def test_no_state_uses_jsonata_only_fields():
    # Given every state
    states = _states()

    # When the fields only JSONata states may carry are looked for
    jsonata_fields = {name: sorted({"Arguments", "Output"} & set(state)) for name, state in states.items()}

    # Then none has them
    assert {name: fields for name, fields in jsonata_fields.items() if fields} == {}


def test_no_string_in_the_asl_is_a_jsonata_expression():
    # Given every key and string value in the ASL
    strings = list(_walk_strings(_asl()))

    # When JSONata's {% … %} expression markers are looked for
    jsonata = [s for s in strings if "{%" in s]

    # Then there are none
    assert jsonata == []


def test_every_asl_placeholder_is_a_definition_substitution():
    # Given the ASL text and the DefinitionSubstitutions the template gives it
    asl_text, substitutions = Template(ROOT / "template.yaml").state_machine()

    # When the ${…} placeholders of the ASL are collected
    placeholders = set(re.findall(r"\$\{([^}]*)\}", asl_text))

    # Then SAM substitutes every one of them
    assert placeholders - set(substitutions) == set()


def test_every_definition_substitution_is_used_by_the_asl():
    # Given the ASL text and the DefinitionSubstitutions the template gives it
    asl_text, substitutions = Template(ROOT / "template.yaml").state_machine()

    # When the ${…} placeholders of the ASL are collected
    placeholders = set(re.findall(r"\$\{([^}]*)\}", asl_text))

    # Then no substitution is dead
    assert set(substitutions) - placeholders == set()


def test_template_state_machine_definition_is_this_asl_file():
    # Given the template's state machine
    asl_text, _ = Template(ROOT / "template.yaml").state_machine()

    # When it is compared with the file these tests read
    # Then it is the same document
    assert json.loads(asl_text) == _asl()


# ---------------------------------------------------------------------------
# Error names
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("error", OUTCOME_NAMES)
def test_each_outcome_error_has_exactly_one_fail_state(error: str):
    # Given an error name CopyLogs can decide
    # When the Fail states raising it are collected
    fails = _fail_states(error)

    # Then there is exactly one
    assert len(fails) == 1, f"{error}: Fail states {sorted(fails)}"


@pytest.mark.parametrize("error", OUTCOME_NAMES)
def test_each_outcome_fail_state_takes_its_cause_from_the_outcome(error: str):
    # Given the Fail state raising an outcome error
    fails = _fail_states(error)
    assert fails, f"no Fail state raises {error}"

    # When its cause source is read
    cause_paths = {name: s.get("CausePath") for name, s in fails.items()}

    # Then the cause is the outcome's cause document
    assert set(cause_paths.values()) == {"$.logCopy.outcome.cause"}, cause_paths


@pytest.mark.parametrize("error", OUTCOME_NAMES)
def test_each_outcome_fail_state_is_chosen_by_run_succeeded_on_the_outcome_error(error: str):
    # Given the "RunSucceeded?" Choice and the Fail state raising an outcome error
    states = _states()
    choice = states["RunSucceeded?"]
    assert choice["Type"] == "Choice"
    fails = set(_fail_states(error))

    # When the Choice rules that compare $.outcome.error with that name are collected
    targets = {
        rule.get("Next")
        for rule in choice["Choices"]
        if rule.get("Variable") == "$.logCopy.outcome.error" and rule.get("StringEquals") == error
    }

    # Then exactly one such rule exists and it leads to that Fail state
    assert len(targets) == 1 and targets <= fails, f"{error}: rules lead to {targets}, Fail states are {fails}"


def test_run_succeeded_choice_defaults_to_the_internal_error_fail_state():
    # Given the "RunSucceeded?" Choice
    choice = _states()["RunSucceeded?"]

    # When its Default is read
    default = choice.get("Default")

    # Then an unclassified outcome still ends in a named failure
    assert default in _fail_states(ErrorName.INTERNAL.value)


def test_run_succeeded_choice_sends_a_succeeded_outcome_to_a_succeed_state():
    # Given the "RunSucceeded?" Choice
    states = _states()
    choice = states["RunSucceeded?"]

    # When the rule on $.outcome.status == SUCCEEDED is looked up
    targets = [
        rule["Next"]
        for rule in choice["Choices"]
        if rule.get("Variable") == "$.logCopy.outcome.status" and rule.get("StringEquals") == "SUCCEEDED"
    ]

    # Then it leads to a Succeed state, and it comes right after the copy's own loop rules (wait, continue)
    # (so an unfinished copy never reads an outcome, and a success never reads $.logCopy.outcome.error)
    assert len(targets) == 1 and states[targets[0]]["Type"] == "Succeed"
    assert choice["Choices"][2].get("Variable") == "$.logCopy.outcome.status"


def test_an_unfinished_log_copy_goes_back_to_copy_logs_before_any_outcome_is_read():
    # Given the "RunSucceeded?" Choice and the CopyLogs state
    states = _states()
    choice, copy = states["RunSucceeded?"], states["CopyLogs"]

    # When the first two rules are read
    wait, again = choice["Choices"][:2]

    # Then a copy that is not done and asks to wait goes through a Wait state of that many seconds, and any other
    # copy that is not done returns to CopyLogs at once; CopyLogs passes $.logCopy back in its payload
    assert wait == {
        "And": [
            {"Variable": "$.logCopy.done", "BooleanEquals": False},
            {"Variable": "$.logCopy.waitSeconds", "NumericGreaterThan": 0},
        ],
        "Next": "WaitForLogs",
    }
    assert {k: v for k, v in states["WaitForLogs"].items() if k != "Comment"} == {
        "Type": "Wait",
        "SecondsPath": "$.logCopy.waitSeconds",
        "Next": "CopyLogs",
    }
    assert again == {"Variable": "$.logCopy.done", "BooleanEquals": False, "Next": "CopyLogs"}
    assert copy["Next"] == "RunSucceeded?" and copy["ResultPath"] == "$.logCopy"
    assert copy["Parameters"]["Payload.$"] == "$"
    assert set(copy["ResultSelector"]) == {"done.$", "outcome.$", "checkpoint.$", "waitSeconds.$"}


def test_invalid_request_fails_with_run_request_invalid_after_is_request_valid():
    # Given the IsRequestValid Choice
    states = _states()
    choice = states["IsRequestValid"]
    assert choice["Type"] == "Choice"

    # When the Fail states it can move to directly are collected
    fails = {states[t].get("Error") for t in _transitions(choice) if states.get(t, {}).get("Type") == "Fail"}

    # Then one of them raises RunRequest.Invalid
    assert ErrorName.REQUEST_INVALID.value in fails
    assert len(_fail_states(ErrorName.REQUEST_INVALID.value)) == 1


def test_log_copy_failure_fails_with_logs_copy_failed_from_copy_logs_catch():
    # Given CopyLogs' catchers
    states = _states()
    catch_targets = [c["Next"] for c in states["CopyLogs"].get("Catch", [])]

    # When the Fail states they lead to are collected
    errors = {states[t].get("Error") for t in catch_targets if states.get(t, {}).get("Type") == "Fail"}

    # Then a failed copy ends with Logs.CopyFailed
    assert ErrorName.LOG_COPY_FAILED.value in errors
    assert len(_fail_states(ErrorName.LOG_COPY_FAILED.value)) == 1


def test_every_fail_state_raises_a_known_error_name():
    # Given every Fail state
    fails = {name: s.get("Error") for name, s in _states().items() if s["Type"] == "Fail"}

    # When their Error names are checked against ErrorName
    known = {e.value for e in ErrorName}

    # Then there is no stray or misspelled name
    assert {name: error for name, error in fails.items() if error not in known} == {}


def test_task_verdict_names_are_error_names():
    # Given the verdict names StartTaskAndWait catches
    # When they are checked against ErrorName and the task verdicts the code can give
    known = {e.value for e in ErrorName}

    # Then every one is a known name and every code verdict is among them
    assert known >= TASK_VERDICT_NAMES
    assert {e.value for e in TASK_VERDICT_ERRORS} <= TASK_VERDICT_NAMES


# ---------------------------------------------------------------------------
# StartTaskAndWait
# ---------------------------------------------------------------------------


def test_start_task_and_wait_waits_for_a_task_token():
    # Given StartTaskAndWait
    state = _states()["StartTaskAndWait"]

    # When its resource is read
    # Then it is the Lambda callback integration
    assert state["Type"] == "Task"
    assert state["Resource"] == WAIT_FOR_TASK_TOKEN


def test_start_task_and_wait_passes_the_task_token_to_the_function():
    # Given StartTaskAndWait's parameters
    params = _states()["StartTaskAndWait"]["Parameters"]

    # When the values of its payload are collected
    values = list(_walk_strings(params.get("Payload", {})))

    # Then the task token is among them, so the task-stopped function can call back
    assert "$$.Task.Token" in values


def test_start_task_and_wait_times_out_after_the_runs_timeout():  # or its cost cap
    # Given StartTaskAndWait
    state = _states()["StartTaskAndWait"]

    # When its timeout is read
    # Then it is the run's own wait (timeoutSeconds, or earlier when maxCostUsd binds), not a fixed number
    assert state.get("TimeoutSecondsPath") == "$.run.waitSeconds"
    assert "TimeoutSeconds" not in state


def test_start_task_and_wait_sends_a_timeout_to_stop_timed_out_task():
    # Given StartTaskAndWait's catchers
    catchers = _states()["StartTaskAndWait"].get("Catch", [])

    # When the catcher for States.Timeout is looked up
    targets = [c["Next"] for c in catchers if "States.Timeout" in c["ErrorEquals"]]

    # Then a timed-out run is stopped first
    assert targets == ["StopTimedOutTask"]


def test_start_task_and_wait_sends_retryable_verdicts_to_plan_retry_and_the_rest_to_copy_logs():
    # Given StartTaskAndWait's catchers
    catchers = _states()["StartTaskAndWait"].get("Catch", [])

    # When the catchers naming task verdicts are looked up
    by_target = {c["Next"]: set(c["ErrorEquals"]) for c in catchers if set(c["ErrorEquals"]) & TASK_VERDICT_NAMES}

    # Then retryable names go to PlanRetry and final ones straight to CopyLogs
    assert by_target == {"PlanRetry": RETRYABLE_NAMES, "CopyLogs": FINAL_NAMES}


def test_plan_retry_either_waits_and_starts_again_or_copies_the_logs():
    # Given the retry loop
    states = _states()

    # When its exits are read
    choice = states["RetryAgain?"]
    # Then a retry waits (SecondsPath from the plan) and starts a new attempt; anything else copies the logs
    assert states["PlanRetry"]["Next"] == "RetryAgain?"
    assert [c["Next"] for c in states["PlanRetry"]["Catch"]] == ["CopyLogs"]
    assert choice["Default"] == "CopyLogs"
    assert [c["Next"] for c in choice["Choices"]] == ["WaitBeforeRetry"]
    assert states["WaitBeforeRetry"]["SecondsPath"] == "$.retryPlan.waitSeconds"
    assert states["WaitBeforeRetry"]["Next"] == "StartTaskAndWait"


def test_start_task_and_wait_retries_an_interrupted_start():
    # Given StartTaskAndWait's retriers, When the one for StartInterrupted is looked up
    retriers = [r for r in _states()["StartTaskAndWait"]["Retry"] if "StartInterrupted" in r["ErrorEquals"]]
    # Then a start that died after writing the record is tried again (it never starts a second task)
    assert len(retriers) == 1
    assert retriers[0]["MaxAttempts"] >= 2


def test_start_task_and_wait_sends_any_other_error_through_the_stop_of_an_interrupted_start_last():
    # Given StartTaskAndWait's catchers
    catchers = _states()["StartTaskAndWait"].get("Catch", [])
    assert catchers

    # When the last one is read
    last = catchers[-1]

    # Then it catches States.ALL and goes through StopInterruptedStart (RunTask may have started a task nobody
    # recorded: it is named by its clientToken, stopped, and its logs copied) before CopyLogs
    assert last["ErrorEquals"] == ["States.ALL"]
    assert last["Next"] == "StopInterruptedStart"


def test_the_interrupted_start_stop_state_is_the_stop_function_for_an_interrupted_start():
    # Given StopInterruptedStart
    state = _states()["StopInterruptedStart"]

    # When its resource, payload and exits are read
    payload = state["Parameters"]["Payload"]

    # Then it waits on its own token for the stop function, says why, retries StopFailed, and always copies logs
    assert state["Resource"] == "arn:${Partition}:states:::lambda:invoke.waitForTaskToken"
    assert state["Parameters"]["FunctionName"] == "${StopTaskFunctionArn}"
    assert payload["stopFor"] == "interrupted"
    assert payload["taskToken.$"] == "$$.Task.Token"
    assert payload["executionArn.$"] == "$$.Execution.Id"
    assert any({"StopFailed", "Lambda.Unknown"} <= set(r["ErrorEquals"]) for r in state["Retry"])
    assert state["Next"] == "CopyLogs"
    assert all(c["Next"] == "CopyLogs" for c in state["Catch"])


def test_a_start_that_died_is_retried_like_an_interrupted_one():
    # Given StartTaskAndWait's retriers, When the one for StartInterrupted is read
    [retrier] = [r for r in _states()["StartTaskAndWait"]["Retry"] if "StartInterrupted" in r["ErrorEquals"]]

    # Then a Lambda function that died (timeout, out of memory: Lambda.Unknown) is resumed the same way
    assert "Lambda.Unknown" in retrier["ErrorEquals"]


@pytest.mark.parametrize("name", ["ValidateRequest", "PrepareArray", "SummarizeArray"])
def test_an_idempotent_step_that_died_is_tried_again(name: str) -> None:
    # Given an idempotent step's retriers (each finds its own claim or the recorded end on a second try)
    retried = {error for r in _states()[name]["Retry"] for error in r["ErrorEquals"]}
    # Then a function that died (Lambda.Unknown) is tried again before the Catch ends the run Run.InternalError
    # (a duplicate array's PrepareArray that died after answering Run.Duplicate: found by tests/simulation)
    assert "Lambda.Unknown" in retried


@pytest.mark.parametrize("name", ["PrepareArray", "SummarizeArray"])
def test_an_array_step_whose_aws_call_failed_is_tried_again(name: str) -> None:
    # Given an array step's retriers, When the last one is read
    last = _states()[name]["Retry"][-1]
    # Then any failure of the function (a DynamoDB or S3 call that failed past the SDK's retries) is tried again,
    # a few times, before the Catch: a claim that failed once must not end an array Run.InternalError
    assert last["ErrorEquals"] == ["States.TaskFailed"] and 2 <= last["MaxAttempts"] <= 5


def test_the_timeout_stop_state_retries_a_failed_stop():
    state = _states()["StopTimedOutTask"]
    assert state["Parameters"]["Payload"]["stopFor"] == "timeout"
    assert any("StopFailed" in r["ErrorEquals"] for r in state["Retry"])


@pytest.mark.parametrize("name", ["StopTimedOutTask", "StopInterruptedStart"])
def test_a_stop_function_that_died_is_retried_like_a_failed_stop(name: str) -> None:
    # Given a stop state's retriers, When the one for StopFailed is read
    [retrier] = [r for r in _states()[name]["Retry"] if "StopFailed" in r["ErrorEquals"]]
    # Then a stop function that died (timeout, out of memory: Lambda.Unknown) is retried too: otherwise the state
    # goes on to CopyLogs without the task it should have named, stopped and waited for (found by tests/simulation)
    assert "Lambda.Unknown" in retrier["ErrorEquals"]


def test_start_task_and_wait_goes_to_copy_logs_on_success():
    # Given StartTaskAndWait
    state = _states()["StartTaskAndWait"]

    # When its Next is read
    # Then a task that stopped cleanly has its logs copied too
    assert state.get("Next") == "CopyLogs"
    assert state.get("End") is not True


def test_every_failure_of_start_task_and_wait_leads_to_copy_logs():
    # Given StartTaskAndWait's catchers and StopTimedOutTask's
    states = _states()

    # When each catcher's target is followed through StopTimedOutTask where it goes there
    def leads_to_copy_logs(target: str) -> bool:
        if target in ("CopyLogs", "PlanRetry"):  # PlanRetry's own exits are checked above
            return True
        if target in ("StopTimedOutTask", "StopInterruptedStart"):
            stop = states[target]
            return stop.get("Next") == "CopyLogs" and all(c["Next"] == "CopyLogs" for c in stop.get("Catch", []))
        return False

    # Then every failure path copies the logs
    targets = [c["Next"] for c in states["StartTaskAndWait"].get("Catch", [])]
    assert targets and all(leads_to_copy_logs(t) for t in targets), targets


# ---------------------------------------------------------------------------
# StopTimedOutTask
# ---------------------------------------------------------------------------


def test_stop_timed_out_task_waits_for_a_task_token():
    # Given StopTimedOutTask
    state = _states()["StopTimedOutTask"]

    # When its resource is read
    # Then it waits for the task to stop, like StartTaskAndWait
    assert state["Type"] == "Task"
    assert state["Resource"] == WAIT_FOR_TASK_TOKEN


def test_stop_timed_out_task_passes_the_task_token_to_the_function():
    # Given StopTimedOutTask's parameters
    params = _states()["StopTimedOutTask"]["Parameters"]

    # When the values of its payload are collected
    values = list(_walk_strings(params.get("Payload", {})))

    # Then the task token is among them
    assert "$$.Task.Token" in values


def test_stop_timed_out_task_has_a_fixed_numeric_timeout():
    # Given StopTimedOutTask
    state = _states()["StopTimedOutTask"]

    # When its timeout is read
    timeout = state.get("TimeoutSeconds")

    # Then it is a positive integer, so a task that never stops cannot hang the execution
    assert isinstance(timeout, int) and not isinstance(timeout, bool), timeout
    assert timeout > 0


def test_stop_timed_out_task_goes_to_copy_logs_on_success():
    # Given StopTimedOutTask
    state = _states()["StopTimedOutTask"]

    # When its Next is read
    # Then the stopped task's logs are copied
    assert state.get("Next") == "CopyLogs"


def test_stop_timed_out_task_goes_to_copy_logs_on_any_error():
    # Given StopTimedOutTask's catchers
    catchers = _states()["StopTimedOutTask"].get("Catch", [])

    # When the catcher for States.ALL is looked up
    all_catchers = [c for c in catchers if "States.ALL" in c["ErrorEquals"]]

    # Then any error still copies the logs
    assert [c["Next"] for c in all_catchers] == ["CopyLogs"]


# ---------------------------------------------------------------------------
# Retriers and catchers
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(("state_name", "field"), _or_empty(lambda: _states_with("Catch") + _states_with("Retry")))
def test_states_all_is_alone_and_last(state_name: str, field: str):
    # Given a state's catchers or retriers
    entries = _states()[state_name][field]

    # When the entries naming States.ALL are located
    positions = [i for i, entry in enumerate(entries) if "States.ALL" in entry["ErrorEquals"]]

    # Then States.ALL appears only alone, in the last entry (Step Functions rejects anything else)
    for i in positions:
        assert i == len(entries) - 1, f"{state_name}.{field}[{i}] has States.ALL but is not last"
        assert entries[i]["ErrorEquals"] == ["States.ALL"], f"{state_name}.{field}[{i}] mixes States.ALL"


@pytest.mark.parametrize("state_name", _or_empty(_lambda_tasks))
def test_lambda_tasks_retry_lambda_service_errors(state_name: str):
    # Given a Task that invokes a Lambda function
    retriers = _states()[state_name].get("Retry", [])

    # When the error names its retriers cover are collected
    covered = {name for retrier in retriers for name in retrier["ErrorEquals"]}

    # Then every transient Lambda service error is retried
    assert LAMBDA_SERVICE_ERRORS - covered == set(), f"{state_name} does not retry {LAMBDA_SERVICE_ERRORS - covered}"


@pytest.mark.parametrize("state_name", _or_empty(_lambda_tasks))
def test_lambda_task_retriers_back_off(state_name: str):
    # Given the retrier of a Lambda Task that covers Lambda.ServiceException
    retriers = [r for r in _states()[state_name].get("Retry", []) if "Lambda.ServiceException" in r["ErrorEquals"]]
    assert retriers

    # When its attempts and backoff are read
    retrier = retriers[0]

    # Then it retries more than once, with exponential backoff
    assert retrier.get("MaxAttempts", 3) >= 2
    assert retrier.get("BackoffRate", 2.0) > 1


@pytest.mark.parametrize("state_name", _or_empty(_lambda_tasks))
def test_no_lambda_task_lets_an_error_cross_the_state_machine_boundary_by_its_own_name(state_name: str) -> None:
    # Given a Task that invokes one of ecsrun's functions
    catchers = _states()[state_name].get("Catch", [])

    # When the errors its catchers take are collected
    covered = {name for catcher in catchers for name in catcher["ErrorEquals"]}

    # Then whatever the function raises or however it dies (Lambda.Unknown) is caught: the execution ends with one
    # of ecsrun's documented names, never a Python exception's
    assert "States.ALL" in covered, f"{state_name} lets an error end the execution under its own name"


def test_a_function_that_failed_before_any_outcome_ends_the_run_as_an_internal_error() -> None:
    # Given the states whose functions run before or around any task, with no outcome of their own to fall back on
    states = _states()
    for name in ("ValidateRequest", "PrepareArray", "SummarizeArray"):
        [catcher] = [c for c in states[name]["Catch"] if c["ErrorEquals"] == ["States.ALL"]]
        # When their last catcher is followed
        failed = states[catcher["Next"]]
        # Then it names Run.InternalError with a JSON cause (no traceback: the error stays in the history)
        assert failed["Type"] == "Pass" and catcher["ResultPath"] is None
        outcome = failed["Result"]["logCopy"]["outcome"]
        assert outcome["error"] == ErrorName.INTERNAL.value
        assert json.loads(outcome["cause"])["error"] == ErrorName.INTERNAL.value
        assert states[failed["Next"]] == {**states[failed["Next"]], "Type": "Fail", "Error": ErrorName.INTERNAL.value}


def test_validation_whose_function_died_is_tried_again() -> None:
    # Given ValidateRequest's retriers (it writes nothing; answering an invalid request's caller twice is harmless)
    retriers = _states()["ValidateRequest"]["Retry"]
    # Then a function that died (a timeout, out of memory) is retried before the run is called an internal error
    assert any(r["ErrorEquals"] == ["Lambda.Unknown"] and r["MaxAttempts"] >= 1 for r in retriers)


# ---------------------------------------------------------------------------
# The graph
# ---------------------------------------------------------------------------


def test_every_transition_targets_an_existing_state():
    # Given every state
    states = _states()

    # When every Next, Default, Choice and Catch target is collected
    dangling = {(name, target) for name, state in states.items() for target in _transitions(state)}

    # Then each names a state of the machine
    assert {(name, target) for name, target in dangling if target not in states} == set()


def test_every_non_terminal_state_has_a_way_out():
    # Given every state
    states = _states()

    # When the states that neither end the execution nor move on are collected
    stuck = [name for name, s in states.items() if not _is_terminal(s) and not list(_transitions(s))]

    # Then there are none
    assert stuck == []


def test_no_state_is_unreachable_from_start():
    # Given the states reachable from StartAt
    doc = _asl()
    reachable = _reachable_from(doc["StartAt"], doc["States"])

    # When they are compared with all states
    unreachable = set(doc["States"]) - reachable

    # Then every state can run
    assert unreachable == set()


def test_every_reachable_state_can_reach_a_terminal_state():
    # Given the states reachable from StartAt
    doc = _asl()
    states = doc["States"]
    reachable = _reachable_from(doc["StartAt"], states)

    # When each is checked for a path to a Succeed, Fail or End state
    trapped = [
        name for name in sorted(reachable) if not any(_is_terminal(states[s]) for s in _reachable_from(name, states))
    ]

    # Then no path loops forever or dead-ends
    assert trapped == []


def test_terminal_states_do_not_move_on():
    # Given the Succeed and Fail states
    terminals = {name: s for name, s in _states().items() if s["Type"] in TERMINAL_TYPES}

    # When their transitions are collected
    moving = {name: list(_transitions(s)) for name, s in terminals.items() if list(_transitions(s))}

    # Then none has a Next (Step Functions rejects it)
    assert moving == {}


def test_copy_logs_waits_its_turn_when_copies_are_at_their_concurrency_limit() -> None:
    # Given CopyLogs' retriers
    retriers = _states()["CopyLogs"]["Retry"]
    # When the first one matching Lambda throttling is found (Step Functions uses the first match)
    first = next(r for r in retriers if "Lambda.TooManyRequestsException" in r["ErrorEquals"])
    # Then it is patient: many attempts, capped delay, jitter, so a burst of finishing runs drains instead of failing
    assert first["MaxAttempts"] >= 10
    assert first["MaxDelaySeconds"] <= 300
    assert first["JitterStrategy"] == "FULL"


# ---------------------------------------------------------------------------
# Array runs
# ---------------------------------------------------------------------------


def test_a_valid_request_with_an_array_goes_to_prepare_array_and_only_it():
    choices = _states()["IsRequestValid"]["Choices"]
    first = choices[0]
    assert first["Next"] == "PrepareArray"
    assert first["And"] == [
        {"Variable": "$.valid", "BooleanEquals": True},
        {"Variable": "$.array", "IsPresent": True},
    ]
    assert choices[1] == {"Variable": "$.valid", "BooleanEquals": True, "Next": "StartTaskAndWait"}


def test_an_array_parent_whose_run_id_is_taken_fails_run_duplicate_before_any_child():
    states = _states()
    assert states["ArrayPrepared?"]["Choices"] == [
        {"Variable": "$.children.answer.prepared", "BooleanEquals": True, "Next": "RunChildren"}
    ]
    assert states["ArrayPrepared?"]["Default"] == "ArrayRunDuplicate"
    assert states["ArrayRunDuplicate"] == {
        "Type": "Fail",
        "Error": ErrorName.DUPLICATE.value,
        "CausePath": "$.children.answer.cause",
    }


def test_children_are_a_distributed_map_of_nested_executions_of_this_state_machine():
    fan_out = _states()["RunChildren"]
    assert fan_out["Type"] == "Map"
    assert fan_out["ItemProcessor"]["ProcessorConfig"] == {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}
    assert fan_out["ItemReader"]["Resource"] == "arn:${Partition}:states:::s3:getObject"
    assert fan_out["ItemReader"]["Parameters"] == {
        "Bucket.$": "$.children.answer.bucket",
        "Key.$": "$.children.answer.key",
    }
    assert fan_out["MaxConcurrencyPath"] == "$.array.maxConcurrency"
    assert fan_out["ItemSelector"]["stateMachineArn.$"] == "$$.StateMachine.Id"
    child = fan_out["ItemProcessor"]["States"]["RunChild"]
    assert child["Resource"] == "arn:${Partition}:states:::states:startExecution.sync:2"
    assert child["Parameters"] == {"StateMachineArn.$": "$.stateMachineArn", "Name.$": "$.name", "Input.$": "$.request"}


def test_a_failed_child_never_fails_the_map_and_no_child_output_is_kept():
    fan_out = _states()["RunChildren"]
    child_states = fan_out["ItemProcessor"]["States"]
    # Every child ends with an empty output (10,000 children stay far below the 256 KiB state limit) ...
    assert child_states["RunChild"]["OutputPath"] is None and child_states["ChildEnded"]["OutputPath"] is None
    assert child_states["RunChild"]["Catch"] == [
        {"ErrorEquals": ["States.ALL"], "ResultPath": None, "Next": "ChildEnded"}
    ]
    # ... throttled starts are retried, a child's own failure is not (it had its own retries) ...
    [retry] = child_states["RunChild"]["Retry"]
    assert "States.TaskFailed" not in retry["ErrorEquals"] and "States.ALL" not in retry["ErrorEquals"]
    # ... and the parent is judged from the run records, whatever the map run did
    assert fan_out["ResultPath"] is None
    assert fan_out["Next"] == "SummarizeArray"
    assert fan_out["Catch"] == [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.mapFailure", "Next": "SummarizeArray"}]


def test_the_parent_ends_as_the_summary_says():
    states = _states()
    assert states["ArraySucceeded?"]["Choices"] == [
        {"Variable": "$.summary.answer.status", "StringEquals": "SUCCEEDED", "Next": "ArrayRunSucceeded"}
    ]
    assert states["ArraySucceeded?"]["Default"] == "RunArrayFailed"
    assert states["ArrayRunSucceeded"] == {"Type": "Succeed", "OutputPath": "$.summary.answer.output"}
    assert states["RunArrayFailed"] == {
        "Type": "Fail",
        "Error": ErrorName.ARRAY_FAILED.value,
        "CausePath": "$.summary.answer.cause",
    }


def test_array_children_get_the_parents_run_fields_but_never_its_callers_token():
    # Given the Distributed Map's ItemSelector (children.json holds no request: issue 12, case 4)
    selector = _states()["RunChildren"]["ItemSelector"]
    parent = selector["request"]["arrayChild"]["parent"]
    # Then the child's input names the parent's run field by field (its resolved task definition included, so no
    # child describes it again): the caller's token ($.run.callbackTaskToken) is not among them, so no child can
    # answer the parent's caller
    assert parent == {
        "runId.$": "$.run.runId",
        "request.$": "$.run.request",
        "timeoutSeconds.$": "$.run.timeoutSeconds",
        "successExitCodes.$": "$.run.successExitCodes",
        "retry.$": "$.run.retry",
        "definition.$": "$.run.definition",
    }
    assert selector["request"]["runId.$"] == "$$.Map.Item.Value.runId"


def test_every_service_integration_resource_names_the_partition_sam_substitutes():
    # Given the ASL as deployed and the substitutions SAM makes in it
    asl_text, substitutions = Template(ROOT / "template.yaml").state_machine()
    resources = re.findall(r'"Resource":\s*"([^"]+)"', asl_text)
    # Then no Resource hard-codes the aws partition (GovCloud: aws-us-gov, China: aws-cn), all ten name it
    assert "arn:aws:" not in asl_text
    assert len(resources) >= 10 and all(r.startswith("arn:${Partition}:states:::") for r in resources), resources
    assert substitutions["Partition"] == {"Ref": "AWS::Partition"}


def _lambda_task_states() -> dict[str, dict[str, Any]]:
    states = dict(_states())
    states.update(_states()["RunChildren"]["ItemProcessor"]["States"])
    return {n: s for n, s in states.items() if s["Type"] == "Task" and "lambda:invoke" in s["Resource"]}


def test_every_lambda_state_waits_out_throttling_rather_than_failing():
    # Given every state that invokes one of ecsrun's functions (validate, arrays, start, stop, retry plan, copy)
    states = _lambda_task_states()
    assert {"ValidateRequest", "StartTaskAndWait", "StopTimedOutTask", "StopInterruptedStart", "CopyLogs"} <= set(
        states
    )
    for name, state in states.items():
        # When its retriers are read
        throttled = [r for r in state["Retry"] if "Throttled" in r["ErrorEquals"]]
        # Then a step whose AWS call stayed throttled (the function fails with Throttled) is tried again first,
        # many times, with a backoff that grows to minutes: hours of throttling make the run wait, not fail
        assert len(throttled) == 1, name
        assert state["Retry"][0] is throttled[0], name
        retrier = throttled[0]
        assert retrier["ErrorEquals"] == ["Throttled"], name
        assert retrier["MaxAttempts"] >= 50, name
        assert retrier["MaxDelaySeconds"] >= 60, name
        assert retrier["JitterStrategy"] == "FULL", name
        waited = sum(
            min(retrier["IntervalSeconds"] * retrier["BackoffRate"] ** k, retrier["MaxDelaySeconds"])
            for k in range(retrier["MaxAttempts"])
        )
        assert waited >= 3600, name


def test_throttled_is_no_outcome_and_no_catcher_sends_it_to_a_verdict():
    # Given StartTaskAndWait's catchers, When the names they send to PlanRetry or CopyLogs are read
    named = {e for c in _states()["StartTaskAndWait"]["Catch"] for e in c["ErrorEquals"]}
    # Then Throttled is not among them (only States.ALL, after its retries ran out, would catch it) and no Fail
    # state raises it: a throttled RunTask is retried with the same clientToken, never turned into a verdict
    assert "Throttled" not in named
    assert all(s.get("Error") != "Throttled" for s in _states().values())
