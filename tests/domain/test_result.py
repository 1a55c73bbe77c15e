"""The result a task hands back: found in its log lines, chosen among its essential containers, parsed within
bounds, and carried by the outcome within Step Functions' limits."""

from __future__ import annotations

import json
from typing import Any

import pytest
from ecsrun.domain import array_results, limits, result
from ecsrun.domain.completion import run_summary
from ecsrun.domain.models.logs import ResultLine

from tests.domain.test_outcome import cause_of, copied, run_compose, spec, stopped_record, tail


def _events(*messages: str) -> list[dict[str, Any]]:
    return [{"timestamp": 1_000 + i, "message": m, "ingestionTime": 2_000 + i} for i, m in enumerate(messages)]


def _line(text: str, timestamp: int = 0) -> ResultLine:
    found = result.result_line(result.MARKER + text, timestamp)
    assert found is not None
    return found


# ---- finding the line ----


def test_the_last_marked_line_of_a_stream_wins() -> None:
    # Given a page of events with two result lines among others
    events = _events("start", '::ecsrun-result::{"rows": 1}', "middle", '::ecsrun-result::{"rows": 42}\n', "end")
    # When the lines are scanned
    found = result.latest(None, events)
    # Then the last one is kept, its line end dropped, with its time
    assert found == ResultLine(text='{"rows": 42}', bytes=12, timestamp=1_003)


def test_a_later_page_without_a_line_keeps_the_earlier_one() -> None:
    # Given a line found on an earlier page, When a page without one is scanned
    earlier = _line('{"a": 1}', 5)
    # Then the earlier line stands
    assert result.latest(earlier, _events("no result here", " ::ecsrun-result::{}")) is earlier


@pytest.mark.parametrize("message", ["echo ::ecsrun-result::{}", "::ecsrun-result:{}", "", "::ECSRUN-RESULT::{}"])
def test_only_a_line_that_starts_with_the_marker_counts(message: str) -> None:
    # Given a message that merely mentions or misspells the marker, Then it is no result line
    assert result.result_line(message) is None


def test_an_oversized_line_is_kept_cut_just_past_the_bound() -> None:
    # Given a result line of 100 KiB, When it is found
    found = _line('{"x": "' + "y" * 100_000 + '"}')
    # Then only enough of it is held to know it is too large, with its true size
    assert len(found.text) == result.MAX_RESULT_BYTES + 1
    assert found.bytes == 100_009


# ---- choosing and parsing ----


def test_the_latest_line_among_containers_is_chosen() -> None:
    # Given two containers' lines, the second printed later, When chosen, Then the later one wins
    first, second = _line('{"from": "a"}', 10), _line('{"from": "b"}', 20)
    assert result.choose([second, None, first]) is second
    assert result.choose([None, None]) is None


def test_an_object_within_bounds_is_the_result() -> None:
    # Given a JSON object of exactly 32 KiB
    text = '{"x": "' + "y" * (result.MAX_RESULT_BYTES - 9) + '"}'
    assert len(text.encode()) == result.MAX_RESULT_BYTES
    # When parsed, Then it is the result
    value, error = result.parse(_line(text))
    assert error is None and value is not None and len(value["x"]) == result.MAX_RESULT_BYTES - 9


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("{rows: 42}", "the result is not JSON: Expecting property name enclosed in double quotes (character 2)"),
        ("[1, 2]", "the result is an array, not a JSON object"),
        ('"done"', "the result is a string, not a JSON object"),
        ("42", "the result is a number, not a JSON object"),
        ("null", "the result is null, not a JSON object"),
        ("", "the result is not JSON: Expecting value (character 1)"),
        ('{"x": NaN}', "the result is not JSON: it holds NaN or an infinite number"),
        ('{"x": 1e999}', "the result is not JSON: it holds NaN or an infinite number"),
    ],
)
def test_what_is_not_a_json_object_says_why(text: str, why: str) -> None:
    # Given a result line that is not a JSON object, When parsed, Then it gives no result and says why
    assert result.parse(_line(text)) == (None, why)


def test_an_oversized_result_says_its_size() -> None:
    # Given a result one byte over 32 KiB (multi-byte characters counted as bytes)
    text = '{"x": "' + "é" * ((result.MAX_RESULT_BYTES - 8) // 2) + '"}'
    found = _line(text)
    assert found.bytes == result.MAX_RESULT_BYTES + 1
    # When parsed, Then it is refused with its size
    assert result.parse(found) == (
        None,
        f"the result line holds {result.MAX_RESULT_BYTES + 1} bytes; a result is at most 32768 bytes (32 KiB)",
    )


def test_a_result_nested_too_deeply_or_with_a_huge_integer_is_refused() -> None:
    # Given results out of the bounds ecsrun reads JSON within, When parsed, Then each says where
    deep = '{"a": ' * 70 + "1" + "}" * 70
    _, error = result.parse(_line(deep))
    assert error is not None and error.startswith("the result is out of bounds: ") and "nested too deeply" in error
    _, error = result.parse(_line('{"n": ' + "9" * 5000 + "}"))
    assert (
        error
        == "the result is out of bounds: n: an integer of 5000 digits; ecsrun reads integers of at most 4300 digits"
    )


# ---- the outcome ----


def test_a_succeeded_run_carries_its_essential_containers_result() -> None:
    # Given a run whose app printed a result and whose sidecar printed a later one
    record = stopped_record("stopped-sidecar-nonzero", [spec("app"), spec("log-router", essential=False)])
    app = copied(record, "app").model_copy(update={"resultLine": _line('{"rows": 42}', 10)})
    router = copied(record, "log-router").model_copy(update={"resultLine": _line('{"router": 1}', 99)})
    # When the outcome is composed
    outcome = run_compose(record, [app, router], {})
    # Then the output's result is the essential container's; the raw line is nowhere in it
    assert outcome["output"]["result"] == {"rows": 42}
    assert "resultLine" not in json.dumps(outcome)
    # And the completion event's detail has it
    assert run_summary(outcome["output"], record.executionArn)["result"] == {"rows": 42}


def test_no_result_line_means_no_result_fields() -> None:
    # Given a run that printed no result line, When composed, Then neither field is present
    record = stopped_record("stopped-success", [spec("app")])
    output = run_compose(record, [copied(record, "app")], {})["output"]
    assert "result" not in output and "resultError" not in output
    assert "result" not in run_summary(output, record.executionArn)


def test_a_malformed_result_leaves_a_success_a_success() -> None:
    # Given a succeeded run whose result line is not JSON, When composed
    record = stopped_record("stopped-success", [spec("app")])
    app = copied(record, "app").model_copy(update={"resultLine": _line("rows=42")})
    outcome = run_compose(record, [app], {})
    # Then it still succeeds, and resultError says why
    assert outcome["status"] == "SUCCEEDED"
    assert outcome["output"]["resultError"].startswith("the result is not JSON")


def test_a_failed_run_carries_its_result_in_the_cause() -> None:
    # Given a run whose essential container failed after printing a result
    record = stopped_record("stopped-nonzero", [spec("app")])
    app = copied(record, "app").model_copy(update={"resultLine": _line('{"done": 3}')})
    # When composed, Then the verdict stands and the cause carries the result
    outcome = run_compose(record, [app], {"app": tail("app")})
    assert outcome["error"] == "ECS.ContainerExitedNonZero"
    assert cause_of(outcome)["result"] == {"done": 3}


def test_a_result_holding_an_override_value_is_scrubbed() -> None:
    # Given a run with an environment override whose task echoed it into its result
    record = stopped_record("stopped-success", [spec("app")])
    overrides = {"containerOverrides": [{"name": "app", "environment": [{"name": "K", "value": "hunter2-xyz"}]}]}
    record = record.model_copy(update={"run": record.run.model_copy(update={"request": {"overrides": overrides}})})
    app = copied(record, "app").model_copy(update={"resultLine": _line('{"key": "hunter2-xyz", "n": 1}')})
    # When composed, Then the value is masked as in every output
    assert run_compose(record, [app], {})["output"]["result"] == {"key": "***", "n": 1}


def test_a_full_size_result_is_kept_whole_and_the_rest_is_cut() -> None:
    # Given a succeeded run of many containers whose app hands back a 32 KiB result
    names = [f"c{i:03d}" for i in range(400)]
    record = stopped_record("stopped-success", [spec("app"), *(spec(n, essential=False) for n in names)])
    big = '{"x": "' + "y" * (result.MAX_RESULT_BYTES - 9) + '"}'
    entries = [copied(record, "app").model_copy(update={"resultLine": _line(big)}), *(copied(record, n) for n in names)]
    # When composed
    output = run_compose(record, entries, {})["output"]
    # Then the output fits Step Functions' bounds, the result whole, the log list cut and said so
    assert limits.utf8_bytes(json.dumps(output)) <= limits.MAX_OUTCOME_BYTES
    assert output["result"] == json.loads(big)
    assert "logs.containers" in output[limits.TRUNCATED]


def test_a_result_too_large_for_a_failure_cause_is_left_out_and_said_so() -> None:
    # Given a failed run handing back a 32 KiB result (a cause holds 32,768 characters in all)
    record = stopped_record("stopped-nonzero", [spec("app")])
    big = '{"x": "' + "y" * (result.MAX_RESULT_BYTES - 9) + '"}'
    app = copied(record, "app").model_copy(update={"resultLine": _line(big)})
    # When composed
    outcome = run_compose(record, [app], {"app": tail("app")})
    # Then the cause fits, without the result, and says where it is
    assert len(outcome["cause"]) <= limits.MAX_CAUSE_CHARS
    cause = cause_of(outcome)
    assert "result" not in cause and "manifest" in cause[limits.TRUNCATED]["result"]["omitted"]


# ---- array children ----


def test_a_childs_result_is_read_from_its_record() -> None:
    # Given a succeeded child's and a failed child's recorded outcomes
    ok = {"outcome": {"status": "SUCCEEDED", "manifestKey": "runs/p-0/manifest.json", "output": {"result": {"n": 0}}}}
    bad = {"outcome": {"status": "FAILED", "manifestKey": "runs/p-1/manifest.json", "resultError": "not JSON"}}
    # When read, Then each gives its field and its manifest's key; a child without one gives nothing
    assert array_results.child_result(ok) == {"result": {"n": 0}, "manifestKey": "runs/p-0/manifest.json"}
    assert array_results.child_result(bad) == {"resultError": "not JSON", "manifestKey": "runs/p-1/manifest.json"}
    assert array_results.child_result({"outcome": {"status": "SUCCEEDED", "output": {}}}) == {}
    assert array_results.child_result(None) == {}


def test_children_results_are_listed_whole_then_by_manifest_key() -> None:
    # Given three children with 20 KB results and one with none
    big = {"x": "y" * 20_000}
    children = [(f"p-{i}", {"result": big, "manifestKey": f"runs/p-{i}/manifest.json"}) for i in range(3)]
    children.insert(1, ("p-x", {}))
    # When listed within the budget
    listed = array_results.listed(children)
    # Then the first fits whole; the rest are listed by where their result is kept; none is dropped
    assert [e["index"] for e in listed] == [0, 2, 3]
    assert listed[0]["result"] == big
    assert listed[1] == {"index": 2, "runId": "p-1", "manifestKey": "runs/p-1/manifest.json"}
    assert limits.utf8_bytes(json.dumps(listed)) <= array_results.RESULTS_BUDGET_BYTES
    # And without a bound every one is whole
    assert all("result" in e for e in array_results.listed(children, budget=None))


def test_a_secret_in_a_results_keys_and_any_key_is_scrubbed() -> None:
    # Given a result whose keys and values (under any name, even one ecsrun uses for identifiers) hold a secret
    line = _line('{"hunter2-xyz": 1, "runId": "hunter2-xyz", "key": ["a hunter2-xyz b"]}')
    # When read with that secret, Then it is masked everywhere
    assert result.fields([line], ["hunter2-xyz"]) == {"result": {"***": 1, "runId": "***", "key": ["a *** b"]}}
