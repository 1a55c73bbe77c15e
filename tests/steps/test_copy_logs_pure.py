"""Unit tests for ecsrun.steps.copy_logs's pure parts: write_pages into an in-memory sink (in one go, and paused and
resumed), and the S3 keys."""

from __future__ import annotations

import gzip
import hashlib
import io
import itertools
from typing import Any

import pytest
from ecsrun.adapters.cloudwatch_logs import LogPage
from ecsrun.domain.keys import log_key, manifest_key
from ecsrun.domain.logformat import format_event, iso_utc
from ecsrun.domain.models.logs import LogProgress
from ecsrun.steps.copy_logs import write_pages

T0 = 1795256127918  # 2026-11-21T10:15:27.918Z


def events(*messages: str, start: int = T0, step: int = 250) -> list[dict[str, Any]]:
    return [{"timestamp": start + i * step, "message": m} for i, m in enumerate(messages)]


def expected_text(evs: list[dict[str, Any]]) -> str:
    return "".join(format_event(e["timestamp"], e["message"]) for e in evs)


def write_log(evs: Any, sink: Any, tail_lines: int) -> LogProgress:
    """All events as one final page, as a short stream reads."""
    return write_pages([LogPage(list(evs), None)], sink, tail_lines)


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
    assert iso_utc(written.first) == "2026-11-21T10:15:27.918Z"
    assert iso_utc(written.last) == "2026-11-21T10:15:28.918Z"


def test_missing_message_is_an_empty_line() -> None:
    sink = io.BytesIO()
    written = write_log([{"timestamp": T0}], sink, tail_lines=5)
    assert gzip.decompress(sink.getvalue()) == b"2026-11-21T10:15:27.918Z \n"
    assert written.events == 1


def test_pages_may_be_a_generator() -> None:
    # Given pages from a one-shot iterator (as the CloudWatch pager yields them)
    sink = io.BytesIO()
    written = write_pages(iter([LogPage(SAMPLE[:2], "f/1"), LogPage(SAMPLE[2:], None)]), sink, tail_lines=20)
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
    assert written.first is None
    assert written.last is None
    assert written.tail == []


# ---- keys ----


def test_log_key() -> None:
    assert log_key("hello-demo", "app") == "runs/hello-demo/logs/app.log.gz"


def test_log_key_keeps_dots_in_run_id() -> None:
    assert log_key("a.b", "log-router") == "runs/a.b/logs/log-router.log.gz"


def test_manifest_key() -> None:
    assert manifest_key("hello-demo") == "runs/hello-demo/manifest.json"


def _pages(n: int, per_page: int = 7) -> list[LogPage]:
    evs = events(*(f"line {i} ✓" for i in range(n * per_page)), step=3)
    return [LogPage(evs[i * per_page : (i + 1) * per_page], None if i == n - 1 else f"f/{i + 1}") for i in range(n)]


def _in_steps(pages: list[LogPage], pause_every: int, tail_lines: int = 5) -> tuple[bytes, LogProgress, int]:
    """Write the pages as successive invocations would: each one pausing after `pause_every` pages, the next
    continuing from the progress alone (as if in a new process) with the pages after its token."""
    sink = io.BytesIO()
    progress: LogProgress | None = None
    invocations = 0
    while progress is None or not progress.finished:
        invocations += 1
        start = 0 if progress is None else next(i for i, p in enumerate(pages) if p.next_token == progress.token) + 1
        written = itertools.count(1)  # should_pause is asked after each page written
        progress = write_pages(
            pages[start:], sink, tail_lines, progress, should_pause=lambda w=written: next(w) >= pause_every
        )
        progress = LogProgress.model_validate_json(progress.model_dump_json())  # only what a checkpoint keeps
    return sink.getvalue(), progress, invocations


def test_a_log_written_in_ten_invocations_is_byte_identical_to_one_written_in_one() -> None:
    # Given ten pages of events
    pages = _pages(10)
    whole = io.BytesIO()
    once = write_pages(pages, whole, tail_lines=5)
    # When they are written pausing after every page
    stepped, progress, invocations = _in_steps(pages, pause_every=1)
    # Then it took ten invocations and the gzip bytes, counts, hash and tail are all the same
    assert invocations == 10
    assert stepped == whole.getvalue()
    assert progress.model_dump(exclude={"token"}) == once.model_dump(exclude={"token"})
    assert progress.sha256 == hashlib.sha256(gzip.decompress(stepped)).hexdigest()


def test_a_paused_write_is_not_yet_a_gzip_and_says_where_to_continue() -> None:
    # Given three pages and a pause after the first
    sink = io.BytesIO()
    progress = write_pages(_pages(3), sink, tail_lines=5, should_pause=lambda: True)
    # Then the progress names the first page's forward token and holds the running hash, not a digest
    assert progress.token == "f/1" and not progress.finished
    assert progress.hashState is not None and progress.sha256 is None
    assert progress.events == 7
    # And the bytes so far are an unterminated member (no trailer yet)
    with pytest.raises(EOFError):
        gzip.decompress(sink.getvalue())


def test_a_write_never_pauses_after_the_last_page() -> None:
    # Given one final page (no token to resume from) and a copy that wants to pause
    asked: list[bool] = []
    progress = write_pages(_pages(1), io.BytesIO(), tail_lines=0, should_pause=lambda: asked.append(True) or True)
    # Then it finishes, without asking
    assert progress.finished and asked == []


def test_the_tail_spans_pauses() -> None:
    # Given pages of 7 lines and a tail of 10: the last 10 lines come from two invocations
    pages = _pages(4)
    _, progress, _ = _in_steps(pages, pause_every=1, tail_lines=10)
    last = [e for p in pages for e in p.events][-10:]
    assert progress.tail == [format_event(e["timestamp"], e["message"]).rstrip("\n") for e in last]


def test_empty_pages_add_no_bytes() -> None:
    # Given the same events with empty pages between them (as GetLogEvents may return)
    pages = _pages(3)
    padded = [pages[0], LogPage([], "f/1a"), pages[1], LogPage([], "f/2a"), pages[2]]
    plain, with_empty = io.BytesIO(), io.BytesIO()
    write_pages(pages, plain, tail_lines=0)
    write_pages(padded, with_empty, tail_lines=0)
    # Then the output is byte-identical
    assert with_empty.getvalue() == plain.getvalue()


def test_without_a_resumable_hash_the_write_does_not_pause(monkeypatch: pytest.MonkeyPatch) -> None:
    from ecsrun.domain import resumable

    # Given a process where the hash state cannot be saved
    monkeypatch.setattr(resumable, "AVAILABLE", False)
    # When a copy that would pause writes three pages, Then it finishes in one go, with the right hash
    sink = io.BytesIO()
    progress = write_pages(_pages(3), sink, tail_lines=0, should_pause=lambda: True)
    assert progress.finished
    assert progress.sha256 == hashlib.sha256(gzip.decompress(sink.getvalue())).hexdigest()
