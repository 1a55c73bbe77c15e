"""Seeds of the default budget that break an invariant on bugs still open, each with the bug it hits.

Strict xfails in test_simulation.py: when a fix lands, its seeds pass and the xfail fails, so this list shrinks with
the fixes. `python -m tests.simulation.runner --replay SEED` shows the schedule.
"""

from __future__ import annotations

KNOWN: dict[int, str] = {}

__all__ = ["KNOWN"]
