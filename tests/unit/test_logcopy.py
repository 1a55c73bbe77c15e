"""Unit tests for ecsrun.logcopy's pure parts: write_log into an in-memory sink, and the S3 keys."""

from __future__ import annotations

import gzip
import hashlib
import io
from typing import Any

from ecsrun.logcopy import log_key, manifest_key, write_log
from ecsrun.logformat import format_event

T0 = 1795256127918  # 2026-11-21T10:15:27.918Z


def events(*messages: str, start: int = T0, step: int = 250) -> list[dict[str, Any]]:
    return [{"timestamp": start + i * step, "message": m} for i, m in enumerate(messages)]


def expected_text(evs: list[dict[str, Any]]) -> str:
    return "".join(format_event(e["timestamp"], e["message"]) for e in evs)


SAMPLE = events("hello from ecsrun-hello", "processing item 1", "naïve — 日本語 🎉", "multi\nline", "done\n")


# ---- content ----


def test_gzip_content_is_the_formatted_lines() -> None:
    # Given some events
    sink = io.BytesIO()
    # When they are written
    write_log(SAMPLE, sink, tail_lines=20)
    # Then the sink holds gzip of exactly the formatted lines, in order
    assert gzip.decompress(sink.getvalue()).decode("utf-8") == expected_text(SAMPLE)


def test_sha256_is_of_the_uncompressed_text() -> None:
    written = write_log(SAMPLE, io.BytesIO(), tail_lines=20)
    assert written.sha256 == hashlib.sha256(expected_text(SAMPLE).encode("utf-8")).hexdigest()


def test_events_count() -> None:
    assert write_log(SAMPLE, io.BytesIO(), tail_lines=20).events == len(SAMPLE)


def test_bytes_counts_uncompressed_utf8_bytes_not_characters() -> None:
    # Given events with multi-byte text
    written = write_log(SAMPLE, io.BytesIO(), tail_lines=20)
    # Then bytes is the UTF-8 size of the text
    text = expected_text(SAMPLE)
    assert written.bytes == len(text.encode("utf-8"))
    assert written.bytes > len(text)


def test_first_and_last_timestamps() -> None:
    written = write_log(SAMPLE, io.BytesIO(), tail_lines=20)
    assert written.firstTimestamp == "2026-11-21T10:15:27.918Z"
    assert written.lastTimestamp == "2026-11-21T10:15:28.918Z"


def test_missing_message_is_an_empty_line() -> None:
    sink = io.BytesIO()
    written = write_log([{"timestamp": T0}], sink, tail_lines=5)
    assert gzip.decompress(sink.getvalue()) == b"2026-11-21T10:15:27.918Z \n"
    assert written.events == 1


def test_events_may_be_a_generator() -> None:
    # Given events from a one-shot iterator (as the CloudWatch pager yields them)
    sink = io.BytesIO()
    written = write_log(iter(SAMPLE), sink, tail_lines=20)
    # Then every event is written
    assert written.events == len(SAMPLE)
    assert gzip.decompress(sink.getvalue()).decode() == expected_text(SAMPLE)


def test_output_is_byte_for_byte_reproducible() -> None:
    # Given the same events written twice / Then the gzip bytes are identical (no embedded mtime)
    first, second = io.BytesIO(), io.BytesIO()
    write_log(SAMPLE, first, tail_lines=0)
    write_log(SAMPLE, second, tail_lines=0)
    assert first.getvalue() == second.getvalue()


def test_sink_is_left_open() -> None:
    sink = io.BytesIO()
    write_log(SAMPLE, sink, tail_lines=0)
    assert not sink.closed


# ---- tail ----


def test_tail_keeps_only_the_last_n_lines() -> None:
    # Given ten events and a tail of three
    evs = events(*(f"line {i}" for i in range(10)))
    written = write_log(evs, io.BytesIO(), tail_lines=3)
    # Then the tail is the last three formatted lines, without newlines
    assert written.tail == [format_event(e["timestamp"], e["message"]).rstrip("\n") for e in evs[-3:]]


def test_tail_shorter_than_limit_keeps_every_line() -> None:
    evs = events("a", "b")
    assert len(write_log(evs, io.BytesIO(), tail_lines=20).tail) == 2


def test_tail_zero_keeps_nothing_but_writes_everything() -> None:
    sink = io.BytesIO()
    written = write_log(SAMPLE, sink, tail_lines=0)
    assert written.tail == []
    assert written.events == len(SAMPLE)


def test_tail_lines_keep_escaped_newlines() -> None:
    written = write_log(events("multi\nline"), io.BytesIO(), tail_lines=5)
    assert written.tail == ["2026-11-21T10:15:27.918Z multi\\nline"]


# ---- no events ----


def test_zero_events_is_a_valid_empty_gzip() -> None:
    # Given no events
    sink = io.BytesIO()
    written = write_log([], sink, tail_lines=20)
    # Then the sink is a valid gzip of nothing, and the figures say so
    assert sink.getvalue() != b""
    assert gzip.decompress(sink.getvalue()) == b""
    assert written.events == 0
    assert written.bytes == 0
    assert written.sha256 == hashlib.sha256(b"").hexdigest()
    assert written.firstTimestamp is None
    assert written.lastTimestamp is None
    assert written.tail == []


# ---- keys ----


def test_log_key() -> None:
    assert log_key("hello-demo", "app") == "runs/hello-demo/logs/app.log.gz"


def test_log_key_keeps_dots_in_run_id() -> None:
    assert log_key("a.b", "log-router") == "runs/a.b/logs/log-router.log.gz"


def test_manifest_key() -> None:
    assert manifest_key("hello-demo") == "runs/hello-demo/manifest.json"


def test_settle_delay_waits_out_the_rest_of_the_settle_time() -> None:
    from datetime import UTC, datetime

    from ecsrun.logcopy import settle_delay

    now = datetime(2026, 11, 21, 10, 0, 10, tzinfo=UTC)
    # Given a task that stopped 4 s ago and a 10 s settle time, Then the copy waits the remaining 6 s
    assert settle_delay("2026-11-21T10:00:06.000Z", now, 10) == 6.0
    # Given it stopped long ago, or the settle time is 0, or the stop time is unknown, Then no wait
    assert settle_delay("2026-11-21T09:00:00.000Z", now, 10) == 0.0
    assert settle_delay("2026-11-21T10:00:06.000Z", now, 0) == 0.0
    assert settle_delay(None, now, 10) == 0.0
    # Given a stop time in the future (clock skew), Then the wait is still bounded by the settle time
    assert settle_delay("2026-11-21T11:00:00.000Z", now, 10) == 10.0
