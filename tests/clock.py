"""A pytest plugin that runs the suite with the wall clock moved ahead: a test that knows today's date fails.

AWS is full of windows: CloudWatch Logs refuses events older than 14 days, a RunTask clientToken lasts 24 hours,
an execution name is reserved for 90 days. A test that stamps its data with a fixed date passes the day it is
written and fails weeks later on every fresh clone. `--clock-ahead-days N` moves every clock the code, moto and
the tests read (time.time, datetime.now, ...) N days ahead, still ticking, for the whole session, so such a test
fails today instead. `make test` runs the unit and handler suites this way (see the Makefile's `pytest-ahead`).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

_TRAVEL: list[Any] = []


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--clock-ahead-days",
        type=int,
        default=0,
        metavar="DAYS",
        help="run with the wall clock moved DAYS days ahead (ticking): catches tests that know today's date",
    )


def pytest_configure(config: pytest.Config) -> None:
    days = config.getoption("--clock-ahead-days")
    if not days:
        return
    import time_machine  # only when asked: it patches every clock function the process has

    travel = time_machine.travel(datetime.now(UTC) + timedelta(days=days), tick=True)
    travel.start()  # before collection: module-level times are computed on the moved clock too
    _TRAVEL.append(travel)


def pytest_report_header(config: pytest.Config) -> str | None:
    days = config.getoption("--clock-ahead-days")
    return f"clock: {days} days ahead of the wall clock, ticking" if days else None


def pytest_unconfigure(config: pytest.Config) -> None:
    while _TRAVEL:
        _TRAVEL.pop().stop()
