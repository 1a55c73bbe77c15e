"""IAM: what a role's policies allow, simulated (SimulatePrincipalPolicy), for the preflight."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError


class RoleMissing(Exception):
    """The role to simulate does not exist."""


def simulate(iam: Any, role_arn: str, pairs: list[tuple[str, str]]) -> dict[tuple[str, str], str] | None:
    """{(action, resource): EvalDecision} for each pair, one call per resource (the simulation crosses every
    action with every resource given); None when IAM does not answer (access denied, throttled). RoleMissing
    when the role does not exist."""
    by_resource: dict[str, list[str]] = {}
    for action, resource in pairs:
        by_resource.setdefault(resource, [])
        if action not in by_resource[resource]:
            by_resource[resource].append(action)
    decisions: dict[tuple[str, str], str] = {}
    try:
        for resource, actions in by_resource.items():
            marker: str | None = None
            while True:
                answer = iam.simulate_principal_policy(
                    PolicySourceArn=role_arn,
                    ActionNames=actions,
                    ResourceArns=[resource],
                    **({"Marker": marker} if marker else {}),
                )
                for result in answer.get("EvaluationResults", []):
                    decisions[(result["EvalActionName"], result.get("EvalResourceName") or resource)] = result[
                        "EvalDecision"
                    ]
                marker = answer.get("Marker") if answer.get("IsTruncated") else None
                if not marker:
                    break
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "NoSuchEntity":
            raise RoleMissing(role_arn) from exc
        return None
    except BotoCoreError:
        return None
    return decisions
