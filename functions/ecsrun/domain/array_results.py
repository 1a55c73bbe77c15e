"""What an array's children handed back (ecsrun.domain.result), listed in the parent's summary. Pure.

Each child that printed a result line is listed by index and runId with its `result` (or `resultError`) while the
list stays within a share of the parent's output; past it, a child is listed with its manifest's key instead,
where its result is kept whole. The summary object in S3 lists every child's result.
"""

from __future__ import annotations

import json
from typing import Any

from ecsrun.domain import limits

# Of the parent's output (limits.MAX_OUTCOME_BYTES), what the children's results may take; the counts and the
# failed children take the rest.
RESULTS_BUDGET_BYTES = limits.MAX_OUTCOME_BYTES // 2
FIELDS = ("result", "resultError")


def child_result(record: dict[str, Any] | None) -> dict[str, Any]:
    """A child's `result` or `resultError`, and its manifest's key, from its run record's outcome (a success keeps
    them in its output, a failure beside its error); {} when it handed nothing back."""
    outcome = (record or {}).get("outcome") or {}
    output = outcome.get("output")
    source = output if isinstance(output, dict) else outcome
    found = {k: source[k] for k in FIELDS if k in source}
    if not found:
        return {}
    manifest = outcome.get("manifestKey") or ((source.get("logs") or {}).get("manifestKey"))
    return {**found, "manifestKey": manifest}


def listed(
    children: list[tuple[str, dict[str, Any]]], budget: int | None = RESULTS_BUDGET_BYTES
) -> list[dict[str, Any]]:
    """`children` ((runId, child_result) by index, in order) as the summary's `results`: each one that handed
    something back, whole while the list fits in `budget` bytes (None: no bound), then by its manifest's key."""
    entries: list[dict[str, Any]] = []
    used = 2
    for index, (run_id, handed) in enumerate(children):
        if not handed:
            continue
        where = {"index": index, "runId": run_id, "manifestKey": handed.get("manifestKey")}
        whole = {**where, **{k: handed[k] for k in FIELDS if k in handed}}
        size = limits.utf8_bytes(json.dumps(whole)) + 2
        if budget is not None and used + size > budget:
            whole, size = where, limits.utf8_bytes(json.dumps(where)) + 2
        entries.append(whole)
        used += size
    return entries
