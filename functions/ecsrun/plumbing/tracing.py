"""One X-Ray subsegment per AWS call, sent to the X-Ray daemon Lambda runs beside the function.

With `Tracing: Active`, Lambda records each invocation (its initialization, invocation and overhead) and
passes the trace on: botocore itself adds the `X-Amzn-Trace-Id` header to every call a function makes in
Lambda, so the services it calls join the trace. What Lambda does not record is the calls themselves: which
AWS call an invocation waited on, and which one failed or was throttled. That is all the X-Ray SDK added here,
through Powertools' Tracer, at ~20 ms of every cold start (the SDK's recorder builds its own botocore clients
for its sampling rules when imported, though Lambda decides sampling); so this module records just that, with
botocore's own events and the standard library.

Each call becomes an independent subsegment of the invocation's segment (the `Parent` of `_X_AMZN_TRACE_ID`,
which Lambda sets for every invocation), named after the service as the SDK names it (the endpoint prefix:
`dynamodb`, `ecs`, `s3`, `logs`, `states`, `events`; aws_xray_sdk/ext/botocore/patch.py), in the `aws`
namespace, with the operation, Region, request id, retry count, HTTP status, the error/throttle/fault flags
as the SDK sets them from the status, and the error code of a refused call as the exception's type. Nothing
is sent when the invocation is not sampled (`Sampled=0`), when there is no trace header (outside Lambda), or
when POWERTOOLS_TRACE_DISABLED is true (the local engine and tests). The daemon protocol is one UDP datagram
per document, `{"format": "json", "version": 1}` and a newline before the JSON
(https://docs.aws.amazon.com/xray/latest/devguide/xray-api-sendingdata.html). Sending never raises: a trace
is not worth failing a run for.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import time
from typing import Any

HEADER = b'{"format": "json", "version": 1}\n'
DEFAULT_DAEMON = "127.0.0.1:2000"
_START = "ecsrun_trace_started"


def _enabled() -> bool:
    return os.environ.get("POWERTOOLS_TRACE_DISABLED", "").lower() not in ("1", "true")


def trace_header() -> dict[str, str] | None:
    """Root, Parent and Sampled of this invocation's trace, when Lambda gave one and sampled it."""
    fields = dict(part.split("=", 1) for part in os.environ.get("_X_AMZN_TRACE_ID", "").split(";") if "=" in part)
    if not fields.get("Root") or not fields.get("Parent") or fields.get("Sampled") != "1":
        return None
    return fields


class Emitter:
    """Sends documents to the daemon (AWS_XRAY_DAEMON_ADDRESS, host:port) over UDP."""

    def __init__(self) -> None:
        self._socket: socket.socket | None = None

    def send(self, document: dict[str, Any]) -> None:
        host, _, port = os.environ.get("AWS_XRAY_DAEMON_ADDRESS", DEFAULT_DAEMON).rpartition(":")
        try:
            if self._socket is None:
                self._socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self._socket.sendto(HEADER + json.dumps(document).encode(), (host, int(port)))
        except (OSError, ValueError):
            pass  # a lost trace, never a failed call


emitter = Emitter()


def trace_calls(client: Any) -> Any:
    """Record every call `client` makes as a subsegment of the current invocation; returns the client."""
    if _enabled():
        events = client.meta.events
        events.register("before-call.*.*", _started)
        events.register("after-call.*.*", _finished)
        events.register("after-call-error.*.*", _failed)
    return client


def _started(model: Any, context: dict[str, Any], **_: Any) -> None:
    context[_START] = (time.time(), model)


def _finished(http_response: Any, parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
    metadata = parsed.get("ResponseMetadata", {}) if isinstance(parsed, dict) else {}
    status = getattr(http_response, "status_code", None) or metadata.get("HTTPStatusCode")
    code = parsed.get("Error", {}).get("Code") if isinstance(parsed, dict) and status and status >= 400 else None
    _record(context, status=status, metadata=metadata, error_code=code)


def _failed(exception: BaseException, context: dict[str, Any], **_: Any) -> None:
    _record(context, status=None, metadata={}, exception=exception)


def _record(
    context: dict[str, Any],
    *,
    status: int | None,
    metadata: dict[str, Any],
    exception: BaseException | None = None,
    error_code: str | None = None,
) -> None:
    started, model = context.pop(_START, (None, None))
    header = trace_header()
    if started is None or header is None:
        return
    service, operation = model.service_model.endpoint_prefix, model.name
    document: dict[str, Any] = {
        "name": service,
        "id": secrets.token_hex(8),
        "trace_id": header["Root"],
        "parent_id": header["Parent"],
        "type": "subsegment",
        "namespace": "aws",
        "start_time": started,
        "end_time": time.time(),
        "aws": {
            "operation": operation,
            "region": context.get("client_region") or os.environ.get("AWS_REGION", ""),
            "request_id": metadata.get("RequestId"),
            "retries": metadata.get("RetryAttempts", 0),
        },
    }
    if status is not None:
        document["http"] = {"response": {"status": status}}
        document["throttle"] = status == 429
        document["error"] = 400 <= status < 500
        document["fault"] = status >= 500
    if error_code:  # a refused call (the SDK records the ClientError, remote: the service's answer)
        document["cause"] = {"exceptions": [{"id": secrets.token_hex(8), "type": error_code, "remote": True}]}
    if exception is not None:  # no answer at all (connection, timeout): a fault, as the SDK records it
        document["fault"] = True
        document["cause"] = {"exceptions": [{"id": secrets.token_hex(8), "type": type(exception).__name__}]}
    emitter.send(document)
