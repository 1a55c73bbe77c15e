"""The images the local stack knows: ECR holds every private ECR image of each task definition the local engine
is given (`ecsrun local run --task-definition`, `register_task_definition`), pushed when it is registered.

The local agent runs a container as a host command and never pulls its image, so a task definition handed to the
local engine is its own build: its images exist. A task definition registered in the local stack's ECS by other
means (an SDK's RegisterTaskDefinition, as a test does) names images that were never pushed, and the preflight
finds them missing, as DescribeImages would in an account.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Callable
from typing import Any

from ecsrun.domain.preflight import ecr_image

_MANIFEST = {
    "schemaVersion": 2,
    "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
    "config": {
        "mediaType": "application/vnd.docker.container.image.v1+json",
        "size": 2,
        "digest": "sha256:" + hashlib.sha256(b"{}").hexdigest(),
    },
    "layers": [],
}


def push(ecr_for_region: Callable[[str], Any], document: dict[str, Any]) -> list[str]:
    """Create each private ECR image's repository (under the image's registry account) and put the image by its
    tag; an image named by digest alone is put untagged with that digest. The images pushed."""
    pushed: list[str] = []
    for container in document.get("containerDefinitions") or []:
        image = container.get("image") if isinstance(container, dict) else None
        ref = ecr_image(image) if isinstance(image, str) else None
        if ref is None:
            continue
        ecr = ecr_for_region(ref.region)
        with contextlib.suppress(ecr.exceptions.RepositoryAlreadyExistsException):
            ecr.create_repository(registryId=ref.registry, repositoryName=ref.repository)
        named = {"imageTag": ref.tag} if ref.tag else {"imageDigest": ref.digest}
        with contextlib.suppress(ecr.exceptions.ImageAlreadyExistsException):
            ecr.put_image(
                registryId=ref.registry,
                repositoryName=ref.repository,
                imageManifest=json.dumps(_MANIFEST),
                **named,
            )
        pushed.append(str(image))
    return pushed
