"""The retry policy's rule and escalation fields (`retry.on`, `retry.escalate`): their bounds, and one clear message
per problem. Pure: the request model checks a request with these (ecsrun.domain.retry_rules applies them)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ecsrun.domain.errors import ErrorName

RETRY, EXIT = "RETRY", "EXIT"
MAX_RULES = 10
MAX_VALUES = 20  # exitCodes, errors or reasonContains per rule
MAX_REASON_TEXT = 255
# The errors an attempt can fail with and still reach the retry decision. Run.TimedOut (the run's own deadline)
# and ECS.TaskLost (a task that may still run) never retry; Run.Duplicate is another execution's run.
RETRIABLE_ERRORS = (
    ErrorName.CAPACITY_UNAVAILABLE,
    ErrorName.THROTTLED,
    ErrorName.TASK_FAILED_TO_START,
    ErrorName.CONTAINER_EXITED_NON_ZERO,
    ErrorName.TASK_STOPPED,
    ErrorName.RUN_TASK_FAILED,
)
RULE_FIELDS = ("exitCodes", "errors", "reasonContains", "action")
ESCALATE_FIELDS = ("memoryFactor", "maxMemoryMiB", "spotFallback")
MAX_MEMORY_FACTOR = 8
MEMORY_MIB = (128, 122880)  # the largest Fargate task has 120 GiB
SPOT_FALLBACKS = ("FARGATE",)

Problem = tuple[str, str]


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _is_int(value: Any) -> bool:
    return type(value) is int


def _values(path: str, value: Any) -> Iterator[Problem]:
    if not isinstance(value, list) or not value:
        yield path, f"must be a non-empty list; got {_show(value)}"
    elif len(value) > MAX_VALUES:
        yield path, f"must have at most {MAX_VALUES} values; got {len(value)}"


def _rule_problems(path: str, rule: Any) -> Iterator[Problem]:
    if not isinstance(rule, dict):
        yield path, f"must be an object with any of exitCodes, errors, reasonContains, and an action; got {_show(rule)}"
        return
    for key in rule:
        if key not in RULE_FIELDS:
            yield f"{path}.{key}", "unknown field: a rule takes exitCodes, errors, reasonContains and action"
    if rule.get("action") not in (RETRY, EXIT):
        yield f"{path}.action", f'must be "RETRY" or "EXIT"; got {_show(rule.get("action"))}'
    if "exitCodes" in rule:
        found = list(_values(f"{path}.exitCodes", rule["exitCodes"]))
        yield from found
        for i, code in enumerate(rule["exitCodes"] if not found else []):
            if not _is_int(code) or not 0 <= code <= 255:
                yield f"{path}.exitCodes[{i}]", f"must be an exit code, an integer 0-255; got {_show(code)}"
    if "errors" in rule:
        found = list(_values(f"{path}.errors", rule["errors"]))
        yield from found
        names = [e.value for e in RETRIABLE_ERRORS]
        for i, name in enumerate(rule["errors"] if not found else []):
            if name not in names:
                yield f"{path}.errors[{i}]", f"must be one of {', '.join(names)}; got {_show(name)}"
    if "reasonContains" in rule:
        found = list(_values(f"{path}.reasonContains", rule["reasonContains"]))
        yield from found
        for i, text in enumerate(rule["reasonContains"] if not found else []):
            if not isinstance(text, str) or not 1 <= len(text) <= MAX_REASON_TEXT:
                yield (
                    f"{path}.reasonContains[{i}]",
                    f"must be a string of 1-{MAX_REASON_TEXT} characters; got {_show(text)}",
                )


def on_problems(rules: Any) -> Iterator[Problem]:
    """`retry.on`: a list of 1-MAX_RULES rules."""
    if not isinstance(rules, list) or not rules:
        yield "retry.on", f"must be a non-empty list of rules; got {_show(rules)}"
        return
    if len(rules) > MAX_RULES:
        yield "retry.on", f"must have at most {MAX_RULES} rules; got {len(rules)}"
        return
    for index, rule in enumerate(rules):
        yield from _rule_problems(f"retry.on[{index}]", rule)


def escalate_problems(escalate: Any) -> Iterator[Problem]:
    """`retry.escalate`: memoryFactor with maxMemoryMiB, and/or spotFallback."""
    path = "retry.escalate"
    if not isinstance(escalate, dict) or not escalate:
        yield path, f"must be an object with memoryFactor and maxMemoryMiB, or spotFallback; got {_show(escalate)}"
        return
    for key in escalate:
        if key not in ESCALATE_FIELDS:
            yield f"{path}.{key}", "unknown field: escalate takes memoryFactor, maxMemoryMiB and spotFallback"
    factor: Any = escalate.get("memoryFactor")
    most: Any = escalate.get("maxMemoryMiB")
    if ("memoryFactor" in escalate) != ("maxMemoryMiB" in escalate):
        missing = "maxMemoryMiB" if "memoryFactor" in escalate else "memoryFactor"
        yield f"{path}.{missing}", "give memoryFactor and maxMemoryMiB together (the factor raises, the maximum bounds)"
    if "memoryFactor" in escalate and (
        type(factor) not in (int, float) or not 1 < factor <= MAX_MEMORY_FACTOR  # NaN fails too
    ):
        yield f"{path}.memoryFactor", f"must be a number above 1 and at most {MAX_MEMORY_FACTOR}; got {_show(factor)}"
    low, high = MEMORY_MIB
    if "maxMemoryMiB" in escalate and (not _is_int(most) or not low <= most <= high):
        yield f"{path}.maxMemoryMiB", f"must be an integer {low}-{high} (MiB); got {_show(most)}"
    if "spotFallback" in escalate and escalate["spotFallback"] not in SPOT_FALLBACKS:
        yield f"{path}.spotFallback", f'must be "FARGATE"; got {_show(escalate["spotFallback"])}'
