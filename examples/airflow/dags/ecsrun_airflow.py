"""ecsrun from Airflow, the parts that need no Airflow: the request an `EcsRunTaskOperator` call becomes, the run's
deterministic name, reading the run's end, and the IAM the Airflow role needs.

Kept next to the DAG (Airflow puts the dags folder on sys.path) and importable anywhere: ecsrun's tests import it
without Airflow installed. See docs/airflow.md.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

RUN_ID_MAX = 64  # ecsrun's runId: ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$
EXECUTION_NAME_MAX = 80  # Step Functions; only 0-9 A-Z a-z - _ keep its CloudWatch logging and metrics working
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")
_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")

# EcsRunTaskOperator parameters and the request field each becomes (docs/airflow.md has the whole table).
_RENAMED = {
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
    "propagate_tags": "propagateTags",
}
# What the operator takes that has no request field, and where it went.
_ELSEWHERE = {
    "awslogs_group": "the task definition's logConfiguration (awslogs-group); ecsrun copies every awslogs stream",
    "awslogs_region": "the task definition's logConfiguration (awslogs-region)",
    "awslogs_stream_prefix": "the task definition's logConfiguration (awslogs-stream-prefix)",
    "awslogs_fetch_interval": "nothing: ecsrun copies the logs to S3 once the task stops",
    "container_name": "nothing: ecsrun reads every container's stream from the task definition",
    "reattach": "the runId and the execution name, deterministic per Airflow run (run_id_for)",
    "number_logs_exception": "nothing: a failed run's cause carries the last lines (LOG_TAIL_LINES, 20)",
    "quota_retry": "the request's retry policy (retry=...), applied by ecsrun to capacity and throttling",
    "wait_for_completion": "the operator's deferrable wait (StepFunctionStartExecutionOperator)",
    "waiter_delay": "StepFunctionStartExecutionOperator's waiter_delay",
    "waiter_max_attempts": "StepFunctionStartExecutionOperator's waiter_max_attempts",
    "deferrable": "StepFunctionStartExecutionOperator's deferrable=True",
    "skip_on_exit_code": "nothing: ecsrun has successExitCodes (success_exit_codes=...), not skipping",
    "stop_task_on_failure": "nothing: ecsrun stops the task when its run ends or is aborted",
}


def request_from_ecs_operator(
    *,
    timeout_seconds: int | None = None,
    success_exit_codes: list[int] | None = None,
    retry: dict[str, Any] | None = None,
    tags: dict[str, str] | None = None,
    **operator_args: Any,
) -> dict[str, Any]:
    """The ecsrun request for what you would give `EcsRunTaskOperator` (its parameter names), plus ecsrun's own
    runner fields. A parameter ecsrun handles elsewhere is refused with where it went."""
    moved = sorted(set(operator_args) & set(_ELSEWHERE))
    if moved:
        raise TypeError("; ".join(f"{name}: {_ELSEWHERE[name]}" for name in moved))
    unknown = sorted(set(operator_args) - set(_RENAMED))
    if unknown:
        raise TypeError(f"not an EcsRunTaskOperator parameter ecsrun knows: {', '.join(unknown)}")
    if "task_definition" not in operator_args:
        raise TypeError("task_definition is required")
    request = {_RENAMED[name]: value for name, value in operator_args.items() if value is not None}
    if request.get("overrides") == {}:  # the operator requires overrides; an empty one overrides nothing
        del request["overrides"]
    if "capacityProviderStrategy" in request:  # the operator drops launch_type then, and so does ECS's rule
        request.pop("launchType", None)
    if tags:
        request["tags"] = [{"key": key, "value": value} for key, value in tags.items()]
    if timeout_seconds is not None:
        request["timeoutSeconds"] = timeout_seconds
    if success_exit_codes is not None:
        request["successExitCodes"] = list(success_exit_codes)
    if retry is not None:
        request["retry"] = dict(retry)
    return request


def run_id_for(dag_id: str, task_id: str, run_id: str, map_index: int = -1) -> str:
    """One name per Airflow task of a DAG run (and map index), never per try: the runId, and the execution name.

    A retry of the same task computes the same name, so StartExecution with the same input returns the execution
    already running (Standard workflows are idempotent on name and input while it runs), and ecsrun ends a second
    execution with this runId as Run.Duplicate: never a second task. Readable where it fits, unique by a hash."""
    digest = hashlib.sha256(f"{dag_id}\n{task_id}\n{run_id}\n{map_index}".encode()).hexdigest()[:12]
    date = _DATE.search(run_id)
    parts = [_slug(dag_id)[:20], _slug(task_id)[:16], "".join(date.groups()) if date else "", digest]
    name = "-".join(p for p in parts if p).lstrip("-_")
    return name[:RUN_ID_MAX]


def execution_input(
    request: dict[str, Any],
    dag_id: str,
    task_id: str,
    run_id: str,
    map_index: int = -1,
    *,
    container: str | None = None,
    environment: dict[str, str] | None = None,
) -> str:
    """The execution's input: the request under its deterministic runId, as JSON that is the same on every try
    (sorted keys, no whitespace), because StartExecution is idempotent only for the same name *and* input.

    `environment` (for `container`) adds variables to its container override: values of the DAG run (the logical
    date), never of the try."""
    document = {**request, "runId": run_id_for(dag_id, task_id, run_id, map_index)}
    if environment:
        if not container:
            raise TypeError("environment needs the container it is for")
        overrides = json.loads(json.dumps(document.get("overrides") or {}))
        entries = overrides.setdefault("containerOverrides", [])
        entry = next((e for e in entries if e.get("name") == container), None)
        if entry is None:
            entry = {"name": container}
            entries.append(entry)
        named = {e["name"]: e for e in entry.get("environment", [])}
        named.update({k: {"name": k, "value": str(v)} for k, v in environment.items()})
        entry["environment"] = [named[k] for k in sorted(named)]
        document["overrides"] = overrides
    return json.dumps(document, sort_keys=True, separators=(",", ":"))


def execution_arn(state_machine_arn: str, name: str) -> str:
    """The ARN an execution of `state_machine_arn` named `name` has."""
    prefix, sep, machine = state_machine_arn.partition(":stateMachine:")
    if not sep or not machine:
        raise ValueError(f"not a state machine ARN: {state_machine_arn}")
    return f"{prefix}:execution:{machine}:{name}"


@dataclass
class Outcome:
    """A run's end, read from DescribeExecution."""

    status: str  # RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED
    name: str | None = None  # the execution's name: ecsrun's runId for runs started this way
    error: str | None = None
    message: str | None = None
    output: dict[str, Any] | None = None
    cause: dict[str, Any] | None = None
    log_container: str | None = None
    last_log_lines: list[str] = field(default_factory=list)

    @property
    def succeeded(self) -> bool:
        return self.status == "SUCCEEDED"

    def failure(self) -> str:
        """One line for the Airflow task's failure: ecsrun's error name and reason."""
        return f"{self.error or self.status}: {self.message or 'the run did not succeed'}"

    def report(self) -> list[str]:
        """What the Airflow task prints: the verdict, the task's exit codes, the last log lines, where the logs are."""
        document = self.output if self.succeeded else self.cause
        run_id = (document or {}).get("runId") or self.name or "?"
        lines = [f"ecsrun run {run_id}: {self.status}"]
        if self.status == "RUNNING":
            lines.append("  not ended yet: the wait for it ended first (see the start task's log)")
        elif not self.succeeded:
            lines.append(f"  {self.failure()}")
        task = (document or {}).get("task") or {}
        for container in task.get("containers", []):
            lines.append(f"  container {container.get('name')}: exit code {container.get('exitCode')}")
        if self.last_log_lines:
            lines.append(f"  last log lines of {self.log_container}:")
            lines += [f"    {line}" for line in self.last_log_lines]
        logs = (document or {}).get("logs") or {}
        if logs.get("bucket") and logs.get("manifestKey"):
            lines.append(f"  logs: s3://{logs['bucket']}/{logs['manifestKey'].rsplit('/', 1)[0]}/")
        return lines


def read_outcome(described: dict[str, Any]) -> Outcome:
    """The run's end from DescribeExecution: the output on success; ecsrun's error name, message and last log lines
    (its cause is JSON) on failure. A cause that is not JSON (a Step Functions runtime error) is kept as text."""
    status = str(described.get("status"))
    name = described.get("name")
    if status == "SUCCEEDED":
        output = json.loads(described.get("output") or "{}")
        return Outcome(status=status, name=name, output=output)
    if status == "RUNNING":
        return Outcome(status=status, name=name)
    text = described.get("cause") or ""
    try:
        cause = json.loads(text)
    except json.JSONDecodeError:
        cause = None
    if not isinstance(cause, dict):
        return Outcome(status=status, name=name, error=described.get("error"), message=text[:1000] or None)
    tail = cause.get("lastLogLines") or {}
    return Outcome(
        status=status,
        name=name,
        error=described.get("error") or cause.get("error"),
        message=cause.get("message"),
        cause=cause,
        log_container=tail.get("container"),
        last_log_lines=list(tail.get("lines") or []),
    )


def airflow_policy(state_machine_arn: str) -> dict[str, Any]:
    """The Airflow role's IAM for the example DAG, and nothing more: start ecsrun's executions (the operator) and
    describe them (the deferrable trigger, and the task that reports the result)."""
    executions = execution_arn(state_machine_arn, "*")
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "StartEcsrunRuns",
                "Effect": "Allow",
                "Action": "states:StartExecution",
                "Resource": state_machine_arn,
            },
            {
                "Sid": "FollowEcsrunRuns",
                "Effect": "Allow",
                "Action": "states:DescribeExecution",
                "Resource": executions,
            },
        ],
    }


def _slug(text: str) -> str:
    return _UNSAFE.sub("-", text).strip("-_")
