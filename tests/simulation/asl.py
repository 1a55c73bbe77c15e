"""The parts of the Amazon States Language (JSONPath) that statemachine/ecsrun.asl.json uses.

Pure helpers for the simulation's interpreter (tests/simulation/world.py): paths, Parameters/Payload templates,
ResultSelector/ResultPath/OutputPath, Choice rules, Retry and Catch matching. Semantics follow the ASL
specification (https://states-language.net/spec.html): a missing path is a `States.Runtime` error, `States.ALL`
matches every error, `States.TaskFailed` every error except `States.Timeout`. The Map state is tests/simulation/maps.py.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

MISSING = object()


@contextmanager
def any_integer() -> Iterator[None]:
    """Step Functions carries JSON integers of any size; CPython refuses to print one of over 4,300 digits. The
    simulation's own copies lift that limit for a moment (one thread runs at a time); handlers keep it."""
    saved = sys.get_int_max_str_digits()
    sys.set_int_max_str_digits(0)
    try:
        yield
    finally:
        sys.set_int_max_str_digits(saved)


def dumps(value: Any) -> str:
    """JSON text of state data, as Step Functions would hold it (any integer, any nesting)."""
    with any_integer():
        return json.dumps(value)


def clone(value: Any) -> Any:
    """A deep copy of JSON data; the C codec recurses once per level, so 600 levels copy as well as one."""
    with any_integer():
        return json.loads(json.dumps(value))


class StatesError(Exception):
    """An ASL runtime error (`States.Runtime`, a task's error, ...): its name and cause, as Step Functions has them."""

    def __init__(self, error: str, cause: str = ""):
        super().__init__(f"{error}: {cause}")
        self.error = error
        self.cause = cause


def _steps(path: str) -> list[str]:
    if path in ("$", "$$"):
        return []
    body = path[2:] if path.startswith("$.") else path[3:] if path.startswith("$$.") else None
    if body is None or "[" in body or "*" in body:
        raise StatesError("States.Runtime", f"the simulation reads only dotted paths, not {path!r}")
    return body.split(".")


def get_path(data: Any, path: str, context: dict[str, Any] | None = None) -> Any:
    """Value at `path` ($... in `data`, $$... in the context object); MISSING if absent."""
    node = context if path.startswith("$$") else data
    for step in _steps(path):
        if not isinstance(node, dict) or step not in node:
            return MISSING
        node = node[step]
    return node


def read_path(data: Any, path: str, context: dict[str, Any] | None = None) -> Any:
    found = get_path(data, path, context)
    if found is MISSING:
        raise StatesError("States.Runtime", f"The JSONPath {path!r} could not be found in the input")
    return clone(found)


def fill(template: Any, data: Any, context: dict[str, Any]) -> Any:
    """A Parameters / ResultSelector / Payload template: keys ending in `.$` take the value at their path."""
    if isinstance(template, dict):
        out: dict[str, Any] = {}
        for key, value in template.items():
            if key.endswith(".$"):
                out[key[:-2]] = read_path(data, value, context)
            else:
                out[key] = fill(value, data, context)
        return out
    if isinstance(template, list):
        return [fill(v, data, context) for v in template]
    return clone(template)


def set_result(data: Any, result: Any, result_path: Any) -> Any:
    """ResultPath: null keeps the input, `$` replaces it, `$.a.b` places the result inside a copy of the input."""
    if result_path is None:
        return clone(data)
    if result_path == "$":
        return clone(result)
    out = clone(data) if isinstance(data, dict) else {}
    node = out
    steps = _steps(result_path)
    for step in steps[:-1]:
        if not isinstance(node.get(step), dict):
            node[step] = {}
        node = node[step]
    node[steps[-1]] = clone(result)
    return out


def output_path(data: Any, path: Any) -> Any:
    if path is None:
        return {}
    return read_path(data, path)


_NUMERIC = {
    "NumericEquals": lambda a, b: a == b,
    "NumericLessThan": lambda a, b: a < b,
    "NumericGreaterThan": lambda a, b: a > b,
    "NumericLessThanEquals": lambda a, b: a <= b,
    "NumericGreaterThanEquals": lambda a, b: a >= b,
}


def choice_matches(rule: dict[str, Any], data: Any) -> bool:
    """One Choice rule: the comparison operators the ASL uses (and a few more), with And / Or / Not."""
    if "And" in rule:
        return all(choice_matches(r, data) for r in rule["And"])
    if "Or" in rule:
        return any(choice_matches(r, data) for r in rule["Or"])
    if "Not" in rule:
        return not choice_matches(rule["Not"], data)
    value = get_path(data, rule["Variable"])
    if "IsPresent" in rule:
        return (value is not MISSING) == rule["IsPresent"]
    if value is MISSING:
        raise StatesError("States.Runtime", f"Invalid path {rule['Variable']!r}: no such field in the state input")
    if "BooleanEquals" in rule:
        return isinstance(value, bool) and value == rule["BooleanEquals"]
    if "StringEquals" in rule:
        return isinstance(value, str) and value == rule["StringEquals"]
    for name, compare in _NUMERIC.items():
        if name in rule:
            number = value if not isinstance(value, bool) and isinstance(value, (int, float)) else None
            return number is not None and compare(number, rule[name])
    if "IsNull" in rule:
        return (value is None) == rule["IsNull"]
    raise StatesError("States.Runtime", f"the simulation does not know the Choice rule {sorted(rule)}")


def error_matches(names: list[str], error: str) -> bool:
    if error in names:
        return True
    if "States.ALL" in names:
        return True
    return "States.TaskFailed" in names and error != "States.Timeout"


def retry_delay(retrier: dict[str, Any], attempt: int, jitter: float) -> float:
    """Seconds before retry number `attempt` (1-based): IntervalSeconds * BackoffRate^(attempt-1), capped by
    MaxDelaySeconds; with JitterStrategy FULL a uniform fraction of it (`jitter` in [0, 1))."""
    delay = float(retrier.get("IntervalSeconds", 1)) * float(retrier.get("BackoffRate", 2.0)) ** (attempt - 1)
    if "MaxDelaySeconds" in retrier:
        delay = min(delay, float(retrier["MaxDelaySeconds"]))
    if retrier.get("JitterStrategy") == "FULL":
        delay *= jitter
    return delay
