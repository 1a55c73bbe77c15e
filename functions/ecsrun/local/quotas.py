"""Payload and API limits on the local engine, where moto skips what AWS enforces and ecsrun relies on it.

Step Functions:
- a state's input or output over 256 KiB of UTF-8 JSON fails the execution with States.DataLimitExceeded (moto
  checks this, but on spaced, ASCII-escaped JSON and refusing exactly 256 KiB; AWS's bound, botocore's
  `SensitiveData` max 262,144 bytes, includes it);
- StartExecution input and SendTaskSuccess output over 262,144 bytes: ValidationException; SendTaskSuccess output
  that is not JSON: InvalidOutput; SendTaskFailure / StopExecution error over 256 or cause over 32,768
  characters: ValidationException;
- a Fail state whose cause is over 32,768 characters (or error over 256) fails the execution with States.Runtime
  (the limit is the execution's; AWS does not document the error it gives for this);
- a Wait state's SecondsPath over 99,999,999: States.Runtime, as for a negative value;
ECS:
- ListTasks with `startedBy` and another filter: "When you specify startedBy as the filter, it must be the only
  filter that you use" (InvalidParameterException);
- RunTask `clientToken` of more than 64 characters, or outside ASCII 33-126, and `startedBy` of more than 128
  characters or with other than letters, digits, '-', '/', '_': InvalidParameterException.
EventBridge:
- PutEvents entries whose total size (as EventBridge counts an entry) is over 256 KB: ValidationException.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from ecsrun.domain import limits

Patch = Callable[[Any, str, Any], None]

CLIENT_TOKEN = re.compile(r"[\x21-\x7e]{1,64}")
STARTED_BY = re.compile(r"[A-Za-z0-9_/-]{1,128}")
LIST_TASKS_FILTERS = ("containerInstance", "family", "serviceName", "desiredStatus", "launchType")


def too_long(field: str, value: str, limit: int) -> str:
    """AWS's validation message for a string over its maximum length."""
    return (
        f"1 validation error detected: Value at '{field}' failed to satisfy constraint: "
        f"Member must have length less than or equal to {limit}"
    )


def state_machine_problem(params: dict[str, Any], operation: str) -> tuple[str, str] | None:
    """(error code, message) for a Step Functions request AWS refuses on its size, else None. Pure."""
    sizes = {
        "input": (limits.MAX_PAYLOAD_BYTES, limits.utf8_bytes),
        "output": (limits.MAX_PAYLOAD_BYTES, limits.utf8_bytes),
        "error": (limits.MAX_ERROR_CHARS, len),
        "cause": (limits.MAX_CAUSE_CHARS, len),
    }
    for field, (limit, measure) in sizes.items():
        value = params.get(field)
        if isinstance(value, str) and measure(value) > limit:
            return "ValidationException", too_long(field, value, limit)
    if operation == "SendTaskSuccess":
        try:
            json.loads(params.get("output") or "")
        except ValueError:
            return "InvalidOutput", "Invalid Output: the output is not valid JSON"
    return None


def within_payload_limit(value: Any) -> bool:
    """A state's input or output fits: at most 256 KiB as UTF-8 JSON."""
    text = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return limits.utf8_bytes(text) <= limits.MAX_PAYLOAD_BYTES


def ecs_problem(operation: str, params: dict[str, Any]) -> str | None:
    """The InvalidParameterException message ECS gives for a request moto accepts, else None. Pure."""
    if operation == "ListTasks" and params.get("startedBy"):
        others = [f for f in LIST_TASKS_FILTERS if params.get(f)]
        if others:
            return (
                f"startedBy cannot be combined with {', '.join(others)}: "
                "when you specify startedBy as the filter, it must be the only filter that you use"
            )
    if operation == "RunTask":
        token, started_by = params.get("clientToken"), params.get("startedBy")
        if token is not None and not CLIENT_TOKEN.fullmatch(str(token)):
            return "clientToken: up to 64 characters, each in the ASCII range 33-126"
        if started_by is not None and not STARTED_BY.fullmatch(str(started_by)):
            return "startedBy: up to 128 letters, numbers, hyphens (-), forward slashes (/) and underscores (_)"
    return None


def put_events_problem(entries: list[dict[str, Any]]) -> str | None:
    total = sum(limits.put_events_entry_bytes(entry) for entry in entries)
    if total > limits.MAX_PUT_EVENTS_ENTRY_BYTES:
        return "Total size of the entries in the request is over the limit."
    return None


# ---- the patches ----


def enforce(patch: Patch) -> None:
    """Apply every limit to moto, through `patch(owner, name, replacement)` (the runtime undoes them on exit)."""
    _step_functions(patch)
    _ecs(patch)
    _events(patch)


def _step_functions(patch: Patch) -> None:
    from moto.stepfunctions import exceptions
    from moto.stepfunctions.parser import quotas

    # moto refuses exactly 256 KiB ("<") and measures spaced, ASCII-escaped JSON: measure the payload's UTF-8.
    from moto.stepfunctions.parser.asl.component.state import state
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import state_task_lambda
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import state_task_service
    from moto.stepfunctions.responses import StepFunctionResponse

    for module in (quotas, state, state_task_lambda, state_task_service):
        patch(module, "is_within_size_quota", within_payload_limit)

    def checked(name: str, operation: str) -> None:
        original = getattr(StepFunctionResponse, name)

        def handler(response: Any) -> Any:
            problem = state_machine_problem(_params(response, SFN_FIELDS), operation)
            if problem is not None:
                code, message = problem
                raise _sfn_error(exceptions, code, message)
            return original(response)

        patch(StepFunctionResponse, name, handler)

    checked("send_task_success", "SendTaskSuccess")
    checked("send_task_failure", "SendTaskFailure")
    checked("stop_execution", "StopExecution")
    checked("start_execution", "StartExecution")
    _fail_state(patch)
    _wait_state(patch)


ECS_CHECKED = (("list_tasks", "ListTasks"), ("run_task", "RunTask"))
SFN_FIELDS = ("taskToken", "input", "output", "error", "cause")
ECS_FIELDS = ("startedBy", "clientToken", *LIST_TASKS_FILTERS)


def _params(response: Any, names: tuple[str, ...]) -> dict[str, Any]:
    """The request's parameters of these names (as moto parses them, JSON body or not)."""
    found = {name: response._get_param(name) for name in names}
    return {name: value for name, value in found.items() if value is not None}


def _sfn_error(exceptions: Any, code: str, message: str) -> Exception:
    class Refused(exceptions.AWSError):  # type: ignore[misc,name-defined]
        TYPE = code
        STATUS = 400

    return Refused(message)  # type: ignore[no-any-return]


def _fail_state(patch: Patch) -> None:
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import FailureEventException
    from moto.stepfunctions.parser.asl.component.state.fail.state_fail import StateFail

    evaluate = StateFail._eval_state

    def eval_state(state: Any, env: Any) -> None:
        try:
            evaluate(state, env)
        except FailureEventException as failed:
            event: dict[str, Any] = dict(failed.failure_event.event_details or {})
            details = event.get("taskFailedEventDetails") or {}
            error, cause = str(details.get("error") or ""), str(details.get("cause") or "")
            if len(cause) > limits.MAX_CAUSE_CHARS or len(error) > limits.MAX_ERROR_CHARS:
                why = (
                    f"The Fail state '{state.name}' gave a cause of {len(cause)} characters and an error of "
                    f"{len(error)}: an execution's cause is at most {limits.MAX_CAUSE_CHARS}, its error at most "
                    f"{limits.MAX_ERROR_CHARS}"
                )
                raise _runtime_failure(env, why) from failed
            raise

    patch(StateFail, "_eval_state", eval_state)


def _wait_state(patch: Patch) -> None:
    from moto.stepfunctions.parser.asl.component.state.wait.wait_function.seconds_path import SecondsPath

    validate = SecondsPath._validate_seconds_value

    def validate_seconds(function: Any, env: Any, seconds: Any) -> None:
        if isinstance(seconds, int) and seconds > limits.MAX_WAIT_SECONDS:
            literal = function.string_sampler.literal_value
            why = f"The SecondsPath parameter references a value over {limits.MAX_WAIT_SECONDS}: {literal} == {seconds}"
            raise _runtime_failure(env, why)
        validate(function, env, seconds)

    patch(SecondsPath, "_validate_seconds_value", validate_seconds)


def _runtime_failure(env: Any, cause: str) -> Exception:
    from moto.stepfunctions.parser.api import ExecutionFailedEventDetails, HistoryEventType
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
        FailureEvent,
        FailureEventException,
    )
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
        StatesErrorNameType,
    )
    from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails

    error = StatesErrorNameType.StatesRuntime
    return FailureEventException(
        failure_event=FailureEvent(
            env=env,
            error_name=StatesErrorName(typ=error),
            event_type=HistoryEventType.ExecutionFailed,
            event_details=EventDetails(  # type: ignore[typeddict-item]
                executionFailedEventDetails=ExecutionFailedEventDetails(error=error.to_name(), cause=cause)
            ),
        )
    )


def _ecs(patch: Patch) -> None:
    from moto.ecs.exceptions import InvalidParameterException
    from moto.ecs.responses import EC2ContainerServiceResponse

    for name, operation in ECS_CHECKED:
        original = getattr(EC2ContainerServiceResponse, name)

        def handler(response: Any, original: Any = original, operation: str = operation) -> Any:
            problem = ecs_problem(operation, _params(response, ECS_FIELDS))
            if problem is not None:
                raise InvalidParameterException(problem)
            return original(response)

        patch(EC2ContainerServiceResponse, name, handler)


def _events(patch: Patch) -> None:
    from moto.events.exceptions import ValidationException
    from moto.events.models import EventsBackend

    put_events = EventsBackend.put_events

    def checked(backend: Any, events: list[dict[str, Any]]) -> Any:
        problem = put_events_problem(events)
        if problem is not None:
            raise ValidationException(problem)
        return put_events(backend, events)

    patch(EventsBackend, "put_events", checked)
