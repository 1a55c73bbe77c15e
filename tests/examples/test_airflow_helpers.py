"""The Airflow operator's Airflow-free parts (integrations/airflow/src/ecsrun_airflow), checked against ecsrun itself:
the requests it builds are ones ecsrun accepts, its run names are valid runIds, and on the local engine its calls
follow a run to its end and are all allowed by the policy docs/airflow.md gives the Airflow role. The operator in
real Airflow is tested by `make airflow-test` (integrations/airflow/tests)."""

from __future__ import annotations

import fnmatch
import json
import re
import sys
import time
import warnings
from collections.abc import Iterator
from typing import Any

import pytest
from ecsrun.domain.models.request import RUN_ID_PATTERN, validate_request
from ecsrun.local.engine import follow
from ecsrun.local.runtime import BUCKET, REGION, STACK, TABLE, LocalAws

from tests.conftest import EVENTS, ROOT

# The distribution is not installed in this venv (Airflow is not): its Airflow-free modules are read from source.
sys.path.insert(0, str(ROOT / "integrations" / "airflow" / "src"))
from ecsrun_airflow import from_ecs_operator_kwargs
from ecsrun_airflow import names as run_names
from ecsrun_airflow.client import EcsrunApi
from ecsrun_airflow.logs import LogTail, copied_logs
from ecsrun_airflow.outcome import read_end
from ecsrun_airflow.request import with_run_id

ACCOUNT = "123456789012"
NETWORK = {"awsvpcConfiguration": {"subnets": ["subnet-0123456789abcdef0"], "securityGroups": ["sg-0123456789abcdef0"]}}


def test_the_operator_knows_ecsruns_run_id_rule() -> None:
    assert run_names.RUN_ID_PATTERN == RUN_ID_PATTERN


@pytest.mark.parametrize("try_number", [1, 2, 99])
def test_run_names_are_valid_run_ids(try_number: int) -> None:
    name = run_names.run_name("d" * 300, "t.t" * 90, "scheduled__2026-11-21T00:00:00+00:00", 7, try_number)
    assert re.fullmatch(RUN_ID_PATTERN, name)


@pytest.mark.parametrize(
    "operator_kwargs",
    [
        {"launch_type": "FARGATE", "platform_version": "LATEST", "network_configuration": NETWORK},
        {
            "launch_type": "EC2",
            "capacity_provider_strategy": [{"capacityProvider": "FARGATE_SPOT", "weight": 1}],
            "network_configuration": NETWORK,
        },
        {"placement_strategy": [{"type": "spread", "field": "attribute:ecs.availability-zone"}], "group": "nightly"},
    ],
)
def test_requests_built_from_ecs_operator_arguments_are_ones_ecsrun_accepts(operator_kwargs: dict[str, Any]) -> None:
    # Given EcsRunTaskOperator's arguments, and ecsrun's runner fields
    request = from_ecs_operator_kwargs(
        task_definition="ecsrun-hello",
        cluster="default",
        overrides={"containerOverrides": [{"name": "app", "command": ["python3", "-c", "print('hi')"]}]},
        tags={"team": "data"},
        propagate_tags="TASK_DEFINITION",
        timeout_seconds=3600,
        success_exit_codes=[0, 3],
        retry={"maxAttempts": 5},
        **operator_kwargs,
    )
    # When ecsrun validates the execution's input the operator sends (what `ecsrun validate` runs)
    _, problems = validate_request(json.loads(with_run_id(request, "nightly-report-t1")))
    # Then it has no problem
    assert problems == []


# ---- the operator's calls, on the local engine ----


@pytest.fixture
def aws() -> Iterator[LocalAws]:
    with LocalAws() as local:
        for name in ("failing", "slow"):
            local.register_task_definition(json.loads((EVENTS / "task-definitions" / f"{name}.json").read_text()))
        yield local


def _documented_policy(aws: LocalAws) -> dict[str, Any]:
    """The policy docs/airflow.md gives the Airflow role, its placeholders filled with the local stack's names."""
    text = (ROOT / "docs" / "airflow.md").read_text()
    block = next(b for b in text.split("```json")[1:] if '"Sid": "FindTheStack"' in b).split("```")[0]
    machine = aws.state_machine_arn.rsplit(":", 1)[-1]
    for placeholder, value in {
        "STATE_MACHINE_ARN": aws.state_machine_arn,
        "STATE_MACHINE_NAME": machine,
        "RUNS_TABLE": TABLE,
        "LOGS_BUCKET": BUCKET,
        "LOG_GROUP": "/ecs/ecsrun-demo",  # the awslogs group of events/task-definitions/failing.json and slow.json
        "REGION": REGION,
        "ACCOUNT": ACCOUNT,
        "STACK": STACK,
    }.items():
        block = block.replace(placeholder, value)
    return dict(json.loads(block))


def _resource(service: str, operation: str, params: dict[str, Any]) -> str:
    """The ARN IAM checks for the call (the service authorization reference's resource types)."""
    if service == "cloudformation":
        return f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/{params['StackName']}/0a1b2c3d"
    if service == "states":
        return str(params.get("stateMachineArn") or params["executionArn"])
    if service == "dynamodb":
        return f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{params['TableName']}"
    if service == "logs":
        group, stream = params["logGroupName"], params["logStreamName"]
        return f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{group}:log-stream:{stream}"
    if service == "s3":
        return f"arn:aws:s3:::{params['Bucket']}/{params['Key']}"
    raise AssertionError(f"a call the policy check does not know: {service} {operation}")


def _allowed_by(policy: dict[str, Any], action: str, resource: str) -> str | None:
    for statement in policy["Statement"]:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        if action in actions and fnmatch.fnmatchcase(resource, statement["Resource"]):
            return str(statement["Sid"])
    return None


def _create_stack(aws: LocalAws) -> None:
    """The stack's outputs, as `ecsrun local serve` (and CloudFormation) answer DescribeStacks."""
    outputs = {"StateMachineArn": aws.state_machine_arn, "LogsBucketName": BUCKET, "RunsTableName": TABLE}
    template = {
        "Resources": {"LocalStack": {"Type": "AWS::CloudFormation::WaitConditionHandle"}},
        "Outputs": {key: {"Value": value} for key, value in outputs.items()},
    }
    with warnings.catch_warnings():  # moto says it creates nothing for the handle: nothing needs one
        warnings.simplefilter("ignore", UserWarning)
        aws.client("cloudformation").create_stack(StackName=STACK, TemplateBody=json.dumps(template))


def test_the_operators_calls_follow_a_run_and_fit_the_documented_policy(aws: LocalAws) -> None:
    # Given the operator's client on the local stack, every call it makes recorded, and the documented policy
    _create_stack(aws)
    calls: list[tuple[str, str]] = []

    def client(service: str, region: str | None) -> Any:
        made = aws.client(service)
        prefix = made.meta.service_model.endpoint_prefix  # the IAM prefix of these five: states, s3, logs, ...

        def record(params: dict[str, Any], model: Any, **_: Any) -> None:
            calls.append((f"{prefix}:{model.name}", _resource(prefix, model.name, params)))

        made.meta.events.register("before-parameter-build.*.*", record)
        return made

    api, policy = EcsrunApi(client), _documented_policy(aws)
    stack = api.stack(STACK)
    # When a try starts a run whose container exits 3, tails it while it runs, and reads its end
    name = "nightly-report-run-report-20261121-3f9c2a1b7d-t1"
    request = json.loads((EVENTS / "requests" / "failing.json").read_text())
    del request["runId"]
    assert api.describe(run_names.execution_arn(stack.state_machine_arn, name)) is None  # no earlier run
    arn = api.start(stack.state_machine_arn, name, with_run_id(request, name))
    lines: list[str] = []
    tail = LogTail(api, stack.runs_table, name, arn, lines.append, lines.append)
    last = [0.0]

    def poll() -> None:
        if time.monotonic() - last[0] > 0.5:
            last[0] = time.monotonic()
            tail.poll()

    follow(aws, arn, on_tick=poll)
    tail.poll(final=True)
    end = read_end(api.describe(arn) or {})
    copied = list(copied_logs(api, end, 2))
    # Then the tail printed the container's lines, and the end reads as ecsrun's error name and reason
    assert "app | error: could not open input" in lines and not tail.stopped
    assert end.headline() == "ECS.ContainerExitedNonZero: essential container 'app' exited with code 3"
    assert end.retryable is False and any(line.endswith("error: could not open input") for line in end.last_lines)
    assert copied[0].startswith(f"==> app <== s3://{BUCKET}/runs/{name}/logs/app.log.gz (last 2 of ")
    # And a second run, killed by the operator, is stopped
    slow = {**json.loads((EVENTS / "requests" / "timeout.json").read_text()), "timeoutSeconds": 60}
    slow.pop("runId", None)
    killed = api.start(stack.state_machine_arn, f"{name[:-1]}2", with_run_id(slow, f"{name[:-1]}2"))
    deadline = time.monotonic() + 60
    while ((api.record(TABLE, f"{name[:-1]}2") or {}).get("status")) != "RUNNING":  # killed while its task runs
        assert time.monotonic() < deadline, "the second run's task did not start"
        time.sleep(0.2)
    assert api.stop(killed, "the Airflow task was killed") is True
    assert api.describe(killed)["status"] == "ABORTED"  # type: ignore[index]
    while ((api.record(TABLE, f"{name[:-1]}2") or {}).get("status")) != "ABORTED":  # ecsrun stopped its task
        assert time.monotonic() < deadline + 60, "ecsrun did not record the aborted run"
        time.sleep(0.2)
    # And every call is allowed by the documented policy, and every statement of it is used
    used = {_allowed_by(policy, action, resource) for action, resource in calls}
    assert None not in used, [c for c in calls if _allowed_by(policy, *c) is None]
    assert used == {s["Sid"] for s in policy["Statement"]}
