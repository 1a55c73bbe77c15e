"""`ecsrun explain`: judge a stopped task exactly as the TaskStopped function does, and say why."""

from __future__ import annotations

import argparse
import json
import re
from typing import Any

from ecsrun.cli.common import (
    EXIT_FAILED,
    EXIT_OK,
    UsageError,
    read_json,
)
from ecsrun.cli.document import document
from ecsrun.cli.render import render_explanation
from ecsrun.domain.models.base import ModelError
from ecsrun.domain.models.ecs import EcsTask, TaskStateChangeEvent
from ecsrun.domain.runtask import container_specs
from ecsrun.domain.verdict import judge


def explain(args: argparse.Namespace) -> int:
    success_codes = parse_success_exit_codes(args.success_exit_codes)
    task, missing = parse_partial_task(read_json(args.file, "file"), args.file)
    essential: dict[str, bool] = {}
    if args.task_definition:
        essential = essential_flags(read_json(args.task_definition, "task definition"), args.task_definition, task)
    # Without a task definition judge() counts every container as essential, as it does for unknown names.
    verdict = judge(task, essential, success_codes)
    if args.output == "json":
        outcome = "SUCCEEDED" if verdict.succeeded else "FAILED"
        error = verdict.error.value if verdict.error is not None else None
        retryable = verdict.retryable and not verdict.succeeded
        # The four keys explain has always printed, then the document every command shares (cli/document.py).
        print(
            json.dumps(
                {
                    "outcome": outcome,
                    "error": error,
                    "reason": verdict.reason,
                    "retryable": retryable,
                    **document(
                        status=outcome,
                        error=error,
                        message=verdict.reason,
                        taskArn=task.taskArn or None,
                        failingContainer=verdict.failingContainer,
                        missingFields=missing,
                    ),
                }
            )
        )
    else:
        print(render_explanation(task, essential, verdict))
        if missing:
            print(missing_line(missing))
    return EXIT_OK if verdict.succeeded else EXIT_FAILED


# What a stopped task always carries, and which of it the verdict reads (domain/verdict.judge).
EXPECTED = ("taskArn", "clusterArn", "taskDefinitionArn", "lastStatus", "stopCode", "stoppedReason", "stoppedAt")
VERDICT_NEEDS = ("containers", "stopCode", "stoppedReason")
_TASK_FIELDS = frozenset({*EXPECTED, "containers", "desiredStatus", "startedBy"})


def missing_line(missing: list[str]) -> str:
    needed = [field for field in missing if field.split("[", 1)[0] in VERDICT_NEEDS]
    line = f"missing: {', '.join(missing)}"
    if needed:
        return f"{line} ({', '.join(needed)} would change the verdict: it is judged without)"
    return f"{line} (none of them is needed for the verdict)"


def parse_partial_task(document_: Any, path: str) -> tuple[EcsTask, list[str]]:
    """The task an event or DescribeTasks answer holds, and the fields it lacks (a partial record, as a log
    line or a hand-trimmed event often is): judged all the same, with what is missing named."""
    if isinstance(document_, dict) and isinstance(document_.get("detail"), dict):
        raw = document_["detail"]
    elif isinstance(document_, dict) and isinstance(document_.get("tasks"), list) and len(document_["tasks"]) == 1:
        raw = document_["tasks"][0]
    else:
        raw = document_
    if not isinstance(raw, dict) or not (_TASK_FIELDS & set(raw)):
        return parse_task(document_, path), []
    missing = [field for field in (*EXPECTED, "containers") if raw.get(field) in (None, "")]
    filled = dict(raw)
    filled.setdefault("taskArn", "")
    containers = raw.get("containers") if isinstance(raw.get("containers"), list) else None
    if containers is not None:
        filled["containers"] = []
        for index, container in enumerate(containers):
            if isinstance(container, dict) and not container.get("name"):
                missing.append(f"containers[{index}].name")
                container = {**container, "name": f"(container {index + 1})"}
            filled["containers"].append(container)
    if isinstance(document_, dict) and isinstance(document_.get("detail"), dict):
        return parse_task({**document_, "detail": filled}, path), missing
    return parse_task(filled, path), missing


def parse_success_exit_codes(value: str) -> list[int]:
    codes = []
    for part in value.split(","):
        text = part.strip()
        if not re.fullmatch(r"[0-9]{1,3}", text) or int(text) > 255:
            raise UsageError(f"--success-exit-codes must be comma-separated integers from 0 to 255; got {value!r}")
        codes.append(int(text))
    return codes


def parse_task(document: Any, path: str) -> EcsTask:
    """An `ECS Task State Change` event, a DescribeTasks task, or a DescribeTasks response holding one task."""
    if not isinstance(document, dict):
        raise UsageError(f"{path} is neither an ECS Task State Change event nor a DescribeTasks task")
    try:
        if "detail" in document:
            kind = document.get("detail-type")
            if kind != "ECS Task State Change":
                raise UsageError(f"{path} is not an 'ECS Task State Change' event (its detail-type is {kind!r})")
            task = TaskStateChangeEvent.model_validate(document).detail
        elif "taskArn" in document or _TASK_FIELDS & set(document):
            task = EcsTask.model_validate(document)
        elif isinstance(document.get("tasks"), list):
            tasks = document["tasks"]
            if len(tasks) != 1:
                raise UsageError(f"{path} is a DescribeTasks response with {len(tasks)} tasks; give it exactly one")
            task = EcsTask.model_validate(tasks[0])
        else:
            raise UsageError(f"{path} is neither an ECS Task State Change event nor a DescribeTasks task")
    except ModelError as exc:
        raise UsageError(f"{path} is not a valid ECS task: {exc}") from exc
    status = (task.lastStatus or "").strip()
    if status and status != "STOPPED":
        raise UsageError(f"task {task.task_id} has not stopped (lastStatus {status}); only a stopped task is judged")
    return task


def essential_flags(document: Any, path: str, task: EcsTask) -> dict[str, bool]:
    """Container name -> essential, read by the same code the start function uses."""
    definition = document.get("taskDefinition", document) if isinstance(document, dict) else None
    containers = definition.get("containerDefinitions") if isinstance(definition, dict) else None
    if (
        not isinstance(definition, dict)
        or not isinstance(containers, list)
        or not all(isinstance(c, dict) and isinstance(c.get("name"), str) for c in containers)
    ):
        raise UsageError(
            f"task definition {path} is neither a RegisterTaskDefinition input nor a DescribeTaskDefinition output "
            "(no containerDefinitions with names)"
        )
    region = task.taskArn.split(":")[3] if task.taskArn.count(":") >= 5 else ""
    try:
        specs = container_specs(definition, region)
    except ModelError as exc:
        raise UsageError(f"task definition {path} has an invalid container: {exc}") from exc
    return {spec.name: spec.essential for spec in specs}
