"""The few AWS calls the operator and its trigger make to an ecsrun stack, behind one small class.

Self-contained on purpose: the operator runs on Airflow workers and triggerers, where the ecsrun package (its
handlers, moto, pydantic) has no business. The shapes read here are ecsrun's documented ones: the stack's outputs
(template.yaml), the execution's output and cause (docs/outcomes.md), the run record's task and containers (what
`ecsrun start --follow` reads), the logs manifest (docs/logs.md).
"""

from __future__ import annotations

import gzip
import io
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

# The stack outputs the operator needs (template.yaml's Outputs).
STATE_MACHINE_OUTPUT = "StateMachineArn"
LOGS_BUCKET_OUTPUT = "LogsBucketName"
RUNS_TABLE_OUTPUT = "RunsTableName"
# The error StopExecution is given: what ecsrun's record and manifest name an aborted run (docs/outcomes.md).
ABORTED = "Run.Aborted"
MAX_STOP_CAUSE = 32768  # Step Functions: an execution's cause

ClientFactory = Callable[[str, "str | None"], Any]


class StackError(Exception):
    """The stack cannot be used: it does not exist, or it is not an ecsrun stack."""


@dataclass(frozen=True)
class Stack:
    """The ecsrun stack's resources, from its outputs."""

    name: str
    state_machine_arn: str
    logs_bucket: str | None
    runs_table: str | None


@dataclass(frozen=True)
class Stream:
    """One container's awslogs stream: `<awslogs-stream-prefix>/<container>/<task id>`."""

    container: str
    group: str
    name: str
    region: str | None


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


class EcsrunApi:
    """Calls to one ecsrun stack's state machine, run records, task log streams and logs bucket.

    `client(service, region)` makes a boto3 client (the operator's comes from the Amazon provider's hook, so an
    Airflow connection's credentials, region and endpoint apply); clients are made once and kept."""

    def __init__(self, client: ClientFactory):
        self._factory = client
        self._clients: dict[tuple[str, str | None], Any] = {}

    def client(self, service: str, region: str | None = None) -> Any:
        key = (service, region)
        if key not in self._clients:
            self._clients[key] = self._factory(service, region)
        return self._clients[key]

    # ---- the stack ----

    def stack(self, name: str) -> Stack:
        """The stack's state machine, logs bucket and runs table, from its outputs (as `ecsrun --stack-name`)."""
        try:
            stacks = self.client("cloudformation").describe_stacks(StackName=name)["Stacks"]
        except ClientError as exc:
            raise StackError(f"stack {name}: {exc.response.get('Error', {}).get('Message', exc)}") from exc
        outputs = {o["OutputKey"]: str(o["OutputValue"]) for o in (stacks[0].get("Outputs") or [])} if stacks else {}
        if STATE_MACHINE_OUTPUT not in outputs:
            raise StackError(f"stack {name} has no output {STATE_MACHINE_OUTPUT}: is it an ecsrun stack?")
        return Stack(
            name, outputs[STATE_MACHINE_OUTPUT], outputs.get(LOGS_BUCKET_OUTPUT), outputs.get(RUNS_TABLE_OUTPUT)
        )

    # ---- executions ----

    def describe(self, execution_arn: str) -> dict[str, Any] | None:
        """DescribeExecution, or None if there is no such execution."""
        try:
            return dict(self.client("stepfunctions").describe_execution(executionArn=execution_arn))
        except ClientError as exc:
            if error_code(exc) == "ExecutionDoesNotExist":
                return None
            raise

    def start(self, state_machine_arn: str, name: str, execution_input: str) -> str:
        """StartExecution; the same name and input while that execution runs returns it (Standard workflows)."""
        answer = self.client("stepfunctions").start_execution(
            stateMachineArn=state_machine_arn, name=name, input=execution_input
        )
        return str(answer["executionArn"])

    def stop(self, execution_arn: str, cause: str) -> bool:
        """StopExecution as `ecsrun stop` does: ecsrun then stops the task and still copies its logs. False if the
        execution had already ended."""
        try:
            self.client("stepfunctions").stop_execution(
                executionArn=execution_arn, error=ABORTED, cause=cause[:MAX_STOP_CAUSE]
            )
        except ClientError as exc:
            if error_code(exc) in ("ExecutionDoesNotExist", "ExecutionNotRunning"):
                return False
            raise
        return True

    # ---- the run record: which task runs, and where its containers log ----

    def record(self, table: str, run_id: str) -> dict[str, Any] | None:
        """The run record's executionArn, status, taskArn and containers (GetItem, strongly consistent)."""
        item = (
            self.client("dynamodb")
            .get_item(
                TableName=table,
                Key={"runId": {"S": run_id}},
                ConsistentRead=True,
                ProjectionExpression="#e, #s, #t, #c, #a",
                ExpressionAttributeNames={
                    "#e": "executionArn",
                    "#s": "status",
                    "#t": "taskArn",
                    "#c": "containers",
                    "#a": "attempt",
                },
            )
            .get("Item")
        )
        if not item:
            return None
        containers = json.loads(item["containers"]["S"]) if "S" in item.get("containers", {}) else []
        return {
            "executionArn": item.get("executionArn", {}).get("S"),
            "status": item.get("status", {}).get("S"),
            "taskArn": item.get("taskArn", {}).get("S"),
            "attempt": int(item.get("attempt", {}).get("N", "1")),
            "containers": containers if isinstance(containers, list) else [],
        }

    def log_page(self, stream: Stream, token: str | None) -> tuple[list[dict[str, Any]], str | None]:
        """One GetLogEvents page from `token` (the head first); ([], None) while the stream does not exist."""
        kwargs: dict[str, Any] = {"logGroupName": stream.group, "logStreamName": stream.name, "startFromHead": True}
        if token:
            kwargs["nextToken"] = token
        try:
            page = self.client("logs", stream.region).get_log_events(**kwargs)
        except ClientError as exc:
            if error_code(exc) == "ResourceNotFoundException":
                return [], token  # the container has not started yet (or never will)
            raise
        return list(page.get("events") or []), page.get("nextForwardToken")

    # ---- the logs ecsrun copied to S3 ----

    def manifest(self, bucket: str, key: str) -> dict[str, Any]:
        body = self.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
        return dict(json.loads(body))

    def log_lines(self, bucket: str, key: str) -> Iterator[str]:
        """A copied log's lines (gzip), decompressed as they are read."""
        body = self.client("s3").get_object(Bucket=bucket, Key=key)["Body"]
        with gzip.GzipFile(fileobj=body) as unzipped:
            for line in io.TextIOWrapper(unzipped, encoding="utf-8", newline="\n"):
                yield line.rstrip("\n")


def streams_of(record: dict[str, Any]) -> tuple[list[Stream], list[str]]:
    """The awslogs streams of the record's task, and the containers that have none to tail."""
    task_id = str(record.get("taskArn") or "").rsplit("/", 1)[-1]
    streams, without = [], []
    for container in record.get("containers") or []:
        log = container.get("log") or {}
        if not (task_id and log.get("group") and log.get("stream_prefix")):
            without.append(str(container.get("name")))
            continue
        name = f"{log['stream_prefix']}/{container['name']}/{task_id}"
        streams.append(Stream(str(container["name"]), str(log["group"]), name, log.get("region")))
    return streams, without
