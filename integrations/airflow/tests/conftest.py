"""Real Airflow (from PyPI, in make airflow-test's venv) against `ecsrun local serve` (the main venv's ecsrun).

Airflow is configured here, before anything imports it: a fresh AIRFLOW_HOME with a migrated SQLite database, the
DAGs folder tests/dags, and the connection `aws_default` pointing at the local stack's endpoint (test keys), as a
user would point it at AWS. `local serve` runs as a subprocess on a free loopback port for the whole session.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).parent
REPO = HERE.parents[2]
ECSRUN = Path(os.environ.get("ECSRUN", REPO / ".venv" / "bin" / "ecsrun"))
TASK_DEFINITIONS = sorted((HERE / "task-definitions").glob("*.json"))
REGION = "us-east-1"
SERVE_READY_SECONDS = 120


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


PORT = _free_port()
ENDPOINT = f"http://127.0.0.1:{PORT}"
HOME = Path(tempfile.mkdtemp(prefix="ecsrun-airflow-home-"))
AIRFLOW_ENV = {
    "AIRFLOW_HOME": str(HOME),
    "AIRFLOW__CORE__DAGS_FOLDER": str(HERE / "dags"),
    "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
    # The connection a user gives Airflow, pointed at the local stack (Amazon provider's JSON form, endpoint_url).
    "AIRFLOW_CONN_AWS_DEFAULT": json.dumps(
        {
            "conn_type": "aws",
            "login": "testing",
            "password": "testing",
            "extra": {"region_name": REGION, "endpoint_url": ENDPOINT},
        }
    ),
    # The file that ends tests/dags' long run (its container waits for it).
    "ECSRUN_AIRFLOW_RELEASE": str(HOME / "release"),
    # Nothing reaches a real account, whatever this machine's AWS configuration says.
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
}
os.environ.update(AIRFLOW_ENV)
for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
    os.environ.pop(name, None)


def pytest_configure(config: pytest.Config) -> None:
    """Migrate Airflow's database before any test module imports Airflow."""
    airflow = Path(sys.executable).parent / "airflow"
    subprocess.run([str(airflow), "db", "migrate"], check=True, capture_output=True, env=os.environ.copy())


@pytest.fixture(scope="session")
def local_stack() -> Iterator[dict[str, Any]]:
    """`ecsrun local serve` with the test task definitions; its stack's outputs."""
    if not ECSRUN.exists():
        raise RuntimeError(f"{ECSRUN} is missing: run make setup (or give ECSRUN=path/to/ecsrun)")
    args = [str(ECSRUN), "local", "serve", "--port", str(PORT)]
    for path in TASK_DEFINITIONS:
        args += ["--task-definition", str(path)]
    log = (HOME / "serve.log").open("w")
    serve = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, cwd=REPO)
    try:
        outputs = _wait_for_stack(serve)
        yield outputs
    finally:
        serve.send_signal(signal.SIGTERM)  # local serve stops on SIGTERM (exit 0)
        try:
            serve.wait(timeout=30)
        except subprocess.TimeoutExpired:
            serve.kill()
        log.close()


def _wait_for_stack(serve: subprocess.Popen[bytes]) -> dict[str, Any]:
    cloudformation = aws_client("cloudformation")
    deadline = time.monotonic() + SERVE_READY_SECONDS
    while time.monotonic() < deadline:
        if serve.poll() is not None:
            raise RuntimeError(f"ecsrun local serve exited {serve.returncode}: {(HOME / 'serve.log').read_text()}")
        try:
            stack = cloudformation.describe_stacks(StackName="ecsrun-local")["Stacks"][0]
            return {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
        except Exception:  # not listening yet
            time.sleep(0.5)
    raise RuntimeError(f"ecsrun local serve did not answer within {SERVE_READY_SECONDS} s")


def aws_client(service: str) -> Any:
    """A boto3 client of the local stack, for the tests' own checks (not the operator's calls)."""
    import boto3

    return boto3.client(service, endpoint_url=ENDPOINT, region_name=REGION)
