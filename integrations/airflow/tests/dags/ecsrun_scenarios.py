"""The DAGs the scenarios run with dag.test(), each against `ecsrun local serve` (the stack `ecsrun-local`), through
the connection `aws_default` (AIRFLOW_CONN_AWS_DEFAULT, set by conftest.py: test keys, the local endpoint)."""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from typing import Any

from airflow.providers.amazon.aws.hooks.base_aws import AwsGenericHook
from airflow.sdk import DAG

from ecsrun_airflow import EcsRunOperator

STACK = "ecsrun-local"
NETWORK = {"awsvpcConfiguration": {"subnets": ["subnet-0123456789abcdef0"], "securityGroups": ["sg-0123456789abcdef0"]}}
INPUTS_BUCKET = "ecsrun-airflow-inputs"  # late-input.json's environmentFiles bucket; conftest.py creates it empty
START = datetime(2026, 11, 1)


def job(command: str, *, family: str = "ecsrun-airflow-job", **override: Any) -> dict[str, Any]:
    """A request for the test task definitions (tests/task-definitions/), with container app's command."""
    return {
        "cluster": "default",
        "taskDefinition": family,
        "launchType": "FARGATE",
        "networkConfiguration": NETWORK,
        "timeoutSeconds": 120,
        "overrides": {"containerOverrides": [{"name": "app", "command": ["sh", "-c", command], **override}]},
    }


def scenario(dag_id: str, *, retries: int = 0, **operator: Any) -> DAG:
    with DAG(
        dag_id=dag_id,
        schedule=None,
        start_date=START,
        catchup=False,
        default_args={"retries": retries, "retry_delay": timedelta(seconds=0)},
    ) as dag:
        EcsRunOperator(task_id="run", stack_name=STACK, poll_interval=0.5, **operator)
    return dag


TICKS = 'for i in 1 2 3 4 5 6; do echo "tick $i"; sleep 0.4; done'

# A templated request: the override's environment and command carry {{ ds }}; the lines come over ~3 s.
success = scenario(
    "ecsrun_success",
    request=job(
        f'echo "day from the command: {{{{ ds }}}}"; echo "day from the environment: $DAY"; {TICKS}; echo done',
        environment=[{"name": "DAY", "value": "{{ ds }}"}],
    ),
)

# The same, waiting on the worker; its request is a JSON file Airflow reads and renders (template_ext).
blocking = scenario("ecsrun_blocking", deferrable=False, request="requests/ticks.json")

# An essential container exits 3: ecsrun says retryable false, so Airflow's retries are not used.
failure = scenario(
    "ecsrun_failure",
    retries=2,
    request=job("echo 'starting the report'; echo 'no rows for the day' >&2; exit 3"),
)


def _input_arrives(context: Any) -> None:
    """on_retry_callback: the environment file try 1's task could not download arrives before try 2."""
    s3 = AwsGenericHook(aws_conn_id="aws_default", client_type="s3").conn
    s3.put_object(Bucket=INPUTS_BUCKET, Key="input.env", Body=f"INPUT_DAY={context['ds']}\n".encode())


# The task fails to start (its environment file is not there yet: a transient start failure, retryable), and the
# request allows ecsrun one attempt: Airflow's retry starts a second run, which finds the file.
late_input = DAG(
    dag_id="ecsrun_late_input",
    schedule=None,
    start_date=START,
    catchup=False,
    default_args={"retries": 1, "retry_delay": timedelta(seconds=0), "on_retry_callback": _input_arrives},
)
with late_input:
    EcsRunOperator(
        task_id="run",
        stack_name=STACK,
        poll_interval=0.5,
        request={
            **job('echo "input day: $INPUT_DAY"', family="ecsrun-airflow-late-input"),
            "retry": {"maxAttempts": 1},
        },
    )

# A run that goes on until the test releases it (a file on this host: containers are host processes locally): the
# worker is killed while it waits, and the next try re-attaches.
long_run = scenario(
    "ecsrun_long_run",
    retries=1,
    request=job(
        'i=0; while [ ! -e "$RELEASE" ]; do i=$((i+1)); echo "tick $i"; sleep 0.5; done; echo released',
        environment=[{"name": "RELEASE", "value": os.environ.get("ECSRUN_AIRFLOW_RELEASE", "/nonexistent")}],
    ),
)
