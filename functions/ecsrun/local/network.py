"""The network a request names, on the local engine: the subnets and security groups of the user's account.

The local stack has no network of its own (its tasks are host processes, placed in moto's default subnet), and a
request names the account's real subnet and security group ids, which the local stack cannot know. So
DescribeSubnets and DescribeSecurityGroups filtered by id answer an id moto does not hold as the account would if
it existed: in the local stack's default VPC. An id moto does hold (one a test created, in another VPC) is
answered as moto holds it, so subnets and security groups of two VPCs are found as on AWS; a subnet or security
group that does not exist can be told only on AWS.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

Patch = Callable[[Any, str, Any], None]


def _with_account_ids(found: list[Any], wanted: list[str], default: Any) -> list[Any]:
    have = {item.id for item in found}
    adopted = []
    for name in wanted:
        if name not in have and default is not None:
            item = copy.copy(default)
            item.id = name
            if hasattr(item, "group_id"):  # a security group is answered by its group_id
                item.group_id = name
            adopted.append(item)
    return [*found, *adopted]


def install(patch: Patch) -> None:
    from moto.ec2.models.security_groups import SecurityGroupBackend
    from moto.ec2.models.subnets import SubnetBackend

    describe_subnets = SubnetBackend.describe_subnets
    describe_groups = SecurityGroupBackend.describe_security_groups

    def subnets(backend: Any, subnet_ids: Any = None, filters: Any = None) -> Any:
        found = describe_subnets(backend, subnet_ids, filters)
        wanted = list((filters or {}).get("subnet-id") or [])
        if not wanted or subnet_ids:
            return found
        default = next((s for s in describe_subnets(backend) if getattr(s, "default_for_az", False)), None)
        return _with_account_ids(list(found), wanted, default)

    def groups(backend: Any, group_ids: Any = None, groupnames: Any = None, filters: Any = None) -> Any:
        found = describe_groups(backend, group_ids, groupnames, filters)
        wanted = list((filters or {}).get("group-id") or [])
        if not wanted or group_ids or groupnames:
            return found
        vpc = next((s.vpc_id for s in describe_subnets(backend) if getattr(s, "default_for_az", False)), None)
        default = next((g for g in describe_groups(backend) if g.name == "default" and g.vpc_id == vpc), None)
        return _with_account_ids(list(found), wanted, default)

    patch(SubnetBackend, "describe_subnets", subnets)
    patch(SecurityGroupBackend, "describe_security_groups", groups)
