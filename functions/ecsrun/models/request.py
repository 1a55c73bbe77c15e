"""The run request: a RunTask request in ECS's own camelCase names, plus runner fields.

Types are strict, as the ECS API defines them: "60" is not an integer, "yes" is not a boolean.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

RUN_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
MAX_TIMEOUT_SECONDS = 365 * 24 * 3600  # a Standard execution lasts at most a year

NonEmptyStr = Annotated[str, StringConstraints(min_length=1)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class CapacityProviderStrategyItem(_Strict):
    capacityProvider: Annotated[str, StringConstraints(min_length=1, max_length=255)]
    weight: Annotated[int, Field(ge=0, le=1000)] | None = None
    base: Annotated[int, Field(ge=0, le=100000)] | None = None


class AwsVpcConfiguration(_Strict):
    subnets: list[NonEmptyStr]
    securityGroups: list[NonEmptyStr] | None = None
    assignPublicIp: Literal["ENABLED", "DISABLED"] | None = None


class NetworkConfiguration(_Strict):
    awsvpcConfiguration: AwsVpcConfiguration


class KeyValuePair(_Strict):
    name: str
    value: str


class EnvironmentFile(_Strict):
    value: NonEmptyStr
    type: Literal["s3"]


class ResourceRequirement(_Strict):
    value: NonEmptyStr
    type: Literal["GPU", "InferenceAccelerator"]


class ContainerOverride(_Strict):
    name: NonEmptyStr
    command: list[str] | None = None
    environment: list[KeyValuePair] | None = None
    environmentFiles: list[EnvironmentFile] | None = None
    cpu: int | None = None
    memory: int | None = None
    memoryReservation: int | None = None
    resourceRequirements: list[ResourceRequirement] | None = None


class InferenceAcceleratorOverride(_Strict):
    deviceName: str | None = None
    deviceType: str | None = None


class EphemeralStorage(_Strict):
    sizeInGiB: Annotated[int, Field(ge=21, le=200)]


class TaskOverride(_Strict):
    containerOverrides: list[ContainerOverride] | None = None
    cpu: str | None = None
    memory: str | None = None
    inferenceAcceleratorOverrides: list[InferenceAcceleratorOverride] | None = None
    executionRoleArn: str | None = None
    taskRoleArn: str | None = None
    ephemeralStorage: EphemeralStorage | None = None


class PlacementConstraint(_Strict):
    type: Literal["distinctInstance", "memberOf"]
    expression: str | None = None


class PlacementStrategy(_Strict):
    type: Literal["random", "spread", "binpack"]
    field: str | None = None


class Tag(_Strict):
    key: Annotated[str, StringConstraints(min_length=1, max_length=128)]
    value: Annotated[str, StringConstraints(max_length=256)] | None = None


class VolumeConfiguration(_Strict):
    name: NonEmptyStr
    # The EBS configuration is passed to ECS as given; ECS validates its inner fields.
    managedEBSVolume: dict[str, Any] | None = None


class RetryPolicy(_Strict):
    """How often a retryable failure (no capacity, throttling, a transient failed start) is tried again."""

    maxAttempts: Annotated[int, Field(ge=1, le=10)] = 3
    intervalSeconds: Annotated[int, Field(ge=1, le=3600)] = 10
    backoffRate: Annotated[float, Field(ge=1.0, le=10.0)] = 2.0


class RunRequest(_Strict):
    """What a user sends: the same fields they would give `aws ecs run-task`."""

    # RunTask fields
    cluster: NonEmptyStr | None = None
    taskDefinition: NonEmptyStr
    count: int | None = None
    launchType: Literal["EC2", "FARGATE", "EXTERNAL"] | None = None
    capacityProviderStrategy: list[CapacityProviderStrategyItem] | None = None
    networkConfiguration: NetworkConfiguration | None = None
    overrides: TaskOverride | None = None
    platformVersion: NonEmptyStr | None = None
    group: NonEmptyStr | None = None
    placementConstraints: list[PlacementConstraint] | None = None
    placementStrategy: list[PlacementStrategy] | None = None
    propagateTags: Literal["TASK_DEFINITION", "SERVICE", "NONE"] | None = None
    tags: list[Tag] | None = None
    enableExecuteCommand: bool | None = None
    enableECSManagedTags: bool | None = None
    volumeConfigurations: list[VolumeConfiguration] | None = None

    # Runner fields
    runId: Annotated[str, StringConstraints(pattern=RUN_ID_PATTERN)] | None = None
    timeoutSeconds: Annotated[int, Field(ge=1, le=MAX_TIMEOUT_SECONDS)] | None = None
    successExitCodes: Annotated[list[Annotated[int, Field(ge=0, le=255)]], Field(min_length=1)] | None = None
    retry: RetryPolicy | None = None


RUNNER_FIELDS = frozenset({"runId", "timeoutSeconds", "successExitCodes", "retry"})
# RunTask fields ecsrun sets itself; a request that sets them would break idempotency or lookup.
RESERVED_FIELDS = {
    "startedBy": "set by ecsrun to find the run from ECS events; remove it",
    "clientToken": "set by ecsrun to make the start idempotent; remove it",
}


class Problem(BaseModel):
    """One thing wrong with a request, with the field path a person can find."""

    field: str
    message: str


def field_path(loc: tuple[int | str, ...]) -> str:
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path or "(request)"


def _message(error: dict[str, Any]) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        return "unknown field: not a RunTask field nor an ecsrun field"
    if kind == "missing":
        return "required field is missing"
    if kind == "string_pattern_mismatch" and error["loc"] == ("runId",):
        return f"must match {RUN_ID_PATTERN} (1-64 letters, digits, '.', '_', '-'; starting with a letter or digit)"
    return f"{error['msg'].replace('Input should be', 'must be')}; got {_show(error.get('input'))}"


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def validate_request(raw: Any) -> tuple[RunRequest | None, list[Problem]]:
    """Validate a run request completely: every problem at once, none hidden behind another."""
    if not isinstance(raw, dict):
        return None, [Problem(field="(request)", message=f"must be a JSON object; got {type(raw).__name__}")]

    problems: list[Problem] = []
    for name, why in RESERVED_FIELDS.items():
        if name in raw:
            problems.append(Problem(field=name, message=why))
    cleaned = {k: v for k, v in raw.items() if k not in RESERVED_FIELDS}

    request: RunRequest | None = None
    try:
        request = RunRequest.model_validate(cleaned)
    except ValidationError as exc:
        for error in exc.errors(include_url=False):
            problems.append(Problem(field=field_path(error["loc"]), message=_message(dict(error))))

    count = raw.get("count")
    if "count" in raw and type(count) is int and count != 1:
        problems.append(
            Problem(field="count", message=f"ecsrun runs exactly one task per run: count must be 1; got {count}")
        )
    if raw.get("launchType") is not None and raw.get("capacityProviderStrategy") is not None:
        problems.append(
            Problem(
                field="capacityProviderStrategy",
                message="give launchType or capacityProviderStrategy, not both (ECS rejects the pair)",
            )
        )

    problems.sort(key=lambda p: p.field)
    return (request if not problems else None), problems


def default_run_id(execution_name: str) -> str:
    """A valid runId from a Step Functions execution name (which allows more characters)."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]", "-", execution_name)
    cleaned = re.sub(r"^[^A-Za-z0-9]+", "", cleaned)[:64]
    return cleaned or "run"
