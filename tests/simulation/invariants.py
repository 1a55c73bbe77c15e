"""The invariants of issue 12, checked on a schedule's final state (and on the run record's history).

1. Each run ends exactly once: its execution ended, the record holds one outcome that agrees with it.
2. The task judged is one the run started: its attempt's clientToken task, on the run's cluster.
3. At most one task per attempt.
4. No task left running after its run ended, and a healthy stop path stops it within its own bound (below).
5. No callback left pending: nothing is left for the run (its record left the overdue index), every task token
   was answered or closed, and a caller's token (`callbackTaskToken`) was answered with the run's end.
6. Logs copied whenever a task ran: every line the judged task wrote is in S3 (aborted runs too).
7. No secret (the canary environment override value) in S3 (but the copied logs themselves, which are the task's own
   output), the functions' logs, PutEvents entries, callbacks, the executions' outputs and causes, or what the record
   tells (outcome, verdict, attempts); the caller's token (a bearer secret) nowhere but in the SendTask* calls.
8. A fault never changes the verdict the task earns: when the run's final task stopped on its own before the
   deadline, the run ends with that task's verdict (exit 0 succeeds, non-zero is ECS.ContainerExitedNonZero, ...),
   promptly (within PROMPT_SECONDS of the stop), not by the timeout.
9-10. One end told the same everywhere; duplicates speak only for themselves: tests/simulation/telling.py.
"""

from __future__ import annotations

import gzip
import json
import re
from dataclasses import dataclass
from typing import Any

from ecsrun.domain.callback import execution_error_name
from ecsrun.domain.models.ecs import EcsTask
from ecsrun.domain.verdict import judge

from tests.simulation.fakes import FakeTask
from tests.simulation.world import EPOCH, World

STOP_STATES = ("StopTimedOutTask", "StopInterruptedStart")
TERMINAL = {"SUCCEEDED", "FAILED", "ABORTED"}
# Once ecsrun has heard of the stop (an event handled, or a reconciler pass after its grace), the run ends after the
# settle, Lambda's and the ASL's retries and the log copy (calls may take 30 s each). Twenty minutes bounds
# "promptly".
PROMPT_SECONDS = 1200
# A task may outlive its run by its stop (stopTimeout, at most 120 s on Fargate) plus one reconciler cycle (rate +
# grace) when the news of the run's end was missed.
OUTLIVE_SECONDS = 900
# The stop path's own bound, when nothing disturbs it: from the moment ecsrun decides to stop the task (it enters
# StopTimedOutTask or StopInterruptedStart, or the execution ends) to the task STOPPED, the stop path makes a handful
# of calls (an event delivered, an invocation, a read, a write, StopTask) of at most `slow_seconds` each, then ECS
# takes the task's stop time. STOP_PATH_CALLS slow calls bound them (measured: docs/benchmarks.md).
STOP_PATH_CALLS = 10
# What the stop path is made of. A slow tick of the simulation's clock is one of the stop path's calls only when it
# is the first tick taken at some step of it (an invocation at a new call, an event or invoke newly due) and nothing
# off the stop path is in flight. Any other tick is another function's call (AWS runs it side by side: a reconciler
# pass) or the exploration holding a call longer than slow_seconds; those are added to the healthy bound.
STOP_PATH_FUNCTIONS = frozenset({"StopTaskFunction", "ExecutionEndedFunction", "TaskStoppedFunction"})
STOP_PATH_STEPS = STOP_PATH_FUNCTIONS | {"event"} | {f"async:{name}" for name in STOP_PATH_FUNCTIONS}


def _stop_path_call(flying: frozenset[tuple[str, bool]]) -> bool:
    return all(name in STOP_PATH_STEPS for name, _ in flying) and any(fresh for _, fresh in flying)


# What disturbs the stop path: a fault injected at or after the decision (a crash, a failed call, a dropped or
# delayed event) or a lost status event. Then the reconciler's cycle is the bound (OUTLIVE_SECONDS).


@dataclass
class Violation:
    invariant: str
    detail: str

    def __str__(self) -> str:
        return f"{self.invariant}: {self.detail}"


def _record(world: World) -> dict[str, Any] | None:
    item = world.table.get_item(Key={"runId": world.run_id}, ConsistentRead=True).get("Item")
    if item is None:
        return None
    found = json.loads(json.dumps(item, default=str))
    for key in ("task", "verdict", "outcome", "attempts", "run"):
        if isinstance(found.get(key), str):
            found[key] = json.loads(found[key])
    return dict(found)


def _documented_errors() -> set[str]:
    from ecsrun.domain.errors import ErrorName

    return {e.value for e in ErrorName}


def _short(arn: str | None) -> str:
    return (arn or "none").rsplit("/", 1)[-1][:8]


def owner(world: World, record: dict[str, Any] | None) -> Any:
    """The execution the run belongs to: the one its record names (the first, unless a duplicate won the race)."""
    if record is not None and record.get("executionArn") in world.executions:
        return world.executions[record["executionArn"]]
    return world.first


def check(world: World) -> list[Violation]:
    from tests.simulation import maps, telling
    from tests.simulation.telling import ended_as_recorded

    found: list[Violation] = []
    add = lambda invariant, detail: found.append(Violation(invariant, detail))  # noqa: E731
    record = _record(world)
    execution = owner(world, record)
    found += telling.check(world, execution, record)
    found += maps.check(world)
    ours = [t for t in world.ecs.tasks.values() if not t.foreign and t.started_by == world.started_by]
    by_token = {(t.cluster_arn, t.client_token): t for t in ours}
    run_cluster = world.ecs.cluster_arn("default")

    found += _caller(world, execution, record)
    for failure in world.python_errors:
        add("1 ends once", f"an event's handler failed with a Python error (lost after Lambda's retries): {failure}")
    for each in world.executions.values():
        if each.status == "FAILED" and each.error not in _documented_errors():
            # A Python exception's name (AttributeError, ClientError, ...) crossing the state machine boundary is a
            # handler bug, even when no record exists yet; so is Lambda.Unknown (a function that died) reaching it.
            add("1 ends once", f"{each.name} failed with {each.error}, not one of ecsrun's error names")

    # 1. ends exactly once
    if execution.status == "RUNNING":
        add("1 ends once", f"the execution is still RUNNING in {execution.state} ({execution.phase})")
    if execution.ends > 1:
        add("1 ends once", f"the execution ended {execution.ends} times")
    if record is None:
        if ours:
            add("1 ends once", f"{len(ours)} task(s) started, but there is no run record")
        # Otherwise the run ended before its start wrote a record (an invalid request, a failed validation):
        # nothing ran, nothing to settle. The error name it ended with is checked by observations().
        return found
    status = record.get("status")
    if status not in TERMINAL:
        add("1 ends once", f"the record is {status}, not ended (execution {execution.status} {execution.error or ''})")
    expected_status = {"SUCCEEDED": "SUCCEEDED", "FAILED": "FAILED", "ABORTED": "ABORTED"}.get(execution.status)
    if expected_status and status in TERMINAL and status != expected_status and not ended_as_recorded(world, execution):
        add("1 ends once", f"the execution {execution.status} but the record says {status}")
    outcome = record.get("outcome") or {}
    if execution.status == "FAILED" and status == "FAILED" and outcome.get("error") != execution.error:
        add("1 ends once", f"the execution failed {execution.error} but the record's outcome is {outcome.get('error')}")
    outcomes = {
        (json.loads(h["outcome"]).get("status"), json.loads(h["outcome"]).get("error"))
        for h in world.record_history
        if isinstance(h.get("outcome"), str)
    }
    if len(outcomes) > 1:
        add("1 ends once", f"the record's outcome changed: {sorted(outcomes, key=str)}")
    completions = [
        e
        for e in world.put_events.entries
        if json.loads(e["Detail"]).get("runId") == world.run_id
        and json.loads(e["Detail"]).get("executionArn") == execution.arn
    ]
    kinds = {(e["DetailType"], json.loads(e["Detail"]).get("error")) for e in completions}
    if len(kinds) > 1:
        add("1 ends once", f"contradictory completion events: {sorted(kinds, key=str)}")
    if outcome.get("status"):  # the recorded end is announced (at least once), as recorded
        told = {(json.loads(e["Detail"]).get("status"), json.loads(e["Detail"]).get("error")) for e in completions}
        recorded = (outcome["status"], outcome.get("error"))
        if not told:
            add("1 ends once", f"the run ended {recorded} but nothing was announced")
        elif told != {recorded}:
            add("1 ends once", f"the run ended {recorded} but the bus was told {sorted(told, key=str)}")

    # 2. the task judged is one the run started
    attempt = int(record.get("attempt", 1))
    own = by_token.get((run_cluster, record.get("clientToken")))
    judged = (record.get("task") or {}).get("taskArn") or record.get("taskArn")
    if judged and (own is None or judged != own.arn):
        culprit = world.ecs.tasks.get(judged)
        what = (
            "a foreign task"
            if culprit and culprit.foreign
            else f"attempt {culprit.attempt}'s task"
            if culprit
            else "an unknown task"
        )
        add(
            "2 own task",
            f"attempt {attempt} was settled with {what} {_short(judged)} (its own: {_short(own.arn if own else None)})",
        )
    for earlier in record.get("attempts") or []:
        arn = earlier.get("taskArn")
        mine = by_token.get((run_cluster, world_token(world, earlier.get("attempt"))))
        if arn and (mine is None or arn != mine.arn):
            add(
                "2 own task",
                f"attempt {earlier.get('attempt')} is recorded with task {_short(arn)}, "
                f"not its own {_short(mine.arn if mine else None)}",
            )
    for snapshot in world.record_history:
        task = json.loads(snapshot["task"]) if isinstance(snapshot.get("task"), str) else None
        if not task:
            continue
        mine = by_token.get((run_cluster, snapshot.get("clientToken")))
        if mine is None or task.get("taskArn") != mine.arn:
            add(
                "2 own task",
                f"at some point attempt {snapshot.get('attempt')} held task {_short(task.get('taskArn'))} "
                f"(its own: {_short(mine.arn if mine else None)})",
            )
            break

    # 3. at most one task per attempt
    per_attempt: dict[int | None, list[FakeTask]] = {}
    for task in ours:
        per_attempt.setdefault(task.attempt, []).append(task)
    for number, tasks in per_attempt.items():
        if number is None:
            add("3 one task per attempt", f"{len(tasks)} task(s) started without one of the run's clientTokens")
        elif len(tasks) > 1:
            add("3 one task per attempt", f"attempt {number} has {len(tasks)} tasks")
        elif number > attempt:
            add(
                "3 one task per attempt",
                f"a task was started for attempt {number}, but the run ended at attempt {attempt}",
            )

    # 4. no task left running after its run ended; a healthy stop path stops it within its own bound
    found += _outlive(world, execution, ours)

    # 5. no callback left pending
    if "openShard" in record:
        add("5 no callback pending", "the record is still open: something is left for the run (lifecycle.chores)")
    callers = (world.caller_token, world.duplicate_caller_token)
    open_tokens = [t for t, state in world.tokens.items() if state.open and t not in callers]
    if open_tokens:
        add("5 no callback pending", f"tokens still open: {open_tokens}")
    if record.get("callback") == "PENDING":
        add("5 no callback pending", "the record's callback is still PENDING")

    # 6. logs copied whenever a task ran
    final = own
    if final is not None and final.started_at is not None:
        for name in final.names:
            key = f"runs/{world.run_id}/logs/{name}.log.gz"
            written = final.lines_by_container.get(name, 0)
            body = world.s3.objects.get(key)
            if body is None:
                add("6 logs copied", f"attempt {attempt}'s task {_short(final.arn)} ran but {key} was never written")
                continue
            lines = gzip.decompress(body).decode().count("\n")
            stop_given_up = [state for state, _ in execution.caught if state in STOP_STATES]
            if lines < written and stop_given_up:
                # Documented limit (docs/guarantees.md): a stop that fails beyond its retries goes on to CopyLogs,
                # which copies a task still running; what it writes after the copy (the reconciler stops it) is lost.
                world.limits.append(f"{stop_given_up[0]} failed beyond its retries: logs copied while the task ran")
            elif lines != written:
                add(
                    "6 logs copied",
                    f"{lines} of the {written} lines {name} of task {_short(final.arn)} wrote were copied",
                )
        if f"runs/{world.run_id}/manifest.json" not in world.s3.objects:
            add("6 logs copied", "no manifest")
    for task in ours:
        if task is not final and task.started_at is not None and task.attempt is not None and task.attempt >= attempt:
            add(
                "6 logs copied",
                f"task {_short(task.arn)} (attempt {task.attempt}) ran, and its logs are nobody's to copy",
            )

    # 7. no secret outside the execution input and the record
    found += _secrets(world, record)

    # 8. a fault never changes the verdict the task earns
    found += _verdict(world, execution, final, attempt)
    return found


def _caller(world: World, execution: Any, record: dict[str, Any] | None) -> list[Violation]:
    """Each execution's caller token is answered once the execution has ended, with its end: the run's recorded
    end for the run's own execution, its own end (Run.Duplicate) for a duplicate. SendTaskSuccess when it
    succeeded, else SendTaskFailure with the error name it ended with (ecsrun's own names only)."""
    found: list[Violation] = []
    for each in world.executions.values():
        token = each.input.get("callbackTaskToken") if isinstance(each.input, dict) else None
        if not world.plan.caller or not token or each.status == "RUNNING":
            continue
        answers = [a for a in world.caller_answers if a.get("token") == token]
        if not answers:
            if each.status != "SUCCEEDED" and each.arn not in world.ended_handled:
                # Documented limit (docs/calling-from-state-machines.md): a run whose end only ExecutionEnded can
                # answer (an abort, a crash) waits for its caller's TimeoutSeconds when Step Functions' best-effort
                # status event is lost, or until an operator redrives the dead-letter queue it went to.
                world.limits.append("the caller waits for its own TimeoutSeconds: the execution's end event was lost")
                continue
            found.append(Violation("5 no callback pending", f"{each.name}'s caller was never answered ({each.status})"))
            continue
        [answer] = answers  # a second answer finds the token closed (TaskTimedOut)
        outcome = ((record or {}).get("outcome") or {}) if each is execution else {}
        if outcome.get("status"):
            expected = None if outcome["status"] == "SUCCEEDED" else outcome.get("error")
        else:
            expected = None if each.status == "SUCCEEDED" else execution_error_name(each.status, each.error)
        got = None if answer["kind"] == "SendTaskSuccess" else answer.get("error")
        if got != expected:
            found.append(
                Violation(
                    "5 no callback pending",
                    f"{each.name}'s caller was answered {got or 'success'}, but it ended {expected or 'SUCCEEDED'}",
                )
            )
    return found


def _outlive(world: World, execution: Any, ours: list[FakeTask]) -> list[Violation]:
    """Invariant 4: every task STOPPED; after the run's end, within the stop path's bound when it was healthy."""
    found: list[Violation] = []
    stops = [moment for moment, state in execution.entered if state in STOP_STATES]
    decided = min([*stops[:1], *([execution.stopped_at] if execution.stopped_at is not None else [])], default=None)
    disturbed = (
        decided is None
        or any(moment >= decided for moment in world.fault_times)
        or "status event lost after the verdict" in world.widen.exercised
    )
    for task in ours:
        if task.last_status != "STOPPED":
            found.append(
                Violation(
                    "4 no task outlives its run",
                    f"attempt {task.attempt}'s task {_short(task.arn)} is still {task.last_status} "
                    f"after the run ended ({execution.status})",
                )
            )
            continue
        if decided is None or task.stopped_at is None or task.stopped_at <= decided:
            continue
        since = max(decided, task.created_at)
        # A task RunTask started after the decision (an abort that overtook the start) is the reconciler's to find.
        late = task.created_at > decided
        others = sum(
            1
            for moment, flying in world.slow_ticks
            if since <= moment < task.stopped_at and not _stop_path_call(flying)
        )
        healthy = world.plan.stop_delay + (STOP_PATH_CALLS + others) * world.plan.slow_seconds
        bound = OUTLIVE_SECONDS if disturbed or late else healthy
        if (disturbed or late) and execution.stopped_at is not None:
            # As before the stop path had a bound of its own: from the run's end, a reconciler cycle and a stop.
            since = max(execution.stopped_at, task.created_at)
            # The reconciler is the net: its first pass that returned after the grace, then the stop.
            passes = [end for start, end in world.reconciled if start >= since + world.plan.grace_seconds]
            if passes:
                bound = max(bound, passes[0] - since + healthy)
        if task.stopped_at - since > bound:
            found.append(
                Violation(
                    "4 no task outlives its run",
                    f"attempt {task.attempt}'s task {_short(task.arn)} stopped {task.stopped_at - since:.0f}s after "
                    f"{'the run ended (disturbed' if disturbed or late else 'ecsrun decided to stop it (healthy'} "
                    f"stop path: bound {bound:.0f}s)",
                )
            )
    return found


def _secrets(world: World, record: dict[str, Any] | None) -> list[Violation]:
    """Invariant 7. The copied logs are the task's own output (it may print its secret; they are copied as
    written); everything ecsrun itself writes or tells is checked."""
    found: list[Violation] = []
    places = {f"s3://{k}": v for k, v in world.s3.texts().items() if not re.match(r"runs/[^/]+/(logs|\.copy)/", k)}
    places["function logs"] = world.logs_text.getvalue()
    places["PutEvents"] = json.dumps(world.put_events.entries + world.put_events.refused)
    places["callbacks"] = json.dumps(world.callbacks)
    for each in world.executions.values():
        places[f"{each.name} output/cause"] = json.dumps([each.output, each.error, each.cause])
    told = {k: (record or {}).get(k) for k in ("outcome", "verdict", "attempts", "stopReason", "executionError")}
    places["the record's outcome, verdict and attempts"] = json.dumps(told, default=str)
    for place, text in places.items():
        if world.canary in text:
            found.append(Violation("7 no secret", f"the environment override value appears in {place}"))
        callers = (world.caller_token, world.duplicate_caller_token)
        if world.plan.caller and place != "callbacks" and any(token in text for token in callers):
            found.append(Violation("7 no secret", f"a caller's task token appears in {place}"))
    return found


def world_token(world: World, attempt: Any) -> str | None:
    for token, number in world.tokens_by_attempt.items():
        if number == attempt:
            return token
    return None


def _verdict(world: World, execution: Any, final: FakeTask | None, attempt: int) -> list[Violation]:
    if final is None or final.stopped_at is None or final.stopped_by_ecsrun or world.aborted:
        return []
    if world.foreign_started and final.plan.fate == "forever":
        return []
    starts = [
        moment for moment, state in execution.entered if state == "StartTaskAndWait" and moment <= final.created_at
    ]
    if not starts:
        return []
    if execution.stopped_at is not None and final.created_at >= execution.stopped_at:
        return []  # RunTask never reached ECS during the run: the cleanup's RunTask (same clientToken) started it
    given_up = [moment for moment, state in execution.entered if state == "StopInterruptedStart"]
    if given_up and given_up[0] <= final.stopped_at:
        return []  # contract §1.8: a start interrupted beyond its retries ends Run.InternalError, by design
    if any(state == "StopInterruptedStart" for state, _ in execution.caught):
        # ... unless its task had stopped on its own, which StopInterruptedStart finds out; when that state fails
        # beyond its own retries too, nobody can name the task in time: Run.InternalError, by design.
        world.limits.append("the start and then StopInterruptedStart failed beyond their retries")
        return []
    deadline = starts[-1] + world.plan.timeout_seconds
    if final.stopped_at >= deadline:
        return []
    # Contract §1.8: the verdict is owed "provided the reconciler runs within the run's timeout": a stop whose news
    # reached no TaskStopped invocation and no reconciler pass (begun after its grace, done before the deadline)
    # is exempt.
    passes = [end for start, end in world.reconciled if final.stopped_at + world.plan.grace_seconds <= start]
    heard_at = min([world.stopped_handled.get(final.arn, float("inf")), *passes])
    if heard_at >= deadline:
        return []
    task = EcsTask.model_validate(final.describe())
    verdict = judge(task, world.widen.essential(), [0])
    if verdict.retryable and attempt < world.plan.max_attempts:
        return []
    expected = None if verdict.succeeded else verdict.error.value if verdict.error else None
    got = None if execution.status == "SUCCEEDED" else execution.error
    found = []
    if execution.status in ("SUCCEEDED", "FAILED") and got != expected:
        found.append(
            Violation(
                "8 verdict kept",
                f"task {_short(final.arn)} stopped on its own at +{final.stopped_at - EPOCH:.0f}s "
                f"({final.plan.fate}: expected {expected or 'success'}), but the run ended {got or 'SUCCEEDED'}",
            )
        )
    # "Promptly" counts from the moment ecsrun could know: a TaskStopped invocation for the task returned, or a
    # reconciler pass (begun after its grace) returned. Until then the schedule may withhold the news (a late event,
    # a Lambda retry an hour later, a reconciler whose calls all fail): the verdict is owed, not its speed.
    if execution.stopped_at is not None and execution.stopped_at - heard_at > PROMPT_SECONDS:
        found.append(
            Violation(
                "8 verdict kept",
                f"the run ended {execution.stopped_at - heard_at:.0f}s after ecsrun heard its task had stopped "
                f"({execution.stopped_at - final.stopped_at:.0f}s after the stop; not promptly)",
            )
        )
    return found


def observations(world: World) -> list[str]:
    """Not invariants of issue 12, but worth a look: runs that end with an error name ecsrun does not document."""
    from ecsrun.domain.errors import ErrorName

    execution = owner(world, _record(world))
    names = {e.value for e in ErrorName}
    if execution.status == "FAILED" and execution.error not in names:
        return [f"the execution failed with {execution.error}, not one of ecsrun's error names"]
    return []


__all__ = ["Violation", "check", "observations"]
