"""ECS calls, with API errors turned into one domain error that says what ECS said."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from ecsrun.errors import EcsrunError


class RunTaskRefused(EcsrunError):
    """RunTask raised an API error or answered with `failures`; no task is running."""

    def __init__(self, message: str, *, code: str | None = None, failures: list[dict[str, Any]] | None = None):
        super().__init__(message)
        self.code = code
        self.failures = failures or []


def _api_error(action: str, exc: ClientError) -> RunTaskRefused:
    error = exc.response.get("Error", {})
    code = error.get("Code", "Unknown")
    return RunTaskRefused(f"{action} failed: {code}: {error.get('Message', str(exc))}", code=code)


class Ecs:
    def __init__(self, client: Any):
        self._ecs = client

    def describe_task_definition(self, task_definition: str) -> dict[str, Any]:
        try:
            return dict(self._ecs.describe_task_definition(taskDefinition=task_definition)["taskDefinition"])
        except ClientError as exc:
            raise _api_error("DescribeTaskDefinition", exc) from exc

    def run_task(self, args: dict[str, Any]) -> dict[str, Any]:
        """The started task, or RunTaskRefused. RunTask can answer 200 with a non-empty `failures`."""
        try:
            response = self._ecs.run_task(**args)
        except ClientError as exc:
            raise _api_error("RunTask", exc) from exc
        failures = response.get("failures") or []
        tasks = response.get("tasks") or []
        if failures or not tasks:
            text = "; ".join(
                f"{f.get('reason', '?')}" + (f" ({f['detail']})" if f.get("detail") else "") for f in failures
            )
            raise RunTaskRefused(f"RunTask returned failures: {text or 'no task'}", failures=failures)
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
