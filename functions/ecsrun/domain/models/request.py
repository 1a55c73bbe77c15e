"""The run request: a RunTask request in ECS's own camelCase names, plus runner fields.

Types are strict, as the ECS API defines them: "60" is not an integer, "yes" is not a boolean.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from typing import Any

from ecsrun.domain import array as arrays
from ecsrun.domain import jsonbounds, limits, retry_fields
from ecsrun.domain import request_rules as rules
from ecsrun.domain.apishape import check, operation_input
from ecsrun.domain.cost import MAX_COST_USD, MIN_COST_USD

RUN_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
MAX_TASK_TOKEN = 2048  # botocore `TaskToken`: a Step Functions task token is 1-2,048 characters
MAX_TIMEOUT_SECONDS = 365 * 24 * 3600  # a Standard execution lasts at most a year
DEFAULT_TIMEOUT_SECONDS = 3600  # the template's DefaultTimeoutSeconds; the validator is given the stack's own
MAX_EXECUTION_ID = 2048
UNKNOWN = "unknown field: not a RunTask field nor an ecsrun field"
_RUN_ID_RULE = "(1-64 letters, digits, '.', '_', '-'; starting with a letter or digit)"


@dataclass(frozen=True)
class RetryPolicy:
    """How often a failed attempt is tried again: by default a "not now" failure (no capacity, throttling, a
    transient failed start); `on` and `escalate` as ecsrun.domain.retry_rules and ecsrun.domain.escalation say."""

    maxAttempts: int = 3  # 1-10
    intervalSeconds: int = 10  # 1-3600
    backoffRate: float = 2.0  # 1-10
    on: list[dict[str, Any]] | None = None  # ordered rules; the first match decides
    escalate: dict[str, Any] | None = None  # memoryFactor + maxMemoryMiB, spotFallback

    def model_dump(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None or k not in ("on", "escalate")}


@dataclass(frozen=True)
class ArraySpec:
    """One child run per element: {"size": N} (elements 0..N-1) or {"items": [...]}."""

    size: int | None = None
    items: list[Any] | None = None


@dataclass
class RunRequest:
    """What a user sends: the fields they would give `aws ecs run-task`, plus ecsrun's runner fields.

    The runner fields are typed here (checked by `validate_request`, strictly: "60" is not an integer); the
    RunTask fields are checked against ECS's own API model (ecsrun.domain.apishape) and the rules in
    ecsrun.domain.request_rules, then kept exactly as given, in `fields`.
    """

    runId: str | None = None
    timeoutSeconds: int | None = None
    maxCostUsd: float | None = None  # stop the task when its estimated cost reaches this (domain/cost.py)
    successExitCodes: list[int] | None = None
    retry: RetryPolicy | None = None
    array: ArraySpec | None = None
    maxConcurrency: int | None = None
    toleratedFailurePercentage: float | None = None
    # A parent state machine's `.waitForTaskToken` token: answered when the run ends (domain/callback.py).
    callbackTaskToken: str | None = None
    # The parent execution's ARN: Step Functions' console links a nested execution to the one that started it
    # when its input carries this field (the AWS docs' nested-workflow examples pass it). ecsrun only accepts it.
    AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID: str | None = None
    fields: dict[str, Any] = field(default_factory=dict)  # the RunTask fields, as given

    def __getattr__(self, name: str) -> Any:  # a RunTask field, as given (`request.count`)
        fields = self.__dict__.get("fields", {})
        if name in fields:
            return fields[name]
        raise AttributeError(name)

    def model_dump(self, *, exclude_none: bool = False, mode: str = "python") -> dict[str, Any]:
        """Every field as given (runner and RunTask alike), runner fields first; `exclude_none` drops the
        top-level ones that are None."""
        dumped = {name: getattr(self, name) for name in _RUNNER_ORDER}
        dumped["retry"] = self.retry.model_dump() if self.retry else None
        if self.array is not None:
            array = asdict(self.array)
            dumped["array"] = {k: v for k, v in array.items() if v is not None} if exclude_none else array
        dumped.update(self.fields)
        return {k: v for k, v in dumped.items() if v is not None} if exclude_none else dumped


_RUNNER_ORDER = (
    "runId",
    "timeoutSeconds",
    "maxCostUsd",
    "successExitCodes",
    "retry",
    "array",
    "maxConcurrency",
    "toleratedFailurePercentage",
    "callbackTaskToken",
    "AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID",
)


RUNNER_FIELDS = frozenset(
    {
        "runId",
        "timeoutSeconds",
        "maxCostUsd",
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


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a request, with the field path a person can find."""

    field: str
    message: str

    def model_dump(self) -> dict[str, str]:
        return {"field": self.field, "message": self.message}


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


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def validate_request(
    raw: Any,
    *,
    reveal_secrets: bool = False,
    max_array_size: int = arrays.MAX_ARRAY_SIZE,
    default_timeout_seconds: int = DEFAULT_TIMEOUT_SECONDS,
    run_task_shape: Any = None,
) -> tuple[RunRequest | None, list[Problem]]:
    """Validate a run request completely: every problem at once, none hidden behind another. Values of
    fields the API marks sensitive (container environment) are not quoted unless `reveal_secrets`.
    `run_task_shape`: RunTask's input shape from a client's loaded model (else loaded from botocore's data)."""
    if not isinstance(raw, dict):
        return None, [Problem(field="(request)", message=f"must be a JSON object; got {type(raw).__name__}")]
    bounds = request_bounds_problems(raw)
    if bounds and jsonbounds.problem(raw) is not None:  # no other check may walk it: it could crash them
        return None, bounds

    problems: list[Problem] = list(bounds)
    for name, why in RESERVED_FIELDS.items():
        if name in raw:
            problems.append(Problem(field=name, message=why))
    cleaned = {k: v for k, v in raw.items() if k not in RESERVED_FIELDS}

    runner = {k: v for k, v in cleaned.items() if k in RUNNER_FIELDS}
    found = _Runner(runner)
    problems += found.problems
    shape = run_task_shape if run_task_shape is not None else operation_input("ecs", "RunTask")
    run_task = {k: v for k, v in cleaned.items() if k not in RUNNER_FIELDS}
    problems += [
        Problem(field=f, message=m)
        for f, m in check(shape, run_task, also_known=RUNNER_FIELDS, not_offered=SET_BY_ECSRUN, reveal=reveal_secrets)
    ]
    problems += [Problem(field=f, message=m) for f, m in rules.problems(run_task)]
    problems += [Problem(field=f, message=m) for f, m in arrays.problems(runner, max_array_size)]
    problems += size_problems(cleaned)
    if not found.problems:  # the runner fields hold: their retry policy can be judged
        problems += retry_problems(found.request({}), default_timeout_seconds)

    problems.sort(key=lambda p: p.field)
    return (found.request(run_task) if not problems else None), problems


def request_bounds_problems(raw: Any) -> list[Problem]:
    """A request's integers and nesting against ecsrun.domain.jsonbounds: a request travels inside a few envelopes
    (state input, Lambda payload, event detail), so it is held to MAX_REQUEST_DEPTH."""
    found = jsonbounds.problem(raw, max_depth=jsonbounds.MAX_REQUEST_DEPTH)
    return [Problem(*found)] if found is not None else []


def default_run_id(execution_name: str) -> str:
    """A valid runId from a Step Functions execution name (which allows more characters)."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]", "-", execution_name)
    cleaned = re.sub(r"^[^A-Za-z0-9]+", "", cleaned)[:64]
    return cleaned or "run"


# ---- the runner fields, checked strictly (as pydantic's strict mode did: the messages are the same) ----


def _bound(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


class _Runner:
    """Checks the runner fields of a request and says every problem, with the field path and the message users
    have always read; `request()` builds the RunRequest when there is none."""

    def __init__(self, runner: dict[str, Any]) -> None:
        self.runner = runner
        self.problems: list[Problem] = []
        self._check()

    def _add(self, path: str, message: str) -> None:
        self.problems.append(Problem(field=path, message=message))

    def _invalid(self, path: str, what: str, value: Any) -> bool:
        self._add(path, f"must be {what}; got {_show(value)}")
        return False

    def _integer(self, path: str, value: Any, low: int, high: int) -> bool:
        if type(value) is not int:
            return self._invalid(path, "a valid integer", value)
        return self._range(path, value, low, high)

    def _number(self, path: str, value: Any, low: float, high: float) -> bool:
        if type(value) not in (int, float):
            return self._invalid(path, "a valid number", value)
        return self._range(path, value, low, high)

    def _range(self, path: str, value: float, low: float, high: float) -> bool:
        if not value <= high:  # first, as pydantic did: NaN fails here
            return self._invalid(path, f"less than or equal to {_bound(high)}", value)
        if not value >= low:
            return self._invalid(path, f"greater than or equal to {_bound(low)}", value)
        return True

    def _list(self, path: str, value: Any, low: int, high: int | None) -> bool:
        if not isinstance(value, list):
            return self._invalid(path, "a valid list", value)
        if len(value) < low:
            self._add(
                path, f"List should have at least {low} item after validation, not {len(value)}; got {_show(value)}"
            )
            return False
        if high is not None and len(value) > high:
            self._add(
                path, f"List should have at most {high} items after validation, not {len(value)}; got {_show(value)}"
            )
            return False
        return True

    def _object(self, path: str, value: Any, model: str, known: tuple[str, ...]) -> bool:
        if not isinstance(value, dict):
            return self._invalid(path, f"a valid dictionary or instance of {model}", value)
        for key in value:
            if key not in known:
                self._add(f"{path}.{key}", UNKNOWN)
        return all(key in known for key in value)

    def _check(self) -> None:
        given = self.runner
        run_id = given.get("runId")
        if run_id is not None:
            if not isinstance(run_id, str):
                self._invalid("runId", "a valid string", run_id)
            elif not re.fullmatch(RUN_ID_PATTERN, run_id):
                self._add("runId", f"must match {RUN_ID_PATTERN} {_RUN_ID_RULE}")
        if given.get("timeoutSeconds") is not None:
            self._integer("timeoutSeconds", given["timeoutSeconds"], 1, MAX_TIMEOUT_SECONDS)
        if given.get("maxCostUsd") is not None:
            self._number("maxCostUsd", given["maxCostUsd"], MIN_COST_USD, MAX_COST_USD)
        codes = given.get("successExitCodes")
        if codes is not None and self._list("successExitCodes", codes, 1, None):
            for index, code in enumerate(codes):
                self._integer(f"successExitCodes[{index}]", code, 0, 255)
        retry = given.get("retry")
        if retry is not None:
            self._object("retry", retry, "RetryPolicy", (*_RETRY_LIMITS, "on", "escalate"))
            if isinstance(retry, dict) and "on" in retry:
                self.problems += [Problem(f, m) for f, m in retry_fields.on_problems(retry["on"])]
            if isinstance(retry, dict) and "escalate" in retry:
                self.problems += [Problem(f, m) for f, m in retry_fields.escalate_problems(retry["escalate"])]
            for name, (low, high) in _RETRY_LIMITS.items() if isinstance(retry, dict) else ():
                if name == "backoffRate" and name in retry:
                    self._number(f"retry.{name}", retry[name], low, high)
                elif name in retry:
                    self._integer(f"retry.{name}", retry[name], low, high)
        self._check_array(given.get("array"))
        if given.get("maxConcurrency") is not None:
            self._integer("maxConcurrency", given["maxConcurrency"], 1, arrays.MAX_ARRAY_SIZE)
        if given.get("toleratedFailurePercentage") is not None:
            self._number("toleratedFailurePercentage", given["toleratedFailurePercentage"], 0, 100)
        token = given.get("callbackTaskToken")
        if token is not None and not (isinstance(token, str) and 1 <= len(token) <= MAX_TASK_TOKEN):
            # a bearer secret: described, never quoted
            what = f"a string of {len(token)} characters" if isinstance(token, str) else type(token).__name__
            self._add(
                "callbackTaskToken",
                f"must be a Step Functions task token: a string of 1-{MAX_TASK_TOKEN:,} characters; got {what}",
            )
        parent = given.get("AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID")
        if parent is not None:
            path = "AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID"
            if not isinstance(parent, str):
                self._invalid(path, "a valid string", parent)
            elif not parent:
                self._add(path, f"String should have at least 1 character; got {_show(parent)}")
            elif len(parent) > MAX_EXECUTION_ID:
                self._add(path, f"String should have at most {MAX_EXECUTION_ID} characters; got {_show(parent)}")

    def _check_array(self, array: Any) -> None:
        if array is None:
            return
        fine = self._object("array", array, "ArraySpec", ("size", "items"))
        if not isinstance(array, dict):
            return
        if array.get("size") is not None:
            fine &= self._integer("array.size", array["size"], 1, arrays.MAX_ARRAY_SIZE)
        if array.get("items") is not None:
            fine &= self._list("array.items", array["items"], 1, arrays.MAX_ARRAY_SIZE)
        if fine and (array.get("size") is None) == (array.get("items") is None):
            self._add("array", f'Value error, give exactly one of "size" or "items"; got {_show(array)}')

    def request(self, run_task: dict[str, Any]) -> RunRequest:
        given = self.runner
        retry, array = given.get("retry"), given.get("array")
        tolerated = given.get("toleratedFailurePercentage")
        return RunRequest(
            runId=given.get("runId"),
            timeoutSeconds=given.get("timeoutSeconds"),
            maxCostUsd=float(given["maxCostUsd"]) if given.get("maxCostUsd") is not None else None,
            successExitCodes=given.get("successExitCodes"),
            retry=_retry(retry) if retry is not None else None,
            array=ArraySpec(**array) if array is not None else None,
            maxConcurrency=given.get("maxConcurrency"),
            toleratedFailurePercentage=float(tolerated) if tolerated is not None else None,  # a number: 50 is 50.0
            callbackTaskToken=given.get("callbackTaskToken"),
            AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID=given.get("AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID"),
            fields=dict(run_task),
        )


_RETRY_LIMITS = {"maxAttempts": (1, 10), "intervalSeconds": (1, 3600), "backoffRate": (1, 10)}


def _retry(given: dict[str, Any]) -> RetryPolicy:
    default = RetryPolicy()
    return RetryPolicy(
        maxAttempts=given.get("maxAttempts", default.maxAttempts),
        intervalSeconds=given.get("intervalSeconds", default.intervalSeconds),
        backoffRate=float(given.get("backoffRate", default.backoffRate)),  # a number: 2 is 2.0
        on=given.get("on"),
        escalate=given.get("escalate"),
    )
