"""A stopped task's verdict: what `judge` decided, as the run record and the outcome keep it."""

from __future__ import annotations

from ecsrun.domain.errors import ErrorName
from ecsrun.domain.models.base import Model


class Verdict(Model):
    succeeded: bool
    error: ErrorName | None = None
    reason: str
    failingContainer: str | None = None
    retryable: bool = False

    @classmethod
    def failed(cls, error: ErrorName, reason: str, container: str | None = None, *, retryable: bool = False) -> Verdict:
        return cls(succeeded=False, error=error, reason=reason, failingContainer=container, retryable=retryable)
