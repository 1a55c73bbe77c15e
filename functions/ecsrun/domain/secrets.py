"""What counts as a secret in a run request, and keeping it out of text that leaves the run. Pure.

ECS's API model marks a container override's `environment` sensitive: its values may be passwords. They may be
kept in two places only, the execution input and the (encrypted) run record; every message, cause, log line,
event and S3 object ecsrun writes is scrubbed of them.
"""

from __future__ import annotations

from typing import Any

MASK = "***"
MIN_LENGTH = 1  # an empty value hides nothing and would mask everything


def override_values(request: Any) -> list[str]:
    """Every container environment override value of a RunTask request, longest first."""
    values: set[str] = set()
    overrides = request.get("overrides") if isinstance(request, dict) else None
    containers = overrides.get("containerOverrides") if isinstance(overrides, dict) else None
    for container in containers if isinstance(containers, list) else []:
        environment = container.get("environment") if isinstance(container, dict) else None
        for pair in environment if isinstance(environment, list) else []:
            value = pair.get("value") if isinstance(pair, dict) else None
            if isinstance(value, str) and len(value) >= MIN_LENGTH:
                values.add(value)
    return sorted(values, key=len, reverse=True)


def scrub(text: str, values: list[str]) -> str:
    """`text` with every occurrence of each value masked."""
    for value in values:
        if value in text:
            text = text.replace(value, MASK)
    return text
