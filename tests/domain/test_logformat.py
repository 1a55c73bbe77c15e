"""Unit tests for ecsrun.domain.logformat: one CloudWatch event, one line of a run's log file."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from ecsrun.domain.logformat import format_event, iso_utc

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
T = 1795256127918  # 2026-11-21T10:15:27.918Z
STAMP = "2026-11-21T10:15:27.918Z"


def exact_iso(timestamp_ms: int) -> str:
    """An independent, integer-only rendering of a millisecond timestamp."""
    moment = EPOCH + timedelta(milliseconds=timestamp_ms)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{timestamp_ms % 1000:03d}Z"


# ---- timestamps ----


@pytest.mark.parametrize(
    ("timestamp_ms", "expected"),
    [
        (0, "1970-01-01T00:00:00.000Z"),
        (1, "1970-01-01T00:00:00.001Z"),
        (T, STAMP),
        (T + 82, "2026-11-21T10:15:28.000Z"),
    ],
)
def test_iso_utc_has_milliseconds_and_z(timestamp_ms: int, expected: str) -> None:
    assert iso_utc(timestamp_ms) == expected


def test_iso_utc_is_exact_to_the_millisecond() -> None:
    # Given many timestamps between 2000 and 2100, with a fixed seed
    rng = random.Random(7)
    for _ in range(5000):
        ms = rng.randint(946_684_800_000, 4_102_444_800_000)
        # Then float arithmetic never shifts the millisecond
        assert iso_utc(ms) == exact_iso(ms), ms


def test_format_event_is_timestamp_space_message_newline() -> None:
    assert format_event(T, "hello") == f"{STAMP} hello\n"


# ---- newlines ----


def test_trailing_newline_is_not_doubled() -> None:
    # Given a message that ends with its own newline / Then the line ends with exactly one
    assert format_event(T, "done\n") == f"{STAMP} done\n"


def test_several_trailing_newlines_are_dropped() -> None:
    assert format_event(T, "done\n\n\n") == f"{STAMP} done\n"


def test_embedded_newline_is_escaped_as_literal_backslash_n() -> None:
    # Given a multi-line message (a traceback)
    line = format_event(T, "Traceback:\n  File x\nValueError")
    # Then it stays on one line, with literal \n
    assert line == f"{STAMP} Traceback:\\n  File x\\nValueError\n"
    assert line.count("\n") == 1


def test_crlf_inside_is_one_escaped_newline() -> None:
    assert format_event(T, "a\r\nb") == f"{STAMP} a\\nb\n"


def test_trailing_crlf_is_dropped() -> None:
    assert format_event(T, "a\r\n") == f"{STAMP} a\n"


def test_lone_carriage_return_does_not_break_the_line() -> None:
    # Given a progress-bar style message with a bare carriage return
    line = format_event(T, "50%\r100%")
    # Then the event is still exactly one line for any line-splitting reader
    assert "\r" not in line
    assert len(line.splitlines()) == 1


def test_empty_message_is_timestamp_and_space() -> None:
    assert format_event(T, "") == f"{STAMP} \n"


def test_multibyte_text_is_preserved() -> None:
    message = "héllo wörld — 日本語 🎉"
    assert format_event(T, message) == f"{STAMP} {message}\n"


def test_literal_backslash_n_in_message_is_kept() -> None:
    # Given a message that already contains the two characters \ and n
    assert format_event(T, r"path C:\new") == f"{STAMP} path C:\\new\n"


def test_other_whitespace_is_kept() -> None:
    assert format_event(T, "\tindented  ") == f"{STAMP} \tindented  \n"


def test_format_events_is_format_event_line_by_line() -> None:
    # Given events across second boundaries, repeated milliseconds, line breaks and a missing message
    from ecsrun.domain.logformat import format_events

    stamps = [1795256127918, 1795256127918, 1795256127999, 1795256128000, 1795256128001, 0, 1795256189123]
    messages = ["a", "b\n", "multi\r\nline\n", "naïve 🎉", "tab\tand\rreturn", "epoch", "x" * 300]
    events: list[dict] = [{"timestamp": t, "message": m} for t, m in zip(stamps, messages, strict=True)]
    events.append({"timestamp": 1795256189124})
    # When the page is formatted at once, Then it is exactly the lines format_event gives, joined
    expected = "".join(format_event(e["timestamp"], e.get("message", "")) for e in events)
    assert format_events(events) == expected
    assert format_events([]) == ""
