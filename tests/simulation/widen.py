"""The widened exploration: the parts of a schedule's world that reach where runs lose their one end.

Drawn after the base plan (world.Plan), from the same choices, so a seed still replays. Each part is a fault class
the coverage table counts (tests/simulation/coverage.py) when a schedule actually exercised it:

- an abort aimed at a state after the start (it fires once the run's execution is in that state, weighted so it
  happens: one chance in two at each step there while exploring, at once while draining);
- a duplicate execution of the same runId (a redelivered trigger: same request, another execution name, its own
  caller token), started at a chosen exploration step;
- tasks with several containers: a non-essential sidecar and a log router, each with its own stream and exit code;
- tasks that print the request's secret (`set -x` echoing the environment), also among a failing task's last lines;
- malformed and hostile requests: `containerOverrides` as an object, an override as a list, nesting 600 levels deep,
  an integer of 5,000 digits (the secret placed beside each, as a careless caller would);
- PutEvents partial failures: a 200 answer with `FailedEntryCount` and `InternalFailure` / `ThrottlingException`
  entries, as EventBridge gives them (https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutEvents.html);
- failed answers to the caller: SendTaskSuccess/Failure on the caller's token throttled (400 ThrottlingException)
  or a 5xx (ServiceUnavailable), past the SDK's retries;
- the execution's status event lost after the verdict (Step Functions delivers it on a best-effort basis).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tests.simulation.fakes import client_error

if TYPE_CHECKING:
    from tests.simulation.world import Execution, World

# The states an execution can be in after its start state, where an operator's StopExecution may land.
ABORT_STATES = (
    "StartTaskAndWait",
    "StopTimedOutTask",
    "StopInterruptedStart",
    "PlanRetry",
    "WaitBeforeRetry",
    "CopyLogs",
    "WaitForLogs",
)
REQUEST_KINDS = ("overrides-object", "override-list", "deep", "huge-int")
SIDECAR_FATES = ("exits-0-early", "exits-1-early", "stopped-143", "stopped-0")
PUT_EVENTS_ERRORS = ("InternalFailure", "ThrottlingException")
CALLER_ERRORS = (("ThrottlingException", 400), ("ServiceUnavailable", 503))
DEPTH = 600
HUGE_DIGITS = 5000


@dataclass
class Widening:
    abort_state: str | None
    duplicate_at: int | None  # the exploration step at which a duplicate execution starts
    containers: tuple[str, ...]
    sidecar_fates: dict[str, str]
    prints_secret: bool
    request_kind: str  # ok | one of REQUEST_KINDS
    put_events_refusals: list[str]  # the next PutEvents entries refused, with these error codes
    caller_failures: list[tuple[str, int]]  # the next answers to a caller's token fail so
    lose_status_events: bool
    array: tuple[int, int] | None  # (children, maxConcurrency) for an array run
    exercised: set[str] = field(default_factory=set)

    @classmethod
    def draw(cls, choose: Callable[[int], int]) -> Widening:
        abort_state = ABORT_STATES[choose(len(ABORT_STATES))] if choose(3) == 0 else None
        duplicate_at = 1 + choose(60) if choose(5) == 0 else None
        containers = (("app",), ("app", "sidecar"), ("app", "sidecar", "log-router"))[choose(3)]
        sidecar_fates = {name: SIDECAR_FATES[choose(len(SIDECAR_FATES))] for name in containers[1:]}
        prints_secret = choose(3) == 0
        request_kind = REQUEST_KINDS[choose(len(REQUEST_KINDS))] if choose(12) == 0 else "ok"
        refusals = [PUT_EVENTS_ERRORS[choose(2)] for _ in range(choose(4))] if choose(4) == 0 else []
        caller = [CALLER_ERRORS[choose(2)] for _ in range(1 + choose(3))] if choose(4) == 0 else []
        lose = choose(4) == 0
        array = (2 + choose(2), 1 + choose(3)) if choose(6) == 0 else None
        return cls(abort_state, duplicate_at, containers, sidecar_fates, prints_secret, request_kind, refusals,
                   caller, lose, array)  # fmt: skip

    def describe(self) -> str:
        return (
            f"abort in {self.abort_state or 'no state'}, duplicate at step {self.duplicate_at}, containers "
            f"{'+'.join(self.containers)} {self.sidecar_fates or ''}, prints its secret {self.prints_secret}, "
            f"request {self.request_kind}, PutEvents refusals {self.put_events_refusals}, caller answer failures "
            f"{self.caller_failures}, status events lost after the verdict {self.lose_status_events}, array "
            f"{self.array}"
        )

    def essential(self) -> dict[str, bool]:
        return {name: name == "app" for name in self.containers}


def hostile(request: dict[str, Any], kind: str, canary: str) -> dict[str, Any]:
    """The request made malformed or hostile in the way `kind` says; the secret stays in it, where a scrubber that
    looks only at well-formed overrides cannot find it."""
    secret = {"name": "API_TOKEN", "value": canary}
    out = dict(request)
    if kind == "overrides-object":
        out["overrides"] = {"containerOverrides": {"app": {"environment": [secret]}}}
    elif kind == "override-list":
        out["overrides"] = {"containerOverrides": [[{"name": "app", "environment": [secret]}]]}
    elif kind == "deep":
        nested: Any = [secret]
        for _ in range(DEPTH):
            nested = [nested]
        out["overrides"] = {"containerOverrides": [{"name": "app", "environment": [secret], "command": nested}]}
    elif kind == "huge-int":
        out["timeoutSeconds"] = 10**HUGE_DIGITS
    return out


# ---- the hooks World calls ----


def refuse_put_event(world: World) -> str | None:
    """The error code EventBridge gives the next PutEvents entry, or None when it takes it."""
    if not world.widen.put_events_refusals:
        return None
    code = world.widen.put_events_refusals.pop(0)
    world.widen.exercised.add("PutEvents entry refused (FailedEntryCount)")
    world.note(f"FAULT PutEvents answers 200 with FailedEntryCount 1: {code}")
    return code


def fail_caller_answer(world: World, kind: str) -> None:
    """SendTaskSuccess/Failure on a caller's token fails this time (before it takes effect)."""
    if not world.widen.caller_failures:
        return
    code, status = world.widen.caller_failures.pop(0)
    world.widen.exercised.add("caller answer failed (throttled or 5xx)")
    world.note(f"FAULT {kind} to the caller fails: {code} ({status})")
    raise client_error(code, f"simulated: {kind} failed past the SDK's retries", kind, status)


def lose_status_event(world: World, event: dict[str, Any]) -> bool:
    """An execution's status change after its verdict (it reached CopyLogs) is lost, when the plan says so."""
    if not world.widen.lose_status_events or event.get("source") != "aws.states":
        return False
    execution = world.executions.get(event["detail"]["executionArn"])
    if execution is None or not any(state == "CopyLogs" for _, state in execution.entered):
        return False
    world.widen.exercised.add("status event lost after the verdict")
    return True


def abort_target(world: World) -> Execution | None:
    """The first execution, when it is in the state the plan aims its abort at (and no abort happened yet)."""
    first = world.first
    if world.widen.abort_state is None or world.aborted or first is None or first.status != "RUNNING":
        return None
    return first if first.state == world.widen.abort_state else None


def start_duplicate(world: World) -> None:
    """The trigger is delivered again: the same request in another execution (a parent's retry has its own
    caller token)."""
    request = world.request()
    if world.plan.caller and isinstance(request, dict):
        request = {**request, "callbackTaskToken": world.duplicate_caller_token}
    world.widen.exercised.add("duplicate execution of the runId")
    world.note("the trigger is delivered again: a duplicate execution of the same runId")
    world.start_execution(request, number=2)


__all__ = ["ABORT_STATES", "REQUEST_KINDS", "Widening", "hostile"]
