"""Logger and Metrics, created once and shared by every handler. Traces: Lambda's active tracing records each
invocation, and ecsrun.plumbing.tracing each AWS call in it (the X-Ray SDK is not imported: see there)."""

from __future__ import annotations

import functools
import gc
import os
from collections.abc import Callable
from typing import Any, TypeVar

from aws_lambda_powertools import Logger, Metrics

from ecsrun.domain import jsonbounds
from ecsrun.domain.errors import Throttled
from ecsrun.plumbing.throttling import as_throttled

logger = Logger()
metrics = Metrics()

Handler = TypeVar("Handler", bound=Callable[..., Any])


def _freeze_what_was_imported() -> None:
    """In Lambda, once a handler's modules are loaded, take every object they made (modules, classes, functions:
    the process keeps them for good) out of the cyclic garbage collector's sight, so that its full collections,
    one of which loading the first client's service model sets off, do not walk them all again: ~30 ms of each
    cold start (gc.freeze; docs/benchmarks.md). Only in Lambda's runtime: a long-lived process that imports
    handlers again and again (the local engine, the tests) keeps collecting as usual."""
    if "AWS_LAMBDA_RUNTIME_API" in os.environ:
        gc.freeze()


def instrumented(handler: Handler) -> Handler:
    """Every handler's Powertools stack: request context in logs, metrics flushed at the end; an event nested too
    deep or with too long an integer refused with one clear error (jsonbounds.JsonBoundsError) before the handler
    reads it, rather than a crash wherever it happens to be walked."""
    return _instrument(handler, check_bounds=True)


def instrumented_step(handler: Handler) -> Handler:
    """`instrumented`, for a state of the state machine: a call still throttled after the SDK's retries fails the
    invocation with `Throttled`, which the state retries with a long backoff (the run waits, never fails)."""
    return _instrument(handler, check_bounds=True, throttled_waits=True)


def instrumented_answering_bounds(handler: Handler) -> Handler:
    """`instrumented_step`, for a handler that answers an out-of-bounds input itself (ValidateRequest: a request
    out of bounds is RunRequest.Invalid, an answer, not an error)."""
    return _instrument(handler, check_bounds=False, throttled_waits=True)


def _instrument(handler: Handler, *, check_bounds: bool, throttled_waits: bool = False) -> Handler:
    traced = metrics.log_metrics(handler)

    @functools.wraps(handler)
    def invoke(event: Any, context: Any) -> Any:
        if check_bounds:
            jsonbounds.check(event)
        try:
            return traced(event, context)
        except Throttled:
            raise
        except Exception as exc:
            # A throttled call, whichever the step made: the state machine waits and tries the step again.
            throttled = as_throttled(exc, getattr(handler, "__module__", "handler")) if throttled_waits else None
            if throttled is not None:
                raise throttled from exc
            raise
        finally:
            # With POWERTOOLS_METRICS_DISABLED (local runs, tests) log_metrics neither prints nor clears, so a
            # long-lived process would pile values up until Powertools' 100-value overflow prints them anyway.
            metrics.clear_metrics()

    _freeze_what_was_imported()
    # clear_state: keys a handler appends (runId, executionArn) belong to one invocation, never the next.
    return logger.inject_lambda_context(invoke, clear_state=True)  # type: ignore[return-value]
