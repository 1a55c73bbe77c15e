"""Array runs in the simulation: the ASL's Distributed Map (`RunChildren`), each item a child execution of the same
state machine started with `startExecution.sync:2`, and the checks of every child run.

Semantics (https://docs.aws.amazon.com/step-functions/latest/dg/state-map-distributed.html and
https://docs.aws.amazon.com/step-functions/latest/dg/connect-stepfunctions.html): the ItemReader reads the JSON
array from S3; ItemSelector builds each item's input with `$$.Map.Item.Value`; at most MaxConcurrency children run
at once; a `.sync` child that fails fails its item's Task (`States.TaskFailed`), which RunChild's Catch turns into
ChildEnded; a stopped parent stops the executions its `.sync` states started. The Map's ResultPath is null.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ecsrun.domain.runtask import client_token, started_by

from tests.simulation import asl

if TYPE_CHECKING:
    from tests.simulation.invariants import Violation
    from tests.simulation.world import Execution, World


@dataclass
class MapRun:
    parent: str
    next_state: str
    pending: list[dict[str, Any]]
    concurrency: int
    running: set[str] = field(default_factory=set)
    children: list[str] = field(default_factory=list)


def enter(world: World, execution: Execution, state: dict[str, Any]) -> None:
    """The Map state: read the items, start the first children."""
    context = world._context(execution)
    reader = asl.fill(state["ItemReader"]["Parameters"], execution.data, context)
    body = world.s3.objects.get(reader["Key"])
    if body is None:
        raise asl.StatesError("States.ItemReaderFailed", f"no object {reader['Key']}")
    items = json.loads(body)
    inputs = []
    for index, item in enumerate(items):
        context = {**world._context(execution), "Map": {"Item": {"Value": item, "Index": index}}}
        inputs.append(asl.fill(state["ItemSelector"], execution.data, context))
    limit = asl.get_path(execution.data, state["MaxConcurrencyPath"]) if "MaxConcurrencyPath" in state else 0
    concurrency = limit if isinstance(limit, int) and limit > 0 else len(inputs) or 1
    run = MapRun(execution.arn, state["Next"], inputs, concurrency)
    world.maps[execution.arn] = run
    execution.phase = "mapping"
    world.widen.exercised.add("array run")
    world.note(f"{execution.state}: {len(inputs)} children, at most {concurrency} at once")
    _start_more(world, run)
    _maybe_done(world, execution, run)


def _start_more(world: World, run: MapRun) -> None:
    while run.pending and len(run.running) < run.concurrency:
        item = run.pending.pop(0)
        request = item["request"]
        index = request.get("arrayChild", {}).get("index", 0) if isinstance(request, dict) else 0
        run_id = request.get("runId") if isinstance(request, dict) else None
        if isinstance(run_id, str):
            for attempt in range(1, 11):  # a child's attempts draw their RunTask answer and fate, shifted by index
                world.child_tokens[client_token(run_id, attempt)] = (index + attempt - 1) % 3 + 1
        child = world.start_execution(request, name=item["name"])
        child.parent = run.parent
        run.running.add(child.arn)
        run.children.append(child.arn)


def child_ended(world: World, child: Execution) -> None:
    """A child execution ended: its item is done (whatever its end); the Map goes on."""
    run = world.maps.get(child.parent or "")
    if run is None or child.arn not in run.running:
        return
    run.running.discard(child.arn)
    parent = world.executions[run.parent]
    if parent.status != "RUNNING" or parent.phase != "mapping":
        return
    if child.status != "SUCCEEDED":
        world.widen.exercised.add("array child failed")
    _start_more(world, run)
    _maybe_done(world, parent, run)


def _maybe_done(world: World, parent: Execution, run: MapRun) -> None:
    if not run.pending and not run.running and parent.phase == "mapping":
        world._transition(parent, run.next_state, parent.data)


def parent_ended(world: World, parent: Execution) -> None:
    """The parent stopped: Step Functions stops the executions its `.sync` states started."""
    run = world.maps.get(parent.arn)
    for arn in sorted(run.running) if run else []:
        world.note(f"the parent ended: its child {world.executions[arn].name} is stopped")
        world.stop_execution(arn, None, None)


def check(world: World) -> list[Violation]:
    """Each child is a whole run: it ended, its record ended the same way, its tasks stopped (one per attempt), its
    logs and manifest were copied when its task ran, and only it announced under its runId."""
    from tests.simulation.invariants import Violation

    found: list[Violation] = []
    for run in world.maps.values():
        for arn in run.children:
            child = world.executions[arn]
            run_id = child.input.get("runId") if isinstance(child.input, dict) else None
            if child.status == "RUNNING":
                found.append(Violation("1 ends once", f"array child {child.name} is still RUNNING in {child.state}"))
                continue
            item = world.table.get_item(Key={"runId": run_id}, ConsistentRead=True).get("Item") if run_id else None
            tasks = [t for t in world.ecs.tasks.values() if t.started_by == started_by("ecsrun/", run_id or "")]
            for task in tasks:
                if task.last_status != "STOPPED":
                    found.append(
                        Violation("4 no task outlives its run", f"array child {run_id}'s task is {task.last_status}")
                    )
            tokens = [t.client_token for t in tasks]
            if len(tokens) != len(set(tokens)) or None in tokens:
                found.append(Violation("3 one task per attempt", f"array child {run_id} started {len(tasks)} tasks"))
            if item is None:
                if tasks:
                    found.append(Violation("1 ends once", f"array child {run_id} ran a task but has no record"))
                continue
            outcome = json.loads(item["outcome"]) if isinstance(item.get("outcome"), str) else item.get("outcome")
            if not isinstance(outcome, dict) or item.get("status") not in ("SUCCEEDED", "FAILED", "ABORTED"):
                found.append(Violation("1 ends once", f"array child {run_id}'s record is {item.get('status')}"))
                continue
            error = None if outcome.get("status") == "SUCCEEDED" else outcome.get("error")
            ended = None if child.status == "SUCCEEDED" else "Run.Aborted" if child.status == "ABORTED" else child.error
            if error != ended:
                found.append(
                    Violation("9 one end everywhere", f"array child {run_id}: record {error}, execution {ended}")
                )
            ran = [t for t in tasks if t.started_at is not None and t.client_token == item.get("clientToken")]
            if ran and f"runs/{run_id}/manifest.json" not in world.s3.objects:
                found.append(Violation("6 logs copied", f"array child {run_id}'s task ran; no manifest"))
            spoken = [
                json.loads(e["Detail"])
                for e in world.put_events.entries
                if json.loads(e["Detail"]).get("runId") == run_id
                and json.loads(e["Detail"]).get("executionArn") != child.arn
            ]
            if spoken:
                found.append(Violation("10 duplicates silent", f"{len(spoken)} event(s) under {run_id} from others"))
    return found


__all__ = ["MapRun", "check", "child_ended", "enter", "parent_ended"]
