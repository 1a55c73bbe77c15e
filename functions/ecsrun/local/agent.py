"""A local stand-in for the ECS agent: each container of a task runs as a host process.

Output goes to the CloudWatch Logs stream the task definition names; when the task stops,
an `ECS Task State Change` event in ECS's real shape is handed to `deliver`, as ECS hands it
to EventBridge. The image is ignored: argv is `entryPoint` + `command`.
"""

from __future__ import annotations

import contextlib
import json
import os
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

from ecsrun.local import awslogs, memory
from ecsrun.local.firelens import FirelensRouters
from ecsrun.local.output import DRAIN_SECONDS, read_lines
from ecsrun.local.taskdef import (
    DEFAULT_START_TIMEOUT,
    HEALTH_DEFAULTS,
    env_file_object,
    health_command,
    parse_env_file,
    secret_ref,
)

DEFAULT_STOP_TIMEOUT = 30  # seconds between SIGTERM and SIGKILL, as ECS's default stopTimeout
MEMORY_CHECK_SECONDS = 0.1  # how often running containers' memory is read against their limits
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
    started_by: str = ""  # the task's
    log_group: str | None = None
    log_stream: str | None = None
    process: subprocess.Popen[bytes] | None = None
    exit_code: int | None = None
    reason: str | None = None
    readers: list[threading.Thread] = field(default_factory=list)
    started_at: float | None = None  # monotonic; None until its process started
    stopped_at: float | None = None
    started_iso: str | None = None
    stopped_iso: str | None = None
    will_not_start: bool = False  # a dependency can no longer be met, or the task stopped before its turn
    health: str | None = None  # HEALTHY / UNHEALTHY / UNKNOWN when the definition has a healthCheck
    kill_deadline: float | None = None  # SIGTERM sent; SIGKILL at this monotonic time
    # One PutLogEvents at a time per container keeps its lines in the order they were read.
    log_lock: threading.Lock = field(default_factory=threading.Lock)
    last_timestamp: int = 0  # the last log event's, in ms
    # Set once the container's main process has exited and its process group was killed.
    ended: threading.Event = field(default_factory=threading.Event)
    memory_limit: int | None = None  # MiB (ecsrun.local.memory): above it, killed as out of memory

    @property
    def name(self) -> str:
        return str(self.definition["name"])

    @property
    def essential(self) -> bool:
        return bool(self.definition.get("essential", True))

    @property
    def depends_on(self) -> list[tuple[str, str]]:
        return [(str(d["containerName"]), str(d["condition"])) for d in self.definition.get("dependsOn") or []]

    @property
    def running(self) -> bool:
        return self.process is not None and self.exit_code is None

    @property
    def settled(self) -> bool:
        """Exited, or will never run."""
        return self.exit_code is not None or self.will_not_start or (self.process is None and self.reason is not None)


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
        client: Callable[[str], Any] | None = None,
    ):
        self._on_stopped = on_stopped
        self._ecs = ecs
        self._logs = logs
        self._client = client
        self._region = region
        self._account = account
        self._deliver = deliver
        self._tasks: dict[str, TaskRun] = {}
        self._lock = threading.Lock()
        # moto's Logs backend is not thread-safe: listing log groups while another task's thread creates one
        # fails ("dictionary changed size during iteration"). Tasks started together check and create their
        # groups one at a time.
        self._log_groups_lock = threading.Lock()
        # Why ECS would refuse to start a task for want of its execution role's permissions (set by the local stack
        # when it enforces IAM: ecsrun.local.execution_role); None: not checked.
        self.check_execution_role: Callable[[TaskRun], str | None] | None = None
        self.closed = False
        # Each line a container writes, as it is read: (the task's startedBy, container name, line). The CLI
        # streams them.
        self.on_line: Callable[[str, str, str], None] | None = None
        # What the local engine did differently from ECS (a secret it could not read, say): one line each.
        self.on_notice: Callable[[str], None] = lambda text: None
        # Task definitions with a FireLens router: its Fluent Bit s3 output, emulated (ecsrun.local.firelens).
        self.firelens = FirelensRouters(self._aws, lambda text: self.on_notice(text))

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
        """Kill whatever is still running (a run that ended while its task was still going, or the command was
        interrupted), leftovers included. From then on the agent starts nothing and reports nothing: AWS is gone."""
        self.closed = True
        for task in list(self._tasks.values()):
            task.stop_requested.set()
            for container in task.containers:
                _signal(container, signal.SIGKILL)
                container.ended.set()

    def task(self, task_arn: str) -> TaskRun | None:
        return self._tasks.get(task_arn)

    def tasks(self) -> list[TaskRun]:
        """Every task launched so far, in launch order."""
        with self._lock:
            return list(self._tasks.values())

    # ---- the task's life ----

    def _run(self, task: TaskRun) -> None:
        try:
            self._live(task)
        except Exception:
            if not self.closed:  # after shutdown, AWS (moto) is gone: whatever failed no longer matters
                raise

    def _live(self, task: TaskRun) -> None:
        try:
            self._load_definition(task)
            failure = self._prepare(task)
            if failure is None:
                failure = self._start_ready(task, time.monotonic())
            if failure is not None:
                self._fail_start(task, failure)
            else:
                task.started_at = _now_iso()
                task.version += 1
                self._emit(task, "RUNNING")
                self._supervise(task)
        finally:
            for container in task.containers:
                container.ended.set()
                for reader in container.readers:
                    reader.join(timeout=DRAIN_SECONDS * 4)
            self.firelens.stop(task)
            task.stopped_at = _now_iso()
            task.version += 1
            if not self.closed:
                stopped = self.state_change_event(task, "STOPPED")
                self._on_stopped(task, stopped["detail"])
                self._deliver(stopped)
            task.done.set()

    @staticmethod
    def _fail_start(task: TaskRun, failure: str) -> None:
        task.stop_code = "TaskFailedToStart"
        task.stopped_reason = failure
        for container in task.containers:
            _signal(container, signal.SIGKILL)
            if container.process is not None:
                container.process.wait()
                _kill_group(container.process.pid)
            container.ended.set()
            container.reason = container.reason or failure

    def _load_definition(self, task: TaskRun) -> None:
        task.task_definition = self._ecs.describe_task_definition(taskDefinition=task.task_definition_arn)[
            "taskDefinition"
        ]
        overrides = {o["name"]: o for o in (task.overrides.get("containerOverrides") or [])}
        task_memory = memory.task_memory(task.task_definition, task.overrides)
        for definition in task.task_definition.get("containerDefinitions", []):
            override = overrides.get(definition["name"])
            task.containers.append(
                ContainerRun(
                    definition,
                    container_argv(definition, override),
                    container_env(definition, override),
                    started_by=task.started_by,
                    memory_limit=memory.limit_mib(definition, override, task_memory),
                )
            )

    def _prepare(self, task: TaskRun) -> str | None:
        """What the agent does before any container starts: environment files and secrets into each
        container's environment, then each container's log destination, as the awslogs driver checks it."""
        if self.check_execution_role is not None:
            with self._log_groups_lock:
                refused = self.check_execution_role(task)
            if refused is not None:
                return refused
        self.firelens.prepare(task)
        overrides = {o["name"]: o for o in (task.overrides.get("containerOverrides") or [])}
        for container in task.containers:
            failure = self._resolve_environment(container, overrides.get(container.name))
            if failure is not None:
                return failure
        for container in task.containers:
            config = container.definition.get("logConfiguration") or {}
            if config.get("logDriver") != "awslogs":
                continue
            options = config.get("options") or {}
            group = options.get("awslogs-group")
            prefix = options.get("awslogs-stream-prefix")
            if not group:
                continue
            with self._log_groups_lock:
                failure = self._ensure_group(group, options)
            if failure is not None:
                return failure
            stream = (
                f"{prefix}/{container.name}/{task.task_arn.rsplit('/', 1)[-1]}"
                if prefix
                else f"local-{uuid.uuid4().hex}"
            )
            container.log_group, container.log_stream = group, stream  # the stream is created when it starts
        return None

    def _resolve_environment(self, container: ContainerRun, override: dict[str, Any] | None) -> str | None:
        """environmentFiles (an override's replace the definition's), read from the local S3; the
        `environment` variables win over them; then `secrets`, from the local SSM Parameter Store or Secrets
        Manager, or a placeholder when the local stack has no such parameter or secret (said on stderr)."""
        files = (override or {}).get("environmentFiles") or container.definition.get("environmentFiles") or []
        from_files: dict[str, str] = {}
        for entry in files:
            where = env_file_object(entry.get("value"))
            if where is None or entry.get("type", "s3") != "s3":
                return (
                    "ResourceInitializationError: failed to download env files: "
                    f"{entry.get('value')!r} is not an S3 object ARN"
                )
            try:
                body = self._aws("s3").get_object(Bucket=where.bucket, Key=where.key)["Body"].read()
            except ClientError as exc:
                code = exc.response.get("Error", {}).get("Code")
                return f"ResourceInitializationError: failed to download env files: {where}: {code}"
            # Files are processed top down: a later file's value replaces an earlier one's (Docker's --env-file).
            from_files.update(parse_env_file(body.decode("utf-8", errors="replace")))
        if from_files:
            container.env = container_env(container.definition, override, from_files)
        for secret in container.definition.get("secrets") or []:
            name, value_from = str(secret.get("name")), str(secret.get("valueFrom"))
            value = self._secret_value(value_from)
            if value is None:
                value = f"ecsrun-local-placeholder:{name}"
                self.on_notice(
                    f"container {container.name}: secret {name}: {value_from} is not in the local stack's "
                    f"SSM Parameter Store or Secrets Manager; {name} is set to the placeholder {value!r}"
                )
            container.env[name] = value
        return None

    def _secret_value(self, value_from: str) -> str | None:
        ref = secret_ref(value_from)
        try:
            if ref.service == "ssm":
                parameter = self._aws("ssm").get_parameter(Name=ref.id, WithDecryption=True)["Parameter"]
                return str(parameter["Value"])
            kwargs = {"SecretId": ref.id}
            if ref.version_stage:
                kwargs["VersionStage"] = ref.version_stage
            if ref.version_id:
                kwargs["VersionId"] = ref.version_id
            text = str(self._aws("secretsmanager").get_secret_value(**kwargs).get("SecretString", ""))
        except ClientError:
            return None
        if ref.json_key is None:
            return text
        try:
            found = json.loads(text).get(ref.json_key)
        except (json.JSONDecodeError, AttributeError):
            return None
        return None if found is None else str(found)

    def _aws(self, service: str) -> Any:
        if self._client is None:
            raise RuntimeError(f"the local agent has no {service} client")
        return self._client(service)

    def _ensure_group(self, group: str, options: dict[str, Any]) -> str | None:
        """The awslogs driver's check: the group exists, or is created when `awslogs-create-group` says so."""
        if self._group_exists(group):
            return None
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
        return None

    def group_exists(self, group: str) -> bool:
        """Whether the log group exists (call with the log groups' lock held, as moto's Logs needs)."""
        return self._group_exists(group)

    def _group_exists(self, group: str) -> bool:
        found = self._logs.describe_log_groups(logGroupNamePrefix=group).get("logGroups", [])
        return any(g["logGroupName"] == group for g in found)

    # ---- starting containers in dependency order ----

    def _start_ready(self, task: TaskRun, task_started: float) -> str | None:
        """Start every container whose dependencies are met; mark those whose dependencies never will be.
        Returns why the task failed to start, if a container could not be started."""
        by_name = {c.name: c for c in task.containers}
        progress = True
        while progress:  # a START dependency is met as soon as its container starts: go round again
            progress = False
            for container in task.containers:
                if container.process is not None or container.settled:
                    continue
                state = _dependencies(container, by_name, task_started)
                if state == "wait":
                    continue
                if state != "ready":
                    container.will_not_start = True
                    container.reason = state
                    continue
                failure = self._start(container)
                if failure is not None:
                    return failure
                progress = True
        return None

    def _start(self, container: ContainerRun) -> str | None:
        if self.closed:
            container.will_not_start = True
            return None
        if not container.argv:
            container.reason = "CannotStartContainerError: the container has no entryPoint or command to run"
            return f"CannotStartContainerError: container {container.name} has no command"
        workdir = container.definition.get("workingDirectory")
        if workdir is not None and not os.path.isdir(str(workdir)):
            # Docker would create it inside the container's filesystem; the local engine does not create
            # directories on this machine.
            container.reason = (
                f"CannotStartContainerError: workingDirectory {workdir} is not a directory on this machine "
                "(the local engine runs the command on the host)"
            )
            return f"CannotStartContainerError: container {container.name}: {container.reason.split(': ', 1)[1]}"
        if container.log_group is not None:
            self._logs.create_log_stream(logGroupName=container.log_group, logStreamName=container.log_stream)
        try:
            container.process = subprocess.Popen(  # noqa: S603 - running the user's command is the point
                container.argv,
                env=container.env,
                cwd=workdir,  # workingDirectory: the command runs there, as Docker's WorkingDir
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,  # one pipe: lines keep the order written (local/output.py)
                start_new_session=True,
            )
        except OSError as exc:
            container.reason = f"CannotStartContainerError: {exc.strerror}: {container.argv[0]}"
            return f"CannotStartContainerError: container {container.name}: {exc.strerror}: {container.argv[0]}"
        container.started_at, container.started_iso = time.monotonic(), _now_iso()
        assert container.process.stdout is not None
        reader = threading.Thread(target=self._pump, args=(container, container.process.stdout), daemon=True)
        reader.start()
        container.readers.append(reader)
        check = container.definition.get("healthCheck")
        if check and health_command(check):
            container.health = "UNKNOWN"
            threading.Thread(target=_health_checks, args=(container, check), daemon=True).start()
        return None

    def _supervise(self, task: TaskRun) -> None:
        """Start containers as their dependencies are met. When an essential container exits or can never
        start (or StopTask arrives), nothing more starts and the running containers get SIGTERM, dependents
        before what they depend on, then SIGKILL after their stopTimeout. Each signal goes to the container's
        whole process group, and when a container's main process exits, whatever it left behind is SIGKILLed at
        once: the kernel does that to a PID namespace whose PID 1 exits (pid_namespaces(7))."""
        task_started = time.monotonic()
        stopping = False
        memory_checked = 0.0
        while True:
            if time.monotonic() - memory_checked >= MEMORY_CHECK_SECONDS:
                memory_checked = time.monotonic()
                self._kill_out_of_memory(task)
            for container in task.containers:
                if (
                    container.process is not None
                    and container.exit_code is None
                    and container.process.poll() is not None
                ):
                    container.exit_code = _exit_code(container.process.returncode)
                    container.stopped_at, container.stopped_iso = time.monotonic(), _now_iso()
                    _kill_group(container.process.pid)
                    container.ended.set()
            if not stopping:
                failure = self._start_ready(task, task_started)
                if failure is not None:  # a container whose turn came could not be started
                    task.stop_code, task.stopped_reason = "TaskFailedToStart", failure
                    stopping = True
            essential_ended = any(c.essential and c.settled for c in task.containers)
            if not stopping and (essential_ended or task.stop_requested.is_set()):
                if not task.stop_requested.is_set():
                    task.stop_code = "EssentialContainerExited"
                    task.stopped_reason = "Essential container in task exited"
                stopping = True
            if stopping:
                if task.stopping_at is None:
                    task.stopping_at = _now_iso()
                for container in task.containers:
                    if container.process is None and not container.settled:
                        container.will_not_start = True
                self._stop_in_order(task)
            if all(c.settled for c in task.containers):
                return
            time.sleep(0.02)

    @staticmethod
    def _kill_out_of_memory(task: TaskRun) -> None:
        """A running container over its memory limit is SIGKILLed, as the OOM killer does (exit code 137)."""
        for container in task.containers:
            process = container.process
            if container.running and process is not None and memory.over_limit(process.pid, container.memory_limit):
                container.reason = memory.OUT_OF_MEMORY_REASON
                _kill_group(process.pid)

    @staticmethod
    def _stop_in_order(task: TaskRun) -> None:
        """Shutdown reverses startup: a container is signalled once no running container depends on it."""
        now = time.monotonic()
        running = [c for c in task.containers if c.running]
        for container in running:
            if container.kill_deadline is None:
                dependents = [c for c in running if any(name == container.name for name, _ in c.depends_on)]
                if not dependents:
                    _signal(container, signal.SIGTERM)
                    timeout = container.definition.get("stopTimeout")
                    container.kill_deadline = now + (timeout if isinstance(timeout, int) else DEFAULT_STOP_TIMEOUT)
            elif now > container.kill_deadline:
                _signal(container, signal.SIGKILL)

    def _pump(self, container: ContainerRun, stream: IO[bytes]) -> None:
        try:
            self._copy_output(container, stream)
        except Exception:
            if not self.closed:
                raise

    def _copy_output(self, container: ContainerRun, stream: IO[bytes]) -> None:
        """Copy the container's output (stdout and stderr, one pipe: local/output.py) into its log stream, a line
        an event, as the awslogs driver does. Lines already waiting in the pipe go in one PutLogEvents call; a
        quiet container's lines go one by one."""
        batch: list[dict[str, Any]] = []

        def deliver(lines: list[bytes], more_waiting: bool) -> None:
            # One pipe carries both streams (local/output.py): a FireLens record's `source` says stdout for each.
            batch.extend(self._events(container, lines, "stdout"))
            if len(batch) >= LOG_BATCH or not more_waiting:
                self._put(container, list(batch))
                batch.clear()

        read_lines(stream, container.ended, deliver)

    def _events(self, container: ContainerRun, lines: list[bytes], source: str = "stdout") -> list[dict[str, Any]]:
        """Log events of the lines read (each also shown to `on_line`); none without an awslogs destination."""
        # Stamped on arrival, never earlier than the line before (the wall clock may step back): CloudWatch Logs
        # orders a stream by timestamp, so the order read is the order kept.
        now = max(int(time.time() * 1000), container.last_timestamp)
        container.last_timestamp = now
        events: list[dict[str, Any]] = []
        for raw in lines:
            message = raw.decode("utf-8", errors="replace").rstrip("\r")
            if self.on_line is not None:
                self.on_line(container.started_by, container.name, message)
            self.firelens.receive(container, source, message)
            if container.log_group is not None:
                events.extend({"timestamp": now, "message": part} for part in awslogs.split_message(message))
        return events

    def _put(self, container: ContainerRun, events: list[dict[str, Any]]) -> None:
        """PutLogEvents in batches the API takes; events CloudWatch Logs does not keep are said, never dropped
        without a word (a batch it refuses whole, or the events it names in `rejectedLogEventsInfo`)."""
        if not events or self.closed:
            return
        where = f"{container.log_group}/{container.log_stream}"
        with container.log_lock:
            for batch in awslogs.batches(events):
                try:
                    answer = self._logs.put_log_events(
                        logGroupName=container.log_group, logStreamName=container.log_stream, logEvents=batch
                    )
                except ClientError as exc:
                    error = exc.response.get("Error", {})
                    refused = f"{len(batch)} log events ({error.get('Code')}: {error.get('Message')})"
                    self.on_notice(awslogs.notice(container.name, where, [refused]))
                    continue
                reasons = awslogs.rejected(answer.get("rejectedLogEventsInfo"), len(batch))
                if reasons:
                    self.on_notice(awslogs.notice(container.name, where, reasons))

    # ---- what ECS tells EventBridge ----

    def _emit(self, task: TaskRun, last_status: str) -> None:
        if self.closed:
            return
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
        for key in ("cpu", "memory"):  # the task's size: the overrides', else its definition's
            value = task.overrides.get(key) or task.task_definition.get(key)
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
    """Signal the container's whole process group (its main process leads it: start_new_session)."""
    process = container.process
    if process is None or (process.poll() is not None and container.ended.is_set()):
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, sig)


def _kill_group(pgid: int) -> None:
    """SIGKILL what is left of a process group whose leader exited. Linux does not reuse an ID while a process
    group of that ID has members, so this reaches only the container's own leftovers."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def container_env(
    definition: dict[str, Any], override: dict[str, Any] | None, files: dict[str, str] | None = None
) -> dict[str, str]:
    """The host's PATH and locale (so commands resolve), then the environment files', then the definition's,
    then the override's ("variables specified using the environment parameter ... take precedence")."""
    env = {k: os.environ[k] for k in HOST_ENV_KEEP if k in os.environ}
    env.update(files or {})
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


def _dependencies(container: ContainerRun, by_name: dict[str, ContainerRun], task_started: float) -> str:
    """ "ready" when every dependency of the container is met, "wait" while one may still be, else why one
    never will be (in the words of ECS's agent: "dependency graph: failed to resolve ...")."""
    state = "ready"
    for name, condition in container.depends_on:
        dependency = by_name[name]
        unresolved = (
            "dependency graph: failed to resolve the container ordering dependency "
            f"[{name}] for target [{container.name}]"
        )
        if dependency.will_not_start or (dependency.process is None and dependency.settled):
            return f"{unresolved}: {name} did not start"
        met: bool
        if condition == "START":
            met = dependency.process is not None
        elif condition == "COMPLETE":
            met = dependency.exit_code is not None
        elif condition == "SUCCESS":
            if dependency.exit_code not in (None, 0):
                return f"{unresolved} as dependency did not exit successfully (exit code {dependency.exit_code})"
            met = dependency.exit_code == 0
        else:  # HEALTHY
            if health_command(dependency.definition.get("healthCheck") or {}) is None:
                return f"{unresolved}: {name} has no health check"
            if dependency.health == "UNHEALTHY" or dependency.exit_code is not None:
                return f"{unresolved}: {name} is not healthy"
            met = dependency.health == "HEALTHY"
        if not met:
            timeout = dependency.definition.get("startTimeout")
            limit = timeout if isinstance(timeout, int) else DEFAULT_START_TIMEOUT
            if time.monotonic() - task_started > limit:
                return f"{unresolved}: {name} did not reach {condition} within its startTimeout of {limit} s"
            state = "wait"
    return state


def _health_checks(container: ContainerRun, check: dict[str, Any]) -> None:
    """Docker's health check, on the host: HEALTHY after a passing check, UNHEALTHY after `retries` failures in a
    row (failures within `startPeriod` do not count). The local engine checks at once, then every `interval`
    (Docker waits one interval first), so a HEALTHY dependency does not cost half a minute per run."""
    argv = health_command(check) or []
    settings: dict[str, int] = {
        key: value if isinstance(value := check.get(key), int) else default for key, default in HEALTH_DEFAULTS.items()
    }
    started = time.monotonic()
    failures = 0
    while container.running:
        try:
            passed = (
                subprocess.run(  # noqa: S603 - the user's own health check command
                    argv, env=container.env, capture_output=True, timeout=settings["timeout"], check=False
                ).returncode
                == 0
            )
        except (OSError, subprocess.TimeoutExpired):
            passed = False
        if passed:
            failures, container.health = 0, "HEALTHY"
        elif time.monotonic() - started >= settings["startPeriod"]:
            failures += 1
            if failures >= settings["retries"]:
                container.health = "UNHEALTHY"
        deadline = time.monotonic() + settings["interval"]
        while container.running and time.monotonic() < deadline:
            time.sleep(0.05)
