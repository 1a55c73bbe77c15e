"""Planted bugs: one or more per invariant, each a monkeypatch of production code. A simulation proves only what
its invariants catch; each plant must be flagged, by its own invariant, in the default `make test` budget
(tests/simulation/test_simulation.py) and its rate is measured by `runner --plant NAME` (docs/benchmarks.md).

A plant is flagged by a schedule when its invariant is violated there with the plant and not without it (the
unplanted code may itself still break an invariant in that schedule: a known bug is not the plant's catch).
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Plant:
    name: str
    invariant: str  # the invariant's number, as Violation.invariant starts
    bug: str
    install: Callable[[], list[tuple[Any, str, Any]]]  # (module, attribute, replacement) to set


def _everywhere(module_name: str, attribute: str, replacement: Any) -> list[tuple[Any, str, Any]]:
    """`module.attribute` replaced where it is defined and in every ecsrun module that imported it by name."""
    module = importlib.import_module(module_name)
    original = getattr(module, attribute)
    places = [(module, attribute, replacement)]
    for name, other in list(sys.modules.items()):
        if name.startswith("ecsrun.") and other is not module and getattr(other, attribute, None) is original:
            places.append((other, attribute, replacement))
    return places


def _one(module_name: str, attribute: str, make: Callable[[Any], Any]) -> list[tuple[Any, str, Any]]:
    module = importlib.import_module(module_name)
    return [(module, attribute, make(getattr(module, attribute)))]


def _end_never_records() -> list[tuple[Any, str, Any]]:
    """The one door to a run's end (RunsTable.end) answers that this writer won, with the outcome it was given,
    but writes nothing: every writer goes on (manifest, answer, event) as if the end were recorded."""
    from ecsrun.adapters.dynamodb import Ended, RunsTable

    def end(self: Any, read: Any, outcome: dict[str, Any], **kwargs: Any) -> Any:
        return Ended(won=True, record=read.model_copy(update={"outcome": outcome}))

    return [(RunsTable, "end", end)]


def _any_task_settles() -> list[tuple[Any, str, Any]]:
    """The event's task is taken for the run's own: the taskArn and cluster checks are gone."""
    from ecsrun.steps import settle

    original = settle.settle_stopped_task

    def settle_any(task: Any, *, store: Any, **kwargs: Any) -> Any:
        class Trusting:
            def __getattr__(self, name: str) -> Any:
                return getattr(store, name)

            def get(self, run_id: str) -> Any:
                record = store.get(run_id)
                if record is None or record.taskArn is None or record.outcome is not None:
                    return record
                return record.model_copy(update={"taskArn": task.taskArn, "clusterArn": task.clusterArn})

        return original(task, store=Trusting(), **kwargs)

    from ecsrun.adapters.dynamodb import RunsTable
    from ecsrun.domain.models.record import Callback, RunStatus

    def settle_unchecked(self: Any, read: Any, task: Any, verdict: Any, settled_by: str) -> None:
        condition, values = self._from_state(read)
        sets = {"status": RunStatus.STOPPED.value, "task": task, "verdict": verdict, "settledBy": settled_by,
                "callback": Callback.PENDING.value}  # fmt: skip
        self._update(read.runId, sets, condition, values)  # no "AND #taskArn = :arn"

    return [
        *_everywhere("ecsrun.steps.settle", "settle_stopped_task", settle_any),
        (RunsTable, "settle", settle_unchecked),
    ]


def _a_new_token_per_call() -> list[tuple[Any, str, Any]]:
    """RunTask's clientToken drawn anew on each call: a retried start starts a second task."""
    import uuid

    return _everywhere("ecsrun.domain.runtask", "client_token", lambda run_id, attempt: uuid.uuid4().hex)


def _timeout_never_stops() -> list[tuple[Any, str, Any]]:
    """The stop states (a timeout, an interrupted start) never call StopTask; they only wait."""
    return _one("ecsrun.steps.stop", "stop_recorded_task", lambda original: lambda record, **kwargs: True)


def _copy_answers_success() -> list[tuple[Any, str, Any]]:
    """CopyLogs tells the caller SUCCEEDED whatever the run's end (and records that it answered). A CopyLogs that
    never answers is no longer a bug invariant 5 can see: the execution's end answers from the record instead."""

    def answer_success(original: Any) -> Any:
        def answer(token: Any, outcome: dict[str, Any], **kwargs: Any) -> Any:
            told = {"status": "SUCCEEDED", "output": {"runId": kwargs.get("run_id"), "status": "SUCCEEDED"}}
            return original(token, told, **kwargs)

        return answer

    return _one("ecsrun.handlers.copy_logs", "answer_caller", answer_success)


def _no_manifest() -> list[tuple[Any, str, Any]]:
    return _everywhere("ecsrun.domain.keys", "manifest_key", lambda run_id: f"elsewhere/{run_id}/manifest.json")


def _scrubbing_disabled() -> list[tuple[Any, str, Any]]:
    return _everywhere("ecsrun.domain.secrets", "override_values", lambda request: [])


def _outcome_quotes_request() -> list[tuple[Any, str, Any]]:
    """The run's outcome (its output or cause, hence the manifest and the execution's end) quotes the request."""
    import json

    from ecsrun.domain import outcome

    original = outcome.compose

    def compose(record: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
        found = dict(original(record, *args, **kwargs))
        if found.get("status") == "SUCCEEDED":
            found["output"] = {**found["output"], "request": record.run.request}
        else:
            found["cause"] = json.dumps({**json.loads(found["cause"]), "request": record.run.request})
        return found

    return _everywhere("ecsrun.domain.outcome", "compose", compose)


def _every_task_succeeds() -> list[tuple[Any, str, Any]]:
    from ecsrun.domain.models.verdict import Verdict

    return _one(
        "ecsrun.steps.settle",
        "judge",
        lambda original: lambda *args: Verdict(succeeded=True, reason="planted: every task succeeds"),
    )


def _events_say_success() -> list[tuple[Any, str, Any]]:
    """The completion event says the run succeeded, whatever its end."""
    from ecsrun.domain import completion

    original = completion.run_summary
    return _everywhere(
        "ecsrun.domain.completion",
        "run_summary",
        lambda summary, arn: {**original(summary, arn), "status": "SUCCEEDED", "error": None},
    )


def _duplicate_succeeds() -> list[tuple[Any, str, Any]]:
    """A duplicate execution is told it succeeded, and says so."""
    from ecsrun.domain import outcome

    original = outcome.duplicate

    def succeeded(first: Any, execution_arn: str) -> dict[str, Any]:
        refused = original(first, execution_arn)
        return {
            "status": "SUCCEEDED",
            "output": {"runId": first.runId, "status": "SUCCEEDED"},
            "cause": refused["cause"],
        }

    return _everywhere("ecsrun.domain.outcome", "duplicate", succeeded)


PLANTS = (
    Plant("end-never-records", "1", "the run's outcome is never written to its record", _end_never_records),
    Plant("any-task-settles", "2", "any task's STOPPED event settles the run", _any_task_settles),
    Plant("token-per-call", "3", "RunTask's clientToken is new on every call", _a_new_token_per_call),
    Plant("timeout-never-stops", "4", "a timeout (or an interrupted start) never calls StopTask", _timeout_never_stops),
    Plant("copy-answers-success", "5", "CopyLogs tells the caller SUCCEEDED, whatever the end", _copy_answers_success),
    Plant("no-manifest", "6", "the manifest is written under another key", _no_manifest),
    Plant("scrubbing-disabled", "7", "no override value is scrubbed", _scrubbing_disabled),
    Plant("outcome-quotes-request", "7", "the outcome quotes the request, overrides and all", _outcome_quotes_request),
    Plant("every-task-succeeds", "8", "every stopped task is judged a success", _every_task_succeeds),
    Plant("events-say-success", "9", "the completion event always says SUCCEEDED", _events_say_success),
    Plant("duplicate-succeeds", "10", "a duplicate execution ends SUCCEEDED", _duplicate_succeeds),
)  # fmt: skip
BY_NAME = {p.name: p for p in PLANTS}


@contextmanager
def planted(plant: Plant | None) -> Iterator[None]:
    """The plant installed for the duration (nothing when None)."""
    if plant is None:
        yield
        return
    import pkgutil

    import ecsrun.handlers
    import ecsrun.steps

    for package in (ecsrun.steps, ecsrun.handlers):  # loaded first, so each name imported from a module is found
        for info in pkgutil.iter_modules(package.__path__):
            importlib.import_module(f"{package.__name__}.{info.name}")
    places = plant.install()
    saved = [(target, attribute, getattr(target, attribute)) for target, attribute, _ in places]
    for target, attribute, replacement in places:
        setattr(target, attribute, replacement)
    try:
        yield
    finally:
        for target, attribute, original in reversed(saved):
            setattr(target, attribute, original)


def flags(plant: Plant, baseline: list[Any], planted_violations: list[Any]) -> bool:
    """The plant's invariant is violated with the plant and was not without it."""
    mine = lambda found: any(v.invariant.split(" ")[0] == plant.invariant for v in found)  # noqa: E731
    return mine(planted_violations) and not mine(baseline)


__all__ = ["BY_NAME", "PLANTS", "Plant", "flags", "planted"]
