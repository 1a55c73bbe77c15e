"""The one bound on integers and nesting ecsrun applies wherever JSON enters (ecsrun.domain.jsonbounds)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from ecsrun.domain import jsonbounds


def _nested(levels: int) -> Any:
    item: Any = 0
    for _ in range(levels):
        item = [item]
    return item


def test_a_document_within_both_bounds_has_no_problem() -> None:
    # Given the deepest and largest a document may be, When measured, Then nothing is found
    largest = 10**jsonbounds.MAX_INTEGER_DIGITS - 1
    assert jsonbounds.problem({"a": [largest, -largest, True, 1.5, None, "x"]}) is None
    assert jsonbounds.problem(_nested(jsonbounds.MAX_DEPTH)) is None


def test_one_level_too_deep_is_named_by_its_path() -> None:
    # Given a document one level deeper than allowed, When measured, Then the path to that level is named
    path, message = jsonbounds.problem({"items": _nested(5)}, max_depth=4) or ("", "")
    assert path == "items[0][0][0]"
    assert message == "nested too deeply: ecsrun reads JSON at most 4 levels deep"


def test_a_document_far_deeper_than_the_stack_is_measured_without_recursing() -> None:
    # Given a document 100,000 levels deep (a recursive walk overflows the stack some hundreds down)
    deep = _nested(100_000)
    # When measured, Then it is out of bounds, and the long path is shortened
    path, message = jsonbounds.problem(deep) or ("", "")
    assert message.startswith("nested too deeply") and path.endswith("…") and len(path) <= 120


@pytest.mark.parametrize("sign", [1, -1])
def test_an_integer_of_more_than_4300_digits_is_named_with_its_length(sign: int) -> None:
    # Given integers just over the bound, When measured, Then their path and digit count are given
    assert jsonbounds.problem({"a": [1, {"b": sign * 10**4300}]}) == (
        "a[1].b",
        "an integer of 4301 digits; ecsrun reads integers of at most 4300 digits",
    )


def test_loads_refuses_a_long_integer_in_text_python_could_not_convert() -> None:
    # Given JSON text with a 5,000-digit integer (json.loads raises a bare ValueError on it)
    text = '{"timeoutSeconds": ' + "9" * 5000 + "}"
    with pytest.raises(ValueError, match="Exceeds the limit"):
        json.loads(text)
    # When read within bounds, Then one JsonBoundsError says where and why
    with pytest.raises(jsonbounds.JsonBoundsError) as raised:
        jsonbounds.loads(text)
    says = "an integer of 5000 digits; ecsrun reads integers of at most 4300 digits"
    assert str(raised.value) == f"timeoutSeconds: {says}"


def test_loads_refuses_what_the_parser_cannot_read_and_leaves_json_errors_alone() -> None:
    # Given text deeper than the parser goes, and text that is not JSON
    with pytest.raises(jsonbounds.JsonBoundsError, match="nested too deeply"):
        jsonbounds.loads("[" * 100_000 + "]" * 100_000)
    with pytest.raises(json.JSONDecodeError):
        jsonbounds.loads("{nope")
    # And within bounds it is json.loads
    assert jsonbounds.loads('{"a": [1, -2, 3.5]}') == {"a": [1, -2, 3.5]}


def test_no_depth_bound_still_refuses_long_integers() -> None:
    text = json.dumps({"overrides": _nested(500)})
    assert jsonbounds.loads(text, max_depth=None) == {"overrides": _nested(500)}
    with pytest.raises(jsonbounds.JsonBoundsError, match="4300 digits"):
        jsonbounds.loads("[" + "1" * 4301 + "]", max_depth=None)
