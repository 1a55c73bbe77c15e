"""The run request: a RunTask request in ECS's own camelCase names, plus runner fields.

Types are strict, as the ECS API defines them: "60" is not an integer, "yes" is not a boolean.
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, model_validator

from ecsrun.domain import array as arrays
from ecsrun.domain import limits
from ecsrun.domain import request_rules as rules
from ecsrun.domain.apishape import check, operation_input

RUN_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
MAX_TASK_TOKEN = 2048  # botocore `TaskToken`: a Step Functions task token is 1-2,048 characters
MAX_TIMEOUT_SECONDS = 365 * 24 * 3600  # a Standard execution lasts at most a year
DEFAULT_TIMEOUT_SECONDS = 3600  # the template's DefaultTimeoutSeconds; the validator is given the stack's own


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class RetryPolicy(_Strict):
    """How often a retryable failure (no capacity, throttling, a transient failed start) is tried again."""

    maxAttempts: Annotated[int, Field(ge=1, le=10)] = 3
    intervalSeconds: Annotated[int, Field(ge=1, le=3600)] = 10
    backoffRate: Annotated[float, Field(ge=1.0, le=10.0)] = 2.0


class ArraySpec(_Strict):
    """One child run per element: {"size": N} (elements 0..N-1) or {"items": [...]}."""

    size: Annotated[int, Field(ge=1, le=arrays.MAX_ARRAY_SIZE)] | None = None
    items: Annotated[list[Any], Field(min_length=1, max_length=arrays.MAX_ARRAY_SIZE)] | None = None

    @model_validator(mode="after")
    def _one_of(self) -> ArraySpec:
        if (self.size is None) == (self.items is None):
            raise ValueError('give exactly one of "size" or "items"')
        return self


class RunRequest(BaseModel):
    """What a user sends: the fields they would give `aws ecs run-task`, plus ecsrun's runner fields.

    The runner fields are typed here; the RunTask fields are checked against ECS's own API model
    (ecsrun.domain.apishape) and the rules in ecsrun.domain.request_rules, then kept exactly as given.
    """

    model_config = ConfigDict(extra="allow", strict=True)

    runId: Annotated[str, StringConstraints(pattern=RUN_ID_PATTERN)] | None = None
    timeoutSeconds: Annotated[int, Field(ge=1, le=MAX_TIMEOUT_SECONDS)] | None = None
    successExitCodes: Annotated[list[Annotated[int, Field(ge=0, le=255)]], Field(min_length=1)] | None = None
    retry: RetryPolicy | None = None
    array: ArraySpec | None = None
    maxConcurrency: Annotated[int, Field(ge=1, le=arrays.MAX_ARRAY_SIZE)] | None = None
    toleratedFailurePercentage: Annotated[float, Field(ge=0, le=100)] | None = None
    # A parent state machine's `.waitForTaskToken` token: answered when the run ends (domain/callback.py).
    callbackTaskToken: Annotated[str, StringConstraints(min_length=1, max_length=MAX_TASK_TOKEN)] | None = None
    # The parent execution's ARN: Step Functions' console links a nested execution to the one that started it
    # when its input carries this field (the AWS docs' nested-workflow examples pass it). ecsrun only accepts it.
    AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID: (
        Annotated[str, StringConstraints(min_length=1, max_length=2048)] | None
    ) = None


RUNNER_FIELDS = frozenset(
    {
        "runId",
        "timeoutSeconds",
        "successExitCodes",
        "retry",
        "callbackTaskToken",
        "AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID",
        *arrays.ARRAY_FIELDS,
    }
)
# RunTask fields ecsrun sets itself; a request that sets them would break idempotency or lookup.
RESERVED_FIELDS = {
    "startedBy": "set by ecsrun to find the run from ECS events; remove it",
    "clientToken": "set by ecsrun to make the start idempotent; remove it",
}


# What ecsrun sets in RunTask itself: never offered to a user as a field to set.
SET_BY_ECSRUN = frozenset({*RESERVED_FIELDS, "count"})


class Problem(BaseModel):
    """One thing wrong with a request, with the field path a person can find."""

    field: str
    message: str


MAX_FIELDS_NAMED = 20  # fields the one-line message names; every problem is in "problems" (within the cause's bound)


def problems_report(problems: list[Problem]) -> dict[str, Any]:
    """The RunRequest.Invalid cause: one message naming the fields (the first MAX_FIELDS_NAMED), then each
    problem. A report too long for a cause is cut by ecsrun.domain.limits.fit, which says so."""
    fields = list(dict.fromkeys(p.field for p in problems))
    named = ", ".join(fields[:MAX_FIELDS_NAMED])
    if len(fields) > MAX_FIELDS_NAMED:
        named += f" and {len(fields) - MAX_FIELDS_NAMED} more fields"
    noun = "problem" if len(problems) == 1 else "problems"
    return {
        "message": f"the run request has {len(problems)} {noun} ({named}); no task was started",
        "problems": [p.model_dump() for p in problems],
    }


def retry_problems(request: RunRequest, default_timeout_seconds: int) -> list[Problem]:
    """A retried run waits between attempts (up to intervalSeconds * backoffRate^(n-1) before attempt n+1), and
    Step Functions ends a Standard execution after a year: the worst case of the waits must leave the year room
    for an attempt of timeoutSeconds. (Each wait is also clamped in code to a Wait state's 99,999,999 s.)"""
    policy = request.retry or RetryPolicy()
    timeout = request.timeoutSeconds or default_timeout_seconds
    waits = sum(policy.intervalSeconds * policy.backoffRate**n for n in range(policy.maxAttempts - 1))
    room = limits.MAX_EXECUTION_SECONDS - timeout
    if waits <= room:
        return []
    field = "retry" if request.retry is not None else "timeoutSeconds"
    return [
        Problem(
            field=field,
            message=f"the waits between {policy.maxAttempts} attempts add up to {waits:.0f} s in the worst case; "
            f"with timeoutSeconds {timeout} a Standard execution (one year) has {room} s for them. Lower "
            "maxAttempts, intervalSeconds or backoffRate (maxAttempts 1: no retry), or timeoutSeconds",
        )
    ]


def size_problems(raw: dict[str, Any]) -> list[Problem]:
    """The run (the request without its array items) travels in every state of the execution: keep it within
    half of a state's 256 KiB, so what the states add beside it always fits."""
    carried = {k: v for k, v in raw.items() if k not in arrays.ARRAY_FIELDS}
    size = limits.utf8_bytes(json.dumps(carried))
    if size <= limits.MAX_RUN_REQUEST_BYTES:
        return []
    message = f"at most {limits.MAX_RUN_REQUEST_BYTES} bytes of JSON without the array's items; got {size}"
    return [Problem(field="(request)", message=message)]


def field_path(loc: tuple[int | str, ...]) -> str:
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path or "(request)"


def _message(error: dict[str, Any]) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        return "unknown field: not a RunTask field nor an ecsrun field"
    if kind == "missing":
        return "required field is missing"
    if error["loc"] == ("callbackTaskToken",):  # a bearer secret: described, never quoted
        given = error.get("input")
        what = f"a string of {len(given)} characters" if isinstance(given, str) else type(given).__name__
        return f"must be a Step Functions task token: a string of 1-{MAX_TASK_TOKEN:,} characters; got {what}"
    if kind == "string_pattern_mismatch" and error["loc"] == ("runId",):
        return f"must match {RUN_ID_PATTERN} (1-64 letters, digits, '.', '_', '-'; starting with a letter or digit)"
    return f"{error['msg'].replace('Input should be', 'must be')}; got {_show(error.get('input'))}"


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def validate_request(
    raw: Any,
    *,
    reveal_secrets: bool = False,
    max_array_size: int = arrays.MAX_ARRAY_SIZE,
    default_timeout_seconds: int = DEFAULT_TIMEOUT_SECONDS,
) -> tuple[RunRequest | None, list[Problem]]:
    """Validate a run request completely: every problem at once, none hidden behind another. Values of
    fields the API marks sensitive (container environment) are not quoted unless `reveal_secrets`."""
    if not isinstance(raw, dict):
        return None, [Problem(field="(request)", message=f"must be a JSON object; got {type(raw).__name__}")]

    problems: list[Problem] = []
    for name, why in RESERVED_FIELDS.items():
        if name in raw:
            problems.append(Problem(field=name, message=why))
    cleaned = {k: v for k, v in raw.items() if k not in RESERVED_FIELDS}

    runner = {k: v for k, v in cleaned.items() if k in RUNNER_FIELDS}
    request: RunRequest | None = None
    try:
        request = RunRequest.model_validate(runner)
    except ValidationError as exc:
        for error in exc.errors(include_url=False):
            problems.append(Problem(field=field_path(error["loc"]), message=_message(dict(error))))
    shape = operation_input("ecs", "RunTask")
    run_task = {k: v for k, v in cleaned.items() if k not in RUNNER_FIELDS}
    problems += [
        Problem(field=f, message=m)
        for f, m in check(shape, run_task, also_known=RUNNER_FIELDS, not_offered=SET_BY_ECSRUN, reveal=reveal_secrets)
    ]
    problems += [Problem(field=f, message=m) for f, m in rules.problems(run_task)]
    problems += [Problem(field=f, message=m) for f, m in arrays.problems(runner, max_array_size)]
    problems += size_problems(cleaned)
    if request is not None:
        problems += retry_problems(request, default_timeout_seconds)
    if request is not None and not problems:
        request = RunRequest.model_validate({**run_task, **runner})

    problems.sort(key=lambda p: p.field)
    return (request if not problems else None), problems


def default_run_id(execution_name: str) -> str:
    """A valid runId from a Step Functions execution name (which allows more characters)."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]", "-", execution_name)
    cleaned = re.sub(r"^[^A-Za-z0-9]+", "", cleaned)[:64]
    return cleaned or "run"
