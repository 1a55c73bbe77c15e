"""A Lambda invocation the state machine could not make, named as Step Functions names it, where moto does not.

Step Functions reports a Lambda API error of a `lambda:invoke` Task under the AWS SDK for Java's exception class:
`Lambda.<Code>` for the errors Lambda's API models (`Lambda.TooManyRequestsException`, `Lambda.ServiceException`,
...), and `Lambda.AWSLambdaException` for any other, such as the `AccessDeniedException` of a state machine role
without `lambda:InvokeFunction`. Either is a Task failure a Retry or Catch can match; its cause reads
"<message> (Service: AWSLambda; Status Code: 403; Error Code: AccessDeniedException; Request ID: ...; Proxy: null)".

moto names every such error `Lambda.<Code>`, and reads a RequestId the local IAM check's error did not carry: the
run ended `States.Runtime` with KeyError('RequestId'). ecsrun's ASL retries `Lambda.AWSLambdaException` and
catches the rest, so the difference decides the run's end.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from functools import lru_cache
from typing import Any

Patch = Callable[[Any, str, Any], None]
GENERIC = "Lambda.AWSLambdaException"


@lru_cache(maxsize=1)
def modeled_errors() -> frozenset[str]:
    """The error codes Lambda's API model declares (each its own exception class in the SDKs)."""
    from botocore.loaders import create_loader

    shapes = create_loader().load_service_model("lambda", "service-2")["shapes"]
    return frozenset(name for name, shape in shapes.items() if shape.get("exception"))


def error_name(code: str) -> str:
    """The error a `lambda:invoke` Task fails with when Lambda's API answered `code`."""
    return f"Lambda.{code}" if code in modeled_errors() else GENERIC


def error_and_cause(response: dict[str, Any]) -> tuple[str, str]:
    """(error, cause) of a Lambda API error response, as Step Functions reports them."""
    error = response.get("Error") or {}
    meta = response.get("ResponseMetadata") or {}
    code = str(error.get("Code") or "Unknown")
    details = "; ".join(
        [
            "Service: AWSLambda",
            f"Status Code: {meta.get('HTTPStatusCode', 400)}",
            f"Error Code: {code}",
            f"Request ID: {meta.get('RequestId') or uuid.uuid4()}",
            "Proxy: null",
        ]
    )
    return error_name(code), f"{error.get('Message') or ''} ({details})"


def install(patch: Patch) -> None:
    """Name the Lambda Task's API errors as Step Functions does. `patch(owner, name, replacement)` records the
    original for the caller to restore."""
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_lambda import (
        StateTaskServiceLambda,
    )

    patch(
        StateTaskServiceLambda,
        "_error_cause_from_client_error",
        staticmethod(lambda client_error: error_and_cause(client_error.response)),
    )
