"""`ecsrun smoke`: one smoke test for any ecsrun stack, deployed on AWS or served by `ecsrun local serve`.

It speaks only public AWS APIs, through the AWS CLI (`aws ... --output json`), as an operator would: it reads the
stack's outputs, registers a small task definition of its own, runs the scenarios below through the state machine
and the run bus, reads a run's logs back from S3, and cleans up (the task definition revision is deregistered,
the log group deleted if it created it; the runs' records and log copies stay, and expire with the stack's
retention). Each scenario prints PASS or FAIL with what it saw; the exit status is 0 when all pass, 1 when one
fails, 2 when the command is misused or the stack cannot be reached.

Scenarios: success; a non-zero exit (ECS.ContainerExitedNonZero, exit code 3); a timeout (Run.TimedOut); an
invalid request (RunRequest.Invalid, no task); a run requested with `aws events put-events` on the stack's bus;
the success run's log read back from the logs bucket.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ecsrun.cli.common import EXIT_FAILED, EXIT_OK, UsageError

DEFAULT_IMAGE = "public.ecr.aws/docker/library/busybox:stable"
CONTAINER = "app"
SUCCESS_LINE = "ecsrun-smoke-ok"


class AwsCliError(Exception):
    """The AWS CLI refused or failed a call; the message is its last line."""


@dataclass
class Settings:
    """Where the stack is and how to run a task there."""

    stack: str
    cluster: str = "default"
    subnets: list[str] = field(default_factory=list)
    security_groups: list[str] = field(default_factory=list)
    assign_public_ip: str = "ENABLED"
    execution_role_arn: str = ""
    image: str = DEFAULT_IMAGE
    family: str = "ecsrun-smoke"
    log_group: str = "/ecsrun/smoke"
    region: str = ""
    timeout_seconds: int = 20  # the timeout scenario's run timeout
    wait_seconds: int = 600  # how long any one run may take to end


class AwsCli:
    """The AWS CLI as a client: `call("stepfunctions", "describe-execution", "--execution-arn", arn)`."""

    def __init__(
        self,
        executable: str,
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
        profile: str | None = None,
    ):
        self.base = [executable, "--output", "json"]
        if endpoint_url:
            self.base += ["--endpoint-url", endpoint_url]
        if region:
            self.base += ["--region", region]
        if profile:
            self.base += ["--profile", profile]
        self.calls = 0

    def call(self, service: str, operation: str, *args: str, raw: bool = False) -> Any:
        self.calls += 1
        done = subprocess.run(  # noqa: S603 - the AWS CLI, with arguments this module builds
            [*self.base, service, operation, *args], capture_output=True, check=False
        )
        if done.returncode != 0:
            lines = done.stderr.decode(errors="replace").strip().splitlines() or [f"exit {done.returncode}"]
            raise AwsCliError(f"aws {service} {operation}: {lines[-1]}")
        if raw:
            return done.stdout
        text = done.stdout.decode().strip()
        return json.loads(text) if text else {}


def find_aws_cli(given: str | None) -> str:
    """The AWS CLI to drive: --aws-cli, else the one beside this Python (the dev extras install it), else PATH."""
    candidates = [given] if given else [str(Path(sys.executable).parent / "aws"), shutil.which("aws")]
    for candidate in candidates:
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    raise UsageError("no AWS CLI found: install it (`pip install awscli`) or give --aws-cli PATH")


# ---- what each scenario sends, and how its end is judged (pure) ----


def task_definition(settings: Settings) -> dict[str, Any]:
    """A one-container Fargate task definition whose command the scenarios override."""
    log = {"awslogs-group": settings.log_group, "awslogs-stream-prefix": "smoke"}
    if settings.region:
        log["awslogs-region"] = settings.region
    document: dict[str, Any] = {
        "family": settings.family,
        "requiresCompatibilities": ["FARGATE"],
        "networkMode": "awsvpc",
        "cpu": "256",
        "memory": "512",
        "containerDefinitions": [
            {
                "name": CONTAINER,
                "image": settings.image,
                "essential": True,
                "command": ["sh", "-c", f"echo {SUCCESS_LINE}"],
                "logConfiguration": {"logDriver": "awslogs", "options": log},
            }
        ],
    }
    if settings.execution_role_arn:
        document["executionRoleArn"] = settings.execution_role_arn
    return document


def run_request(settings: Settings, definition_arn: str, run_id: str, script: str, **runner: Any) -> dict[str, Any]:
    """A Fargate run of `script` (sh -c) in the smoke task definition."""
    network = {"subnets": settings.subnets, "assignPublicIp": settings.assign_public_ip}
    if settings.security_groups:
        network["securityGroups"] = settings.security_groups
    return {
        "cluster": settings.cluster,
        "taskDefinition": definition_arn,
        "launchType": "FARGATE",
        "networkConfiguration": {"awsvpcConfiguration": network},
        "overrides": {"containerOverrides": [{"name": CONTAINER, "command": ["sh", "-c", script]}]},
        "runId": run_id,
        "retry": {"maxAttempts": 1},
        **runner,
    }


def _cause(described: dict[str, Any]) -> dict[str, Any]:
    try:
        cause = json.loads(described.get("cause") or "{}")
    except ValueError:
        return {}
    return cause if isinstance(cause, dict) else {}


def judge_success(described: dict[str, Any]) -> tuple[bool, str]:
    status = described.get("status")
    if status != "SUCCEEDED":
        return False, f"{status} {described.get('error') or ''}: {(described.get('cause') or '')[:300]}".strip()
    output = json.loads(described.get("output") or "{}")
    manifest = (output.get("logs") or {}).get("manifestKey")
    return bool(manifest), f"SUCCEEDED, manifest {manifest}"


def judge_failure(error: str, check: Callable[[dict[str, Any]], str | None] | None = None) -> Any:
    """A judge of an execution that must fail with `error` (and pass `check` on its cause, if given)."""

    def judge(described: dict[str, Any]) -> tuple[bool, str]:
        seen = f"{described.get('status')} {described.get('error')}"
        if described.get("status") != "FAILED" or described.get("error") != error:
            return False, f"{seen}, expected FAILED {error}: {(described.get('cause') or '')[:300]}"
        problem = check(_cause(described)) if check else None
        return problem is None, f"{seen}" + (f": {problem}" if problem else "")

    return judge


def exit_code_3(cause: dict[str, Any]) -> str | None:
    containers = (cause.get("task") or {}).get("containers") or []
    codes = {c.get("name"): c.get("exitCode") for c in containers}
    return None if codes.get(CONTAINER) == 3 else f"exit codes {codes}, expected {CONTAINER}: 3"


def no_task(cause: dict[str, Any]) -> str | None:
    problems = cause.get("problems") or []
    return None if problems else "the cause lists no problem"


def log_holds(text: str, expected: str) -> tuple[bool, str]:
    lines = [line for line in text.splitlines() if line.strip()]
    found = any(expected in line for line in lines)
    return found, f"{len(lines)} line(s), {'with' if found else 'without'} {expected!r}"


Judge = Callable[[dict[str, Any]], tuple[bool, str]]

# ---- running them ----


@dataclass
class Outcome:
    name: str
    passed: bool
    detail: str
    seconds: float


class Smoke:
    def __init__(self, aws: AwsCli, settings: Settings, out: Any = sys.stdout):
        self.aws, self.settings, self.out = aws, settings, out
        self.stamp = time.strftime("%Y%m%d%H%M%S") + f"-{os.getpid() % 10000}"
        self.outcomes: list[Outcome] = []
        self.definition_arn = ""

    def outputs(self) -> dict[str, str]:
        stacks = self.aws.call("cloudformation", "describe-stacks", "--stack-name", self.settings.stack)["Stacks"]
        found = {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}
        missing = {"StateMachineArn", "LogsBucketName", "EventBusName"} - set(found)
        if missing:
            raise UsageError(f"stack {self.settings.stack} has no output {', '.join(sorted(missing))}")
        return found

    def network(self) -> None:
        """The default VPC's subnets and security group when none were given (a real account's, or moto's)."""
        if not self.settings.subnets:
            subnets = self.aws.call("ec2", "describe-subnets", "--filters", "Name=default-for-az,Values=true")
            self.settings.subnets = [s["SubnetId"] for s in subnets["Subnets"]][:16]
        if not self.settings.security_groups:
            groups = self.aws.call("ec2", "describe-security-groups", "--filters", "Name=group-name,Values=default")
            self.settings.security_groups = [g["GroupId"] for g in groups["SecurityGroups"]][:1]
        if not self.settings.subnets:
            raise UsageError("no subnets given (--subnets) and no default VPC subnets found")

    def run(self) -> int:
        outputs = self.outputs()
        self.network()
        machine, bucket, bus = outputs["StateMachineArn"], outputs["LogsBucketName"], outputs["EventBusName"]
        self._print(f"ecsrun smoke: stack {self.settings.stack}, state machine {machine}")
        created_group = self._log_group()
        registered = self.aws.call(
            "ecs", "register-task-definition", "--cli-input-json", json.dumps(task_definition(self.settings))
        )["taskDefinition"]["taskDefinitionArn"]
        self.definition_arn = str(registered)
        try:
            success_id = f"smoke-{self.stamp}-ok"
            s = self.settings
            self._scenario(
                "success", lambda: self._execution(machine, success_id, "echo " + SUCCESS_LINE), judge_success
            )
            self._scenario(
                "non-zero exit",
                lambda: self._execution(machine, f"smoke-{self.stamp}-exit3", "echo failing; exit 3"),
                judge_failure("ECS.ContainerExitedNonZero", exit_code_3),
            )
            self._scenario(
                "timeout",
                lambda: self._execution(
                    machine, f"smoke-{self.stamp}-slow", "echo sleeping; sleep 600", timeoutSeconds=s.timeout_seconds
                ),
                judge_failure("Run.TimedOut"),
            )
            self._scenario(
                "invalid request",
                lambda: self._start(machine, {**self._request(f"smoke-{self.stamp}-bad", "true"), "count": 2}),
                judge_failure("RunRequest.Invalid", no_task),
            )
            self._scenario("put-events trigger", lambda: self._via_bus(machine, bus), judge_success)
            started = time.monotonic()
            try:
                passed, detail = self._log(bucket, success_id)
            except (AwsCliError, OSError, ValueError) as exc:
                passed, detail = False, str(exc)
            self._record("log retrieval", passed, detail, time.monotonic() - started)
        finally:
            self._cleanup(registered, created_group)
        failed = [o for o in self.outcomes if not o.passed]
        self._print(f"{len(self.outcomes) - len(failed)} passed, {len(failed)} failed")
        return EXIT_FAILED if failed else EXIT_OK

    # ---- steps ----

    def _request(self, run_id: str, script: str, **runner: Any) -> dict[str, Any]:
        return run_request(self.settings, self.definition_arn, run_id, script, **runner)

    def _execution(self, machine: str, run_id: str, script: str, **runner: Any) -> str:
        return self._start(machine, self._request(run_id, script, **runner))

    def _start(self, machine: str, request: dict[str, Any]) -> str:
        name = f"{request['runId']}"[:80]
        started = self.aws.call(
            "stepfunctions",
            "start-execution",
            "--state-machine-arn",
            machine,
            "--name",
            name,
            "--input",
            json.dumps(request),
        )
        return str(started["executionArn"])

    def _via_bus(self, machine: str, bus: str) -> str:
        run_id = f"smoke-{self.stamp}-bus"
        entry = {
            "Source": "ecsrun.smoke",
            "DetailType": "ecsrun.RunRequested",
            "EventBusName": bus,
            "Detail": json.dumps(self._request(run_id, "echo " + SUCCESS_LINE)),
        }
        answer = self.aws.call("events", "put-events", "--entries", json.dumps([entry]))
        if answer.get("FailedEntryCount"):
            raise AwsCliError(f"put-events refused the entry: {answer.get('Entries')}")
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:  # the rule starts an execution with a name of its own: find it
            listed = self.aws.call(
                "stepfunctions", "list-executions", "--state-machine-arn", machine, "--max-items", "20"
            )
            for execution in listed.get("executions", []):
                described = self.aws.call(
                    "stepfunctions", "describe-execution", "--execution-arn", execution["executionArn"]
                )
                if run_id in (described.get("input") or ""):
                    return str(execution["executionArn"])
            time.sleep(2)
        raise AwsCliError(f"no execution started for run {run_id} within 120 s of put-events")

    def _wait(self, arn: str) -> dict[str, Any]:
        deadline = time.monotonic() + self.settings.wait_seconds
        while True:
            described = self.aws.call("stepfunctions", "describe-execution", "--execution-arn", arn)
            if described.get("status") != "RUNNING":
                return dict(described)
            if time.monotonic() > deadline:
                return {**described, "status": "STILL RUNNING", "error": f"after {self.settings.wait_seconds} s"}
            time.sleep(2)

    def _scenario(
        self, name: str, start: Callable[[], str], judge: Callable[[dict[str, Any]], tuple[bool, str]]
    ) -> None:
        began = time.monotonic()
        try:
            passed, detail = judge(self._wait(start()))
        except AwsCliError as exc:
            passed, detail = False, str(exc)
        self._record(name, passed, detail, time.monotonic() - began)

    def _log(self, bucket: str, run_id: str) -> tuple[bool, str]:
        key = f"runs/{run_id}/logs/{CONTAINER}.log.gz"
        body = self.aws.call("s3", "cp", f"s3://{bucket}/{key}", "-", raw=True)
        manifest = json.loads(self.aws.call("s3", "cp", f"s3://{bucket}/runs/{run_id}/manifest.json", "-", raw=True))
        passed, detail = log_holds(gzip.decompress(body).decode(), SUCCESS_LINE)
        return passed and manifest.get("runId") == run_id, f"s3://{bucket}/{key}: {detail}"

    def _log_group(self) -> bool:
        """Create the tasks' log group unless it exists (task execution roles seldom may); True if created."""
        try:
            self.aws.call("logs", "create-log-group", "--log-group-name", self.settings.log_group)
        except AwsCliError as exc:
            if "ResourceAlreadyExists" in str(exc):
                return False
            raise
        return True

    def _cleanup(self, definition: str, created_group: bool) -> None:
        for step in (
            lambda: self.aws.call("ecs", "deregister-task-definition", "--task-definition", definition),
            lambda: (
                created_group and self.aws.call("logs", "delete-log-group", "--log-group-name", self.settings.log_group)
            ),
        ):
            try:
                step()
            except AwsCliError as exc:
                self._print(f"  cleanup: {exc}")

    def _record(self, name: str, passed: bool, detail: str, seconds: float) -> None:
        self.outcomes.append(Outcome(name, passed, detail, seconds))
        self._print(f"  {'PASS' if passed else 'FAIL'}  {name:<20} {seconds:6.1f}s  {detail}")

    def _print(self, line: str) -> None:
        print(line, file=self.out, flush=True)


def smoke_command(args: argparse.Namespace) -> int:
    settings = Settings(
        stack=args.stack_name,
        cluster=args.cluster,
        subnets=[s for s in args.subnets.split(",") if s] if args.subnets else [],
        security_groups=[s for s in args.security_groups.split(",") if s] if args.security_groups else [],
        assign_public_ip=args.assign_public_ip,
        execution_role_arn=args.execution_role_arn,
        image=args.image,
        family=args.family,
        log_group=args.log_group,
        region=args.region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "",
        timeout_seconds=args.timeout_seconds,
        wait_seconds=args.wait_seconds,
    )
    aws = AwsCli(find_aws_cli(args.aws_cli), endpoint_url=args.endpoint_url, region=args.region, profile=args.profile)
    try:
        return Smoke(aws, settings).run()
    except AwsCliError as exc:
        raise UsageError(f"the stack cannot be reached or used: {exc}") from exc
