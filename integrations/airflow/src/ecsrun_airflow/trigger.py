"""The deferrable wait: runs in the triggerer, holds no worker slot, and needs nothing beyond the Amazon provider's
default install. Its AWS calls are boto3's, each run in a thread (`asyncio.to_thread`) so the triggerer's event
loop never blocks; aiobotocore (the provider's optional extra) is not used.

It fires once, when the execution has ended, and tails the task's log lines into the task log meanwhile. A
throttled or unavailable call is tried again at the next poll; it never ends the wait while the run goes on.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent
from botocore.exceptions import BotoCoreError, ClientError

from ecsrun_airflow.client import EcsrunApi, error_code
from ecsrun_airflow.connection import api_for
from ecsrun_airflow.logs import LogTail

# Errors that say "ask again later", not "this cannot work".
TRANSIENT = {
    "ThrottlingException",
    "Throttling",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "ServiceUnavailable",
    "ServiceUnavailableException",
    "InternalServerError",
    "InternalFailure",
    "RequestTimeout",
}


class EcsRunTrigger(BaseTrigger):
    """Waits for an ecsrun execution to end; the event carries its ARN and status (the worker reads the rest)."""

    def __init__(
        self,
        *,
        execution_arn: str,
        run_id: str,
        runs_table: str | None = None,
        poll_interval: float = 15.0,
        tail_logs: bool = True,
        aws_conn_id: str | None = "aws_default",
        region_name: str | None = None,
        verify: bool | str | None = None,
        botocore_config: dict[str, Any] | None = None,
    ):
        super().__init__()
        self.execution_arn = execution_arn
        self.run_id = run_id
        self.runs_table = runs_table
        self.poll_interval = poll_interval
        self.tail_logs = tail_logs
        self.aws_conn_id = aws_conn_id
        self.region_name = region_name
        self.verify = verify
        self.botocore_config = botocore_config

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "execution_arn": self.execution_arn,
                "run_id": self.run_id,
                "runs_table": self.runs_table,
                "poll_interval": self.poll_interval,
                "tail_logs": self.tail_logs,
                "aws_conn_id": self.aws_conn_id,
                "region_name": self.region_name,
                "verify": self.verify,
                "botocore_config": self.botocore_config,
            },
        )

    def _api(self) -> EcsrunApi:
        return api_for(self.aws_conn_id, self.region_name, self.verify, self.botocore_config)

    async def run(self) -> AsyncIterator[TriggerEvent]:
        api = await asyncio.to_thread(self._api)  # the hook reads the connection: a blocking call
        table = self.runs_table if self.tail_logs else None
        tail = LogTail(api, table, self.run_id, self.execution_arn, self.log.info, self.log.warning)
        while True:
            try:
                described = await asyncio.to_thread(api.describe, self.execution_arn)
            except ClientError as exc:
                if error_code(exc) not in TRANSIENT:
                    yield TriggerEvent({"status": "error", "executionArn": self.execution_arn, "message": str(exc)})
                    return
                self.log.warning("DescribeExecution: %s; asking again in %ss", error_code(exc), self.poll_interval)
                described = {"status": "RUNNING"}
            except BotoCoreError as exc:  # the endpoint did not answer: a network blip, not the run's end
                self.log.warning("DescribeExecution: %s; asking again in %ss", exc, self.poll_interval)
                described = {"status": "RUNNING"}
            if described is None:
                message = f"execution {self.execution_arn} does not exist"
                yield TriggerEvent({"status": "error", "executionArn": self.execution_arn, "message": message})
                return
            ended = described["status"] != "RUNNING"
            await asyncio.to_thread(tail.poll, final=ended)
            if ended:
                yield TriggerEvent({"status": described["status"], "executionArn": self.execution_arn})
                return
            await asyncio.sleep(self.poll_interval)

    async def on_kill(self) -> None:
        """The user failed, cleared or marked the deferred task: stop the run (ecsrun stops its task)."""
        api = await asyncio.to_thread(self._api)
        cause = f"the Airflow task waiting on run {self.run_id} was killed"
        if await asyncio.to_thread(api.stop, self.execution_arn, cause):
            self.log.info("stopped ecsrun run %s (%s)", self.run_id, self.execution_arn)
