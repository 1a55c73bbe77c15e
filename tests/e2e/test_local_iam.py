"""IAM on the local engine, end to end: every call a function, the state machine or a rule makes is checked
against its role from template.yaml, and a call the role does not allow fails as it would on AWS."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError
from ecsrun.local.engine import run_local
from ecsrun.local.runtime import ACCOUNT, REGION, TABLE, LocalAws

from tests.conftest import EVENTS


def _json(kind: str, name: str) -> dict[str, Any]:
    return json.loads((EVENTS / kind / f"{name}.json").read_text())


@pytest.fixture
def aws() -> Iterator[LocalAws]:
    with LocalAws() as local:
        local.register_task_definition(_json("task-definitions", "hello"))
        yield local


def test_a_run_makes_only_calls_its_roles_allow(aws: LocalAws) -> None:
    # Given the local stack with IAM enforced (the default)
    assert aws.iam is not None
    # When the hello request runs through the state machine
    result = run_local(_json("requests", "hello"), [], aws=aws)
    # Then it succeeded, every function's and the state machine's calls were checked, and none was refused
    assert result.status == "SUCCEEDED", result.cause
    assert aws.iam.checked >= 20
    assert aws.iam.denied == []


def test_an_array_run_starts_and_follows_its_children_within_the_state_machines_role() -> None:
    # Given an array of two children: the Distributed Map's nested executions are the state machine's calls
    request = {**_json("requests", "array"), "array": {"size": 2}}
    with LocalAws() as aws:
        aws.register_task_definition(_json("task-definitions", "array"))
        result = run_local(request, [], aws=aws)
        # Then the parent and its children succeeded with nothing refused
        assert result.status == "SUCCEEDED", result.cause
        assert aws.iam is not None and aws.iam.denied == []


def test_a_call_outside_the_callers_role_fails_as_on_aws(aws: LocalAws) -> None:
    # Given code acting as the PlanRetry function, whose role may read and update run records only
    ecs, dynamodb = aws.client("ecs"), aws.client("dynamodb")
    principal = aws.function_roles["PlanRetryFunction"]
    with aws.acting_as(principal):
        # When it calls StopTask, Then ECS's own AccessDeniedException is raised with AWS's message
        with pytest.raises(ecs.exceptions.AccessDeniedException) as stopped:
            ecs.stop_task(cluster="default", task="abc")
        # And a DynamoDB Scan (not granted) fails with DynamoDB's error code
        with pytest.raises(ClientError) as scanned:
            dynamodb.scan(TableName=TABLE)
    task = f"arn:aws:ecs:{REGION}:{ACCOUNT}:task/default/abc"
    assert stopped.value.response["Error"]["Message"] == (
        f"User: {principal.arn} is not authorized to perform: ecs:StopTask on resource: {task} "
        "because no identity-based policy allows the ecs:StopTask action"
    )
    assert principal.arn.startswith(f"arn:aws:sts::{ACCOUNT}:assumed-role/") and principal.arn.endswith(
        "/PlanRetryFunction"
    )
    assert scanned.value.response["Error"]["Code"] == "AccessDeniedException"
    # And outside any role (the local engine, a test), nothing is checked
    aws.client("dynamodb").scan(TableName=TABLE)


def test_a_run_aborted_while_run_task_is_in_flight_has_its_task_stopped_by_the_start(aws: LocalAws) -> None:
    # Given a valid run, and an execution that ends (ExecutionEnded marks the run ABORTED) while RunTask is in flight
    validated = aws.invoke_function(
        "ValidateRequestFunction",
        {"request": _json("requests", "hello"), "executionName": "first", "executionArn": _execution("first")},
    )
    launch = aws.agent.launch
    launched: list[Any] = []

    def abort_then_launch(run: Any) -> None:
        aws.client("dynamodb").update_item(
            TableName=TABLE,
            Key={"runId": {"S": "hello-demo"}},
            UpdateExpression="SET #s = :aborted, stopReason = :why",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={":aborted": {"S": "ABORTED"}, ":why": {"S": "execution ended"}},
        )
        launched.append(run)
        launch(run)

    aws.agent.launch = abort_then_launch  # type: ignore[method-assign]

    # When the start function records the task it started and finds the run aborted
    answer = aws.invoke_function(
        "StartTaskFunction", {"run": validated["run"], "taskToken": "token", "executionArn": _execution("first")}
    )

    # Then it stopped that task itself (its role must allow ecs:StopTask), so no task outlives its run
    assert answer["taskArn"] == launched[0].task_arn
    assert aws.iam is not None and aws.iam.denied == []
    aws.agent.wait_all(timeout=60)
    [task] = aws.client("ecs").describe_tasks(cluster="default", tasks=[answer["taskArn"]])["tasks"]
    assert task["lastStatus"] == "STOPPED"


def test_the_run_requested_rule_starts_executions_with_its_own_role(aws: LocalAws) -> None:
    # Given the rule's role as the template grants it (StartExecution on this state machine)
    entry = _json("requests", "eventbridge-put-events")
    entries = entry if isinstance(entry, list) else [entry]
    assert aws.iam is not None
    checked = aws.iam.checked
    # When a run request is put on the bus, Then the execution starts, the rule's role having been checked
    assert len(aws.put_events(entries)) == 1
    assert aws.iam.checked > checked and aws.iam.denied == []

    # And a role without that grant cannot start it
    rule = aws.template.path, "RunStateMachineRunRequested"
    real = aws._target_principal(*rule)
    assert real is not None
    stripped = dataclasses.replace(real, role=dataclasses.replace(real.role, statements=()))
    aws._trigger_roles[(str(rule[0]), rule[1])] = stripped
    with pytest.raises(ClientError) as refused:
        aws.put_events(entries)
    assert refused.value.response["Error"]["Code"] == "AccessDeniedException"
    assert "states:StartExecution" in refused.value.response["Error"]["Message"]


def _execution(name: str) -> str:
    return f"arn:aws:states:{REGION}:{ACCOUNT}:execution:ecsrun-local:{name}"


def test_a_state_machine_role_without_lambda_invoke_fails_the_task_as_aws_does(aws: LocalAws) -> None:
    # Given the state machine's role without lambda:InvokeFunction (every other grant kept)
    assert aws.iam is not None and aws.iam.machine is not None
    machine = aws.iam.machine
    kept = tuple(s for s in machine.role.statements if "lambda:InvokeFunction" not in json.dumps(s))
    assert len(kept) < len(machine.role.statements)
    aws.iam.machine = dataclasses.replace(machine, role=dataclasses.replace(machine.role, statements=kept))
    # When a run starts
    result = run_local(_json("requests", "hello"), [], aws=aws)
    # Then ValidateRequest's Task failed with Lambda.AWSLambdaException (its Retry and Catch match it), AWS's cause
    history = aws.client("stepfunctions").get_execution_history(executionArn=result.execution_arn, maxResults=1000)
    failures = [e["taskFailedEventDetails"] for e in history["events"] if e["type"] == "TaskFailed"]
    assert failures and {f["error"] for f in failures} == {"Lambda.AWSLambdaException"}
    assert failures[0]["cause"].startswith(f"User: arn:aws:sts::{ACCOUNT}:assumed-role/")
    assert "lambda:InvokeFunction" in failures[0]["cause"]
    details = "(Service: AWSLambda; Status Code: 403; Error Code: AccessDeniedException; Request ID: "
    assert details in failures[0]["cause"]
    # And the run ends through the state machine's own Catch, not States.Runtime
    assert (result.status, result.error) == ("FAILED", "Run.InternalError")
    assert [s.name for s in result.states] == ["ValidateRequest", "FunctionFailed", "RunInternalError"]


MANAGED_ROLE = f"arn:aws:iam::{ACCOUNT}:role/ecsTaskExecutionRole"


def _needing(need: str) -> dict[str, Any]:
    """hello.json with the managed execution role, needing of it what `need` names."""
    definition = _json("task-definitions", "hello")
    definition["family"] = f"needs-{need}"
    container = definition["containerDefinitions"][0]
    if need == "log-group":
        container["logConfiguration"]["options"].update(
            {"awslogs-group": "/ecs/new-group", "awslogs-create-group": "true"}
        )
    elif need == "ssm-secret":
        container["secrets"] = [{"name": "DB_PASSWORD", "valueFrom": "/ecsrun/db-password"}]
    elif need == "asm-secret":
        container["secrets"] = [
            {"name": "TOKEN", "valueFrom": f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:tok-AbCdEf"}
        ]
    elif need == "env-file":
        container["environmentFiles"] = [{"value": "arn:aws:s3:::ecsrun-config/app.env", "type": "s3"}]
    assert definition["executionRoleArn"] == MANAGED_ROLE
    return definition


REFUSALS = {
    "log-group": "ResourceInitializationError: failed to validate logger args: create stream has been retried 1 times: "
    "failed to create Cloudwatch log group: AccessDeniedException: User: arn:aws:sts::123456789012:assumed-role/"
    "ecsTaskExecutionRole/{task} is not authorized to perform: logs:CreateLogGroup on resource: "
    "arn:aws:logs:us-east-1:123456789012:log-group:/ecs/new-group:log-stream: because no identity-based policy "
    "allows the logs:CreateLogGroup action : exit status 1",
    "ssm-secret": "ResourceInitializationError: unable to pull secrets or registry auth: execution resource retrieval "
    "failed: unable to retrieve secrets from ssm: service call has been retried 1 time(s): AccessDeniedException: "
    "User: arn:aws:sts::123456789012:assumed-role/ecsTaskExecutionRole/{task} is not authorized to perform: "
    "ssm:GetParameters on resource: arn:aws:ssm:us-east-1:123456789012:parameter/ecsrun/db-password because no "
    "identity-based policy allows the ssm:GetParameters action status code: 400, request id: ",
    "asm-secret": "ResourceInitializationError: unable to pull secrets or registry auth: execution resource retrieval "
    "failed: unable to retrieve secret from asm: service call has been retried 1 time(s): failed to fetch secret "
    "arn:aws:secretsmanager:us-east-1:123456789012:secret:tok-AbCdEf from secrets manager: AccessDeniedException: "
    "User: arn:aws:sts::123456789012:assumed-role/ecsTaskExecutionRole/{task} is not authorized to perform: "
    "secretsmanager:GetSecretValue on resource: arn:aws:secretsmanager:us-east-1:123456789012:secret:tok-AbCdEf "
    "because no identity-based policy allows the secretsmanager:GetSecretValue action status code: 400, request id: ",
    "env-file": "ResourceInitializationError: failed to download env files: file download command: non empty error "
    "stream: service call has been retried 5 time(s): AccessDenied: Access Denied status code: 403, request id: ",
}
GRANTS = {
    "log-group": ["logs:CreateLogGroup"],
    "ssm-secret": ["ssm:GetParameters"],
    "asm-secret": ["secretsmanager:GetSecretValue"],
    "env-file": ["s3:GetObject", "s3:GetBucketLocation"],
}


def _seed(aws: LocalAws) -> None:
    aws.client("ssm").put_parameter(Name="/ecsrun/db-password", Value="pw", Type="SecureString")
    aws.client("secretsmanager").create_secret(Name="tok", SecretString="t")
    aws.client("s3").create_bucket(Bucket="ecsrun-config")
    aws.client("s3").put_object(Bucket="ecsrun-config", Key="app.env", Body=b"MODE=local\n")


@pytest.mark.parametrize("need", list(REFUSALS))
def test_the_managed_execution_role_cannot_give_a_task_what_it_lacks(
    aws: LocalAws, need: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The agent's own refusal, as ECS stops the task: on a stack without the preflight (which would predict it)
    monkeypatch.setenv("PREFLIGHT", "disabled")
    # Given a task definition with ECS's managed execution role (AmazonECSTaskExecutionRolePolicy only, held by the
    # local stack) that needs a log group created, a secret or an environment file, all present in the local stack
    _seed(aws)
    iam = aws.client("iam")
    iam.create_role(RoleName="ecsTaskExecutionRole", AssumeRolePolicyDocument=json.dumps({"Statement": []}))
    managed = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"], "Resource": "*"}],
    }
    iam.put_role_policy(RoleName="ecsTaskExecutionRole", PolicyName="managed", PolicyDocument=json.dumps(managed))
    aws.register_task_definition(_needing(need))
    request = {**_json("requests", "hello"), "taskDefinition": f"needs-{need}", "runId": f"needs-{need}"}
    # When it runs
    result = run_local(request, [], aws=aws)
    # Then ECS stops it before any container starts, in ECS's words
    assert (result.status, result.error) == ("FAILED", "ECS.TaskFailedToStart"), result.cause
    cause = json.loads(result.cause or "{}")
    task = cause["task"]["taskArn"].rsplit("/", 1)[-1]
    assert cause["task"]["stopCode"] == "TaskFailedToStart"
    assert cause["task"]["stoppedReason"].startswith(REFUSALS[need].format(task=task))


@pytest.mark.parametrize("need", list(GRANTS))
def test_an_execution_role_that_grants_it_starts_the_task(aws: LocalAws, need: str) -> None:
    # Given the same task definitions, their execution role in the local stack with the managed policy and the grant
    _seed(aws)
    iam = aws.client("iam")
    iam.create_role(RoleName="ecsTaskExecutionRole", AssumeRolePolicyDocument=json.dumps({"Statement": []}))
    grant = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": GRANTS[need], "Resource": "*"}]}
    iam.put_role_policy(RoleName="ecsTaskExecutionRole", PolicyName="extra", PolicyDocument=json.dumps(grant))
    managed = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "logs:PutLogEvents", "Resource": "*"}],
    }
    iam.put_role_policy(RoleName="ecsTaskExecutionRole", PolicyName="managed", PolicyDocument=json.dumps(managed))
    aws.register_task_definition(_needing(need))
    request = {**_json("requests", "hello"), "taskDefinition": f"needs-{need}", "runId": f"granted-{need}"}
    # When it runs, Then it succeeds
    result = run_local(request, [], aws=aws)
    assert result.status == "SUCCEEDED", result.cause


def test_the_shipped_task_definitions_start_with_the_managed_execution_role() -> None:
    # Given every shipped task definition: none asks the execution role to create its log group
    from tests.conftest import ROOT

    for path in sorted((ROOT / "events" / "task-definitions").glob("*.json")):
        definition = json.loads(path.read_text())
        for container in definition["containerDefinitions"]:
            options = (container.get("logConfiguration") or {}).get("options") or {}
            assert str(options.get("awslogs-create-group", "false")).lower() != "true", path.name
        assert definition.get("executionRoleArn", MANAGED_ROLE).endswith("role/ecsTaskExecutionRole")
