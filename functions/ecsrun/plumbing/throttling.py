"""A throttled AWS call makes a run wait, never fail: whatever a handler's call was throttled by (after the SDK's
own retries), the invocation fails with one error name, `Throttled`, that every state's `Retry` retries with a
long backoff. A Standard execution waiting between attempts costs nothing."""

from __future__ import annotations

from botocore.exceptions import ClientError

from ecsrun.domain.errors import Throttled

# The codes AWS services answer a call over a rate quota with (ECS, Step Functions, CloudWatch Logs,
# EventBridge: ThrottlingException; DynamoDB: ProvisionedThroughputExceededException, ThrottlingException,
# RequestLimitExceeded; S3: SlowDown; Lambda: TooManyRequestsException).
THROTTLING_CODES = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "ThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "ProvisionedThroughputExceededException",
        "SlowDown",
    }
)


def throttling_code(exc: BaseException | None) -> str | None:
    """The throttling code of this exception or of one it was raised from, else None. A domain error that says
    what the service answered carries it as `code` (RunTaskRefused)."""
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, Throttled):
            return exc.code
        code = exc.response.get("Error", {}).get("Code") if isinstance(exc, ClientError) else getattr(exc, "code", None)
        if isinstance(code, str) and code in THROTTLING_CODES:
            return code
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return None


def as_throttled(exc: BaseException, what: str) -> Throttled | None:
    """A Throttled error for this exception when it (or its cause) is a throttled call; None otherwise. The
    message names the code only: an SDK message may quote a parameter."""
    code = throttling_code(exc)
    return None if code is None else Throttled(f"{what}: throttled ({code}); the state machine retries", code=code)
