"""The local run's manners, without running one: seeding flags read as documented (and refused in one line
that never quotes a value), a folder per run's artifacts, `ecsrun logs` pointing at --local, output without
Python values, and the live lines naming the error rather than a state."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from ecsrun.cli import main
from ecsrun.cli.artifacts import find_run, run_folder
from ecsrun.cli.render import render_text, show_state
from ecsrun.local.engine import StateEntered
from ecsrun.local.seeding import SeedError, parse_s3_object, parse_secret, secret_name

EVENTS = Path(__file__).resolve().parents[2] / "events"
SECRET_ARN = "arn:aws:secretsmanager:eu-west-1:111122223333:secret:prod/orders/db-Xy12Ab"


def test_seeding_flags_read_as_the_help_says(tmp_path: Path) -> None:
    # Given an env file, When given as an S3 object whose key holds an "=" (a partition), Then the last "=" splits
    env_file = tmp_path / "app.env"
    env_file.write_text("A=1\n")
    seed = parse_s3_object(f"s3://config-bucket/dt=2026/app.env={env_file}")
    assert (seed.kind, seed.bucket, seed.key, seed.body) == ("s3", "config-bucket", "dt=2026/app.env", b"A=1\n")
    # And a secret's full ARN (with its suffix) is a Secrets Manager secret named without it; the value may hold "="
    secret = parse_secret(f"{SECRET_ARN}=pa=ss")
    assert (secret.kind, secret.target, secret.value, secret_name(secret.target)) == (
        "secretsmanager", SECRET_ARN, "pa=ss", "prod/orders/db",
    )  # fmt: skip
    # And anything else is an SSM parameter, by name or by ARN
    assert parse_secret("/prod/token=x").kind == "ssm"
    assert parse_secret("arn:aws:ssm:us-east-1:123456789012:parameter/prod/token=x").kind == "ssm"


@pytest.mark.parametrize(
    ("flag", "value", "said"),
    [
        ("--s3-object", "config-bucket/app.env=x.env", "is not s3://BUCKET/KEY"),
        ("--s3-object", "s3://config-bucket/app.env=/no/such/file.env", "cannot read /no/such/file.env"),
        ("--secret", "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/db=hunter2hunter2", "6 characters"),
        ("--secret", f"{SECRET_ARN}:password::=hunter2hunter2", "without a JSON key"),
        ("--secret", "arn:aws:s3:::bucket/key=hunter2hunter2", "nor an SSM parameter's"),
        ("--secret", "no-value-given", "give NAME_OR_ARN=VALUE"),
    ],
)
def test_a_bad_seed_is_one_line_exit_2_that_never_quotes_the_value(
    capsys: pytest.CaptureFixture[str], flag: str, value: str, said: str
) -> None:
    # When local run is given a seed it cannot use
    code = main(["local", "run", str(EVENTS / "requests" / "hello.json"), flag, value])
    err = capsys.readouterr().err
    # Then it exits 2 before building anything, in one line that says why, and no secret value is in it
    assert code == 2 and err.count("\n") == 1 and said in err, err
    assert "hunter2" not in err


def test_seed_errors_are_seed_errors() -> None:
    with pytest.raises(SeedError):
        parse_secret("=x")


def test_each_run_gets_a_folder_no_other_run_wrote(tmp_path: Path) -> None:
    # Given a run's folder already written
    first = run_folder(tmp_path, "hello-demo", "hello-demo-1a2b")
    (first / "runs" / "hello-demo").mkdir(parents=True)
    # When the same runId runs again, Then it gets a folder of its own, which no runId can be named
    second = run_folder(tmp_path, "hello-demo", "hello-demo-3c4d")
    assert (first.name, second.name) == ("hello-demo", "hello-demo~2")
    (second / "runs" / "hello-demo").mkdir(parents=True)
    # And an invalid runId names no folder: the execution's name does
    assert run_folder(tmp_path, "../etc/passwd", "exec-1").name == "exec-1"
    # And `ecsrun logs --local` reads the newest, and knows there were two
    folder, holders = find_run(tmp_path, "hello-demo")
    assert folder == second and holders == [first, second]


def test_logs_without_a_bucket_says_how_to_read_a_local_run(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ECSRUN_LOGS_BUCKET", raising=False)
    monkeypatch.delenv("ECSRUN_STACK_NAME", raising=False)
    assert main(["logs", "hello-demo"]) == 2
    assert "give --local DIR" in capsys.readouterr().err


def _result(status: str, summary: dict[str, Any]) -> Any:
    failed = status != "SUCCEEDED"
    return SimpleNamespace(
        status=status,
        output=None if failed else summary,
        error="ECS.TaskFailedToStart" if failed else None,
        cause=json.dumps(summary) if failed else None,
        objects={},
        log_lines=lambda key: [],
    )


def test_text_output_has_no_python_values() -> None:
    # Given a failed run whose container never ran (no exit code), and whose log has a single event
    summary = {
        "runId": "r",
        "message": "the task failed to start",
        "task": {
            "taskArn": "arn:aws:ecs:us-east-1:123456789012:task/default/abc",
            "containers": [{"name": "app", "essential": True, "exitCode": None}],
        },
        "logs": {
            "bucket": "b",
            "manifestKey": "runs/r/manifest.json",
            "containers": [{"name": "app", "key": "runs/r/logs/app.log.gz", "events": 1, "bytes": 1}],
        },
    }
    text = render_text(_result("FAILED", summary))
    # Then it reads as English: no None, no dict, no "1 events"
    assert "None" not in text and "{" not in text
    assert "app                  essential  no exit code" in text
    assert "1 event, 1 byte" in text and "stopCode -" in text


def test_the_live_lines_name_the_error_and_never_a_choice(capsys: pytest.CaptureFixture[str]) -> None:
    # Given the states a failed run enters, then its end
    for state in [
        StateEntered("StartTaskAndWait", 1.0, "TaskStateEntered"),
        StateEntered("RunSucceeded?", 2.0, "ChoiceStateEntered"),
        StateEntered("ECSContainerExitedNonZero", 2.0, "FailStateEntered"),
        StateEntered("ECS.ContainerExitedNonZero", 2.1, "ExecutionFailed"),
    ]:
        show_state(state)
    # Then the last line names the error, and neither the choice nor the Fail state is printed
    lines = capsys.readouterr().out.splitlines()
    assert [line.split("s  ", 1)[1] for line in lines] == ["StartTaskAndWait", "FAILED  ECS.ContainerExitedNonZero"]
