"""A task definition as the console exports it runs under `ecsrun local run`: its environment files and secrets
seeded with `--s3-object` and `--secret` (a Secrets Manager ARN with its 6-character suffix, SSM parameters),
its `workingDirectory` honoured, and its lines copied in the order the container wrote them. The CLI, as a user
runs it, in its own process."""

from __future__ import annotations

import gzip
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import boto3

ROOT = Path(__file__).resolve().parents[2]
EVENTS = ROOT / "events"
ECSRUN = str(Path(sys.executable).parent / "ecsrun")
SECRET_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/orders/db-Xy12Ab"
PASSWORD = "s3cr3t-local-9f2c"
ORDERS = [
    str(EVENTS / "requests" / "orders-nightly.json"),
    "--task-definition",
    str(EVENTS / "task-definitions" / "orders-nightly.json"),
]
SEEDS = [
    "--s3-object",
    f"s3://orders-config-123456789012/prod/orders-nightly.env={EVENTS / 'task-definitions' / 'orders-nightly.env'}",
    "--secret",
    f'{SECRET_ARN}={{"username": "orders_app", "password": "{PASSWORD}"}}',
]


def ecsrun(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "ECSRUN_"))}
    return subprocess.run([ECSRUN, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False)


def _log(folder: Path, run_id: str, container: str) -> list[str]:
    body = (folder / "runs" / run_id / "logs" / f"{container}.log.gz").read_bytes()
    # Each line of a copied log is "<ISO timestamp> <message>".
    return [line.split(" ", 1)[1] for line in gzip.decompress(body).decode().splitlines()]


def test_the_console_exported_task_definition_runs_with_its_env_file_and_suffixed_secret_seeded(tmp_path: Path) -> None:
    # Given the console's export of a three-container Fargate task definition (migrate must succeed first, a
    # metrics sidecar must start first, an environment file from S3, secrets from a Secrets Manager ARN with its
    # suffix, a working directory), and the object and the secret it needs, given on the command line
    # When it runs under `ecsrun local run`
    done = ecsrun("local", "run", *ORDERS, *SEEDS, "--artifacts", "out", cwd=tmp_path)
    # Then it succeeds, every container having exited 0
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCEEDED  run orders-nightly-demo" in done.stdout
    folder = tmp_path / "out" / "orders-nightly-demo"
    manifest = json.loads((folder / "runs" / "orders-nightly-demo" / "manifest.json").read_text())
    codes = {c["name"]: c.get("exitCode") for c in manifest["task"]["containers"]}
    assert codes == {"migrate": 0, "app": 0, "metrics": 0}
    # And the app saw the environment file's values (the override's BATCH_SIZE winning over the file's), the
    # secret's JSON keys, and its working directory
    app = _log(folder, "orders-nightly-demo", "app")
    assert "orders-nightly: starting in /tmp" in app
    assert "orders-nightly: region eu-central-1 batch size 500" in app
    assert any(line.endswith("user orders_app password set") for line in app)
    assert _log(folder, "orders-nightly-demo", "migrate")[0].startswith("migrate: connecting as orders_app")
    # And the secret's value is never shown, and no placeholder stood in for it
    assert PASSWORD not in done.stdout + done.stderr
    assert "placeholder" not in done.stderr
    # And the order of dependsOn held: migrate had exited and metrics had started before the app started
    timeline = (folder / "timeline.svg").read_text()
    starts = {
        name: float(start)
        for name, start in re.findall(r'data-label="container (\w+)" data-start="([\d.]+)"', timeline)
    }
    ends = {
        name: float(end)
        for name, end in re.findall(r'data-label="container (\w+)" data-start="[\d.]+" data-end="([\d.]+)"', timeline)
    }
    assert ends["migrate"] <= starts["app"] and starts["metrics"] <= starts["app"]
    assert 'data-role="sidecar"' in timeline and timeline.count('class="depends"') == 2


def test_ssm_parameters_are_seeded_by_name_or_by_arn(tmp_path: Path) -> None:
    # Given a container whose secrets come from two SSM parameters, one named by name and one by ARN
    definition = json.loads((EVENTS / "task-definitions" / "hello.json").read_text())
    app = definition["containerDefinitions"][0]
    app["secrets"] = [
        {"name": "TOKEN", "valueFrom": "/ecsrun/demo/token"},
        {"name": "OTHER", "valueFrom": "arn:aws:ssm:us-east-1:123456789012:parameter/ecsrun/demo/other"},
    ]
    script = "import os; print('token', len(os.environ['TOKEN']), 'other', os.environ['OTHER'][:3])"
    app["command"] = ["python3", "-u", "-c", script]
    (tmp_path / "td.json").write_text(json.dumps(definition))
    # When they are given with --secret, one by name, one by ARN
    done = ecsrun(
        "local", "run", str(EVENTS / "requests" / "hello.json"), "--task-definition", "td.json",
        "--secret", "/ecsrun/demo/token=abcdefgh",
        "--secret", "arn:aws:ssm:us-east-1:123456789012:parameter/ecsrun/demo/other=xyz-value",
        "--artifacts", "out", cwd=tmp_path,
    )  # fmt: skip
    # Then the container read both
    assert done.returncode == 0, done.stdout + done.stderr
    assert _log(tmp_path / "out" / "hello-demo", "hello-demo", "app") == ["token 8 other xyz"]


def test_stdout_and_stderr_lines_keep_the_order_written(tmp_path: Path) -> None:
    # Given a container that alternates stdout and stderr as fast as it can, ending on stderr, and exits 1
    definition = json.loads((EVENTS / "task-definitions" / "hello.json").read_text())
    script = (
        "import sys\n"
        "for i in range(300):\n"
        "    stream = sys.stdout if i % 2 == 0 else sys.stderr\n"
        "    stream.write(f'line {i} on {stream.name}\\n'); stream.flush()\n"
        "sys.stderr.write('Traceback: the last line\\n'); sys.exit(1)\n"
    )
    definition["containerDefinitions"][0]["command"] = ["python3", "-c", script]
    (tmp_path / "td.json").write_text(json.dumps(definition))
    # When it runs
    done = ecsrun("local", "run", str(EVENTS / "requests" / "hello.json"), "--task-definition", "td.json",
                  "--artifacts", "out", "-q", cwd=tmp_path)  # fmt: skip
    # Then the copied log has every line in the order written, and the failure's last line is the last written
    assert done.returncode == 1, done.stdout + done.stderr
    expected = [f"line {i} on {'<stdout>' if i % 2 == 0 else '<stderr>'}" for i in range(300)]
    assert _log(tmp_path / "out" / "hello-demo", "hello-demo", "app") == [*expected, "Traceback: the last line"]
    assert "last:  " in done.stdout and done.stdout.split("last:  ", 1)[1].split("\n", 1)[0].endswith(
        "Traceback: the last line"
    )


def test_a_working_directory_missing_on_this_machine_fails_the_start_and_says_so(tmp_path: Path) -> None:
    # Given a container whose workingDirectory does not exist here
    definition = json.loads((EVENTS / "task-definitions" / "hello.json").read_text())
    definition["containerDefinitions"][0]["workingDirectory"] = str(tmp_path / "missing")
    (tmp_path / "td.json").write_text(json.dumps(definition))
    request = json.loads((EVENTS / "requests" / "hello.json").read_text()) | {"retry": {"maxAttempts": 1}}
    (tmp_path / "r.json").write_text(json.dumps(request))
    # When it runs
    done = ecsrun("local", "run", "r.json", "--task-definition", "td.json", "-q", "--output", "json", cwd=tmp_path)
    # Then the task fails to start, and the reason names the directory
    assert done.returncode == 1, done.stdout + done.stderr
    document = json.loads(done.stdout)
    assert document["error"] == "ECS.TaskFailedToStart"
    assert f"workingDirectory {tmp_path / 'missing'} is not a directory on this machine" in json.dumps(document)


def test_serve_seeds_the_stack_its_clients_read(tmp_path: Path) -> None:
    # Given `ecsrun local serve` with an object and a suffixed secret
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "ECSRUN_"))}
    process = subprocess.Popen(
        [ECSRUN, "local", "serve", "--port", "0", *SEEDS[:2], "--secret", f"{SECRET_ARN}={PASSWORD}"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert process.stderr is not None
        first = process.stderr.readline()
        endpoint = re.search(r"http://127\.0\.0\.1:\d+", first)
        assert endpoint, first + process.stderr.read()
        keys = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", "region_name": "us-east-1"}
        # When a client reads them
        secrets = boto3.client("secretsmanager", endpoint_url=endpoint.group(0), **keys)
        s3 = boto3.client("s3", endpoint_url=endpoint.group(0), **keys)
        # Then the secret is found by the very ARN the task definition names, and the object where it was put
        assert secrets.get_secret_value(SecretId=SECRET_ARN)["SecretString"] == PASSWORD
        assert secrets.describe_secret(SecretId="prod/orders/db")["ARN"] == SECRET_ARN
        body = s3.get_object(Bucket="orders-config-123456789012", Key="prod/orders-nightly.env")["Body"].read()
        assert body == (EVENTS / "task-definitions" / "orders-nightly.env").read_bytes()
    finally:
        process.terminate()
        process.wait(timeout=60)


def _hello_definition() -> dict:
    return json.loads((EVENTS / "task-definitions" / "hello.json").read_text())


def _problem_lines(text: str) -> list[str]:
    """The `field: message` lines of a RunRequest.Invalid, as validate ("  f: m") and local run ("  - f: m")
    print them."""
    return [line.strip().removeprefix("- ") for line in text.splitlines() if line.startswith("  ")]


def test_validate_and_local_run_agree_on_every_case(tmp_path: Path) -> None:
    # Given three requests with their task definitions that local run refuses: a cpu given as a number, a
    # dependsOn on a container that is not there, an override naming a container that is not there
    number = _hello_definition() | {"cpu": 256}
    missing = _hello_definition()
    missing["containerDefinitions"][0]["dependsOn"] = [{"containerName": "init", "condition": "SUCCESS"}]
    request = json.loads((EVENTS / "requests" / "hello.json").read_text())
    override = request | {"overrides": {"containerOverrides": [{"name": "worker", "command": ["true"]}]}}
    (tmp_path / "number.json").write_text(json.dumps(number))
    (tmp_path / "missing.json").write_text(json.dumps(missing))
    (tmp_path / "hello.json").write_text(json.dumps(_hello_definition()))
    (tmp_path / "request.json").write_text(json.dumps(request))
    (tmp_path / "override.json").write_text(json.dumps(override))
    for definition, request_file in (("number.json", "request.json"), ("missing.json", "request.json")):
        # When validate and local run are given the same files
        checked = ecsrun("validate", request_file, "--task-definition", definition, cwd=tmp_path)
        ran = ecsrun("local", "run", request_file, "--task-definition", definition, cwd=tmp_path)
        # Then both exit 2 with the same one line, in ecsrun's words (no botocore text, no Python type names)
        assert (checked.returncode, ran.returncode) == (2, 2)
        assert checked.stderr == ran.stderr and checked.stderr.count("\n") == 1, checked.stderr
        assert "<class" not in checked.stderr and "Parameter validation failed" not in checked.stderr
    assert (
        "cpu: must be a string; got integer 256"
        in ecsrun("validate", "request.json", "--task-definition", "number.json", cwd=tmp_path).stderr
    )
    # And for the override, both refuse the request with the same problem line
    checked = ecsrun("validate", "override.json", "--task-definition", "hello.json", cwd=tmp_path)
    ran = ecsrun("local", "run", "override.json", "--task-definition", "hello.json", "-q", cwd=tmp_path)
    assert (checked.returncode, ran.returncode) == (2, 2)
    assert (
        _problem_lines(checked.stdout)
        == _problem_lines(ran.stdout)
        == ["overrides.containerOverrides[0].name: ecsrun-hello:1 has no container 'worker' (its containers: app)"]
    )
