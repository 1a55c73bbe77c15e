"""The CLI behaves like the AWS CLI and git, checked from outside: the installed `ecsrun` script (and
`python -m ecsrun.cli`) in a subprocess, judged by its exit status, stdout and stderr only.

No user mistake or interruption ends in a Python traceback: each is one line on stderr and a documented status
(2 usage, 130 interrupted, 141 closed pipe)."""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import EVENTS, ROOT

ECSRUN = str(Path(sys.executable).parent / "ecsrun")
HELLO = str(EVENTS / "requests" / "hello.json")
HELLO_TD = str(EVENTS / "task-definitions" / "hello.json")
S3_EVENT = str(EVENTS / "triggers" / "s3-object-created.json")
S3_RULES = str(ROOT / "examples" / "s3-trigger" / "template.yaml")


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """No AWS credentials, region or profile anywhere botocore looks, unless given."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "ECSRUN_"))}
    env.update(
        AWS_CONFIG_FILE=str(tmp_path / "no-config"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "no-credentials"),
        AWS_EC2_METADATA_DISABLED="true",
    )
    env.update(extra)
    return env


def ecsrun(tmp_path: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 120) -> Any:
    return subprocess.run(
        [ECSRUN, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env or _env(tmp_path),
        check=False,
        cwd=tmp_path,
    )


def one_line_error(done: Any, code: int = 2) -> str:
    """The command failed with `code`, said why in exactly one line on stderr, and printed no traceback."""
    assert done.returncode == code, (done.returncode, done.stdout, done.stderr)
    assert "Traceback" not in done.stderr + done.stdout
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("ecsrun: ")
    return str(lines[0])


# ---- help, version, mistakes on the command line ----


def test_ecsrun_alone_prints_the_help_and_exits_2(tmp_path: Path) -> None:
    done = ecsrun(tmp_path)
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr.startswith("usage: ecsrun ")
    for command in ("local", "validate", "explain", "logs", "start", "status", "list", "stop", "timeline"):
        assert f"\n    {command} " in done.stderr or f"\n    {command}\n" in done.stderr, command


def test_help_prints_the_help_and_exits_0(tmp_path: Path) -> None:
    done = ecsrun(tmp_path, "--help")
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout.startswith("usage: ecsrun ") and "exit statuses:" in done.stdout


def test_a_command_group_alone_prints_its_help_and_exits_2(tmp_path: Path) -> None:
    done = ecsrun(tmp_path, "local")
    assert done.returncode == 2
    assert done.stderr.startswith("usage: ecsrun local ") and "run" in done.stderr and "event" in done.stderr


def test_version(tmp_path: Path) -> None:
    done = ecsrun(tmp_path, "--version")
    assert (done.returncode, done.stdout.strip(), done.stderr) == (0, "ecsrun 0.1.0", "")
    module = subprocess.run(
        [sys.executable, "-m", "ecsrun.cli", "--version"], capture_output=True, text=True, timeout=60, check=False
    )
    assert (module.returncode, module.stdout.strip()) == (0, "ecsrun 0.1.0")


def test_a_wrong_flag_shows_the_commands_usage_and_what_was_meant(tmp_path: Path) -> None:
    done = ecsrun(tmp_path, "local", "run", HELLO, "--outptu", "json")
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr.startswith("usage: ecsrun local run ")
    assert done.stderr.splitlines()[-1] == (
        "ecsrun local run: error: unrecognized arguments: --outptu json; did you mean --output?"
    )
    assert "Traceback" not in done.stderr


def test_a_mistyped_command_gets_a_did_you_mean(tmp_path: Path) -> None:
    done = ecsrun(tmp_path, "stauts", "x")
    assert done.returncode == 2
    assert done.stderr.splitlines()[-1].endswith("did you mean 'status'?")


# ---- unreadable input: one line, exit 2 ----

NOT_UTF8 = b"\xff\xfe{\x00}\x00"
DEEP = "[" * 100_000 + "]" * 100_000


@pytest.mark.parametrize(
    "command",
    [
        ["validate", "{file}"],
        ["explain", "{file}"],
        ["local", "run", "{file}"],
        ["local", "run", HELLO, "--task-definition", "{file}"],
        ["local", "event", "{file}"],
        ["start", "{file}", "--stack-name", "ecsrun"],
    ],
)
@pytest.mark.parametrize(("content", "says"), [(NOT_UTF8, "is not UTF-8 text"), (DEEP.encode(), "nested too deeply")])
def test_non_utf8_or_deeply_nested_json_is_one_line_and_exit_2(
    tmp_path: Path, command: list[str], content: bytes, says: str
) -> None:
    path = tmp_path / "input.json"
    path.write_bytes(content)
    line = one_line_error(ecsrun(tmp_path, *[part.format(file=path) for part in command]))
    assert says in line


HUGE_INTEGER = '{"taskDefinition": "ecsrun-hello", "timeoutSeconds": ' + "9" * 5000 + "}"


@pytest.mark.parametrize("command", [["validate", "{file}"], ["explain", "{file}"], ["local", "run", "{file}"]])
def test_an_integer_of_5000_digits_is_one_line_and_exit_2(tmp_path: Path, command: list[str]) -> None:
    # Given a JSON file with an integer of 5,000 digits (Python converts at most 4,300 by default)
    path = tmp_path / "input.json"
    path.write_text(HUGE_INTEGER)
    # When a command reads it
    line = one_line_error(ecsrun(tmp_path, *[part.format(file=path) for part in command]))
    # Then it says where and what the bound is, in one line, exit 2 (no traceback)
    assert "at timeoutSeconds: an integer of 5000 digits; ecsrun reads integers of at most 4300 digits" in line


def test_nesting_the_parser_reads_but_the_request_rules_refuse_is_an_invalid_request(tmp_path: Path) -> None:
    path = tmp_path / "deep.json"
    path.write_text(json.dumps({"taskDefinition": "td", "overrides": json.loads("[" * 900 + "]" * 900)}))
    done = ecsrun(tmp_path, "validate", str(path), "--output", "json")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert json.loads(done.stdout)["error"] == "RunRequest.Invalid"


# ---- AWS settings: credentials, region, profile ----


def test_logs_without_credentials_is_one_line(tmp_path: Path) -> None:
    env = _env(tmp_path, ECSRUN_LOGS_BUCKET="some-bucket", AWS_DEFAULT_REGION="us-east-1")
    line = one_line_error(ecsrun(tmp_path, "logs", "some-run", env=env))
    assert line == "ecsrun: no AWS credentials: set AWS_PROFILE, or run `aws configure` / `aws sso login`"


def test_logs_without_a_region_is_one_line_with_advice_that_works(tmp_path: Path) -> None:
    line = one_line_error(ecsrun(tmp_path, "logs", "some-run", "--stack-name", "ecsrun"))
    assert line.startswith("ecsrun: no AWS region: give --region, or set AWS_REGION")


@pytest.mark.parametrize(("extra", "env"), [([], {"AWS_REGION": "eu-west-3"}), (["--region", "eu-west-3"], {})])
def test_aws_region_and_region_flag_are_respected(tmp_path: Path, extra: list[str], env: dict[str, str]) -> None:
    # Given a region only in AWS_REGION (which botocore alone ignores), or only on the command line
    done = ecsrun(tmp_path, "logs", "some-run", "--stack-name", "ecsrun", *extra, env=_env(tmp_path, **env))
    # Then the region is found: what is missing now is credentials
    assert "no AWS credentials" in one_line_error(done)


def test_an_unknown_profile_is_one_line(tmp_path: Path) -> None:
    for command in (["list", "--stack-name", "ecsrun"], ["logs", "r", "--stack-name", "ecsrun"]):
        line = one_line_error(ecsrun(tmp_path, *command, "--profile", "nope"))
        assert "nope" in line and "could not be found" in line


def test_every_aws_command_takes_region_and_profile(tmp_path: Path) -> None:
    for command in (["start"], ["status"], ["list"], ["logs"], ["stop"], ["timeline"], ["validate"], ["smoke"]):
        done = ecsrun(tmp_path, *command, "--help")
        assert done.returncode == 0 and "--region" in done.stdout and "--profile NAME" in done.stdout


# ---- local event's parameters ----


def test_local_event_without_a_parameter_its_rules_need_is_one_line(tmp_path: Path) -> None:
    line = one_line_error(ecsrun(tmp_path, "local", "event", S3_EVENT, "--rules", S3_RULES))
    assert "--parameter BucketName=..." in line


def test_local_event_with_an_unknown_parameter_is_one_line(tmp_path: Path) -> None:
    done = ecsrun(tmp_path, "local", "event", S3_EVENT, "--rules", S3_RULES, "--parameter", "Bucket=x")
    assert one_line_error(done).startswith("ecsrun: --parameter Bucket: no such parameter")


# ---- interruption and closed pipes ----


def test_ctrl_c_is_one_line_exit_130_and_keeps_the_artifacts_so_far(tmp_path: Path) -> None:
    # Given a local run whose container writes its pid, then would sleep a minute
    request = json.loads(Path(HELLO).read_text())
    script = "import os, time; print('pid', os.getpid(), flush=True); time.sleep(60)"
    request["overrides"] = {"containerOverrides": [{"name": "app", "command": ["python3", "-u", "-c", script]}]}
    (tmp_path / "long.json").write_text(json.dumps(request))
    artifacts = tmp_path / "artifacts"
    process = subprocess.Popen(
        [ECSRUN, "local", "run", "long.json", "--task-definition", HELLO_TD, "--artifacts", str(artifacts)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
        env=_env(tmp_path),
    )
    assert process.stdout is not None
    pid = None
    deadline = time.monotonic() + 60
    while pid is None and time.monotonic() < deadline:  # the container's own line, streamed as it runs
        line = process.stdout.readline()
        if line.startswith("app  | pid "):
            pid = int(line.split()[-1])
    assert pid is not None
    # When Ctrl-C reaches the command
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    # Then it ends 130 with one line that says where the run's folder is, and the container is gone
    folder = artifacts / "hello-demo"
    assert (process.returncode, err) == (130, f"ecsrun: interrupted; what the run wrote so far is in {folder}\n")
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    # And the folder holds the timeline so far and the lines the container had written (its log was never copied)
    assert "StartTaskAndWait" in (folder / "timeline.svg").read_text()
    assert "INTERRUPTED" in (folder / "timeline.svg").read_text()
    assert (folder / "interrupted" / "hello-demo" / "app.log").read_text() == f"pid {pid}\n"


def _big_log(directory: Path, lines: int = 200_000) -> None:
    key = "runs/big/logs/app.log.gz"
    (directory / "runs" / "big" / "logs").mkdir(parents=True)
    text = "".join(f"2026-11-21T10:00:00.000Z line {i}\n" for i in range(lines))
    (directory / key).write_bytes(gzip.compress(text.encode()))
    manifest = {"runId": "big", "logs": {"containers": [{"name": "app", "key": key}]}}
    (directory / "runs" / "big" / "manifest.json").write_text(json.dumps(manifest))


@pytest.mark.parametrize("runner", [[ECSRUN], [sys.executable, "-m", "ecsrun.cli"]])
def test_a_closed_pipe_is_quiet_and_exits_141_as_git(tmp_path: Path, runner: list[str]) -> None:
    # Given a long log, When its reader goes away after one line (`ecsrun logs big | head -1`)
    _big_log(tmp_path)
    process = subprocess.Popen(
        [*runner, "logs", "big", "--local", str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=tmp_path,
        env=_env(tmp_path),
    )
    assert process.stdout is not None and process.stderr is not None
    assert process.stdout.readline().endswith(b"line 0\n")
    process.stdout.close()
    err = process.stderr.read()
    process.wait(timeout=60)
    # Then it stops, says nothing, and exits 141 (128 + SIGPIPE)
    assert (process.returncode, err) == (141, b"")


def test_a_closed_pipe_while_a_local_run_streams_is_quiet(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [ECSRUN, "local", "run", HELLO, "--task-definition", HELLO_TD],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=tmp_path,
        env=_env(tmp_path),
    )
    assert process.stdout is not None and process.stderr is not None
    assert process.stdout.readline().startswith(b"ecsrun local run ")
    process.stdout.close()
    err = process.stderr.read()
    process.wait(timeout=120)
    assert (process.returncode, err) == (141, b"")


def test_a_closed_pipe_stops_a_long_local_run_at_once(tmp_path: Path) -> None:
    # Given a local run whose container writes a line, then would run for a minute
    request = json.loads(Path(HELLO).read_text())
    script = "import os, time; print('pid', os.getpid(), flush=True); time.sleep(60)"
    request["overrides"] = {"containerOverrides": [{"name": "app", "command": ["python3", "-u", "-c", script]}]}
    (tmp_path / "long.json").write_text(json.dumps(request))
    process = subprocess.Popen(
        [ECSRUN, "local", "run", "long.json", "--task-definition", HELLO_TD],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
        env=_env(tmp_path),
    )
    assert process.stdout is not None and process.stderr is not None
    line = ""
    while not line.startswith("app  | pid "):
        line = process.stdout.readline()
        assert line, "the container's line never came"
    pid = int(line.split()[-1])
    # When the reader goes away while the task still runs
    started = time.monotonic()
    process.stdout.close()
    err = process.stderr.read()
    process.wait(timeout=60)
    # Then the command stops without waiting for the task, quietly, 141; and its container is stopped too
    assert (process.returncode, err) == (141, "")
    assert time.monotonic() - started < 30
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
