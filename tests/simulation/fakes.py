"""Fakes of the AWS services ecsrun calls, keeping the rules that matter to run integrity.

They answer as boto3 clients do (same method and field names, `ClientError` with the service's error codes) and
live on the simulation's virtual clock (`World.now`). DynamoDB is not faked: the simulation uses moto's table,
which evaluates the real condition expressions.

ECS (botocore model `ecs/2014-11-13` and /work/notes/aws-facts.md §4):
- RunTask's `clientToken` is idempotent per cluster: the same token with the same parameters returns the original
  task and launches nothing; with different parameters it fails with ConflictException.
- ListTasks: "When you specify startedBy as the filter, it must be the only filter that you use" (desiredStatus,
  family, launchType, serviceName, containerInstance are filters; cluster is not). Default desiredStatus RUNNING.
- DescribeTasks reports an unknown task (another cluster's, or one stopped over an hour ago) as a `MISSING` failure.
- StopTask on an unknown task: InvalidParameterException "The referenced task was not found"; on a stopped task it
  answers the task.
Step Functions (§6): SendTask* on a closed token answers TaskTimedOut, on an unknown one InvalidToken.
CloudWatch Logs: GetLogEvents returns the token it was given at the end of a stream.
"""

from __future__ import annotations

import contextlib
import functools
import gzip
import io
import json
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

if TYPE_CHECKING:
    from tests.simulation.world import World

REGION = "us-east-1"
ACCOUNT = "123456789012"
FORGET_AFTER = 3600  # ECS keeps stopped tasks for at least an hour; the simulation forgets them then


def client_error(code: str, message: str, operation: str, status: int = 400) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}}, operation
    )


def _dt(moment: float | None) -> datetime | None:
    return None if moment is None else datetime.fromtimestamp(moment, tz=UTC)


def _iso(moment: float | None) -> str | None:
    value = _dt(moment)
    return None if value is None else value.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Paginator:
    def __init__(self, call: Callable[..., dict[str, Any]], token_in: str, token_out: str):
        self._call, self._in, self._out = call, token_in, token_out

    def paginate(self, **kwargs: Any) -> Iterator[dict[str, Any]]:
        while True:
            page = self._call(**kwargs)
            yield page
            if not page.get(self._out):
                return
            kwargs = {**kwargs, self._in: page[self._out]}


# ---------------------------------------------------------------------------------------------------------------- ECS


@dataclass
class TaskPlan:
    """How a task behaves once placed: its fate, and how long it runs before meeting it."""

    fate: str  # exit0 | exit1 | oom | failstart | spot | forever
    seconds: float = 5.0
    lines: int = 3


@dataclass
class FakeTask:
    arn: str
    cluster_arn: str
    task_definition_arn: str
    started_by: str
    client_token: str | None
    overrides: dict[str, Any]
    plan: TaskPlan
    foreign: bool
    created_at: float
    group: str = "family:sim-app"
    last_status: str = "PROVISIONING"
    desired_status: str = "RUNNING"
    started_at: float | None = None
    stopping_at: float | None = None
    execution_stopped_at: float | None = None
    stopped_at: float | None = None
    stop_code: str | None = None
    stopped_reason: str | None = None
    exit_code: int | None = None
    container_reason: str | None = None
    version: int = 1
    lines_written: int = 0
    lines_by_container: dict[str, int] = field(default_factory=dict)
    exits: dict[str, int | None] = field(default_factory=dict)  # sidecars' exit codes (the app's is exit_code)
    names: tuple[str, ...] = ("app",)
    stopped_by_ecsrun: bool = False
    attempt: int | None = None  # which of the run's attempts its clientToken belongs to (None: not the run's)

    @property
    def task_id(self) -> str:
        return self.arn.rsplit("/", 1)[-1]

    def describe(self) -> dict[str, Any]:
        """DescribeTasks' shape (datetimes as boto3 gives them)."""
        containers = []
        for name in self.names:
            container: dict[str, Any] = {
                "containerArn": f"arn:aws:ecs:{REGION}:{ACCOUNT}:container/{self.task_id}/{name}",
                "taskArn": self.arn,
                "name": name,
                "lastStatus": self.last_status if self.last_status != "PROVISIONING" else "PENDING",
            }
            code = self.exit_code if name == "app" else self.exits.get(name)
            if name != "app" and name in self.exits and self.last_status != "STOPPED":
                container["lastStatus"] = "STOPPED"  # a sidecar that exited early
            if code is not None:
                container["exitCode"] = code
            if name == "app" and self.container_reason:
                container["reason"] = self.container_reason
            containers.append(container)
        task: dict[str, Any] = {
            "taskArn": self.arn,
            "clusterArn": self.cluster_arn,
            "taskDefinitionArn": self.task_definition_arn,
            "lastStatus": self.last_status,
            "desiredStatus": self.desired_status,
            "launchType": "FARGATE",
            "startedBy": self.started_by,
            "group": self.group,
            "version": self.version,
            "overrides": self.overrides,
            "containers": [] if self.plan.fate == "failstart" and self.last_status == "STOPPED" else containers,
            "createdAt": _dt(self.created_at),
        }
        for key, moment in (
            ("startedAt", self.started_at),
            ("stoppingAt", self.stopping_at),
            ("executionStoppedAt", self.execution_stopped_at),
            ("stoppedAt", self.stopped_at),
        ):
            if moment is not None:
                task[key] = _dt(moment)
        if self.stop_code:
            task["stopCode"] = self.stop_code
        if self.stopped_reason:
            task["stoppedReason"] = self.stopped_reason
        return task

    def event_detail(self) -> dict[str, Any]:
        """The `ECS Task State Change` detail: DescribeTasks' fields, times as ISO strings."""
        detail = self.describe()
        for key in ("createdAt", "startedAt", "stoppingAt", "executionStoppedAt", "stoppedAt"):
            if key in detail:
                detail[key] = _iso(detail[key].timestamp())
        return detail


@functools.cache
def _meta(service: str) -> Any:
    """A client's `meta` as far as ecsrun reads it: the service's botocore model (request shapes)."""
    import botocore.session

    return types.SimpleNamespace(service_model=botocore.session.get_session().get_service_model(service))


class FakeEcs:
    CLUSTERS = ("default", "other")
    LOG_GROUP = "/ecs/sim"

    def __init__(self, world: World):
        self.world = world
        self.meta = _meta("ecs")
        self.tasks: dict[str, FakeTask] = {}
        self.tokens: dict[tuple[str, str], tuple[str, str]] = {}  # (cluster, clientToken) -> (parameters, taskArn)
        self.throttled: set[tuple[str, str | None]] = set()  # (cluster, clientToken) RunTask throttled once
        self._serial = 0
        self.definition = {
            "taskDefinitionArn": f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/sim-app:1",
            "family": "sim-app",
            "revision": 1,
            "status": "ACTIVE",
            "networkMode": "awsvpc",
            "requiresCompatibilities": ["FARGATE"],
            "compatibilities": ["EC2", "FARGATE"],
            "cpu": "256",
            "memory": "512",
            "containerDefinitions": [
                {
                    "name": name,
                    "image": "public.ecr.aws/docker/library/busybox:latest",
                    "essential": name == "app",
                    "logConfiguration": {
                        "logDriver": "awslogs",
                        "options": {
                            "awslogs-group": self.LOG_GROUP,
                            "awslogs-region": REGION,
                            "awslogs-stream-prefix": "ecs",
                        },
                    },
                }
                for name in world.widen.containers
            ],
        }

    @staticmethod
    def cluster_arn(name: str) -> str:
        return f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/{name}"

    def _cluster(self, value: str | None, operation: str) -> str:
        name = (value or "default").rsplit("/", 1)[-1]
        if name not in self.CLUSTERS:
            raise client_error("ClusterNotFoundException", "Cluster not found.", operation)
        return name

    # ---- the API ----

    def describe_task_definition(self, taskDefinition: str, **_: Any) -> dict[str, Any]:
        family = taskDefinition.rsplit("/", 1)[-1].split(":")[0]
        if family != "sim-app":
            raise client_error("ClientException", "Unable to describe task definition.", "DescribeTaskDefinition")
        return {"taskDefinition": json.loads(json.dumps(self.definition))}

    def describe_clusters(self, clusters: list[str], **_: Any) -> dict[str, Any]:
        found, failures = [], []
        for value in clusters:
            name = value.rsplit("/", 1)[-1]
            if name in self.CLUSTERS:
                found.append(
                    {
                        "clusterArn": self.cluster_arn(name),
                        "clusterName": name,
                        "status": "ACTIVE",
                        "capacityProviders": ["FARGATE", "FARGATE_SPOT"],
                        "registeredContainerInstancesCount": 1,
                    }
                )
            else:
                failures.append({"arn": value, "reason": "MISSING"})
        return {"clusters": found, "failures": failures}

    def run_task(self, **args: Any) -> dict[str, Any]:
        cluster = self._cluster(args.get("cluster"), "RunTask")
        if args.get("count", 1) != 1:
            raise client_error("InvalidParameterException", "ecsrun starts one task a call", "RunTask")
        self.describe_task_definition(args["taskDefinition"])
        token = args.get("clientToken")
        parameters = json.dumps({k: v for k, v in args.items() if k != "clientToken"}, sort_keys=True)
        if token is not None and (cluster, token) in self.tokens:
            first_parameters, arn = self.tokens[(cluster, token)]
            if first_parameters != parameters:
                raise client_error(
                    "ConflictException",
                    "The provided clientToken is already in use with a different RunTask request.",
                    "RunTask",
                )
            return {"tasks": [self.tasks[arn].describe()], "failures": []}
        attempt = self.world.attempt_of_token(token)
        refusal = self.world.runtask_refusal(attempt)
        if refusal == "throttle" and (cluster, token) not in self.throttled:
            # Throttling is transient: a later call with the token is processed (and, as this one started
            # nothing, starts the task). A capacity shortage lasts: every call with the token is refused.
            self.throttled.add((cluster, token))
            raise client_error("ThrottlingException", "Rate exceeded", "RunTask")
        if refusal == "capacity":
            return {"tasks": [], "failures": [{"arn": self.cluster_arn(cluster), "reason": "RESOURCE:MEMORY"}]}
        task = self._create(cluster, args, token, self.world.task_plan(attempt), foreign=False, attempt=attempt)
        if token is not None:
            self.tokens[(cluster, token)] = (parameters, task.arn)
        return {"tasks": [task.describe()], "failures": []}

    def stop_task(self, task: str, cluster: str | None = None, reason: str = "", **_: Any) -> dict[str, Any]:
        name = self._cluster(cluster, "StopTask")
        found = self.tasks.get(task)
        if found is None or found.cluster_arn != self.cluster_arn(name) or self._forgotten(found):
            raise client_error("InvalidParameterException", "The referenced task was not found.", "StopTask")
        if found.last_status != "STOPPED" and found.desired_status != "STOPPED":
            found.desired_status = "STOPPED"
            found.stopping_at = self.world.now
            found.stopped_by_ecsrun = True
            found.stopped_reason = reason or "Task stopped by user"
            self.world.add_timer(
                self.world.now + self.world.stop_delay(),
                f"task {found.task_id} stops (StopTask)",
                lambda: self._stop(found, "UserInitiated", 143, None, reason or "Task stopped by user"),
            )
        return {"task": found.describe()}

    def describe_tasks(self, tasks: list[str], cluster: str | None = None, **_: Any) -> dict[str, Any]:
        name = self._cluster(cluster, "DescribeTasks")
        if len(tasks) > 100:
            raise client_error("InvalidParameterException", "At most 100 tasks a call.", "DescribeTasks")
        found, failures = [], []
        for arn in tasks:
            task = self.tasks.get(arn)
            fresh = task is not None and self.world.now - task.created_at < self.world.plan.describe_lag
            if task is None or task.cluster_arn != self.cluster_arn(name) or self._forgotten(task) or fresh:
                failures.append({"arn": arn, "reason": "MISSING"})
            else:
                found.append(task.describe())
        return {"tasks": found, "failures": failures}

    def list_tasks(self, cluster: str | None = None, **filters: Any) -> dict[str, Any]:
        name = self._cluster(cluster, "ListTasks")
        others = {
            k for k in ("family", "serviceName", "desiredStatus", "launchType", "containerInstance") if k in filters
        }
        if filters.get("startedBy") and others:
            raise client_error(
                "InvalidParameterException", "cannot specify startedBy with other arguments", "ListTasks"
            )
        wanted = filters.get("desiredStatus", "RUNNING")
        arns = [
            t.arn
            for t in self.tasks.values()
            if t.cluster_arn == self.cluster_arn(name)
            and not self._forgotten(t)
            and (t.desired_status == wanted)
            and (not filters.get("startedBy") or t.started_by == filters["startedBy"])
        ]
        return {"taskArns": arns}

    def get_paginator(self, operation: str) -> Paginator:
        if operation != "list_tasks":
            raise NotImplementedError(operation)
        return Paginator(self.list_tasks, "nextToken", "nextToken")

    # ---- the tasks' lives ----

    def _forgotten(self, task: FakeTask) -> bool:
        return task.stopped_at is not None and self.world.now - task.stopped_at > FORGET_AFTER

    def _create(
        self,
        cluster: str,
        args: dict[str, Any],
        token: str | None,
        plan: TaskPlan,
        *,
        foreign: bool,
        attempt: int | None,
    ) -> FakeTask:
        self._serial += 1
        task_id = f"{self._serial:04d}{'f' if foreign else 'a'}{self.world.seed % 100000:05d}".ljust(32, "0")
        task = FakeTask(
            arn=f"arn:aws:ecs:{REGION}:{ACCOUNT}:task/{cluster}/{task_id}",
            cluster_arn=self.cluster_arn(cluster),
            task_definition_arn=self.definition["taskDefinitionArn"],
            started_by=args.get("startedBy") or "",
            client_token=token,
            overrides=args.get("overrides") or {},
            plan=plan,
            foreign=foreign,
            created_at=self.world.now,
            attempt=attempt,
            names=("app",) if foreign else self.world.widen.containers,
        )
        self.tasks[task.arn] = task
        self.world.add_timer(self.world.now + 1, f"task {task_id} leaves PROVISIONING", lambda: self._place(task))
        return task

    def start_foreign(self, cluster: str, started_by: str, exit_code: int) -> FakeTask:
        """Someone else in the account runs a task with this run's startedBy (anyone with ecs:RunTask can)."""
        plan = TaskPlan("exit0" if exit_code == 0 else "exit1", seconds=2, lines=1)
        return self._create(cluster, {"startedBy": started_by}, None, plan, foreign=True, attempt=None)

    def _write(self, task: FakeTask, text: str, delay: float = 0.0, container: str = "app") -> None:
        """A line the container wrote now; CloudWatch Logs has it `delay` seconds later (the awslogs driver's
        final flush when the container stops)."""
        stream = f"ecs/{container}/{task.task_id}"
        if container == "app":
            task.lines_written += 1
        task.lines_by_container[container] = task.lines_by_container.get(container, 0) + 1
        written = int(self.world.now * 1000) + sum(task.lines_by_container.values())  # distinct, in order
        self.world.logs.append(self.LOG_GROUP, stream, written, text, int((self.world.now + delay) * 1000))

    def _place(self, task: FakeTask) -> None:
        if task.last_status != "PROVISIONING":
            return
        if task.desired_status == "STOPPED":  # stopped while provisioning: nothing ran
            self._stop(task, "UserInitiated", None, None, task.stopped_reason or "Task stopped by user")
            return
        if task.plan.fate == "failstart":
            self._stop(
                task,
                "TaskFailedToStart",
                None,
                None,
                "CannotPullContainerError: pull image manifest has been retried 5 time(s): i/o timeout",
            )
            return
        task.last_status, task.started_at, task.version = "RUNNING", self.world.now, task.version + 1
        widen = self.world.widen
        if widen.prints_secret and not task.foreign:  # `set -x`: the shell echoes the environment it was given
            widen.exercised.add("task prints the request's secret")
            self._write(task, f"+ export API_TOKEN={self.world.canary}")
        for i in range(1, task.plan.lines + 1):
            self._write(task, f"app line {i}")
        # The widening's sidecars (the load's containers have no fates drawn: each writes the same lines)
        sidecars = [name for name in task.names[1:] if name in widen.sidecar_fates]
        if sidecars:
            widen.exercised.add("task with sidecars")
        for name in sidecars:
            self._write(task, f"{name} up", container=name)
            fate = widen.sidecar_fates[name]
            if fate.startswith("exits"):
                self.world.add_timer(
                    self.world.now + 0.5,
                    f"~task {task.task_id} {name} exits",
                    lambda n=name, c=int(fate[6]): self._sidecar_exits(task, n, c),
                )
        if widen.prints_secret and not task.foreign and task.plan.fate == "exit1":
            self._write(task, f"fatal: the server refused API_TOKEN={self.world.canary}")
        if task.plan.fate == "forever":
            return
        outcomes = {
            "exit0": ("EssentialContainerExited", 0, None, "Essential container in task exited"),
            "exit1": ("EssentialContainerExited", 1, None, "Essential container in task exited"),
            "oom": (
                "EssentialContainerExited",
                137,
                "OutOfMemoryError: Container killed due to memory usage",
                "Essential container in task exited",
            ),
            "spot": ("SpotInterruption", None, None, "Your Spot Task was interrupted."),
        }
        code, exit_code, reason, why = outcomes[task.plan.fate]
        self.world.add_timer(
            self.world.now + task.plan.seconds,
            f"task {task.task_id} ends ({task.plan.fate})",
            lambda: self._stop(task, code, exit_code, reason, why),
        )

    def _sidecar_exits(self, task: FakeTask, name: str, code: int) -> None:
        if task.last_status == "RUNNING" and name not in task.exits:  # a non-essential container: the task goes on
            self._write(task, f"{name} exits {code}", container=name)
            task.exits[name] = code

    def _stop(self, task: FakeTask, code: str, exit_code: int | None, reason: str | None, why: str) -> None:
        if task.last_status == "STOPPED":
            return
        if task.started_at is not None:
            # The container's last words travel in the driver's final flush (none: a quiet end).
            flush = self.world.final_flush()
            if flush is not None:
                self._write(task, "app got SIGTERM" if code == "UserInitiated" else "app exits", flush)
            for name in task.names[1:]:  # ECS stops the containers still running (SIGTERM)
                if name not in task.exits:
                    fate = self.world.widen.sidecar_fates.get(name)  # None: a load's container, it exits with 0
                    task.exits[name] = 143 if fate == "stopped-143" and code != "SpotInterruption" else 0
                    if flush is not None and fate is not None:
                        self._write(task, f"{name} stops", flush, container=name)
            task.execution_stopped_at = self.world.now
        task.last_status, task.desired_status = "STOPPED", "STOPPED"
        task.stop_code, task.stopped_reason = code, task.stopped_reason if code == "UserInitiated" else why
        task.exit_code, task.container_reason = exit_code, reason
        task.stopping_at = task.stopping_at or self.world.now
        task.stopped_at = self.world.now
        task.version += 1
        self.world.emit(
            {
                "version": "0",
                "id": f"ecs-{task.task_id}-{task.version}",
                "detail-type": "ECS Task State Change",
                "source": "aws.ecs",
                "account": ACCOUNT,
                "time": _iso(self.world.now),
                "region": REGION,
                "resources": [task.arn],
                "detail": task.event_detail(),
            }
        )

    def running(self) -> list[FakeTask]:
        return [t for t in self.tasks.values() if t.last_status != "STOPPED"]


# -------------------------------------------------------------------------------------------------- CloudWatch Logs


class FakeLogs:
    """GetLogEvents over streams whose events become readable at their ingestionTime."""

    PAGE = 2  # small pages, so copies page and can pause between pages

    def __init__(self, now: Callable[[], float]) -> None:
        self.streams: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self._now = now

    def append(self, group: str, stream: str, timestamp_ms: int, message: str, ingestion_ms: int) -> None:
        self.streams.setdefault((group, stream), []).append(
            {"timestamp": timestamp_ms, "message": message, "ingestionTime": ingestion_ms}
        )

    def get_log_events(
        self, logGroupName: str, logStreamName: str, nextToken: str | None = None, **_: Any
    ) -> dict[str, Any]:
        events = self.streams.get((logGroupName, logStreamName))
        if events is None:
            raise client_error("ResourceNotFoundException", "The specified log stream does not exist.", "GetLogEvents")
        now_ms = self._now() * 1000
        events = [e for e in events if e["ingestionTime"] <= now_ms]
        start = int(nextToken.split("/")[1]) if nextToken else 0
        page = events[start : start + self.PAGE]
        end = start + len(page)
        return {
            "events": [dict(e) for e in page],
            "nextForwardToken": f"f/{end:08d}",
            "nextBackwardToken": f"b/{start:08d}",
        }


# --------------------------------------------------------------------------------------------------------------- S3


class _Body(io.BytesIO):
    pass


class FakeS3:
    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}
        self.uploads: dict[str, dict[int, bytes]] = {}
        self._uploads = 0

    @staticmethod
    def _bytes(body: Any) -> bytes:
        if isinstance(body, (bytes, bytearray)):
            return bytes(body)
        if isinstance(body, str):
            return body.encode()
        return bytes(body.read())

    def put_object(self, Bucket: str, Key: str, Body: Any = b"", **_: Any) -> dict[str, Any]:
        self.objects[Key] = self._bytes(Body)
        return {"ETag": f'"{len(self.objects[Key])}"'}

    def get_object(self, Bucket: str, Key: str, **_: Any) -> dict[str, Any]:
        if Key not in self.objects:
            raise client_error("NoSuchKey", "The specified key does not exist.", "GetObject", 404)
        return {"Body": _Body(self.objects[Key]), "ContentLength": len(self.objects[Key])}

    def create_multipart_upload(self, Bucket: str, Key: str, **_: Any) -> dict[str, Any]:
        self._uploads += 1
        upload = f"upload-{self._uploads}"
        self.uploads[upload] = {}
        return {"UploadId": upload, "Bucket": Bucket, "Key": Key}

    def upload_part(self, Bucket: str, Key: str, UploadId: str, PartNumber: int, Body: Any, **_: Any) -> dict[str, Any]:
        if UploadId not in self.uploads:
            raise client_error("NoSuchUpload", "The specified upload does not exist.", "UploadPart", 404)
        self.uploads[UploadId][PartNumber] = self._bytes(Body)
        return {"ETag": f'"{UploadId}-{PartNumber}"'}

    def complete_multipart_upload(
        self, Bucket: str, Key: str, UploadId: str, MultipartUpload: dict[str, Any], **_: Any
    ) -> dict[str, Any]:
        parts = self.uploads.pop(UploadId, None)
        if parts is None:
            raise client_error("NoSuchUpload", "The specified upload does not exist.", "CompleteMultipartUpload", 404)
        self.objects[Key] = b"".join(parts[p["PartNumber"]] for p in MultipartUpload["Parts"])
        return {"Key": Key}

    def abort_multipart_upload(self, Bucket: str, Key: str, UploadId: str, **_: Any) -> dict[str, Any]:
        self.uploads.pop(UploadId, None)
        return {}

    def list_objects_v2(self, Bucket: str, Prefix: str = "", **_: Any) -> dict[str, Any]:
        keys = sorted(k for k in self.objects if k.startswith(Prefix))
        return {"Contents": [{"Key": k, "Size": len(self.objects[k])} for k in keys], "KeyCount": len(keys)}

    def delete_objects(self, Bucket: str, Delete: dict[str, Any], **_: Any) -> dict[str, Any]:
        for item in Delete["Objects"]:
            self.objects.pop(item["Key"], None)
        return {"Deleted": [{"Key": i["Key"]} for i in Delete["Objects"]]}

    def get_paginator(self, operation: str) -> Paginator:
        if operation != "list_objects_v2":
            raise NotImplementedError(operation)
        return Paginator(self.list_objects_v2, "ContinuationToken", "NextContinuationToken")

    def texts(self) -> dict[str, str]:
        """Every object as text (gzip bodies decompressed), for the secret check."""
        found = {}
        for key, body in self.objects.items():
            with contextlib.suppress(OSError, EOFError):
                body = gzip.decompress(body)
            found[key] = body.decode("utf-8", "replace")
        return found


# ------------------------------------------------------------------------------------------------------- EventBridge


@dataclass
class FakeEvents:
    """PutEvents answers 200 with `FailedEntryCount` and a per-entry `ErrorCode` for entries it did not take
    (`refuse` names the code for the next entry, or None to take it)."""

    entries: list[dict[str, Any]] = field(default_factory=list)
    refuse: Callable[[], str | None] = lambda: None
    refused: list[dict[str, Any]] = field(default_factory=list)

    def put_events(self, Entries: list[dict[str, Any]], **_: Any) -> dict[str, Any]:
        answers: list[dict[str, Any]] = []
        for entry in json.loads(json.dumps(Entries)):
            code = self.refuse()
            if code is None:
                self.entries.append(entry)
                answers.append({"EventId": f"e-{len(self.entries)}"})
            else:
                self.refused.append(entry)
                answers.append({"ErrorCode": code, "ErrorMessage": f"simulated: EventBridge answered {code}"})
        return {"FailedEntryCount": sum(1 for a in answers if "ErrorCode" in a), "Entries": answers}


# ---------------------------------------------------------------------------------------------------- Step Functions


class FakeStepFunctions:
    """The API the handlers call; the executions themselves are the World's interpreter."""

    def __init__(self, world: World):
        self.world = world

    def send_task_success(self, taskToken: str, output: str, **_: Any) -> dict[str, Any]:
        self.world.callback(taskToken, "SendTaskSuccess", output=json.loads(output))
        return {}

    def send_task_failure(self, taskToken: str, error: str = "", cause: str = "", **_: Any) -> dict[str, Any]:
        self.world.callback(taskToken, "SendTaskFailure", error=error, cause=cause)
        return {}

    def send_task_heartbeat(self, taskToken: str, **_: Any) -> dict[str, Any]:
        self.world.callback(taskToken, "SendTaskHeartbeat")
        return {}

    def describe_execution(self, executionArn: str, **_: Any) -> dict[str, Any]:
        return self.world.describe_execution(executionArn)

    def stop_execution(
        self, executionArn: str, error: str | None = None, cause: str | None = None, **_: Any
    ) -> dict[str, Any]:
        self.world.stop_execution(executionArn, error, cause)
        return {"stopDate": _dt(self.world.now)}
