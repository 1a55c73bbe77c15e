"""A local stand-in for the ECS agent: each container of a task runs as a host process.

Output goes to the CloudWatch Logs stream the task definition names; when the task stops,
an `ECS Task State Change` event in ECS's real shape is handed to `deliver`, as ECS hands it
to EventBridge. The image is ignored: argv is `entryPoint` + `command`.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import IO, Any

from botocore.exceptions import ClientError

DEFAULT_STOP_TIMEOUT = 30  # seconds between SIGTERM and SIGKILL, as ECS's default stopTimeout
LOG_BATCH = 1000
HOST_ENV_KEEP = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT")


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _exit_code(returncode: int) -> int:
    """Docker reports a signal death as 128 + signal number."""
    return 128 - returncode if returncode < 0 else returncode


@dataclass
class ContainerRun:
    definition: dict[str, Any]
    argv: list[str]
    env: dict[str, str]
    log_group: str | None = None
    log_stream: str | None = None
    process: subprocess.Popen[bytes] | None = None
    exit_code: int | None = None
    reason: str | None = None
    readers: list[threading.Thread] = field(default_factory=list)
    # One PutLogEvents at a time per container keeps its stdout and stderr lines in the order they were read.
    log_lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def name(self) -> str:
        return str(self.definition["name"])

    @property
    def essential(self) -> bool:
        return bool(self.definition.get("essential", True))


@dataclass
class TaskRun:
    task_arn: str
    cluster_arn: str
    task_definition_arn: str
    launch_type: str | None
    capacity_provider: str | None
    started_by: str
    group: str
    overrides: dict[str, Any]
    task_definition: dict[str, Any] = field(default_factory=dict)
    containers: list[ContainerRun] = field(default_factory=list)
    created_at: str = field(default_factory=_now_iso)
    started_at: str | None = None
    stopping_at: str | None = None
    stopped_at: str | None = None
    stop_code: str | None = None
    stopped_reason: str | None = None
    version: int = 1
    stop_requested: threading.Event = field(default_factory=threading.Event)
    done: threading.Event = field(default_factory=threading.Event)


class LocalEcsAgent:
    """Runs tasks handed to it and reports each one's STOPPED state through `deliver`."""

    def __init__(
        self,
        *,
        ecs: Any,
        logs: Any,
        region: str,
        account: str,
        deliver: Callable[[dict[str, Any]], None],
        on_stopped: Callable[[TaskRun, dict[str, Any]], None] = lambda task, detail: None,
    ):
        self._on_stopped = on_stopped
        self._ecs = ecs
        self._logs = logs
        self._region = region
        self._account = account
        self._deliver = deliver
        self._tasks: dict[str, TaskRun] = {}
        self._lock = threading.Lock()

    # ---- what ECS's control plane asks of the agent ----

    def launch(self, task: TaskRun) -> None:
        with self._lock:
            self._tasks[task.task_arn] = task
        threading.Thread(target=self._run, args=(task,), name=f"local-task-{task.task_arn[-8:]}", daemon=True).start()

    def stop(self, task_arn: str, reason: str) -> None:
        task = self._tasks.get(task_arn)
        if task is not None and not task.done.is_set():
            task.stop_code, task.stopped_reason = "UserInitiated", reason
            task.stop_requested.set()

    def wait_all(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        return all(task.done.wait(max(0.0, deadline - time.monotonic())) for task in list(self._tasks.values()))

    def shutdown(self) -> None:
        """Kill whatever is still running (a run that ended while its task was still going)."""
        for task in list(self._tasks.values()):
            for container in task.containers:
                _signal(container, signal.SIGKILL)

    def task(self, task_arn: str) -> TaskRun | None:
        return self._tasks.get(task_arn)

    # ---- the task's life ----

    def _run(self, task: TaskRun) -> None:
        try:
            self._load_definition(task)
            failure = self._prepare(task)
            if failure is None:
                failure = self._start_processes(task)
            if failure is not None:
                task.stop_code = "TaskFailedToStart"
                task.stopped_reason = failure
                for container in task.containers:
                    _signal(container, signal.SIGKILL)
                    if container.process is not None:
                        container.process.wait()
                    container.reason = container.reason or failure
            else:
                task.started_at = _now_iso()
                task.version += 1
                self._emit(task, "RUNNING")
                self._supervise(task)
        finally:
            for container in task.containers:
                for reader in container.readers:
                    reader.join(timeout=10)
            task.stopped_at = _now_iso()
            task.version += 1
            stopped = self.state_change_event(task, "STOPPED")
            self._on_stopped(task, stopped["detail"])
            self._deliver(stopped)
            task.done.set()

    def _load_definition(self, task: TaskRun) -> None:
        task.task_definition = self._ecs.describe_task_definition(taskDefinition=task.task_definition_arn)[
            "taskDefinition"
        ]
        overrides = {o["name"]: o for o in (task.overrides.get("containerOverrides") or [])}
        for definition in task.task_definition.get("containerDefinitions", []):
            override = overrides.get(definition["name"])
            task.containers.append(
                ContainerRun(definition, container_argv(definition, override), container_env(definition, override))
            )

    def _prepare(self, task: TaskRun) -> str | None:
        """Check each container's log destination, as the awslogs driver does before a container starts."""
        for container in task.containers:
            config = container.definition.get("logConfiguration") or {}
            if config.get("logDriver") != "awslogs":
                continue
            options = config.get("options") or {}
            group = options.get("awslogs-group")
            prefix = options.get("awslogs-stream-prefix")
            if not group:
                continue
            if not self._group_exists(group):
                if str(options.get("awslogs-create-group", "false")).lower() != "true":
                    return (
                        "ResourceInitializationError: failed to validate logger args: failed to create Cloudwatch "
                        f"log stream: ResourceNotFoundException: The specified log group does not exist: {group}"
                    )
                try:
                    self._logs.create_log_group(logGroupName=group)
                except ClientError as exc:  # another task of the same definition created it first: fine
                    if exc.response["Error"]["Code"] != "ResourceAlreadyExistsException":
                        raise
            stream = (
                f"{prefix}/{container.name}/{task.task_arn.rsplit('/', 1)[-1]}"
                if prefix
                else f"local-{uuid.uuid4().hex}"
            )
            self._logs.create_log_stream(logGroupName=group, logStreamName=stream)
            container.log_group, container.log_stream = group, stream
        return None

    def _group_exists(self, group: str) -> bool:
        found = self._logs.describe_log_groups(logGroupNamePrefix=group).get("logGroups", [])
        return any(g["logGroupName"] == group for g in found)

    def _start_processes(self, task: TaskRun) -> str | None:
        for container in task.containers:
            if not container.argv:
                container.reason = "CannotStartContainerError: the container has no entryPoint or command to run"
                return f"CannotStartContainerError: container {container.name} has no command"
            try:
                container.process = subprocess.Popen(  # noqa: S603 - running the user's command is the point
                    container.argv,
                    env=container.env,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    start_new_session=True,
                )
            except OSError as exc:
                container.reason = f"CannotStartContainerError: {exc.strerror}: {container.argv[0]}"
                return f"CannotStartContainerError: container {container.name}: {exc.strerror}: {container.argv[0]}"
            for stream in (container.process.stdout, container.process.stderr):
                assert stream is not None
                reader = threading.Thread(target=self._pump, args=(container, stream), daemon=True)
                reader.start()
                container.readers.append(reader)
        return None

    def _supervise(self, task: TaskRun) -> None:
        """When an essential container exits (or StopTask arrives) the others get SIGTERM, then SIGKILL."""
        stop_deadline: float | None = None
        while True:
            for container in task.containers:
                assert container.process is not None
                if container.exit_code is None and container.process.poll() is not None:
                    container.exit_code = _exit_code(container.process.returncode)
            running = [c for c in task.containers if c.exit_code is None]
            essential_exited = any(c.essential and c.exit_code is not None for c in task.containers)
            if stop_deadline is None and (essential_exited or task.stop_requested.is_set()):
                if not task.stop_requested.is_set():
                    task.stop_code = "EssentialContainerExited"
                    task.stopped_reason = "Essential container in task exited"
                task.stopping_at = _now_iso()
                for container in running:
                    _signal(container, signal.SIGTERM)
                stop_deadline = time.monotonic() + self._stop_timeout(task)
            if not running:
                return
            if stop_deadline is not None and time.monotonic() > stop_deadline:
                for container in running:
                    _signal(container, signal.SIGKILL)
            time.sleep(0.02)

    @staticmethod
    def _stop_timeout(task: TaskRun) -> float:
        timeouts = [c.definition.get("stopTimeout") for c in task.containers]
        return float(max((t for t in timeouts if isinstance(t, int)), default=DEFAULT_STOP_TIMEOUT))

    def _pump(self, container: ContainerRun, stream: IO[bytes]) -> None:
        """Copy one output pipe into the container's log stream, a line an event, as the awslogs driver does.

        Lines already waiting in the pipe go in one PutLogEvents call; a quiet container's lines go one by one.
        """
        batch: list[dict[str, Any]] = []
        for raw in iter(stream.readline, b""):
            if container.log_group is None:
                continue
            message = raw.decode("utf-8", errors="replace").rstrip("\r\n")
            batch.append({"timestamp": int(time.time() * 1000), "message": message})
            more_waiting = select.select([stream], [], [], 0)[0]
            if len(batch) >= LOG_BATCH or not more_waiting:
                self._put(container, batch)
                batch = []
        if batch:
            self._put(container, batch)
        stream.close()

    def _put(self, container: ContainerRun, batch: list[dict[str, Any]]) -> None:
        with container.log_lock:
            self._logs.put_log_events(
                logGroupName=container.log_group, logStreamName=container.log_stream, logEvents=batch
            )

    # ---- what ECS tells EventBridge ----

    def _emit(self, task: TaskRun, last_status: str) -> None:
        self._deliver(self.state_change_event(task, last_status))

    def state_change_event(self, task: TaskRun, last_status: str) -> dict[str, Any]:
        stopped = last_status == "STOPPED"
        containers = []
        for container in task.containers:
            container_id = uuid.uuid5(uuid.NAMESPACE_URL, task.task_arn + container.name)
            entry: dict[str, Any] = {
                "containerArn": f"arn:aws:ecs:{self._region}:{self._account}:container/{container_id}",
                "lastStatus": last_status if container.process is not None else "STOPPED",
                "name": container.name,
                "image": container.definition.get("image", ""),
                "taskArn": task.task_arn,
                "cpu": str(container.definition.get("cpu", 0)),
                "networkInterfaces": [],
            }
            if stopped and container.exit_code is not None:
                entry["exitCode"] = container.exit_code
            if container.reason:
                entry["reason"] = container.reason
            containers.append(entry)
        detail: dict[str, Any] = {
            "attachments": [],
            "attributes": [],
            "clusterArn": task.cluster_arn,
            "containers": containers,
            "createdAt": task.created_at,
            "desiredStatus": "STOPPED" if stopped else "RUNNING",
            "enableExecuteCommand": False,
            "group": task.group,
            "lastStatus": last_status,
            "overrides": task.overrides or {"containerOverrides": []},
            "startedBy": task.started_by,
            "taskArn": task.task_arn,
            "taskDefinitionArn": task.task_definition_arn,
            "updatedAt": _now_iso(),
            "version": task.version,
        }
        if task.launch_type:
            detail["launchType"] = task.launch_type
        if task.capacity_provider:
            detail["capacityProviderName"] = task.capacity_provider
        for key, value in (("cpu", task.task_definition.get("cpu")), ("memory", task.task_definition.get("memory"))):
            if value:
                detail[key] = str(value)
        if task.started_at:
            detail["startedAt"] = task.started_at
        if stopped:
            detail.update(
                {
                    "stopCode": task.stop_code,
                    "stoppedReason": task.stopped_reason,
                    "stoppingAt": task.stopping_at or task.stopped_at,
                    "stoppedAt": task.stopped_at,
                    "executionStoppedAt": task.stopped_at,
                }
            )
        return {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": "ECS Task State Change",
            "source": "aws.ecs",
            "account": self._account,
            "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": self._region,
            "resources": [task.task_arn],
            "detail": detail,
        }


def _signal(container: ContainerRun, sig: signal.Signals) -> None:
    process = container.process
    if process is None or process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, sig)


def container_env(definition: dict[str, Any], override: dict[str, Any] | None) -> dict[str, str]:
    """The host's PATH and locale (so commands resolve), then the definition's, then the override's."""
    env = {k: os.environ[k] for k in HOST_ENV_KEEP if k in os.environ}
    for pair in definition.get("environment") or []:
        env[pair["name"]] = pair["value"]
    for pair in (override or {}).get("environment") or []:
        env[pair["name"]] = pair["value"]
    return env


def container_argv(definition: dict[str, Any], override: dict[str, Any] | None) -> list[str]:
    command = (override or {}).get("command")
    if command is None:
        command = definition.get("command") or []
    return [*(definition.get("entryPoint") or []), *command]
