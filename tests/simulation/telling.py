"""Invariants 9 and 10: a run's one end is told the same everywhere, and a duplicate speaks only for itself.

9. One end told the same everywhere. Once the record holds an outcome, the run's execution ended the same way
   (SUCCEEDED for a success, FAILED with the outcome's error name, ABORTED for `Run.Aborted`), the completion event
   was put on the bus (at least once: an entry EventBridge refused is sent again) and every one put says that end,
   and the caller's answer says it too. An execution an operator aborted after the end was recorded keeps the
   recorded end.
10. Duplicates speak only for themselves. Another execution with the run's runId that asked for it ends
   `Run.Duplicate` in its own execution (unless it was aborted; one that failed before it asked ends its own way),
   leaves the run's record to its owner and puts nothing on the bus under the owner's runId.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tests.simulation.invariants import Violation
    from tests.simulation.world import Execution, World

ABORTED = "Run.Aborted"
DUPLICATE = "Run.Duplicate"
CLAIMING_STATES = ("StartTaskAndWait", "PrepareArray")  # where an execution asks for its runId


def _told(outcome: dict[str, Any]) -> tuple[str, str | None]:
    status = outcome.get("status") or "FAILED"
    return ("SUCCEEDED", None) if status == "SUCCEEDED" else ("FAILED", outcome.get("error"))


def aborted_after_end(world: World, execution: Execution) -> bool:
    """An operator aborted the execution after the run's end was recorded: the recorded end stands (the execution's
    ABORTED is the operator's, which Step Functions keeps), and everything else still tells the recorded end."""
    return (
        execution.status == "ABORTED"
        and world.outcome_at is not None
        and execution.stopped_at is not None
        and world.outcome_at <= execution.stopped_at
    )


def aborted_unheard(world: World, execution: Execution) -> bool:
    """Documented limit: an operator aborted the execution while its verdict was being decided (CopyLogs running),
    and the verdict was recorded before ecsrun had handled Step Functions' status event of the abort (it came late,
    or never). Nothing else tells the run's writer of the abort (ecsrun makes no DescribeExecution per run), so the
    record keeps the verdict it reached and everything ecsrun tells follows it; the execution's ABORTED is the
    operator's. Once ExecutionEnded has handled the abort, an end recorded later must be `Run.Aborted`."""
    handled = world.abort_handled_at.get(execution.arn)
    unheard = (
        execution.status == "ABORTED"
        and world.outcome_at is not None
        and execution.stopped_at is not None
        and world.outcome_at > execution.stopped_at
        and (handled is None or handled >= world.outcome_at)
    )
    limit = "an abort ecsrun had not yet heard of when the verdict was recorded: the verdict stands"
    if unheard and limit not in world.limits:
        world.limits.append(limit)
    return unheard


def ended_as_recorded(world: World, execution: Execution) -> bool:
    """The execution's ABORTED does not contradict the recorded end: the abort came after it, or went unheard."""
    return aborted_after_end(world, execution) or aborted_unheard(world, execution)


def check(world: World, owner: Execution | None, record: dict[str, Any] | None) -> list[Violation]:
    from tests.simulation.invariants import Violation

    found: list[Violation] = []
    if owner is None:
        return found
    entries = [(e, json.loads(e["Detail"])) for e in world.put_events.entries]
    mine = [d for _, d in entries if d.get("runId") == world.run_id]

    # 10. duplicates speak only for themselves
    for each in world.executions.values():
        if each is owner or record is None or each.parent is not None:  # an array's child is a run of its own
            continue
        claimed = any(state in CLAIMING_STATES for _, state in each.entered)
        if each.status == "FAILED" and each.error != DUPLICATE and claimed:  # else it failed on its own, unclaimed
            found.append(
                Violation("10 duplicates silent", f"duplicate {each.name} ended {each.error}, not {DUPLICATE}")
            )
        elif each.status == "SUCCEEDED":
            found.append(Violation("10 duplicates silent", f"duplicate {each.name} SUCCEEDED"))
        spoken = [d for d in mine if d.get("executionArn") == each.arn or d.get("executionArn") != owner.arn]
        if spoken:
            found.append(
                Violation(
                    "10 duplicates silent",
                    f"{len(spoken)} event(s) under the owner's runId from {each.name}: "
                    f"{sorted({str(d.get('error') or d.get('status')) for d in spoken})}",
                )
            )

    # 9. one end told the same everywhere
    outcome = (record or {}).get("outcome")
    if not isinstance(outcome, dict) or not outcome.get("status") or owner.status == "RUNNING":
        return found
    status, error = _told(outcome)
    ended = "SUCCEEDED" if owner.status == "SUCCEEDED" else "FAILED"
    ended_error = None if owner.status == "SUCCEEDED" else ABORTED if owner.status == "ABORTED" else owner.error
    if (ended, ended_error) != (status, error) and not ended_as_recorded(world, owner):
        found.append(
            Violation(
                "9 one end everywhere",
                f"the record's outcome is {error or status}, but the execution ended {owner.status} "
                f"{owner.error or ''}".rstrip(),
            )
        )
    announced = [d for d in mine if d.get("executionArn") == owner.arn]
    if not announced:
        found.append(Violation("9 one end everywhere", f"the run ended {error or status}, and nothing announced it"))
    for told in {(d.get("status"), d.get("error")) for d in announced}:
        if _told({"status": told[0], "error": told[1]}) != (status, error):
            found.append(
                Violation(
                    "9 one end everywhere",
                    f"a completion event says {told[1] or told[0]}, the record {error or status}",
                )
            )
    token = owner.input.get("callbackTaskToken") if isinstance(owner.input, dict) else None
    for answer in [a for a in world.caller_answers if token and a.get("token") == token]:
        got = None if answer["kind"] == "SendTaskSuccess" else answer.get("error")
        if got != error:
            found.append(
                Violation(
                    "9 one end everywhere", f"the caller was answered {got or 'success'}, the record {error or status}"
                )
            )
    return found


__all__ = ["check"]
