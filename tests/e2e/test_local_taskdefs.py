"""The local engine takes task definitions as ECS takes them: task-level memory only, memoryReservation only,
dependsOn (START, COMPLETE, SUCCESS, HEALTHY; shutdown reversed), environmentFiles from S3, secrets by name.
And no artifact of a run (output, cause, manifest, logs, completion events) carries a traceback or a local path."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ecsrun.local.engine import LocalResult, run_local
from ecsrun.local.runtime import BUS, LocalAws, TaskDefinitionRejected

from tests.conftest import ROOT, listen_for_completions

LOGS = {
    "logDriver": "awslogs",
    "options": {
        "awslogs-group": "/ecs/taskdefs",
        "awslogs-region": "us-east-1",
        "awslogs-stream-prefix": "ecs",
        "awslogs-create-group": "true",
    },
}


def _container(name: str, script: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "image": "busybox", "command": ["sh", "-c", script], "logConfiguration": LOGS, **extra}


def _fargate(family: str, *containers: dict[str, Any]) -> dict[str, Any]:
    """A Fargate task definition as people write them: cpu and memory at the task level only."""
    return {
        "family": family,
        "networkMode": "awsvpc",
        "requiresCompatibilities": ["FARGATE"],
        "cpu": "256",
        "memory": "512",
        "containerDefinitions": list(containers),
    }


def _request(family: str, **extra: Any) -> dict[str, Any]:
    network = {"awsvpcConfiguration": {"subnets": ["subnet-0123456789abcdef0"]}}
    return {
        "runId": family,
        "taskDefinition": family,
        "launchType": "FARGATE",
        "networkConfiguration": network,
        **extra,
    }


def _lines(result: LocalResult, container: str) -> list[str]:
    key = f"runs/{_summary(result)['runId']}/logs/{container}.log.gz"
    return [line.split(" ", 1)[1] for line in gzip.decompress(result.objects[key]).decode().splitlines()]


def _summary(result: LocalResult) -> dict[str, Any]:
    return result.output if result.status == "SUCCEEDED" else json.loads(result.cause or "{}")


@pytest.fixture
def aws() -> Iterator[LocalAws]:
    with LocalAws() as local:
        yield local


def test_a_fargate_definition_with_task_level_memory_only_runs(aws: LocalAws) -> None:
    # Given a Fargate definition whose container has no memory of its own
    definition = _fargate("tasklevel", _container("app", "echo hello"))
    # When run
    result = run_local(_request("tasklevel"), [definition], aws=aws)
    # Then it succeeds (it used to end Run.InternalError with moto's stack trace in the cause)
    assert result.status == "SUCCEEDED", result.cause
    assert _lines(result, "app") == ["hello"]


def test_an_ec2_definition_with_memory_reservation_only_runs(aws: LocalAws) -> None:
    definition = {
        "family": "reservation",
        "networkMode": "bridge",
        "requiresCompatibilities": ["EC2"],
        "containerDefinitions": [_container("app", "echo soft", memoryReservation=64)],
    }
    result = run_local(
        {"runId": "reservation", "taskDefinition": "reservation", "launchType": "EC2"}, [definition], aws=aws
    )
    assert result.status == "SUCCEEDED", result.cause


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"memory": None}, "memory or memoryReservation"),
        ({"cpu": None, "memory": None}, "Fargate requires task-level cpu"),
    ],
)
def test_what_ecs_refuses_is_refused(aws: LocalAws, change: dict[str, Any], says: str) -> None:
    definition = {k: v for k, v in (_fargate("refused", _container("app", "true")) | change).items() if v is not None}
    with pytest.raises(TaskDefinitionRejected, match=says):
        aws.register_task_definition(definition)


@pytest.mark.parametrize("name", ["../../escape", "app name", "app.v2", "ap/p", "naïve", "a" * 256, "", "app\x07"])
def test_container_names_ecs_refuses_are_refused(aws: LocalAws, name: str) -> None:
    # Given a container name outside ECS's rule (up to 255 letters, numbers, underscores and hyphens)
    definition = _fargate("bad-name", _container(name, "true"))
    # When registered, Then it is refused as RegisterTaskDefinition refuses it
    with pytest.raises(TaskDefinitionRejected, match=r"up to 255 letters .*, numbers, underscores and hyphens"):
        aws.register_task_definition(definition)


def test_the_longest_container_name_ecs_takes_is_taken(aws: LocalAws) -> None:
    name = "A-b_9" * 51  # 255 characters
    aws.register_task_definition(_fargate("long-name", _container(name, "echo ok")))
    result = run_local(_request("long-name"), [], aws=aws)
    assert result.status == "SUCCEEDED", result.cause


def test_dependencies_that_ecs_refuses_are_refused(aws: LocalAws) -> None:
    # COMPLETE and SUCCESS "can't be set on an essential container"; a dependency must name a container of the task
    essential_init = _fargate(
        "bad-deps",
        _container("init", "true"),
        _container("app", "true", dependsOn=[{"containerName": "init", "condition": "SUCCESS"}]),
    )
    with pytest.raises(TaskDefinitionRejected, match="can't be set on essential container init"):
        aws.register_task_definition(essential_init)
    unknown = _fargate("bad-deps", _container("app", "true", dependsOn=[{"containerName": "x", "condition": "START"}]))
    with pytest.raises(TaskDefinitionRejected, match="not in the task"):
        aws.register_task_definition(unknown)


def test_success_dependency_runs_first_and_its_output_is_there(aws: LocalAws, tmp_path: Path) -> None:
    # Given an init container that writes a file, and an app that needs it to have exited 0
    shared = tmp_path / "seed"
    definition = _fargate(
        "init-first",
        _container("init", f"sleep 0.3; echo seeded > {shared}; echo init done", essential=False),
        _container("app", f"cat {shared}", dependsOn=[{"containerName": "init", "condition": "SUCCESS"}]),
    )
    # When run
    result = run_local(_request("init-first"), [definition], aws=aws)
    # Then the app started only after init succeeded (it read init's file)
    assert result.status == "SUCCEEDED", result.cause
    assert _lines(result, "app") == ["seeded"]
    assert _lines(result, "init") == ["init done"]


def test_a_failed_success_dependency_keeps_its_dependent_from_starting(aws: LocalAws) -> None:
    # Given an init container that fails
    definition = _fargate(
        "init-fails",
        _container("init", "echo cannot seed; exit 3", essential=False),
        _container("app", "echo should not run", dependsOn=[{"containerName": "init", "condition": "SUCCESS"}]),
    )
    result = run_local(_request("init-fails"), [definition], aws=aws)
    # Then the app never ran, the task stopped, and the app's reason says why, in ECS's agent's words
    assert result.status == "FAILED"
    containers = {c["name"]: c for c in _summary(result)["task"]["containers"]}
    assert containers["init"]["exitCode"] == 3
    assert containers["app"]["exitCode"] is None
    assert "as dependency did not exit successfully" in containers["app"]["reason"]
    assert "app.log.gz" not in " ".join(result.objects)


def test_complete_and_start_dependencies_order_the_processes(aws: LocalAws, tmp_path: Path) -> None:
    # Given a proxy the app needs started, and a migration it needs finished (whatever its exit code)
    order = tmp_path / "order"
    definition = _fargate(
        "ordered",
        _container("migrate", f"sleep 0.2; echo migrate >> {order}; exit 1", essential=False),
        _container("proxy", f"echo proxy >> {order}; sleep 30", essential=False),
        _container(
            "app",
            f"echo app >> {order}",
            dependsOn=[
                {"containerName": "migrate", "condition": "COMPLETE"},
                {"containerName": "proxy", "condition": "START"},
            ],
        ),
    )
    result = run_local(_request("ordered"), [definition], aws=aws)
    assert result.status == "SUCCEEDED", result.cause
    assert order.read_text().split()[-1] == "app"
    assert sorted(order.read_text().split()) == ["app", "migrate", "proxy"]


def test_a_healthy_dependency_waits_for_the_health_check(aws: LocalAws, tmp_path: Path) -> None:
    ready = tmp_path / "ready"
    check = {"command": ["CMD-SHELL", f"test -f {ready}"], "interval": 5, "retries": 3}
    definition = _fargate(
        "healthy",
        _container("db", f"touch {ready}; sleep 30", essential=False, healthCheck=check),
        _container(
            "app", f"test -f {ready} && echo db was ready", dependsOn=[{"containerName": "db", "condition": "HEALTHY"}]
        ),
    )
    result = run_local(_request("healthy"), [definition], aws=aws)
    assert result.status == "SUCCEEDED", result.cause
    assert _lines(result, "app") == ["db was ready"]


def test_a_healthy_dependency_without_a_health_check_never_resolves(aws: LocalAws) -> None:
    definition = _fargate(
        "no-check",
        _container("db", "sleep 30", essential=False),
        _container("app", "echo never", dependsOn=[{"containerName": "db", "condition": "HEALTHY"}]),
    )
    result = run_local(_request("no-check"), [definition], aws=aws)
    containers = {c["name"]: c for c in _summary(result)["task"]["containers"]}
    assert result.status == "FAILED"
    assert "db has no health check" in containers["app"]["reason"]


def test_shutdown_stops_dependents_before_what_they_depend_on(aws: LocalAws, tmp_path: Path) -> None:
    # Given a client that depends on a proxy; both trap SIGTERM and note when they stop; the client takes its time
    order = tmp_path / "order"
    client = f"trap 'sleep 0.5; echo client >> {order}; exit 0' TERM; while true; do sleep 0.05; done"
    proxy = f"trap 'echo proxy >> {order}; exit 0' TERM; while true; do sleep 0.05; done"
    definition = _fargate(
        "shutdown",
        _container("proxy", proxy, essential=False),
        _container("client", client, essential=False, dependsOn=[{"containerName": "proxy", "condition": "START"}]),
        _container("app", "sleep 0.5; echo app done"),
    )
    # When the essential app exits and the task stops
    result = run_local(_request("shutdown"), [definition], aws=aws)
    # Then the client stopped before the proxy it depends on (startup order, reversed)
    assert result.status == "SUCCEEDED", result.cause
    assert order.read_text().split() == ["client", "proxy"]


def test_environment_files_come_from_s3_and_environment_wins(aws: LocalAws) -> None:
    # Given two env files in (local) S3, and a variable the definition's environment also sets
    s3 = aws.client("s3")
    s3.create_bucket(Bucket="app-config-bucket")
    s3.put_object(Bucket="app-config-bucket", Key="base.env", Body=b"# base\nA=from-base\nB=from-base\n\nC=x=y\n")
    s3.put_object(Bucket="app-config-bucket", Key="prod.env", Body=b"B=from-prod\nD=from-prod\n")
    files = [
        {"value": "arn:aws:s3:::app-config-bucket/base.env", "type": "s3"},
        {"value": "arn:aws:s3:::app-config-bucket/prod.env", "type": "s3"},
    ]
    app = _container(
        "app",
        'echo "$A $B $C $D"',
        environmentFiles=files,
        environment=[{"name": "D", "value": "from-definition"}],
    )
    result = run_local(_request("envfiles"), [_fargate("envfiles", app)], aws=aws)
    # Then later files win over earlier ones, and `environment` over every file
    assert result.status == "SUCCEEDED", result.cause
    assert _lines(result, "app") == ["from-base from-prod x=y from-definition"]


def test_a_missing_environment_file_is_a_failed_start(aws: LocalAws) -> None:
    app = _container("app", "echo never", environmentFiles=[{"value": "arn:aws:s3:::nowhere/app.env", "type": "s3"}])
    result = run_local(_request("no-envfile"), [_fargate("no-envfile", app)], aws=aws)
    cause = json.loads(result.cause or "{}")
    assert result.error == "ECS.TaskFailedToStart"
    assert cause["task"]["stopCode"] == "TaskFailedToStart"
    assert cause["task"]["stoppedReason"].startswith(
        "ResourceInitializationError: failed to download env files: s3://nowhere/app.env"
    )


def test_secrets_are_read_from_the_local_stack_or_set_to_a_placeholder_said_aloud(aws: LocalAws) -> None:
    # Given a parameter and a JSON secret in the local stack, and a third reference to nothing
    aws.client("ssm").put_parameter(Name="/app/db-host", Value="db.internal", Type="SecureString")
    secret = aws.client("secretsmanager").create_secret(Name="app-db", SecretString='{"password": "hunter2"}')["ARN"]
    notices: list[str] = []
    aws.agent.on_notice = notices.append
    secrets = [
        {"name": "DB_HOST", "valueFrom": "/app/db-host"},
        {"name": "DB_PASSWORD", "valueFrom": f"{secret}:password::"},
        {"name": "API_KEY", "valueFrom": "arn:aws:ssm:us-east-1:123456789012:parameter/app/api-key"},
    ]
    app = _container("app", 'echo "$DB_HOST $DB_PASSWORD $API_KEY"', secrets=secrets)
    result = run_local(_request("secrets"), [_fargate("secrets", app)], aws=aws)
    # Then the two found are read, the missing one is a placeholder, and the engine says so
    assert result.status == "SUCCEEDED", result.cause
    assert _lines(result, "app") == ["db.internal hunter2 ecsrun-local-placeholder:API_KEY"]
    [notice] = notices
    assert "secret API_KEY" in notice and "placeholder" in notice


def test_no_artifact_of_a_run_carries_a_traceback_or_a_local_path(
    aws: LocalAws, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # Given runs that succeed, fail, fail to start, and crash inside a function (an internal error)
    from ecsrun.handlers import start_task

    completions = listen_for_completions(aws.client, BUS)
    results = [
        run_local(_request("ok"), [_fargate("ok", _container("app", "echo fine"))], aws=aws),
        run_local(_request("bad"), [_fargate("bad", _container("app", "echo broken >&2; exit 2"))], aws=aws),
        run_local(
            _request("nostart"), [_fargate("nostart", {**_container("app", ""), "command": ["/no/such/bin"]})], aws=aws
        ),
    ]

    real_start = start_task.start_run

    def crash(*args: Any, **kwargs: Any) -> Any:  # the task is started, then the function dies
        real_start(*args, **kwargs)
        raise ValueError(f"boom in {ROOT}/functions/ecsrun/steps/start.py")

    monkeypatch.setattr(start_task, "start_run", crash)
    # (a task still running when its start fails for good is stopped, and the run says the start was interrupted;
    # the task cannot end on its own before that, however slow the machine: were it not stopped, it would end
    # ECS.ContainerExitedNonZero after 10 minutes, never SUCCEEDED)
    forever = _container("app", "sleep 600; exit 9")
    results.append(run_local(_request("crash"), [_fargate("crash", forever)], aws=aws))
    # When every artifact is gathered: outputs, causes, S3 objects (manifests, logs), completion events
    artifacts = [json.dumps(r.as_json()) for r in results]
    artifacts += [
        gzip.decompress(body).decode() if key.endswith(".gz") else body.decode() for key, body in aws.objects().items()
    ]
    artifacts += [json.dumps(event) for event in completions()]
    # Then none quotes a traceback or this checkout's path
    assert [r.status for r in results] == ["SUCCEEDED", "FAILED", "FAILED", "FAILED"]
    assert results[-1].error == "Run.InternalError"
    assert json.loads(results[-1].cause or "{}")["task"]["stopCode"] == "UserInitiated"  # ecsrun stopped it
    text = "\n".join(artifacts)
    assert "Traceback" not in text
    assert str(ROOT) not in text
