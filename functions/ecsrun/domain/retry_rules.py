"""Retry rules: does a failed attempt run again? Pure: no AWS.

`retry.on` is an ordered list of rules, AWS Batch's `evaluateOnExit` in ECS's terms; the first rule that matches the
failed attempt decides (`RETRY` or `EXIT`). With no match the default rules decide: failures that mean "not now"
(the verdict's `retryable`), plus an out-of-memory kill when `retry.escalate.memoryFactor` can still raise the
memory. `maxAttempts` bounds every retry, whoever decided it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ecsrun.domain.models.ecs import EcsTask
from ecsrun.domain.models.verdict import Verdict
from ecsrun.domain.retry_fields import RETRIABLE_ERRORS, RETRY
from ecsrun.domain.verdict import is_out_of_memory


@dataclass(frozen=True)
class Failure:
    """What the rules see of a failed attempt."""

    error: str | None
    exitCode: int | None  # the failing essential container's
    reasons: tuple[str, ...]  # the task's stoppedReason and stopCode, each container's reason (or RunTask's answer)
    outOfMemory: str | None = None  # the essential container ECS killed for its memory use
    spotInterrupted: bool = False
    retryable: bool = False  # the verdict's "not now"

    @property
    def summary(self) -> str:
        """Why the attempt failed, in a line (the next attempt's `because`)."""
        if self.outOfMemory is not None:
            reason = next((r for r in self.reasons if r.startswith("OutOfMemoryError")), "OutOfMemoryError")
            return f"{reason} (container {self.outOfMemory!r}, exit code {self.exitCode})"
        if self.spotInterrupted:
            return f"SpotInterruption: {next((r for r in self.reasons if r != 'SpotInterruption'), 'Spot reclaimed')}"
        head = self.error or "failed"
        if self.exitCode is not None:
            return f"{head}: exit code {self.exitCode}"
        return f"{head}: {self.reasons[0]}" if self.reasons else head


def failure_of(verdict: Verdict, task: EcsTask | None, essential: dict[str, bool]) -> Failure:
    """The failed attempt as the rules match it, from its verdict and its stopped task (None: RunTask refused)."""
    if task is None:
        return Failure(error=_error(verdict), exitCode=None, reasons=(verdict.reason,), retryable=verdict.retryable)
    reasons = [r for r in (task.stoppedReason, task.stopCode) if r]
    reasons += [c.reason for c in task.containers if c.reason]
    essentials = [c for c in task.containers if essential.get(c.name, True)]
    failing = next((c for c in essentials if c.name == verdict.failingContainer), None)
    failing = failing or next((c for c in essentials if c.exitCode not in (None, 0)), None)
    oom = next((c.name for c in essentials if is_out_of_memory(c)), None)
    spot = task.stopCode == "SpotInterruption" or "SpotInterruption" in (task.stoppedReason or "")
    return Failure(
        error=_error(verdict),
        exitCode=failing.exitCode if failing is not None else None,
        reasons=tuple(reasons),
        outOfMemory=oom,
        spotInterrupted=spot,
        retryable=verdict.retryable,
    )


def _error(verdict: Verdict) -> str | None:
    return verdict.error.value if verdict.error is not None else None


def matches(rule: dict[str, Any], failure: Failure) -> bool:
    """Every condition the rule gives holds (each list matches any of its values); a rule with none matches all."""
    if "exitCodes" in rule and failure.exitCode not in rule["exitCodes"]:
        return False
    if "errors" in rule and failure.error not in rule["errors"]:
        return False
    if "reasonContains" in rule:
        texts = rule["reasonContains"]
        if not any(text in reason for text in texts for reason in failure.reasons):
            return False
    return True


@dataclass(frozen=True)
class Decision:
    retry: bool
    by: str  # "retry.on[N]" (the rule that matched) or "default"


def decide(rules: list[dict[str, Any]] | None, failure: Failure, *, memory_can_grow: bool = False) -> Decision:
    """The first rule that matches decides; else the default rules. `memory_can_grow`: escalate.memoryFactor is set
    and the memory is below its maxMemoryMiB (domain/escalation.py)."""
    ruled = failure.error in {e.value for e in RETRIABLE_ERRORS}
    for index, rule in enumerate(rules if ruled and rules else []):
        if matches(rule, failure):
            return Decision(retry=rule["action"] == RETRY, by=f"retry.on[{index}]")
    if failure.retryable:
        return Decision(retry=True, by="default")
    if failure.outOfMemory is not None and memory_can_grow:
        return Decision(retry=True, by="retry.escalate")
    return Decision(retry=False, by="default")
