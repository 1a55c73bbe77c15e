"""ECR: whether an image exists (DescribeImages), for the preflight."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

# DescribeImages' answers that mean the image is not there.
NOT_FOUND = frozenset({"RepositoryNotFoundException", "ImageNotFoundException"})


def image_exists(ecr: Any, registry: str, repository: str, tag: str | None, digest: str | None) -> bool | None:
    """True when the repository holds the tag (or digest); False when it or the repository does not exist; None
    when ECR does not say (access denied, throttled): not known."""
    image_id = {"imageDigest": digest} if digest else {"imageTag": tag or "latest"}
    try:
        found = ecr.describe_images(registryId=registry, repositoryName=repository, imageIds=[image_id])
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in NOT_FOUND:
            return False
        return None
    except BotoCoreError:
        return None
    return bool(found.get("imageDetails"))
