"""Seeds of the default budget that break an invariant on bugs still open, each with the bug it hits.

Strict xfails in test_simulation.py: when a fix lands, its seeds pass and the xfail fails, so this list shrinks with
the fixes. `python -m tests.simulation.runner --replay SEED` shows the schedule.
"""

from __future__ import annotations

KNOWN: dict[int, str] = {
    17: (
        "invariants 10 and 5: a duplicate execution's PrepareArray answers its caller Run.Duplicate, then its "
        "invocation dies (Lambda.Unknown); PrepareArray's Retry has no Lambda.Unknown (ValidateRequest's has), so "
        "the Catch ends the duplicate Run.InternalError, which is neither Run.Duplicate nor what its caller was told"
    ),
    23: (
        "invariant 5: an execution aborted before ValidateRequest ran, its request nested deeper than "
        "MAX_REQUEST_DEPTH: ExecutionEnded's bounded parse refuses the whole input, so the top-level "
        "callbackTaskToken is never read and the caller is never answered (no record, so no reconciler either); "
        "the soak finds the same with a 5,000-digit integer that the Lambda runtime cannot unmarshal (seed 213)"
    ),
}

__all__ = ["KNOWN"]
