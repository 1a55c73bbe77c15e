"""Logger, Tracer and Metrics, created once and shared by every handler."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from aws_lambda_powertools import Logger, Metrics, Tracer

logger = Logger()
tracer = Tracer()
metrics = Metrics()

Handler = TypeVar("Handler", bound=Callable[..., Any])


def instrumented(handler: Handler) -> Handler:
    """Every handler's Powertools stack: request context in logs, a trace segment, metrics flushed at the end."""
    traced = tracer.capture_lambda_handler(capture_response=False)(metrics.log_metrics(handler))
    return logger.inject_lambda_context(traced)  # type: ignore[return-value]
