"""Step Functions: task-token callbacks (a token that is already closed is not an error to retry), and what the
reconciler and the execution-ended handler ask about an execution."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from ecsrun.domain import limits
from ecsrun.domain.callback import Answer
from ecsrun.plumbing.observability import logger

# The execution moved on (timed out, aborted, finished): nobody is waiting for this token.
CLOSED_TOKEN_ERRORS = frozenset({"TaskTimedOut", "InvalidToken", "TaskDoesNotExist"})
# DescribeExecution's answer for an execution Step Functions does not know (any more).
MISSING = "MISSING"


class Callbacks:
    def __init__(self, sfn: Any):
        self._sfn = sfn

    def succeed(self, token: str, output: dict[str, Any]) -> bool:
        """SendTaskSuccess; the output becomes part of the waiting state's, so it stays within MAX_OUTCOME_BYTES."""
        bounded = limits.fit(output, limits.MAX_OUTCOME_BYTES, limits.utf8_bytes)
        return self._send(self._sfn.send_task_success, taskToken=token, output=json.dumps(bounded))

    def fail(self, token: str, error: str, cause: str) -> bool:
        """SendTaskFailure; error within 256 characters, cause within 32,768 (a JSON cause stays JSON)."""
        return self._send(
            self._sfn.send_task_failure,
            taskToken=token,
            error=limits.bounded_error(error),
            cause=limits.bounded_cause(cause),
        )

    def answer(self, token: str, answer: Answer) -> str | None:
        """Answer a caller's token (an Answer is already within Step Functions' limits). None if delivered, else
        the code that says the token was already closed (answered before, timed out, or its execution ended)."""
        if answer.succeeded:
            return self._closed_code(self._sfn.send_task_success, taskToken=token, output=answer.output)
        return self._closed_code(self._sfn.send_task_failure, taskToken=token, error=answer.error, cause=answer.cause)

    @classmethod
    def _send(cls, call: Any, **kwargs: Any) -> bool:
        """True if delivered; False if the token was already closed."""
        return cls._closed_code(call, **kwargs) is None

    @staticmethod
    def _closed_code(call: Any, **kwargs: Any) -> str | None:
        try:
            call(**kwargs)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in CLOSED_TOKEN_ERRORS:
                logger.warning("task token already closed", extra={"code": code})
                return str(code)
            raise
        return None


class Executions:
    def __init__(self, sfn: Any):
        self._sfn = sfn

    def describe(self, execution_arn: str) -> dict[str, Any] | None:
        """DescribeExecution's answer, or None when Step Functions does not know the execution."""
        try:
            return dict(self._sfn.describe_execution(executionArn=execution_arn))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ExecutionDoesNotExist":
                return None
            raise

    def status(self, execution_arn: str) -> str:
        """RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED, PENDING_REDRIVE, or MISSING."""
        described = self.describe(execution_arn)
        return str(described["status"]) if described else MISSING

    def input(self, execution_arn: str) -> str | None:
        """The execution's input. DescribeExecution's `input` is optional in the API model: None when absent."""
        described = self.describe(execution_arn)
        value = described.get("input") if described else None
        return value if isinstance(value, str) else None
