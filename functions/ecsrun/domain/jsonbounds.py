"""How large an integer and how deep a nesting ecsrun reads from JSON, checked wherever JSON enters. Pure.

Python refuses to turn an integer of more than 4,300 digits into text or back (a ValueError from `json.loads`,
`json.dumps`, `repr`), and code that walks a document recursively (json, copy, dataclasses, botocore) overflows
the stack some hundreds of levels down (RecursionError). Either would crash whatever met the document, far from
where it came in. So each entry (a CLI file, a handler's event, an execution's input, a run request) asks
`problem` (or parses with `loads`) once, and an input out of bounds gets one clear message naming where:

    array.items[0][0]…: nested too deeply: ecsrun reads JSON at most 64 levels deep
    timeoutSeconds: an integer of 5000 digits; ecsrun reads integers of at most 4300 digits

The walk is iterative, so a document of any depth is measured without recursing.
"""

from __future__ import annotations

import json
import sys
from typing import Any

# Python's own default bound on int <-> str conversion (sys.int_max_str_digits): every integer within it can be
# read and written again by any Python process, so no integer ecsrun accepts can crash a later step.
MAX_INTEGER_DIGITS = 4300
# Any JSON document ecsrun reads: a handler's event, a CLI file, an execution's input. Within it, every walk ecsrun
# makes (json, copy, its checks; at most a few frames a level) stays far from Python's 1,000-frame stack.
MAX_DEPTH = 128
# A run request: it travels inside envelopes (a state's input, a Lambda payload, an event's detail) that add a few
# levels, and each of those must stay within MAX_DEPTH. RunTask's own fields nest far less (request_rules).
MAX_REQUEST_DEPTH = 64
_INTEGER_LIMIT = 10**MAX_INTEGER_DIGITS  # abs(n) < this: at most MAX_INTEGER_DIGITS digits
_MAX_PATH_SHOWN = 120


class JsonBoundsError(ValueError):
    """A JSON document with an integer too long or a nesting too deep for ecsrun to read; says where."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path, self.message = path, message


class _LongInteger:
    """What `loads` puts where the text holds an integer too long to convert: found (with its path) and reported
    by `problem` before `loads` returns, so it never leaves this module."""

    def __init__(self, digits: int) -> None:
        self.digits = digits


def _join(path: str, key: Any) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else str(key)


def _shown(path: str) -> str:
    path = path or "(document)"
    return path if len(path) <= _MAX_PATH_SHOWN else path[: _MAX_PATH_SHOWN - 1] + "…"


def _depth_message(max_depth: int) -> str:
    return f"nested too deeply: ecsrun reads JSON at most {max_depth} levels deep"


def _integer_message(digits: int) -> str:
    return f"an integer of {digits} digits; ecsrun reads integers of at most {MAX_INTEGER_DIGITS} digits"


def problem(value: Any, *, max_depth: int = MAX_DEPTH, path: str = "") -> tuple[str, str] | None:
    """(field path, message) of the first place where `value` (parsed JSON) is nested deeper than `max_depth` or
    holds an integer of more than MAX_INTEGER_DIGITS digits; None when it is within both. Never recurses, and
    builds a path only for what it reports (it runs on every handler's event)."""
    # Each container met: (container, depth, index of its parent's entry, its key there).
    nodes: list[tuple[Any, int, int, Any]] = []
    if _out_of_bounds(value):
        return _shown(path), _integer_message(_digits_of(value))
    if isinstance(value, dict | list):
        nodes.append((value, 1, -1, None))
    index = 0
    while index < len(nodes):
        container, depth, _, _ = nodes[index]
        if depth > max_depth:
            return _shown(_path(nodes, index, path)), _depth_message(max_depth)
        for key, child in container.items() if isinstance(container, dict) else enumerate(container):
            if isinstance(child, dict | list):
                nodes.append((child, depth + 1, index, key))
            elif _out_of_bounds(child):
                return _shown(_join(_path(nodes, index, path), key)), _integer_message(_digits_of(child))
        index += 1
    return None


def _out_of_bounds(item: Any) -> bool:
    if isinstance(item, _LongInteger):
        return True
    return type(item) is int and not -_INTEGER_LIMIT < item < _INTEGER_LIMIT


def _digits_of(item: Any) -> int:
    return item.digits if isinstance(item, _LongInteger) else _digits(item)


def _path(nodes: list[tuple[Any, int, int, Any]], index: int, root: str) -> str:
    keys = []
    while index > 0:
        _, _, parent, key = nodes[index]
        keys.append(key)
        index = parent
    path = root
    for key in reversed(keys):
        path = _join(path, key)
    return path


def _digits(number: int) -> int:
    """Decimal digits of a (huge) integer without converting it to text, which is what cannot be done."""
    number = abs(number)
    estimate = int(number.bit_length() * 0.30102999566398120)  # log10(2)
    while 10 ** (estimate + 1) <= number:
        estimate += 1
    while estimate > 0 and 10**estimate > number:
        estimate -= 1
    return estimate + 1


def check(value: Any, *, max_depth: int = MAX_DEPTH) -> Any:
    """`value`, when within bounds; JsonBoundsError otherwise."""
    found = problem(value, max_depth=max_depth)
    if found is not None:
        raise JsonBoundsError(*found)
    return value


def _parse_int(text: str) -> int | _LongInteger:
    digits = len(text.lstrip("-"))
    return int(text) if digits <= MAX_INTEGER_DIGITS else _LongInteger(digits)


def loads(text: str | bytes, *, max_depth: int | None = MAX_DEPTH) -> Any:
    """JSON text parsed within bounds (`max_depth` None: as deep as the parser goes, for a reader that bounds the
    depth itself). JsonBoundsError when it is out of them; json.JSONDecodeError (a ValueError too) when it is not
    JSON."""
    try:
        value = json.loads(text, parse_int=_parse_int)
    except RecursionError:  # deeper than the parser can go: far deeper than any bound
        raise JsonBoundsError("(document)", _depth_message(max_depth or MAX_DEPTH)) from None
    return check(value, max_depth=max_depth if max_depth is not None else sys.getrecursionlimit())


def top_level_field(text: str | bytes, name: str) -> Any:
    """One top-level field of a JSON object whose other parts may be out of bounds (too deep, a too-long integer),
    or None: ExecutionEnded must find a caller's token even in an input no step could read. Nothing beneath the
    top level is checked or converted, so the bounds cost nothing here."""
    try:
        value = json.loads(text, parse_int=_parse_int)
    except (RecursionError, ValueError):
        return None
    return value.get(name) if isinstance(value, dict) else None
