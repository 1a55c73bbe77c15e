"""Logger, Tracer and Metrics, created once and shared by every handler."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from aws_lambda_powertools import Logger, Metrics, Tracer

logger = Logger()
# Every AWS call goes through botocore, so botocore is all there is to trace. Tracer() alone patches every
# library the X-Ray SDK knows (requests, httplib, sqlite3, ...), importing each: ~70 ms of each cold start.
tracer = Tracer(patch_modules=("botocore",))
metrics = Metrics()

Handler = TypeVar("Handler", bound=Callable[..., Any])


def instrumented(handler: Handler) -> Handler:
    """Every handler's Powertools stack: request context in logs, a trace segment, metrics flushed at the end."""
    traced = tracer.capture_lambda_handler(capture_response=False)(metrics.log_metrics(handler))

    @functools.wraps(handler)
    def invoke(event: Any, context: Any) -> Any:
        try:
            return traced(event, context)
        finally:
            # With POWERTOOLS_METRICS_DISABLED (local runs, tests) log_metrics neither prints nor clears, so a
            # long-lived process would pile values up until Powertools' 100-value overflow prints them anyway.
            metrics.clear_metrics()

    # clear_state: keys a handler appends (runId, executionArn) belong to one invocation, never the next.
    return logger.inject_lambda_context(invoke, clear_state=True)  # type: ignore[return-value]
