"""Example DAG: one ECS task a day, run by ecsrun, started and waited for with Airflow's own Amazon provider
operators, without holding a worker slot while the task runs.

Checked with Airflow 3.3.2 and apache-airflow-providers-amazon 9.39.0. Needs (docs/airflow.md):
- the connection `aws_default`, whose role has exactly `ecsrun_airflow.airflow_policy(<StateMachineArn>)`;
- the Variable `ecsrun_state_machine_arn`: the ecsrun stack's StateMachineArn output;
- a triggerer running (the deferrable wait runs there), and the provider's `aiobotocore` extra, on which that wait
  runs.

What happens:
- `run_report` starts ecsrun's execution under a name computed from (dag_id, task_id, run_id, map_index), with an
  input computed from the same, then defers: the triggerer polls DescribeExecution every 30 s. An Airflow retry
  computes the same name and input, so StartExecution returns the execution that is still running (re-attach);
  ecsrun refuses a second execution with the same runId (Run.Duplicate), so a task never runs twice.
- `report_outcome` prints the run's verdict, exit codes, a failed run's last log lines and where the logs are in
  S3, and fails the DAG run with ecsrun's error name and reason (`ECS.ContainerExitedNonZero: essential container
  'app' exited with code 3`).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import ecsrun_airflow as ecsrun
from airflow.providers.amazon.aws.hooks.step_function import StepFunctionHook
from airflow.providers.amazon.aws.operators.step_function import StepFunctionStartExecutionOperator
from airflow.sdk import DAG, TriggerRule, Variable, get_current_context, task
from airflow.sdk.exceptions import AirflowFailException

AWS_CONN_ID = "aws_default"
RUN_TASK_ID = "run_report"

# What you would have given EcsRunTaskOperator, in its own parameter names, plus ecsrun's runner fields.
REPORT = ecsrun.request_from_ecs_operator(
    task_definition="nightly-report",
    cluster="default",
    overrides={"containerOverrides": [{"name": "app", "command": ["python", "report.py"]}]},
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
    user_defined_macros={"ecsrun": ecsrun, "report_request": REPORT},
    tags=["ecsrun"],
):
    run_report = StepFunctionStartExecutionOperator(
        task_id=RUN_TASK_ID,
        state_machine_arn="{{ var.value.ecsrun_state_machine_arn }}",
        # Per Airflow task of a DAG run, never per try: a retry re-attaches to the execution still running.
        name="{{ ecsrun.run_id_for(dag.dag_id, task.task_id, run_id, ti.map_index) }}",
        state_machine_input=(
            "{{ ecsrun.execution_input(report_request, dag.dag_id, task.task_id, run_id, ti.map_index,"
            " container='app', environment={'REPORT_DAY': ds}) }}"
        ),
        deferrable=True,  # the wait runs in the triggerer: no worker slot is held while the task runs
        waiter_delay=30,
        waiter_max_attempts=2 * 3600 // 30 + 40,  # the run's timeoutSeconds, plus the stop wait and the log copy
        aws_conn_id=AWS_CONN_ID,
    )

    @task(trigger_rule=TriggerRule.ALL_DONE, retries=0)
    def report_outcome() -> dict[str, Any] | None:
        """Print the run's end, and fail with ecsrun's error name and reason if it failed."""
        context = get_current_context()
        ti = context["ti"]
        name = ecsrun.run_id_for(context["dag"].dag_id, RUN_TASK_ID, context["run_id"], ti.map_index)
        arn = ecsrun.execution_arn(Variable.get("ecsrun_state_machine_arn"), name)
        client = StepFunctionHook(aws_conn_id=AWS_CONN_ID).conn
        try:
            described = client.describe_execution(executionArn=arn)
        except client.exceptions.ExecutionDoesNotExist:
            raise AirflowFailException(f"no ecsrun execution {name}: {RUN_TASK_ID} did not start one") from None
        outcome = ecsrun.read_outcome(described)
        for line in outcome.report():
            print(line)
        if outcome.status == "RUNNING":
            raise AirflowFailException(f"ecsrun run {name} is still running: `ecsrun stop {name}` stops it")
        if not outcome.succeeded:
            raise AirflowFailException(outcome.failure())
        return outcome.output

    run_report >> report_outcome()
