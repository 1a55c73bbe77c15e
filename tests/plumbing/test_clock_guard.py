"""The clock-ahead guard (tests/clock.py, `make pytest-ahead`) catches a test that stamps its data with a fixed date:
the test below passes on today's clock and fails with the clock 400 days ahead, as it would in 14 days' time."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from time_machine import escape_hatch

ROOT = Path(__file__).resolve().parents[2]

# A test as one might write it today: its log events carry a timestamp typed in as a literal.
DATED_TEST = """
import boto3
from moto import mock_aws

WRITTEN = {stamp}  # "an hour ago", typed in as a number on the day the test was written


def test_a_line_written_then_read_back():
    with mock_aws():
        logs = boto3.client("logs", region_name="us-east-1")
        logs.create_log_group(logGroupName="g")
        logs.create_log_stream(logGroupName="g", logStreamName="s")
        logs.put_log_events(logGroupName="g", logStreamName="s", logEvents=[{{"timestamp": WRITTEN, "message": "hi"}}])
        events = logs.get_log_events(logGroupName="g", logStreamName="s")["events"]
        assert [e["message"] for e in events] == ["hi"]
"""


def _pytest(test_file: Path, *options: str) -> subprocess.CompletedProcess[str]:
    env_args = ["-p", "tests.clock", "-p", "no:cacheprovider", "--rootdir", str(test_file.parent)]
    return subprocess.run(
        [sys.executable, "-m", "pytest", *env_args, *options, str(test_file)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "PATH": "/usr/bin:/bin"},
    )


def _real_time() -> float:
    """The wall clock, whether or not this session runs with the clock ahead."""
    return escape_hatch.time.time() if escape_hatch.is_travelling() else time.time()


@pytest.fixture
def dated_test(tmp_path: Path) -> Path:
    stamp = int((_real_time() - 3600) * 1000)  # the real clock: the day the test is "written"
    path = tmp_path / "test_dated.py"
    path.write_text(DATED_TEST.format(stamp=stamp))
    return path


def test_a_test_with_a_fixed_timestamp_passes_today(dated_test: Path) -> None:
    # Given a test whose log event is stamped with a literal taken an hour ago
    # When it runs on today's clock
    result = _pytest(dated_test)
    # Then it passes: nothing today shows that it will break
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_same_test_fails_with_the_clock_ahead(dated_test: Path) -> None:
    # Given the same test
    # When it runs with every clock 400 days ahead, as `make pytest-ahead` runs the unit and handler suites
    result = _pytest(dated_test, "--clock-ahead-days", "400")
    # Then it fails: CloudWatch Logs (moto, as AWS) keeps no event older than 14 days, so the line is gone
    assert result.returncode == 1, result.stdout + result.stderr
    assert "assert [] == ['hi']" in result.stdout
    assert "clock: 400 days ahead of the wall clock, ticking" in result.stdout


def test_the_clock_ahead_moves_what_the_code_reads(pytestconfig: pytest.Config) -> None:
    # Given this session's clock option (0 in `make pytest`, 400 in `make pytest-ahead`)
    days = pytestconfig.getoption("--clock-ahead-days")
    # When the code reads the time, and time-machine's escape hatch reads the real one
    ahead = time.time() - _real_time()
    # Then the code's clock is that many days ahead, and still ticking
    assert abs(ahead - days * 86_400) < 60
    before = datetime.now(UTC)
    time.sleep(0.01)
    assert datetime.now(UTC) > before
