"""What counts as a secret in a run request, and keeping it out of text that leaves the run. Pure.

ECS's API model marks a container override's `environment` sensitive: its values may be passwords. They may be
kept in two places only, the execution input and the (encrypted) run record. Everything ecsrun writes about a
run (a Fail state's or a caller's cause, its last log lines, the manifest, the completion event, a problem
report and the log line that carries it) goes through `scrub_document` (or `scrub` for one string) with the
request's `override_values`: a task that echoes its configuration (`set -x`) does not put them there either.
(The copied logs themselves are the task's own output, kept as written.)

Messages never quote a value when anything beneath it is sensitive (ecsrun.domain.apishape): a malformed
override is described by its type, not shown.
"""

from __future__ import annotations

from typing import Any

from ecsrun.domain.array import INDEX_ENV, ITEM_ENV, PARENT_ENV, SIZE_ENV

MASK = "***"
MIN_LENGTH = 1  # an empty value hides nothing and would mask everything
_MAX_WALK = 64  # levels of a request searched for environment values (a request nests far less: jsonbounds)
# An array child's variables are ecsrun's own (its index, item, size, parent), not the caller's secrets.
_ECSRUN_VARIABLES = frozenset({INDEX_ENV, ITEM_ENV, SIZE_ENV, PARENT_ENV})
# Values under these keys are identifiers AWS or ecsrun made (ARNs, S3 keys, names, times, enums): kept as they are.
# The secret is not quoted there, and masking part of one would only break it.
IDENTIFIER_KEYS = frozenset(
    {
        "runId",
        "executionArn",
        "firstExecutionArn",
        "taskArn",
        "clusterArn",
        "taskDefinitionArn",
        "bucket",
        "manifestKey",
        "key",
        "keys",
        "logGroup",
        "logStream",
        "sha256",
        "status",
        "error",
        "launchType",
        "stopCode",
        "createdAt",
        "startedAt",
        "stoppedAt",
        "finishedAt",
        "name",
        "container",
        "failingContainer",
    }
)


def override_values(request: Any) -> list[str]:
    """Every environment value under the request's `overrides`, longest first: those of well-formed container
    overrides, and those of malformed ones too (`containerOverrides` as an object, an override in a list), so
    that a request refused for its shape is still scrubbed of them."""
    values: set[str] = set()
    overrides = request.get("overrides") if isinstance(request, dict) else None
    stack: list[tuple[Any, int]] = [(overrides, 0)]
    while stack:
        item, depth = stack.pop()
        if depth > _MAX_WALK:
            continue
        if isinstance(item, dict):
            for key, child in item.items():
                if key == "environment":
                    values.update(_environment_values(child))
                else:
                    stack.append((child, depth + 1))
        elif isinstance(item, list):
            stack.extend((child, depth + 1) for child in item)
    return sorted(values, key=len, reverse=True)


def _environment_values(environment: Any) -> set[str]:
    """The values of an environment list ([{"name", "value"}]) or of anything shaped otherwise: every string in it
    but the pairs' names (and ecsrun's own array variables)."""
    found: set[str] = set()
    stack: list[tuple[Any, int]] = [(environment, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str) and len(item) >= MIN_LENGTH:
            found.add(item)
        elif isinstance(item, dict) and depth <= _MAX_WALK and item.get("name") not in _ECSRUN_VARIABLES:
            stack.extend((child, depth + 1) for key, child in item.items() if key != "name")
        elif isinstance(item, list) and depth <= _MAX_WALK:
            stack.extend((child, depth + 1) for child in item)
    return found


def scrub(text: str, values: list[str]) -> str:
    """`text` with every occurrence of each value masked."""
    for value in values:
        if value in text:
            text = text.replace(value, MASK)
    return text


def scrub_document(document: Any, values: list[str]) -> Any:
    """A copy of a JSON-ready document with every string in it scrubbed of `values`, but those under
    IDENTIFIER_KEYS; the document itself when there is nothing to scrub."""
    if not values:
        return document
    if isinstance(document, str):
        return scrub(document, values)
    if isinstance(document, dict):
        return {k: v if k in IDENTIFIER_KEYS else scrub_document(v, values) for k, v in document.items()}
    if isinstance(document, list | tuple):
        return [scrub_document(item, values) for item in document]
    return document
