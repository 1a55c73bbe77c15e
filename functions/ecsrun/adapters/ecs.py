"""ECS calls, with API errors turned into one domain error that says what ECS said."""

from __future__ import annotations

import re
from typing import Any

from botocore.exceptions import ClientError

from ecsrun.domain.errors import EcsrunError, ErrorName

DESCRIBE_TASKS_BATCH = 100  # DescribeTasks takes at most 100 tasks a call


class RunTaskRefused(EcsrunError):
    """RunTask raised an API error or answered with `failures`; no task is running."""

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        failures: list[dict[str, Any]] | None = None,
        error: ErrorName = ErrorName.RUN_TASK_FAILED,
    ):
        super().__init__(message)
        self.code = code
        self.failures = failures or []
        self.error = error

    @property
    def retryable(self) -> bool:
        return self.error != ErrorName.RUN_TASK_FAILED


class RunTaskUnanswered(EcsrunError):
    """RunTask failed on ECS's side (a server error): it may or may not have started a task. Only asking again
    with the same clientToken tells."""


# ECS's server-side errors: the call may have been carried out.
SERVER_ERRORS = frozenset({"ServerException", "InternalFailure", "InternalServerError", "ServiceUnavailable"})

# RunTask `failures` reasons that mean "not now" rather than "never": no room, or no agent, at the moment.
CAPACITY_REASONS = re.compile(r"^(RESOURCE:|AGENT)|capacity is unavailable", re.IGNORECASE)
THROTTLING_CODES = frozenset({"ThrottlingException", "Throttling", "TooManyRequestsException", "RequestLimitExceeded"})


def _server_error(exc: ClientError) -> bool:
    code = exc.response.get("Error", {}).get("Code", "Unknown")
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
    return code in SERVER_ERRORS or status >= 500


def _api_error(action: str, exc: ClientError) -> RunTaskRefused:
    error = exc.response.get("Error", {})
    code = error.get("Code", "Unknown")
    message = f"{action} failed: {code}: {error.get('Message', str(exc))}"
    if code in THROTTLING_CODES:
        return RunTaskRefused(message, code=code, error=ErrorName.THROTTLED)
    if CAPACITY_REASONS.search(error.get("Message", "")):
        return RunTaskRefused(message, code=code, error=ErrorName.CAPACITY_UNAVAILABLE)
    return RunTaskRefused(message, code=code)


class Ecs:
    def __init__(self, client: Any):
        self._ecs = client

    def run_task_input(self) -> Any:
        """RunTask's input shape from the model this client loaded already (a second load costs ~20 ms)."""
        return self._ecs.meta.service_model.operation_model("RunTask").input_shape

    def describe_task_definition(self, task_definition: str) -> dict[str, Any]:
        """The task definition; RunTaskRefused when ECS refuses to describe it. A server error is raised as it
        is: it says nothing about the task definition, and the caller tries again."""
        try:
            return dict(self._ecs.describe_task_definition(taskDefinition=task_definition)["taskDefinition"])
        except ClientError as exc:
            if _server_error(exc):
                raise
            raise _api_error("DescribeTaskDefinition", exc) from exc

    def find_task_definition(self, task_definition: str) -> dict[str, Any] | None:
        """The task definition, or None when ECS does not know it (it answers ClientException for that)."""
        try:
            return dict(self._ecs.describe_task_definition(taskDefinition=task_definition)["taskDefinition"])
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ClientException":
                return None
            raise

    def find_cluster(self, cluster: str) -> dict[str, Any] | None:
        """The cluster (a name or a full ARN, as RunTask would be given it), or None when DescribeClusters reports
        it MISSING."""
        clusters = self._ecs.describe_clusters(clusters=[cluster]).get("clusters", [])
        return dict(clusters[0]) if clusters else None

    def run_task(self, args: dict[str, Any]) -> dict[str, Any]:
        """The started task, or RunTaskRefused. RunTask can answer 200 with a non-empty `failures`."""
        try:
            response = self._ecs.run_task(**args)
        except ClientError as exc:
            if _server_error(exc):
                code = exc.response.get("Error", {}).get("Code", "Unknown")
                raise RunTaskUnanswered(f"RunTask failed: {code}") from exc
            raise _api_error("RunTask", exc) from exc
        failures = response.get("failures") or []
        tasks = response.get("tasks") or []
        if failures or not tasks:
            text = "; ".join(
                f"{f.get('reason', '?')}" + (f" ({f['detail']})" if f.get("detail") else "") for f in failures
            )
            transient = bool(failures) and all(CAPACITY_REASONS.search(f.get("reason", "")) for f in failures)
            error = ErrorName.CAPACITY_UNAVAILABLE if transient else ErrorName.RUN_TASK_FAILED
            raise RunTaskRefused(f"RunTask returned failures: {text or 'no task'}", failures=failures, error=error)
        return dict(tasks[0])

    def stop_task(self, cluster: str | None, task_arn: str, reason: str) -> bool:
        """False if ECS no longer knows the task (it stopped and was forgotten)."""
        try:
            kwargs = {"task": task_arn, "reason": reason[:255]}
            if cluster:
                kwargs["cluster"] = cluster
            self._ecs.stop_task(**kwargs)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("InvalidParameterException", "ClientException"):
                return False
            raise
        return True

    def describe_tasks(self, cluster: str | None, task_arns: list[str]) -> tuple[list[dict[str, Any]], list[str]]:
        """(tasks ECS knows, ARNs ECS reports MISSING), in calls of at most 100 tasks."""
        tasks: list[dict[str, Any]] = []
        missing: list[str] = []
        for start in range(0, len(task_arns), DESCRIBE_TASKS_BATCH):
            kwargs: dict[str, Any] = {"tasks": task_arns[start : start + DESCRIBE_TASKS_BATCH]}
            if cluster:
                kwargs["cluster"] = cluster
            response = self._ecs.describe_tasks(**kwargs)
            tasks.extend(response.get("tasks", []))
            missing.extend(f["arn"] for f in response.get("failures", []) if f.get("reason") == "MISSING")
        return tasks, missing
