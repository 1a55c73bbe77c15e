"""Example DAG: one ECS task a day, run through an ecsrun stack by `EcsRunOperator` (pip install ecsrun-airflow).

Needs (docs/airflow.md): the connection `aws_default` whose role has the policy the guide lists, and a triggerer
(the wait is deferrable by default: no worker slot is held while the task runs). The Variable `ecsrun_stack_name`
names the stack (default `ecsrun`).

What happens: the task renders the request ({{ ds }} in the container's command and environment), starts a run
named after the DAG, task, DAG run and try, and defers; the container's log lines appear in the task log while it
runs, then the last lines of the logs ecsrun copied to S3. A failure names ecsrun's error first
(`ECS.ContainerExitedNonZero: essential container 'app' exited with code 3`) with the last log lines; a failure
ecsrun calls not retryable (a program that exited non-zero) is final, others are retried by Airflow (a new run).
A retry while the previous try's run still runs (a lost worker) re-attaches to it. The XCom is the run's output.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import DAG
from ecsrun_airflow import EcsRunOperator, from_ecs_operator_kwargs

# What you would have given EcsRunTaskOperator, in its own parameter names, plus ecsrun's runner fields.
REPORT = from_ecs_operator_kwargs(
    task_definition="nightly-report",
    cluster="default",
    overrides={
        "containerOverrides": [
            {
                "name": "app",
                "command": ["python", "report.py", "--day", "{{ ds }}"],
                "environment": [{"name": "REPORT_DAY", "value": "{{ ds }}"}],
            }
        ]
    },
    launch_type="FARGATE",
    network_configuration={
        "awsvpcConfiguration": {
            "subnets": ["subnet-0123456789abcdef0"],
            "securityGroups": ["sg-0123456789abcdef0"],
            "assignPublicIp": "DISABLED",
        }
    },
    tags={"team": "data"},
    propagate_tags="TASK_DEFINITION",
    timeout_seconds=2 * 3600,
    retry={"maxAttempts": 3},  # capacity, throttling and transient start failures: retried by ecsrun itself
)

with DAG(
    dag_id="ecsrun_nightly_report",
    schedule="@daily",
    start_date=datetime(2026, 11, 1),
    catchup=False,
    default_args={"retries": 2, "retry_delay": timedelta(minutes=1)},
    tags=["ecsrun"],
):
    EcsRunOperator(
        task_id="run_report",
        stack_name="{{ var.value.get('ecsrun_stack_name', 'ecsrun') }}",
        request=REPORT,
        aws_conn_id="aws_default",
    )
