"""Step Functions task-token callbacks. A token that is already closed is not an error to retry."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from ecsrun.plumbing.observability import logger

MAX_ERROR = 256
MAX_CAUSE = 32768
# The execution moved on (timed out, aborted, finished): nobody is waiting for this token.
CLOSED_TOKEN_ERRORS = frozenset({"TaskTimedOut", "InvalidToken", "TaskDoesNotExist"})


class Callbacks:
    def __init__(self, sfn: Any):
        self._sfn = sfn

    def succeed(self, token: str, output: dict[str, Any]) -> bool:
        return self._send(self._sfn.send_task_success, taskToken=token, output=json.dumps(output))

    def fail(self, token: str, error: str, cause: str) -> bool:
        return self._send(
            self._sfn.send_task_failure, taskToken=token, error=error[:MAX_ERROR], cause=cause[:MAX_CAUSE]
        )

    @staticmethod
    def _send(call: Any, **kwargs: Any) -> bool:
        """True if delivered; False if the token was already closed."""
        try:
            call(**kwargs)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in CLOSED_TOKEN_ERRORS:
                logger.warning("task token already closed", extra={"code": code})
                return False
            raise
        return True
