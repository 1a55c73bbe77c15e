"""EC2: the VPC of each subnet and security group a run names (DescribeSubnets, DescribeSecurityGroups)."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError


def subnet_vpcs(ec2: Any, subnets: list[str]) -> dict[str, str] | None:
    """{subnet id: VPC id} for those that exist (a filter, so one missing id does not fail the call); None when
    EC2 does not answer."""
    if not subnets:
        return {}
    try:
        found = ec2.describe_subnets(Filters=[{"Name": "subnet-id", "Values": sorted(set(subnets))}])
    except (ClientError, BotoCoreError):
        return None
    return {s["SubnetId"]: s["VpcId"] for s in found.get("Subnets", [])}


def security_group_vpcs(ec2: Any, groups: list[str]) -> dict[str, str] | None:
    """{security group id: VPC id} for those that exist; None when EC2 does not answer."""
    if not groups:
        return {}
    try:
        found = ec2.describe_security_groups(Filters=[{"Name": "group-id", "Values": sorted(set(groups))}])
    except (ClientError, BotoCoreError):
        return None
    return {g["GroupId"]: g.get("VpcId", "") for g in found.get("SecurityGroups", [])}
