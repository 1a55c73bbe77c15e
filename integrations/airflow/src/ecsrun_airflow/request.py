"""The run request: read from what the operator was given, and converted from `EcsRunTaskOperator` arguments. Pure."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

# EcsRunTaskOperator's parameters that are RunTask fields, and the request field each becomes.
_RUNTASK_FIELDS = {
    "task_definition": "taskDefinition",
    "cluster": "cluster",
    "overrides": "overrides",
    "launch_type": "launchType",
    "capacity_provider_strategy": "capacityProviderStrategy",
    "volume_configurations": "volumeConfigurations",
    "group": "group",
    "placement_constraints": "placementConstraints",
    "placement_strategy": "placementStrategy",
    "platform_version": "platformVersion",
    "network_configuration": "networkConfiguration",
    "tags": "tags",
    "propagate_tags": "propagateTags",
}
# EcsRunTaskOperator's parameters that are not request fields, and where each went.
MOVED = {
    "awslogs_group": "the task definition's logConfiguration (awslogs-group): ecsrun tails and copies every "
    "container's awslogs stream",
    "awslogs_region": "the task definition's logConfiguration (awslogs-region)",
    "awslogs_stream_prefix": "the task definition's logConfiguration (awslogs-stream-prefix)",
    "awslogs_fetch_interval": "EcsRunOperator(poll_interval=...): the log tail is read at each poll",
    "container_name": "nothing: every container's log is tailed and copied, labelled by container",
    "reattach": "nothing: EcsRunOperator always re-attaches a try to its previous try's run while that runs",
    "number_logs_exception": "the failure's last lines come from ecsrun's cause (the stack's LOG_TAIL_LINES); "
    "EcsRunOperator(log_lines_at_end=...) prints the copied logs' last lines",
    "quota_retry": "the request's retry (from_ecs_operator_kwargs(retry={...})): ecsrun retries capacity, "
    "throttling and transient start failures itself",
    "wait_for_completion": "nothing: EcsRunOperator always ends when the run has ended",
    "waiter_delay": "EcsRunOperator(poll_interval=...)",
    "waiter_max_attempts": "the request's timeoutSeconds (from_ecs_operator_kwargs(timeout_seconds=...)), which "
    "ecsrun enforces by stopping the task",
    "deferrable": "EcsRunOperator(deferrable=...), True by default",
    "skip_on_exit_code": "the request's successExitCodes (from_ecs_operator_kwargs(success_exit_codes=[...])): "
    "counted as success, ecsrun has no skipped",
    "stop_task_on_failure": "nothing: EcsRunOperator's on_kill stops the run, and ecsrun stops its task",
    "aws_conn_id": "EcsRunOperator(aws_conn_id=...)",
    "region_name": "EcsRunOperator(region_name=...)",
    "verify": "EcsRunOperator(verify=...)",
    "botocore_config": "EcsRunOperator(botocore_config=...)",
    "do_xcom_push": "EcsRunOperator(do_xcom_push=...): the XCom is the run's output",
}
# EcsRunTaskOperator's default launch_type: without capacity_provider_strategy, its RunTask call names EC2.
OPERATOR_LAUNCH_TYPE = "EC2"


class RequestError(ValueError):
    """The request given to the operator cannot be used."""


def from_ecs_operator_kwargs(
    *,
    timeout_seconds: int | None = None,
    success_exit_codes: list[int] | None = None,
    retry: dict[str, Any] | None = None,
    **operator_kwargs: Any,
) -> dict[str, Any]:
    """The ecsrun request for the arguments you give `EcsRunTaskOperator` (its parameter names), plus ecsrun's own
    runner fields. The RunTask call is the one that operator makes: `launch_type` defaults to EC2 and is dropped
    when `capacity_provider_strategy` is given; `tags` (a dict) becomes RunTask's list. Every parameter that is not
    a RunTask field is refused, each with where it went."""
    moved = [name for name in operator_kwargs if name in MOVED]
    unknown = sorted(set(operator_kwargs) - set(MOVED) - set(_RUNTASK_FIELDS))
    problems = [f"{name}: moved to {MOVED[name]}" for name in moved]
    if unknown:
        problems.append(f"not an EcsRunTaskOperator parameter: {', '.join(unknown)}")
    if "task_definition" not in operator_kwargs or "cluster" not in operator_kwargs:
        problems.append("task_definition and cluster are required, as EcsRunTaskOperator requires them")
    if problems:
        raise TypeError("from_ecs_operator_kwargs: " + "; ".join(problems))
    kwargs = {"launch_type": OPERATOR_LAUNCH_TYPE, **operator_kwargs}
    if kwargs.get("capacity_provider_strategy"):
        kwargs.pop("launch_type")  # EcsRunTaskOperator sends one or the other, the strategy first
    request: dict[str, Any] = {}
    for name, value in kwargs.items():
        if value is None or (name == "launch_type" and not value):
            continue
        request[_RUNTASK_FIELDS[name]] = copy.deepcopy(value)
    if request.get("overrides") == {}:  # the operator requires overrides; an empty one overrides nothing
        del request["overrides"]
    if isinstance(request.get("tags"), dict):
        request["tags"] = [{"key": key, "value": value} for key, value in request["tags"].items()]
    if timeout_seconds is not None:
        request["timeoutSeconds"] = timeout_seconds
    if success_exit_codes is not None:
        request["successExitCodes"] = list(success_exit_codes)
    if retry is not None:
        request["retry"] = dict(retry)
    return request


def load_request(value: Any) -> dict[str, Any]:
    """The request as a dict, from what the operator holds once rendered: a dict, JSON text (a `.json` file that
    Airflow read and rendered as a template), or the path of a JSON file Airflow did not read."""
    if isinstance(value, dict):
        request = copy.deepcopy(value)
    elif isinstance(value, str | Path):
        text = str(value)
        if not text.lstrip().startswith(("{", "[")):
            path = Path(text)
            if not path.is_file():
                raise RequestError(f"request: {text} is neither a JSON object nor a readable file")
            text = path.read_text(encoding="utf-8")
        try:
            request = json.loads(text)
        except json.JSONDecodeError as exc:
            raise RequestError(f"request: not JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from exc
    else:
        raise RequestError(f"request: give a dict or the path of a JSON file, not {type(value).__name__}")
    if not isinstance(request, dict):
        raise RequestError(f"request: a JSON object is needed, not {type(request).__name__}")
    if "runId" in request:
        raise RequestError(
            "request: runId is set by EcsRunOperator, one per try (so a retry or a clear can start a new run); "
            "remove it from the request"
        )
    return request


def with_run_id(request: dict[str, Any], run_id: str) -> str:
    """The execution's input: the request under this try's runId, as JSON that is the same text on every call for
    the same request (StartExecution is idempotent only for the same name and input)."""
    return json.dumps({**request, "runId": run_id}, sort_keys=True, separators=(",", ":"))
