"""boto3 clients through the Amazon provider's hook, so an Airflow AWS connection (`aws_conn_id`: credentials, role,
region, endpoint) applies exactly as it does for the provider's own operators."""

from __future__ import annotations

from typing import Any

from ecsrun_airflow.client import EcsrunApi


def api_for(
    aws_conn_id: str | None,
    region_name: str | None = None,
    verify: bool | str | None = None,
    botocore_config: dict[str, Any] | None = None,
) -> EcsrunApi:
    """An EcsrunApi whose clients come from `AwsGenericHook`; a client for another region (a log group's) uses the
    same connection."""
    from airflow.providers.amazon.aws.hooks.base_aws import AwsGenericHook
    from botocore.config import Config

    config = Config(**botocore_config) if botocore_config else None

    def client(service: str, region: str | None) -> Any:
        hook: AwsGenericHook[Any] = AwsGenericHook(
            aws_conn_id=aws_conn_id,
            region_name=region or region_name,
            verify=verify,
            client_type=service,
            config=config,
        )
        return hook.conn

    return EcsrunApi(client)
