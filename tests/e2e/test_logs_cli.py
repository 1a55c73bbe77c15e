"""`ecsrun logs`: a run's logs read back by run id, from an artifacts directory or from S3."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from botocore.stub import Stubber
from ecsrun.cli import main
from moto import mock_aws

from tests.conftest import EVENTS

RUN = "two-containers-demo"


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One real local run with two containers, its S3 objects written to a directory."""
    directory = tmp_path_factory.mktemp("artifacts")
    code = main(
        [
            "local", "run", str(EVENTS / "requests" / "two-containers.json"),
            "--task-definition", str(EVENTS / "task-definitions" / "two-containers.json"),
            "--artifacts", str(directory), "--output", "json",
        ]
    )  # fmt: skip
    assert code == 0
    return directory


def _messages(out: str) -> list[str]:
    return [line.split(" ", 1)[1] if not line.startswith("==>") else line for line in out.splitlines()]


def test_all_containers_are_printed_with_headers(artifacts: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main(["logs", RUN, "--local", str(artifacts)]) == 0
    assert _messages(capsys.readouterr().out) == [
        "==> app <==", *[f"app line {i}" for i in range(1, 6)],
        "==> worker <==", *[f"worker line {i}" for i in range(1, 4)],
    ]  # fmt: skip


def test_one_container_is_printed_alone(artifacts: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main(["logs", RUN, "--local", str(artifacts), "--container", "worker"]) == 0
    assert _messages(capsys.readouterr().out) == ["worker line 1", "worker line 2", "worker line 3"]


def test_unknown_run_or_container_exits_1_and_says_why(artifacts: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["logs", "no-such-run", "--local", str(artifacts)]) == 1
    assert "no logs for run no-such-run" in capsys.readouterr().err
    assert main(["logs", RUN, "--local", str(artifacts), "--container", "db"]) == 1
    assert "containers: app, worker" in capsys.readouterr().err


def test_urls_of_a_local_run_are_file_urls(artifacts: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main(["logs", RUN, "--local", str(artifacts), "--url"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"manifest  {(artifacts / RUN / 'runs' / RUN / 'manifest.json').resolve().as_uri()}"
    assert out[1].startswith("app  file://") and out[1].endswith("/logs/app.log.gz")


@pytest.fixture
def bucket(artifacts: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The same objects in a (moto) logs bucket."""
    for key, value in {
        "AWS_ACCESS_KEY_ID": "x",
        "AWS_SECRET_ACCESS_KEY": "x",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("ECSRUN_LOGS_BUCKET", raising=False)
    monkeypatch.delenv("ECSRUN_STACK_NAME", raising=False)
    with mock_aws():
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket="team-logs")
        folder = artifacts / RUN  # the run's folder holds its objects at their keys
        for path in (folder / "runs").rglob("*"):
            if path.is_file():
                s3.put_object(Bucket="team-logs", Key=path.relative_to(folder).as_posix(), Body=path.read_bytes())
        yield "team-logs"


def test_logs_are_read_from_the_bucket_named_in_the_environment(
    bucket: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ECSRUN_LOGS_BUCKET", bucket)
    capsys.readouterr()
    assert main(["logs", RUN, "--container", "app"]) == 0
    assert _messages(capsys.readouterr().out) == [f"app line {i}" for i in range(1, 6)]


def test_url_prints_presigned_urls(bucket: str, capsys: pytest.CaptureFixture[str], monkeypatch) -> None:
    monkeypatch.setenv("ECSRUN_LOGS_BUCKET", bucket)
    capsys.readouterr()
    assert main(["logs", RUN, "--url"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in out] == ["manifest", "app", "worker"]
    assert all("team-logs" in line and "X-Amz-Signature=" in line for line in out)
    assert f"runs/{RUN}/logs/worker.log.gz" in out[2]


def test_the_bucket_is_found_from_the_stack_outputs(
    bucket: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a stack whose LogsBucketName output names the bucket, and one that is not an ecsrun stack
    cloudformation = boto3.client("cloudformation")
    stub = Stubber(cloudformation)
    for name, outputs in (("ecsrun-prod", [{"OutputKey": "LogsBucketName", "OutputValue": bucket}]), ("other", [])):
        stack = {"StackName": name, "CreationTime": "2026-11-21T10:00:00Z", "StackStatus": "CREATE_COMPLETE"}
        stub.add_response("describe_stacks", {"Stacks": [stack | {"Outputs": outputs}]}, {"StackName": name})
    real = boto3.session.Session.client
    monkeypatch.setattr(
        boto3.session.Session,
        "client",
        lambda session, service, **kw: cloudformation if service == "cloudformation" else real(session, service, **kw),
    )
    capsys.readouterr()
    with stub:
        # When logs are asked for by stack name, Then they come from the stack's bucket
        assert main(["logs", RUN, "--stack-name", "ecsrun-prod", "--container", "worker"]) == 0
        assert _messages(capsys.readouterr().out) == ["worker line 1", "worker line 2", "worker line 3"]
        # And a stack without the output is a usage error
        assert main(["logs", RUN, "--stack-name", "other"]) == 2
        assert "no output LogsBucketName" in capsys.readouterr().err


def test_without_a_bucket_or_stack_the_command_says_what_it_needs(bucket: str, capsys) -> None:
    assert main(["logs", RUN]) == 2
    assert "--stack-name" in capsys.readouterr().err
