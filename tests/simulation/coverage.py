"""Which fault classes a schedule exercised (it happened, not merely planned), for the runner's coverage table."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tests.simulation.world import World

AFTER_START = "abort after the start state (any state)"
# The base exploration's faults, by the name World.step gives them.
INJECTED = {
    "crash": "invocation dies (crash, Lambda timeout)",
    "fail-before": "AWS call fails before it takes effect",
    "fail-after": "AWS call takes effect, its answer is lost",
    "throttled": "Lambda invoke throttled",
    "answer-lost": "invocation's answer to Step Functions lost",
    "duplicate": "event delivered twice",
    "delay": "event delivered late",
    "drop": "event dropped",
}


def classes(world: World) -> set[str]:
    found = set(world.widen.exercised)
    if any(c.startswith("abort in ") and c != "abort in ValidateRequest" for c in found):
        found.add(AFTER_START)
    for fault in world.faults_injected:
        found.add(INJECTED.get(fault.split(" ", 1)[0], fault.split(" ", 1)[0]))
    if world.foreign_started:
        found.add("foreign task with the run's startedBy")
    if any(state == "StopTimedOutTask" for e in world.executions.values() for _, state in e.entered):
        found.add("run timed out")
    if world.plan.caller:
        found.add("caller token (callbackTaskToken)")
    return found


def table(counts: dict[str, int], schedules: int) -> str:
    """Markdown: each fault class and how many schedules exercised it."""
    lines = ["| fault class | schedules | share |", "|---|---|---|"]
    for name, count in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        lines.append(f"| {name} | {count:,} | {count / schedules:.1%} |")
    return "\n".join(lines)


__all__ = ["classes", "table"]
