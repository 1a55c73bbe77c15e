"""How many times the reconciler looks at (DescribeExecution, and reads) one run that is still going, over its
life: before the overdue index (every pass once the record had not changed for the grace period) and now (a run
found still going is put off by lifecycle.recheck_after: half its age, at most MAX_RECHECK). Counted, not timed,
on a 5-minute schedule with a 5-minute grace (the stack's defaults).

    PYTHONPATH=functions .venv/bin/python bench/reconciler_checks.py
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ecsrun.domain.lifecycle import recheck_after

RATE = GRACE = timedelta(minutes=5)


def checks_before(length: timedelta) -> int:
    passes = int(length / RATE)
    return sum(1 for k in range(1, passes + 1) if k * RATE >= GRACE)


def checks_now(length: timedelta) -> int:
    created = datetime.now(UTC)
    due, checks, elapsed = created, 0, RATE
    while elapsed <= length:
        now = created + elapsed
        if due + GRACE <= now:
            checks += 1
            due = now + recheck_after(created, now, GRACE)
        elapsed += RATE
    return checks


if __name__ == "__main__":
    print("| run length | looked at before | looked at now |")
    print("|---|---|---|")
    for minutes in (10, 60, 6 * 60, 24 * 60):
        length = timedelta(minutes=minutes)
        print(f"| {minutes} min | {checks_before(length)} | {checks_now(length)} |")
