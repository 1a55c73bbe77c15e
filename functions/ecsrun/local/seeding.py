"""What a task needs in the account before it can start, put in the local stack: `--s3-object` (an
`environmentFiles` object) and `--secret` (a container secret's value). The local stack starts empty; a real
task definition names objects and secrets that live in the user's account.

A secret is kept under the exact name or ARN the task definition's `valueFrom` uses: a Secrets Manager ARN with
its 6-character suffix (`...:secret:prod/db-AbCdEf`, as the console shows and exports it) is the secret's ARN
locally too, and anything else is an SSM parameter (a name, or a parameter ARN), as ECS reads `valueFrom`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["Seed", "SeedError", "parse_s3_object", "parse_secret", "plant"]

# A Secrets Manager secret's full ARN ends in "-" and six characters Secrets Manager chose ("the secret name
# followed by a hyphen and six random characters", Secrets Manager's user guide on ARNs).
_SECRET_ARN = re.compile(r"arn:(aws[a-z-]*):secretsmanager:([a-z0-9-]+):(\d{12}):secret:(.+)")
_SUFFIX = re.compile(r"(.+)-([A-Za-z0-9]{6})")
_SSM_ARN = re.compile(r"arn:aws[a-z-]*:ssm:[a-z0-9-]+:\d{12}:parameter(/.+)")
_S3_URL = re.compile(r"s3://([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])/(.+)")


class SeedError(ValueError):
    """A --s3-object or --secret that cannot be put in the local stack (the message is one line)."""


@dataclass(frozen=True)
class Seed:
    """One object or secret to put in the local stack before anything runs."""

    kind: str  # "s3", "secretsmanager" or "ssm"
    target: str  # s3://bucket/key, the secret's full ARN, or the parameter's name
    body: bytes = b""  # the object's bytes
    value: str = ""  # the secret's or parameter's value (never printed)

    @property
    def bucket(self) -> str:
        return self.target.removeprefix("s3://").split("/", 1)[0]

    @property
    def key(self) -> str:
        return self.target.removeprefix("s3://").split("/", 1)[1]


def parse_s3_object(item: str) -> Seed:
    """`s3://bucket/key=FILE`: the object's body is FILE's bytes. The last `=` separates them (keys often carry
    one: `dt=2026-12-05/app.env`)."""
    where, sep, path = item.rpartition("=")
    if not sep or not where or not path:
        raise SeedError(f"--s3-object {item}: give s3://BUCKET/KEY=FILE")
    if not _S3_URL.fullmatch(where):
        raise SeedError(f"--s3-object {item}: {where} is not s3://BUCKET/KEY")
    try:
        body = Path(path).read_bytes()
    except OSError as exc:
        raise SeedError(f"--s3-object {where}: cannot read {path}: {exc.strerror}") from exc
    return Seed("s3", where, body=body)


def parse_secret(item: str) -> Seed:
    """`NAME_OR_ARN=VALUE`: a Secrets Manager secret when it is one's full ARN, else an SSM parameter. The
    first `=` separates them (names and ARNs have none; values may). The value is never quoted back."""
    ref, sep, value = item.partition("=")
    if not sep or not ref:
        raise SeedError(f"--secret {ref or item[:40]}: give NAME_OR_ARN=VALUE")
    found = _SECRET_ARN.fullmatch(ref)
    if found:
        name = found.group(4)
        if ":" in name:
            raise SeedError(
                f"--secret {ref}: give the secret's ARN without a JSON key, version stage or version id "
                "(the task definition's valueFrom may add them; the value is then the secret's whole JSON)"
            )
        if not _SUFFIX.fullmatch(name):
            raise SeedError(
                f"--secret {ref}: a Secrets Manager ARN ends in the 6 characters Secrets Manager adds to the name "
                "(...:secret:NAME-AbCdEf, as the console shows it)"
            )
        return Seed("secretsmanager", ref, value=value)
    if ref.startswith("arn:") and not _SSM_ARN.fullmatch(ref):
        raise SeedError(f"--secret {ref}: not a Secrets Manager secret's ARN nor an SSM parameter's")
    return Seed("ssm", ref, value=value)


def secret_name(arn: str) -> str:
    """The secret's name: its full ARN's last part without the 6-character suffix."""
    found = _SECRET_ARN.fullmatch(arn)
    assert found is not None
    suffixed = _SUFFIX.fullmatch(found.group(4))
    assert suffixed is not None
    return suffixed.group(1)


def parameter_name(ref: str) -> str:
    """The parameter's name, given its name or ARN."""
    found = _SSM_ARN.fullmatch(ref)
    return found.group(1) if found else ref


def plant(aws: Any, seeds: list[Seed]) -> None:
    """Put each object, secret and parameter in the local stack (`aws` a LocalAws): buckets are created as
    needed; a secret gets exactly the ARN given, so a task definition's `valueFrom` finds it."""
    for seed in seeds:
        if seed.kind == "s3":
            s3 = aws.client("s3")
            existing = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
            if seed.bucket not in existing:
                s3.create_bucket(Bucket=seed.bucket)
            s3.put_object(Bucket=seed.bucket, Key=seed.key, Body=seed.body)
        elif seed.kind == "ssm":
            aws.client("ssm").put_parameter(
                Name=parameter_name(seed.target), Value=seed.value, Type="SecureString", Overwrite=True
            )
        else:
            _put_secret(aws, seed)


def _put_secret(aws: Any, seed: Seed) -> None:
    from moto.secretsmanager.models import secretsmanager_backends

    from ecsrun.local.runtime import ACCOUNT, REGION

    name = secret_name(seed.target)
    client = aws.client("secretsmanager")
    try:
        client.put_secret_value(SecretId=name, SecretString=seed.value)
    except client.exceptions.ResourceNotFoundException:
        client.create_secret(Name=name, SecretString=seed.value)
    # Secrets Manager picks the suffix; the task definition names the one the user's account has. The secret is
    # found by that ARN (and by its name) from then on.
    secretsmanager_backends[ACCOUNT][REGION].secrets[name].arn = seed.target
