"""AWS on moto, in-process, wired as template.yaml wires it.

moto runs the state machine; its Lambda invocations are routed to the handlers in this process;
ECS RunTask/StopTask reach the local agent; the agent's events reach the task-stopped function
only if they match the template's EventBridge pattern, as EventBridge would deliver them.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import logging
import os
import sys
import threading
import time
import traceback
import uuid
import warnings
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import ClientError, ParamValidationError

from ecsrun.adapters import clients
from ecsrun.local import (
    atomic_requests,
    cfn,
    ecs_idempotency,
    execution_role,
    images,
    lambda_errors,
    network,
    quotas,
    role_simulation,
    throttling,
)
from ecsrun.local.agent import LocalEcsAgent, TaskRun
from ecsrun.local.iam import Enforcer, Principal
from ecsrun.local.taskdef import registration_input, registration_problems, resource_requirements
from ecsrun.local.template import Template, Trigger

REGION = "us-east-1"
_ABSENT = object()  # what a patched attribute was when the owner had none
ACCOUNT = "123456789012"  # moto's default account
MOTO_CONFIG = {"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}
TABLE = "ecsrun-local-runs"
PACING = "ecsrun-local-pacing"
BUCKET = "ecsrun-local-logs"
BUS = "ecsrun-local-runs"
DEMO_LOG_GROUP = "/ecs/ecsrun-demo"
PARTITION = "aws"
STACK = "ecsrun-local"  # the local stack's name, and its state machine's
STARTED_BY_PREFIX = "ecsrun/"
# What the local stack fills in for a template (the state machine an example stack targets, the bus, ...).
STATE_MACHINE_REFERENCES = ("RunStateMachine", "StateMachineArn")
SUPPLIED_REFERENCES = frozenset({*STATE_MACHINE_REFERENCES, "StartedByPrefix", "RunBus"})
EVENT_DELIVERY_ATTEMPTS = 3  # EventBridge retries a failed Lambda target; locally a few tries are enough

ENVIRONMENT = {
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
    "AWS_ACCESS_KEY_ID": "local",
    "AWS_SECRET_ACCESS_KEY": "local",
    "AWS_SESSION_TOKEN": "local",
    "RUNS_TABLE": TABLE,
    "PACING_TABLE": PACING,
    "LOGS_BUCKET": BUCKET,
    "EVENT_BUS_NAME": BUS,
    "STARTED_BY_PREFIX": STARTED_BY_PREFIX,
    "LOG_TAIL_LINES": "20",
    # The local agent writes every line before it reports the task STOPPED: nothing lags.
    "LOG_SETTLE_SECONDS": "0",
    "POWERTOOLS_SERVICE_NAME": "ecsrun",
    "POWERTOOLS_METRICS_NAMESPACE": "ecsrun",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_METRICS_DISABLED": "true",
}


# Template parameters the functions read from their environment, and the values of the local stack. PassRoleArns
# lets the local stack pass any role, so any task definition runs; give `--parameter PassRoleArns=...` to check a
# task definition's roles as your stack will.
LOCAL_PARAMETERS = {"PassRoleArns": "arn:aws:iam::*:role/*"}
PARAMETER_ENVIRONMENT = {
    "PassRoleArns": "PASS_ROLE_ARNS",
    "AllowedClusters": "ALLOWED_CLUSTERS",
    "AllowedTaskDefinitionFamilies": "ALLOWED_TASK_DEFINITION_FAMILIES",
    "RedactSecrets": "REDACT_SECRETS",
    "Preflight": "PREFLIGHT",
    "MaxArraySize": "MAX_ARRAY_SIZE",
    "FirelensLogBuckets": "FIRELENS_LOG_BUCKETS",
    "LogReadsPerSecond": "LOG_READS_PER_SECOND",
}


def project_root() -> Path:
    """The checkout that holds template.yaml (the package lives in <root>/functions/ecsrun)."""
    return Path(__file__).resolve().parents[3]


def lambda_paths(text: str) -> str:
    """Paths as Lambda's runtime would show them: the package under /var/task, libraries under /var/lang, so
    nothing a run reports names this machine's checkout."""
    import site

    places = [(Path(p), "/var/lang/lib/python3.13/site-packages") for p in site.getsitepackages()]
    places += [(project_root() / "functions", "/var/task"), (project_root(), "/var/task")]
    for local, remote in places:
        text = text.replace(str(local), remote)
    return text


@dataclass
class LocalContext:
    """The parts of Lambda's context object the handlers and Powertools read."""

    function_name: str
    invoked_function_arn: str
    memory_limit_in_mb: int = 256
    timeout_seconds: int = 900
    aws_request_id: str = ""
    function_version: str = "$LATEST"

    def __post_init__(self) -> None:
        self.aws_request_id = self.aws_request_id or str(uuid.uuid4())
        self._deadline = time.monotonic() + self.timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


class LocalAws:
    """A context manager: inside it, boto3 talks to moto and the ecsrun stack exists there."""

    def __init__(
        self,
        template_path: Path | None = None,
        *,
        default_timeout_seconds: int | None = None,
        log_level: str = "WARNING",
        parameters: dict[str, Any] | None = None,
        reconcile_every: float | None = None,
        reconcile_grace: int | None = None,
        enforce_iam: bool = True,
        rate_quotas: bool = False,
    ):
        self.template = Template(template_path or project_root() / "template.yaml")
        # Template parameters the run needs a value for (a schedule's request, an example stack's settings).
        self.parameters = {**LOCAL_PARAMETERS, **(parameters or {})}
        self._env = {
            **ENVIRONMENT,
            **{
                env: str(self.parameters[name])
                for name, env in PARAMETER_ENVIRONMENT.items()
                if name in self.parameters
            },
            "POWERTOOLS_LOG_LEVEL": log_level,
            "DEFAULT_TIMEOUT_SECONDS": str(
                default_timeout_seconds or self.template.parameter_default("DefaultTimeoutSeconds") or 3600
            ),
        }
        # The reconciler on a short schedule (off unless asked: tests that run it themselves stay deterministic),
        # so a dropped event still ends a local run within seconds, as the deployed schedule does within minutes.
        self.reconcile_every = reconcile_every
        if reconcile_every is not None:
            grace = reconcile_grace if reconcile_grace is not None else max(0, round(reconcile_every))
            self._env["RECONCILE_GRACE_SECONDS"] = str(grace)
        self._reconciler: threading.Thread | None = None
        self._closing = threading.Event()
        self.reconciler_passes: list[dict[str, Any]] = []
        self._saved_env: dict[str, str | None] = {}
        self._patches: list[tuple[Any, str, Any]] = []
        self.handlers: dict[str, str] = {}
        self.function_arns: dict[str, str] = {}
        self.state_machine_arn = ""
        self.delivered_events: list[dict[str, Any]] = []
        self.started_executions: list[str] = []
        self.triggers: list[Trigger] = []
        # Fault injection for tests: what EventBridge delivers for each event (default: the event, once).
        self.event_faults: Callable[[dict[str, Any]], list[dict[str, Any]]] = lambda event: [event]
        self._ended: set[str] = set()  # executions whose end was announced
        self._announcers: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._handlers_running = 0  # invocations in flight, which the stack's close waits for
        self._handlers_idle = threading.Condition()
        self.agent: LocalEcsAgent
        # IAM as deployed (ecsrun.local.iam): each function's calls are checked against its own role.
        self.enforce_iam = enforce_iam
        # AWS's default API rate quotas as token buckets (ecsrun.local.throttling): off unless asked.
        self.rate_quotas: throttling.RateQuotas | None = throttling.RateQuotas() if rate_quotas else None
        self.iam: Enforcer | None = None
        self.function_roles: dict[str, Principal] = {}
        self._trigger_roles: dict[tuple[str, str], Principal | None] = {}
        self._trigger_templates: dict[str, Path] = {}

    # ---- lifecycle ----

    def __enter__(self) -> LocalAws:
        from moto import mock_aws
        from moto.moto_api import state_manager

        for key, value in self._env.items():
            self._saved_env[key] = os.environ.get(key)
            os.environ[key] = value
        self._mock = mock_aws(config=MOTO_CONFIG)  # type: ignore[call-overload]
        self._mock.start()
        # Tasks stay RUNNING until the local agent stops them (moto would otherwise move them on its own).
        state_manager.set_transition(model_name="ecs::task", transition={"progression": "manual", "times": 10**9})
        clients.reset()
        _quiet_logging()
        try:
            self._create_stack()
        except BaseException:
            self.__exit__(*sys.exc_info())
            raise
        if self.reconcile_every is not None:
            self._reconciler = threading.Thread(
                target=self._reconcile_on_schedule, name="local-reconciler", daemon=True
            )
            self._reconciler.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        # From here no function runs (invoke_handler refuses), and the ones in flight finish first: a late thread
        # (an announcer, a task's last event, a worker of moto's) must not act in the next stack's moto.
        with self._handlers_idle:
            self._closing.set()
        self._stop_running_executions()
        with self._handlers_idle:
            self._handlers_idle.wait_for(lambda: self._handlers_running == 0, timeout=120)
        for announcer in list(self._announcers):
            announcer.join(timeout=10)
        if self._reconciler is not None:
            self._reconciler.join(timeout=60)
        if hasattr(self, "agent"):
            self.agent.shutdown()
        for owner, name, original in reversed(self._patches):
            if original is _ABSENT:
                delattr(owner, name)
            else:
                setattr(owner, name, original)
        self._patches.clear()
        clients.reset()
        self._mock.stop()
        for key, value in self._saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value

    def _stop_running_executions(self) -> None:
        """An execution still running when the stack closes (a child of an aborted parent, a run given up on) is
        stopped, so moto's worker unwinds here rather than invoking a function in the next stack."""
        if not self.state_machine_arn:
            return
        sfn = self.client("stepfunctions")
        try:
            pages = sfn.get_paginator("list_executions").paginate(
                stateMachineArn=self.state_machine_arn, statusFilter="RUNNING"
            )
            running = [e["executionArn"] for page in pages for e in page["executions"]]
        except ClientError:
            return
        for arn in running:
            with contextlib.suppress(ClientError):
                sfn.stop_execution(executionArn=arn, cause="the local stack closed")

    def client(self, service: str) -> Any:
        return boto3.client(service, region_name=REGION)  # type: ignore[call-overload]

    def _patch(self, owner: Any, name: str, replacement: Any) -> None:
        # The raw attribute (a staticmethod stays a staticmethod when it is put back).
        # An attribute the owner lacks (an operation moto does not implement) is removed again on exit.
        original = owner.__dict__[name] if name in vars(owner) else getattr(owner, name, _ABSENT)
        self._patches.append((owner, name, original))
        setattr(owner, name, replacement)

    # ---- the stack, as template.yaml declares it ----

    def _create_stack(self) -> None:
        iam = self.client("iam")
        trust = json.dumps({"Version": "2012-10-17", "Statement": []})
        role = iam.create_role(RoleName="ecsrun-local", AssumeRolePolicyDocument=trust)["Role"]["Arn"]
        self.client("dynamodb").create_table(TableName=TABLE, **self.template.table_definition("RunsTable"))
        self.client("dynamodb").create_table(TableName=PACING, **self.template.table_definition("PacingTable"))
        self.client("s3").create_bucket(Bucket=BUCKET)
        self.client("events").create_event_bus(Name=BUS)
        self._create_cluster("default")
        # The log group the shipped task definitions write to: created once in an account, as docs/starting-runs.md
        # says (ECS's managed execution role may not create it; they do not ask it to).
        self.client("logs").create_log_group(logGroupName=DEMO_LOG_GROUP)

        archive = io.BytesIO()
        with zipfile.ZipFile(archive, "w") as zf:
            zf.writestr("README.txt", "local engine: invocations are routed to the in-process handlers")
        lam = self.client("lambda")
        for logical_id, handler in self.template.functions().items():
            arn = lam.create_function(
                FunctionName=logical_id,
                Runtime="python3.13",
                Role=role,
                Handler=handler,
                Code={"ZipFile": archive.getvalue()},
                Architectures=["arm64"],
            )["FunctionArn"]
            self.handlers[logical_id] = handler
            self.function_arns[logical_id] = arn

        definition, substitutions = self.template.state_machine()
        for key, value in substitutions.items():
            definition = definition.replace("${" + key + "}", self._resolve_substitution(value))
        self.state_machine_arn = self.client("stepfunctions").create_state_machine(
            name=STACK, definition=definition, roleArn=role, type="STANDARD"
        )["stateMachineArn"]

        self.references = {
            **self.parameters,
            **{name: self.state_machine_arn for name in STATE_MACHINE_REFERENCES},
            "StartedByPrefix": STARTED_BY_PREFIX,
            "RunBus": BUS,
            "AWS::Region": REGION,
            "AWS::AccountId": ACCOUNT,
            "AWS::Partition": "aws",
        }
        self.rules = self.template.event_rules(self.references)
        self.triggers = self.template.triggers(self.references, self.state_machine_arn)
        ec2 = self.client("ec2")
        self._subnet = ec2.describe_subnets()["Subnets"][0]["SubnetId"]
        self._security_group = ec2.describe_security_groups()["SecurityGroups"][0]["GroupId"]
        self.agent = LocalEcsAgent(
            ecs=self.client("ecs"),
            logs=self.client("logs"),
            region=REGION,
            account=ACCOUNT,
            deliver=self._deliver_task_event,
            on_stopped=_record_stop,
            client=self.client,
        )
        self._route_lambda()
        self._route_ecs()
        self._route_nested_executions()
        self._parse_definitions_once()
        self._abort_promptly()
        self._announce_every_end()
        self._keep_callback_causes()
        self._name_unnamed_executions()
        quotas.enforce(self._patch)  # the payload and API limits AWS enforces and moto skips
        atomic_requests.install(self._patch)  # each DynamoDB and Logs request whole, as AWS serves it
        role_simulation.install(self._patch, REGION)  # IAM's SimulatePrincipalPolicy, which moto lacks
        network.install(self._patch)  # the account's subnets and security groups a request names
        if self.rate_quotas is not None:
            throttling.enforce(self._patch, self.rate_quotas)
        if self.enforce_iam:
            self._enforce_iam()

    def _create_cluster(self, name: str) -> None:
        """A cluster with the Fargate capacity providers and one container instance (this machine), so FARGATE,
        EC2, EXTERNAL and capacity-provider requests can all be placed."""
        ecs, ec2 = self.client("ecs"), self.client("ec2")
        ecs.create_cluster(clusterName=name, capacityProviders=["FARGATE", "FARGATE_SPOT"])
        # An ECS-optimised AMI, by name: all of moto's 1,300 Amazon images take seconds to describe.
        ecs_optimised = [{"Name": "name", "Values": ["amzn2-ami-ecs-hvm-*-x86_64-ebs"]}]
        image = ec2.describe_images(Owners=["amazon"], Filters=ecs_optimised)["Images"][0]["ImageId"]
        instance = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1, InstanceType="m5.large")["Instances"][0]
        document = {"instanceId": instance["InstanceId"], "region": REGION, "accountId": ACCOUNT}
        ecs.register_container_instance(cluster=name, instanceIdentityDocument=json.dumps(document))

    # ---- IAM: every call checked against the role `sam deploy` would give its caller ----

    def _resolver(self, template_path: Path) -> cfn.Resolver:
        """A template of the local stack, resolved with its names and parameters (as deployed here)."""
        names = {
            "RunsTable": TABLE,
            "PacingTable": PACING,
            "LogsBucket": BUCKET,
            "RunBus": BUS,
            "RunStateMachine": STACK,
        }
        names.update({logical_id: logical_id for logical_id in self.handlers})
        template = cfn.transform(template_path, region=REGION)
        declared = template.get("Parameters") or {}
        references = {"StateMachineArn": self.state_machine_arn, "StartedByPrefix": STARTED_BY_PREFIX}
        values = {k: v for k, v in {**references, **self.parameters}.items() if k in declared}
        stack = cfn.Stack(name=STACK, region=REGION, account=ACCOUNT)
        return cfn.Resolver(template, stack, parameters=values, names=names)

    def _enforce_iam(self) -> None:
        from botocore.client import BaseClient

        resolver = self._resolver(self.template.path)
        roles = cfn.roles(resolver)
        self.function_roles = {
            logical_id: Principal(roles[cfn.role_of(resolver, logical_id)], session=logical_id)
            for logical_id in self.handlers
        }
        machine_id = next(k for k, r in resolver.template["Resources"].items() if r["Type"].endswith("StateMachine"))
        machine = Principal(roles[cfn.role_of(resolver, machine_id)], session=f"{STACK}-execution")
        self.iam = Enforcer(machine, account=ACCOUNT, task_definition_roles=_task_definition_roles)
        original = BaseClient._make_api_call  # type: ignore[attr-defined]
        self._patch(BaseClient, "_make_api_call", self.iam.make_api_call(original))
        self.agent.check_execution_role = self._execution_role_failure

    def _execution_role_failure(self, task: TaskRun) -> str | None:
        """What the task's execution role does not allow that ECS needs before the task starts (its env files,
        secrets, a log group to create), as ECS stops the task for it."""
        role = task.task_definition.get("executionRoleArn")
        if not role:
            return None
        return execution_role.start_failure(
            task.task_definition,
            task.overrides,
            task_id=task.task_arn.rsplit("/", 1)[-1],
            statements=execution_role.statements_for(self.client("iam"), str(role)),
            region=REGION,
            account=ACCOUNT,
            group_exists=self.agent.group_exists,
        )

    def acting_as(self, principal: Principal | None) -> Any:
        """A context in which this thread's AWS calls are `principal`'s (unchecked without enforcement)."""
        return self.iam.acting_as(principal) if self.iam is not None else contextlib.nullcontext()

    def _target_principal(self, template_path: Path, logical_id: str) -> Principal | None:
        """The role an EventBridge rule or a Scheduler schedule of `template_path` starts executions with."""
        key = (str(template_path), logical_id)
        if key not in self._trigger_roles:
            resolver = self._resolver(template_path)
            role = cfn.target_role(resolver, logical_id, self.state_machine_arn)
            # A schedule fired locally whose Condition is false (no ScheduleExpression) still uses its role.
            found = cfn.roles(resolver, conditional=True)
            self._trigger_roles[key] = Principal(found[role], session=logical_id) if role else None
        return self._trigger_roles[key]

    def _resolve_substitution(self, value: Any) -> str:
        if value == {"Ref": "AWS::Partition"}:  # the local stack is in the aws partition (us-east-1)
            return PARTITION
        if isinstance(value, dict) and "Fn::GetAtt" in value:
            logical_id, attribute = value["Fn::GetAtt"]
            if attribute == "Arn" and logical_id in self.function_arns:
                return self.function_arns[logical_id]
        if isinstance(value, (str, int)):
            return str(value)
        raise ValueError(f"the local engine cannot resolve DefinitionSubstitution {value!r}")

    # ---- Lambda: invocations run the real handlers in this process ----

    def _route_lambda(self) -> None:
        from moto.awslambda_simple.models import LambdaSimpleBackend

        runtime = self

        def invoke(
            backend: Any, function_name: str, qualifier: str | None, body: Any, headers: Any, response_headers: Any
        ) -> bytes:
            fn = backend.get_function(function_name, qualifier)
            event = json.loads(body) if body else {}
            result, failed = runtime.invoke_handler(fn.function_name, fn.function_arn, event)
            if failed:
                response_headers["x-amz-function-error"] = "Unhandled"
            return json.dumps(result).encode()

        self._patch(LambdaSimpleBackend, "invoke", invoke)
        lambda_errors.install(self._patch)

    def invoke_handler(self, logical_id: str, arn: str, event: Any) -> tuple[Any, bool]:
        """(result, failed): a raised exception becomes Lambda's error payload, as the Python runtime makes it."""
        module_name, _, attr = self.handlers[logical_id].rpartition(".")
        handler = getattr(importlib.import_module(module_name), attr)
        with self._handlers_idle:
            if self._closing.is_set():
                closed = f"{logical_id} was not run: the local stack is closing"
                return {"errorMessage": closed, "errorType": "LocalStackClosed", "requestId": str(uuid.uuid4())}, True
            self._handlers_running += 1
        try:
            with self.acting_as(self.function_roles.get(logical_id)):
                return handler(event, LocalContext(function_name=logical_id, invoked_function_arn=arn)), False
        except Exception as exc:  # noqa: BLE001 - the Lambda runtime reports every exception the same way
            return {
                "errorMessage": lambda_paths(str(exc)),
                "errorType": type(exc).__name__,
                "requestId": str(uuid.uuid4()),
                "stackTrace": [lambda_paths(line) for line in traceback.format_exception(exc)],
            }, True
        finally:
            with self._handlers_idle:
                self._handlers_running -= 1
                self._handlers_idle.notify_all()

    def _reconcile_on_schedule(self) -> None:
        """The template's scheduled rule, every `reconcile_every` seconds instead of minutes."""
        assert self.reconcile_every is not None
        while not self._closing.wait(self.reconcile_every):
            result, failed = self.invoke_handler(
                "ReconcileFunction", self.function_arns["ReconcileFunction"], {"source": "aws.events"}
            )
            self.reconciler_passes.append({"failed": failed, **(result if isinstance(result, dict) else {})})

    # ---- Step Functions: an array's children are executions of the same state machine ----

    def _route_nested_executions(self) -> None:
        """moto's `states:startExecution.sync` passes the integration's parameters (StateMachineArn, Input,
        Name) to boto3 unchanged and returns boto3's answer as is; Step Functions maps them to the API's
        names (stateMachineArn, ...) and back (ExecutionArn, Output, ...). The runtime does that mapping."""
        from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_sfn import (
            StateTaskServiceSfn,
        )

        evaluate = StateTaskServiceSfn._eval_service_task

        def pascal(answer: dict[str, Any]) -> dict[str, Any]:
            return {key[:1].upper() + key[1:]: value for key, value in answer.items()}

        def eval_service_task(
            task: Any, env: Any, resource_runtime_part: Any, normalised_parameters: dict[str, Any], **kwargs: Any
        ) -> None:
            api = {key[:1].lower() + key[1:]: value for key, value in normalised_parameters.items()}
            evaluate(task, env=env, resource_runtime_part=resource_runtime_part, normalised_parameters=api, **kwargs)
            env.stack.append(pascal(env.stack.pop()))

        def normalise_response(task: Any, response: Any, *args: Any, **kwargs: Any) -> None:
            fixed = pascal(response)
            response.clear()
            response.update(fixed)

        self._patch(StateTaskServiceSfn, "_eval_service_task", eval_service_task)
        self._patch(StateTaskServiceSfn, "_normalise_response", normalise_response)

    def _parse_definitions_once(self) -> None:
        """moto parses the ASL (ANTLR, ~50 ms for ecsrun's) at every execution's start; parse each definition
        once and build fresh evaluation components from the kept tree, so executions share nothing mutable."""
        from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
        from moto.stepfunctions.parser.asl.parse.preprocessor import Preprocessor

        parse = AmazonStateLanguageParser.parse
        trees: dict[str, Any] = {}

        def parse_once(definition: str) -> tuple[Any, Any]:
            tree = trees.get(definition)
            if tree is None:
                _, tree = parse(definition)
                trees[definition] = tree
            return Preprocessor().visit(tree), tree

        self._patch(AmazonStateLanguageParser, "parse", staticmethod(parse_once))

    # ---- ECS: tasks run on the local agent ----

    def _route_ecs(self) -> None:
        from moto.ecs.models import EC2ContainerServiceBackend

        runtime = self
        original_run = EC2ContainerServiceBackend.run_task
        original_stop = EC2ContainerServiceBackend.stop_task

        def run_task(
            backend: Any,
            cluster_str: str,
            task_definition_str: str,
            count: int,
            overrides: Any,
            started_by: str,
            tags: Any,
            launch_type: Any,
            networking_configuration: Any = None,
            group: Any = None,
            platform_version: Any = None,
            capacity_provider_strategy: Any = None,
        ) -> Any:
            providers = [p.get("capacityProvider") for p in capacity_provider_strategy or []]
            # moto places awsvpc tasks in a subnet it knows; the task keeps the user's configuration.
            local_network = networking_configuration
            if networking_configuration and networking_configuration.get("awsvpcConfiguration"):
                vpc = networking_configuration["awsvpcConfiguration"]
                local_network = {
                    "awsvpcConfiguration": {
                        **vpc,
                        "subnets": [runtime._subnet],
                        "securityGroups": [runtime._security_group],
                    }
                }
            tasks = original_run(
                backend,
                cluster_str,
                task_definition_str,
                count,
                overrides,
                started_by,
                tags,
                launch_type,
                local_network,
                group,
                platform_version,
                capacity_provider_strategy,
            )
            for task in tasks:
                if networking_configuration:
                    task.network_configuration = networking_configuration
                runtime.agent.launch(
                    TaskRun(
                        task_arn=task.task_arn,
                        cluster_arn=task.cluster_arn,
                        task_definition_arn=task.task_definition_arn,
                        launch_type=launch_type
                        or ("FARGATE" if providers and providers[0].startswith("FARGATE") else "EC2"),
                        capacity_provider=providers[0] if providers else None,
                        started_by=started_by or "",
                        group=task.group,
                        overrides=overrides or {},
                    )
                )
            return tasks

        def stop_task(backend: Any, cluster_str: str, task_str: str, reason: str) -> Any:
            tasks = backend.tasks.get(backend._get_cluster(cluster_str).name, {})
            prior = next((t for arn, t in tasks.items() if arn.endswith(task_str.rsplit("/", 1)[-1])), None)
            before = (prior.last_status, prior.stopped_reason) if prior is not None else None
            task = original_stop(backend, cluster_str, task_str, reason)
            if before is not None and before[0] == "STOPPED":
                # A task that stopped already stays as it stopped (StopTask changes nothing).
                task.last_status, task.stopped_reason = before
                return task
            # As on ECS, only desiredStatus changes now: lastStatus says STOPPED once the agent has stopped it.
            task.last_status = before[0] if before is not None else "RUNNING"
            runtime.agent.stop(task.task_arn, reason or "Task stopped by user")
            return task

        self._patch(EC2ContainerServiceBackend, "run_task", run_task)
        self._patch(EC2ContainerServiceBackend, "stop_task", stop_task)
        ecs_idempotency.install(self._patch)
        self._register_as_ecs()

    def _register_as_ecs(self) -> None:
        """RegisterTaskDefinition and task placement as ECS does them: moto requires container-level memory for
        EC2, sums container memory even when only the task gives one (a TypeError, for an ordinary Fargate
        definition), and knows nothing of dependsOn's rules (local/taskdef.py)."""
        from moto.ecs.exceptions import EcsClientException
        from moto.ecs.models import EC2ContainerServiceBackend

        original = EC2ContainerServiceBackend.register_task_definition

        def register_task_definition(
            backend: Any, family: str, container_definitions: list[dict[str, Any]], **kwargs: Any
        ) -> Any:
            document = {
                "containerDefinitions": container_definitions,
                "requiresCompatibilities": kwargs.get("requires_compatibilities") or [],
                "cpu": kwargs.get("cpu"),
                "memory": kwargs.get("memory"),
            }
            problems = registration_problems(document)
            if problems:
                raise EcsClientException("; ".join(problems))
            return original(backend, family, container_definitions, **kwargs)

        def requirements(task_definition: Any) -> dict[str, Any]:
            return resource_requirements(
                {
                    "containerDefinitions": task_definition.container_definitions,
                    "cpu": task_definition.cpu,
                    "memory": task_definition.memory,
                }
            )

        self._patch(EC2ContainerServiceBackend, "register_task_definition", register_task_definition)
        self._patch(EC2ContainerServiceBackend, "_validate_container_defs", staticmethod(lambda *args: None))
        self._patch(EC2ContainerServiceBackend, "_calculate_task_resource_requirements", staticmethod(requirements))

    def _abort_promptly(self) -> None:
        """StopExecution ends a Standard execution at once, even one waiting for a callback. moto marks it
        stopped but lets the callback wait run out its timeout, so wake the waits. moto also drops the call's
        `error` and `cause` (DescribeExecution and the status change then lack them): keep them."""
        from moto.stepfunctions.parser.asl.eval.program_state import ProgramStopped
        from moto.stepfunctions.parser.backend.execution import Execution
        from moto.stepfunctions.responses import StepFunctionResponse

        runtime = self
        original = Execution.stop
        original_response = StepFunctionResponse.stop_execution
        given: dict[str, tuple[str | None, str | None]] = {}

        def stop_execution(response: Any) -> Any:
            given[response._get_param("executionArn")] = (response._get_param("error"), response._get_param("cause"))
            return original_response(response)

        def stop(execution: Any, *args: Any, **kwargs: Any) -> None:
            error, cause = given.pop(str(execution.exec_arn), (None, None))
            kwargs = {**kwargs, **({"error": error} if error else {}), **({"cause": cause} if cause else {})}
            worker = execution.exec_worker
            if worker is None:
                return original(execution, *args, **kwargs)
            # A stop right after the start: moto's worker thread may not have built its env, or built it and not
            # yet entered the first state. moto ignores a stop until then (the program state is None), and the
            # execution would run on to its end.
            for _ in range(3000):
                if worker.env is not None and worker.env._program_state is not None:
                    break
                time.sleep(0.01)
            env = worker.env
            set_error = env.set_error

            def keep_stopped(error: Any) -> None:  # the woken state unwinding must not turn ABORTED into FAILED
                if not isinstance(env.program_state(), ProgramStopped):
                    set_error(error)

            env.set_error = keep_stopped
            original(execution, *args, **kwargs)
            if error or cause:  # what DescribeExecution reports for an aborted execution
                execution.error, execution.cause = error, cause
            for endpoint in list(env.callback_pool_manager._pool.values()):
                endpoint.interrupt_all()
            # Step Functions answers StopExecution with the execution already ABORTED; moto's worker thread records
            # it once the woken state unwinds, so a DescribeExecution right after the call could still say RUNNING.
            for _ in range(400):
                if str(getattr(execution.exec_status, "value", execution.exec_status)) != "RUNNING":
                    break
                time.sleep(0.025)
            runtime._announce_end(execution.exec_arn)
            return None

        self._patch(Execution, "stop", stop)
        self._patch(StepFunctionResponse, "stop_execution", stop_execution)

    def _announce_every_end(self) -> None:
        """Step Functions puts an `Execution Status Change` on EventBridge for every end, whoever watches the
        execution; moto puts none. Each execution that ends (succeeds, fails, times out) is announced from another
        thread, so ExecutionEnded hears of an end nobody follows (`local serve`, a parent's child)."""
        from moto.stepfunctions.parser.backend.execution import BaseExecutionWorkerCommunication

        runtime = self
        original = BaseExecutionWorkerCommunication.terminated

        def terminated(communication: Any) -> None:
            original(communication)
            runtime._announce_end(communication.execution.exec_arn)

        self._patch(BaseExecutionWorkerCommunication, "terminated", terminated)

    def _keep_callback_causes(self) -> None:
        """SendTaskFailure's `cause` reaches the waiting state on Step Functions; moto 5.2.5's response handler
        drops it (it passes only `error` on). A parent that catches ecsrun's error reads the cause: pass it."""
        from moto.core.responses import EmptyResult
        from moto.stepfunctions.responses import StepFunctionResponse

        def send_task_failure(response: Any) -> Any:
            response.stepfunction_backend.send_task_failure(
                response._get_param("taskToken"), error=response._get_param("error"), cause=response._get_param("cause")
            )
            return EmptyResult()

        self._patch(StepFunctionResponse, "send_task_failure", send_task_failure)

    def _name_unnamed_executions(self) -> None:
        """StartExecution without a name gets a generated one (a UUID) on Step Functions; moto 5.2.5, when it runs
        state machines, names such an execution None. A parent's `states:startExecution` task, Airflow and the
        AWS CLI all leave the name out."""
        from moto.stepfunctions.parser.models import StepFunctionsParserBackend

        start = StepFunctionsParserBackend.start_execution

        def start_execution(backend: Any, state_machine_arn: str, name: Any = None, *args: Any, **kwargs: Any) -> Any:
            return start(backend, state_machine_arn, name or str(uuid.uuid4()), *args, **kwargs)

        self._patch(StepFunctionsParserBackend, "start_execution", start_execution)

    # ---- EventBridge: deliver what matches the template's rule ----

    def _deliver_task_event(self, event: dict[str, Any]) -> None:
        self.deliver_event(event)  # an ECS event on the default bus: it starts no execution

    def add_triggers(self, template_path: Path) -> list[Trigger]:
        """Also deliver to the rules of another stack (an example trigger) that target this state machine."""
        added = Template(template_path).triggers(self.references, self.state_machine_arn)
        if not added:
            raise LookupError(f"{template_path} has no EventBridge rule that targets the ecsrun state machine")
        self.triggers += added
        self._trigger_templates.update({trigger.rule: template_path for trigger in added})
        return added

    def deliver_event(self, event: dict[str, Any], bus: str = "default") -> list[str]:
        """Deliver to every rule on `bus` that matches: a function target is invoked (retried as EventBridge
        retries), a state machine target starts an execution with the input the rule's target shapes.
        Returns the ARNs of the executions started."""
        # moto's EventBridge matcher (it implements rule matching but not the TestEventPattern API).
        from moto.events.models import EventPattern

        def matches(pattern: dict[str, Any], delivered: dict[str, Any]) -> bool:
            return bool(EventPattern.load(json.dumps(pattern)).matches_event(delivered))  # type: ignore[arg-type]

        started = []
        for delivered in self.event_faults(event):
            for pattern, function in self.rules if bus == "default" else []:
                if matches(pattern, delivered):
                    self.delivered_events.append(delivered)
                    self._invoke_async(function, delivered)
            for trigger in self.triggers:
                if trigger.bus == bus and matches(trigger.pattern, delivered):
                    self.delivered_events.append(delivered)
                    template = self._trigger_templates.get(trigger.rule, self.template.path)
                    principal = self._target_principal(template, trigger.rule) if self.iam is not None else None
                    with self.acting_as(principal):  # the rule's target role starts the execution
                        started.append(self.start_execution(target_input(trigger, delivered)))
        return started

    def put_events(self, entries: list[dict[str, Any]]) -> list[str]:
        """PutEvents, as `aws events put-events --entries` sends it. Any bus other than the default one is taken
        to be this stack's bus (its name differs per stack). Returns the ARNs of the executions started."""
        default_bus = ("default", f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/default")
        started = []
        for entry in entries:
            bus = "default" if entry.get("EventBusName", "default") in default_bus else BUS
            event = envelope(entry["Source"], entry["DetailType"], json.loads(entry["Detail"]), entry.get("Resources"))
            started += self.deliver_event(event, bus=bus)
        return started

    def route_put_events(self) -> None:
        """PutEvents from any client (`aws events put-events` to `local serve`) reaches the stack's rules, as
        EventBridge delivers the entries it accepts."""
        from moto.events.models import EventsBackend

        put = EventsBackend.put_events
        runtime = self

        def put_events(backend: Any, events: list[dict[str, Any]]) -> Any:
            answers = put(backend, events)
            accepted = [event for event, answer in zip(events, answers, strict=False) if "ErrorCode" not in answer]
            runtime.put_events(accepted)
            return answers

        self._patch(EventsBackend, "put_events", put_events)

    def fire_schedule(self, logical_id: str, *, scheduled_time: datetime | None = None, attempt: int = 1) -> str:
        """Invoke a schedule's target as EventBridge Scheduler does: its Input, context attributes filled in."""
        schedule = next((s for s in self.template.schedules(self.references) if s.name == logical_id), None)
        if schedule is None:
            raise LookupError(f"template.yaml has no schedule {logical_id} targeting the state machine")
        if not isinstance(schedule.input, str):
            raise ValueError(f"schedule {logical_id}'s input is a parameter with no value: {schedule.input}")
        attributes = {
            "aws.scheduler.schedule-arn": f"arn:aws:scheduler:{REGION}:{ACCOUNT}:schedule/default/{logical_id}",
            "aws.scheduler.scheduled-time": (scheduled_time or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "aws.scheduler.execution-id": uuid.uuid4().hex[:16],
            "aws.scheduler.attempt-number": str(attempt),
        }
        text = schedule.input
        for name, value in attributes.items():
            text = text.replace(f"<{name}>", value)
        principal = self._target_principal(self.template.path, logical_id) if self.iam is not None else None
        with self.acting_as(principal):  # the schedule's role starts the execution
            return self.start_execution(text)

    def start_execution(self, execution_input: str) -> str:
        """StartExecution as EventBridge and Scheduler targets call it: a generated execution name."""
        arn = self.client("stepfunctions").start_execution(
            stateMachineArn=self.state_machine_arn, name=str(uuid.uuid4()), input=execution_input
        )["executionArn"]
        self.started_executions.append(arn)
        return str(arn)

    def _invoke_async(self, function: str, event: dict[str, Any]) -> None:
        lam = self.client("lambda")
        for attempt in range(EVENT_DELIVERY_ATTEMPTS):
            response = lam.invoke(FunctionName=function, InvocationType="Event", Payload=json.dumps(event))
            if "FunctionError" not in response or self._closing.is_set():
                return
            time.sleep(0.1 * 2**attempt)

    def invoke_function(self, logical_id: str, event: Any) -> Any:
        """Invoke a function as its trigger would (a schedule, say); raises if the handler failed."""
        result, failed = self.invoke_handler(logical_id, self.function_arns[logical_id], event)
        if failed:
            raise RuntimeError(f"{logical_id} failed: {result['errorType']}: {result['errorMessage']}")
        return result

    def _announce_end(self, execution_arn: str) -> None:
        """An execution ended (StopExecution's ABORTED included): Step Functions puts the status change on
        EventBridge once it is recorded; so does the runtime, from another thread."""

        def announce() -> None:
            for _ in range(100):  # moto marks the execution ABORTED as the call returns
                if self._closing.is_set():  # the stack is going away: its functions must not run any more
                    return
                try:
                    described = self.client("stepfunctions").describe_execution(executionArn=execution_arn)
                except ClientError:  # not an execution of this stack (a Map's inner run): nothing to announce
                    return
                if described["status"] != "RUNNING":
                    self.execution_ended(described)
                    return
                time.sleep(0.05)

        thread = threading.Thread(target=announce, name="local-execution-ended", daemon=True)
        thread.start()
        self._announcers.append(thread)

    def execution_ended(self, execution: dict[str, Any]) -> None:
        """Step Functions tells EventBridge an execution ended; moto does not, so the runtime does (once)."""
        with self._lock:
            if execution["executionArn"] in self._ended:
                return
            self._ended.add(execution["executionArn"])
        detail = {
            key: execution.get(key)
            for key in ("executionArn", "stateMachineArn", "name", "status", "input", "output", "error", "cause")
        }
        for key in ("startDate", "stopDate"):
            moment = execution.get(key)
            detail[key] = int(moment.timestamp() * 1000) if isinstance(moment, datetime) else None
        detail["inputDetails"] = {"included": True}
        self.deliver_event(
            envelope("aws.states", "Step Functions Execution Status Change", detail, [execution["executionArn"]])
        )

    # ---- helpers for runs ----

    def register_task_definition(self, document: dict[str, Any], *, push_images: bool = True) -> str:
        """Register a RegisterTaskDefinition input (DescribeTaskDefinition output is accepted too); its private ECR
        images are pushed to the local stack's ECR first (local/images.py), unless `push_images` is False."""
        document = registration_input(document)
        if push_images:
            images.push(lambda region: boto3.client("ecr", region_name=region), document)
        try:
            arn = str(self.client("ecs").register_task_definition(**document)["taskDefinition"]["taskDefinitionArn"])
        except (ClientError, ParamValidationError) as exc:
            raise TaskDefinitionRejected(f"RegisterTaskDefinition rejected it: {exc}") from exc
        from moto.ecs.models import ecs_backends

        registered = ecs_backends[ACCOUNT][REGION].describe_task_definition(arn)
        if document.get("networkMode"):
            # moto turns any non-EC2 compatibility (EXTERNAL too) into awsvpc; ECS keeps the mode it was given.
            registered.network_mode = document["networkMode"]
        # moto calls every non-EC2 definition ["EC2", "FARGATE"]; ECS validates it for EC2 plus what it requires.
        registered.compatibilities = list(dict.fromkeys(["EC2", *document.get("requiresCompatibilities", [])]))
        return arn

    def objects(self, prefix: str = "") -> dict[str, bytes]:
        s3 = self.client("s3")
        found: dict[str, bytes] = {}
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix):
            for obj in page.get("Contents", []):
                found[obj["Key"]] = s3.get_object(Bucket=BUCKET, Key=obj["Key"])["Body"].read()
        return found


def envelope(source: str, detail_type: str, detail: Any, resources: list[str] | None = None) -> dict[str, Any]:
    """An event as EventBridge hands it to a rule's target."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": detail_type,
        "source": source,
        "account": ACCOUNT,
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": REGION,
        "resources": resources or [],
        "detail": detail,
    }


def target_input(trigger: Trigger, event: dict[str, Any]) -> str:
    """The execution input a rule's target makes of an event: InputTransformer, InputPath, or the whole event."""
    if trigger.input_transformer:
        from moto.events.utils import EventTemplateParser  # EventBridge's input transformer, as moto implements it

        ingested = {**event, "ingestion-time": event.get("time")}
        transformer = trigger.input_transformer
        paths = transformer.get("InputPathsMap", {})
        shaped = EventTemplateParser.parse(transformer["InputTemplate"], paths, ingested)  # type: ignore[arg-type]
        return json.dumps(shaped)
    if trigger.input_path:
        from jsonpath_ng import parse  # type: ignore[import-untyped]

        found = parse(trigger.input_path).find(event)
        return json.dumps(found[0].value if found else None)
    return json.dumps(event)


class TaskDefinitionRejected(Exception):
    """A --task-definition that ECS would not register."""


def _task_definition_roles(name: str, region: str) -> tuple[str, list[str]]:
    """A task definition's ARN and the roles RunTask would pass for it (the IAM check's lookup)."""
    from moto.ecs.models import ecs_backends

    try:
        definition = ecs_backends[ACCOUNT][region].describe_task_definition(name)
    except Exception:  # noqa: BLE001 - unknown to ECS: RunTask fails on its own, IAM has nothing to pass
        family = name.rsplit("task-definition/", 1)[-1]
        return f"arn:aws:ecs:{region}:{ACCOUNT}:task-definition/{family if ':' in family else family + ':*'}", []
    # moto sets these attributes only when the definition has the roles.
    found = (getattr(definition, name, None) for name in ("task_role_arn", "execution_role_arn"))
    roles = [str(role) for role in found if role]
    return str(definition.arn), roles


def _record_stop(run: TaskRun, stopped: dict[str, Any]) -> None:
    """ECS's control plane learns the task stopped, so ListTasks and DescribeTasks say so too."""
    from moto.ecs.models import ecs_backends

    backend = ecs_backends[ACCOUNT][REGION]
    cluster = run.cluster_arn.rsplit("/", 1)[-1]
    task = backend.tasks.get(cluster, {}).get(run.task_arn)
    if task is not None:
        task.last_status = "STOPPED"
        task.desired_status = "STOPPED"
        task.stopped_reason = run.stopped_reason or ""
        # moto serializes whatever the task carries: DescribeTasks then reports what the agent saw.
        vars(task).update(
            {
                "containers": stopped["containers"],
                "stop_code": run.stop_code,
                "version": run.version,
                **{key: _epoch(stopped.get(field)) for key, field in _TIMES.items() if stopped.get(field)},
            }
        )


_TIMES = {"started_at": "startedAt", "stopping_at": "stoppingAt", "stopped_at": "stoppedAt"}


def _epoch(iso: Any) -> float:
    return datetime.fromisoformat(str(iso).replace("Z", "+00:00")).timestamp()


def _quiet_logging() -> None:
    """moto logs every state failure as an error; the run's outcome already says it."""
    # Metrics are disabled locally, so Powertools would warn on every invocation that none were published.
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    # Powertools' tracer logs a handler's exception with its traceback (for CloudWatch); the outcome says it here.
    for name in ("moto", "botocore", "urllib3", "aws_lambda_powertools.tracing"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    # Handler logs go to stderr, so stdout carries only the run's report (and stays JSON with --output json).
    from ecsrun.plumbing.observability import logger

    handler = logger.registered_handler
    if isinstance(handler, logging.StreamHandler):
        handler.setStream(_CurrentStderr())


class _CurrentStderr:
    """Whatever sys.stderr is when a line is written (a test may swap it between runs)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def _text(value: Any) -> str:
    """A parameter's value as the template hands it to a function (a list joined with commas)."""
    return ",".join(map(str, value)) if isinstance(value, list) else str(value)
