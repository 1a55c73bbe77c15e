"""Driving real Airflow DAG runs for the scenarios: dag.test() as Airflow ships it, plus the two things a scheduler
does that dag.test() does not (it always replaces the DAG run): a clear of a finished run, and the verdict on a
task whose worker stopped heartbeating. Both are done with Airflow's own code or in its own words.

`python airflow_runs.py DAG_ID LOGICAL_DATE [continue]` runs one dag.test() (or continues the DAG run) in a
process of its own: the workers of the killed-worker scenario.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any
from unittest import mock

DAGS = Path(__file__).parent / "dags"


def dag_named(dag_id: str) -> Any:
    sys.path.insert(0, str(DAGS))
    import ecsrun_scenarios

    for value in vars(ecsrun_scenarios).values():
        if getattr(value, "dag_id", None) == dag_id and hasattr(value, "test"):
            return value
    raise KeyError(dag_id)


def run_dag(dag: Any, logical_date: datetime) -> Any:
    """dag.test() for this logical date, its run_id fixed by it (`manual__<date>`), so later calls find the run."""
    return dag.test(logical_date=logical_date, run_after=logical_date)


@contextmanager
def _continuing() -> Iterator[None]:
    """dag.test() on the DAG run that exists, as the scheduler continues a run: no clear, no replacement."""
    from airflow.models.dagrun import DagRun
    from airflow.serialization.definitions.dag import SerializedDAG
    from airflow.utils.state import DagRunState
    from sqlalchemy import select

    def existing(*, dag: Any, logical_date: datetime, session: Any, **_: Any) -> Any:
        run = session.scalar(select(DagRun).where(DagRun.dag_id == dag.dag_id, DagRun.logical_date == logical_date))
        run.dag = dag
        run.state = DagRunState.RUNNING  # the scheduler's next step for a QUEUED (cleared) or RUNNING run
        session.commit()
        return run

    with (
        mock.patch("airflow.models.dagrun.get_or_create_dagrun", existing),
        mock.patch.object(SerializedDAG, "clear_dags", lambda *a, **k: 0),
    ):
        yield


def continue_run(dag: Any, logical_date: datetime) -> Any:
    with _continuing():
        return run_dag(dag, logical_date)


def task_instance(dag_id: str, task_id: str = "run") -> Any:
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        ti = session.scalar(select(TaskInstance).where(TaskInstance.dag_id == dag_id, TaskInstance.task_id == task_id))
        session.expunge(ti)
        return ti


def clear(dag_id: str) -> None:
    """Clear the DAG's task instances as the UI and the REST API do (clear_task_instances: the try number kept, the
    next try gets the next number, a finished run queued again)."""
    from airflow.models.taskinstance import TaskInstance, clear_task_instances
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        tis = list(session.scalars(select(TaskInstance).where(TaskInstance.dag_id == dag_id)))
        clear_task_instances(tis, session)


def heartbeat_lost(dag_id: str) -> str:
    """What Airflow does to a task instance whose worker stopped heartbeating: the scheduler sends a failure
    callback (SchedulerJobRunner._purge_task_instances_without_heartbeats) and its handling records the failure
    with TaskInstance.fetch_handle_failure_context: up for retry if it has retries left, its deferral forgotten."""
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        ti = session.scalar(select(TaskInstance).where(TaskInstance.dag_id == dag_id))
        ti = TaskInstance.fetch_handle_failure_context(ti, "heartbeat timeout (the worker was killed)", session=session)
        TaskInstance.save_to_db(ti, session=session)
        return str(ti.state)


def return_value(dag_id: str, run_id: str, task_id: str = "run") -> Any:
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        query = XComModel.get_many(run_id=run_id, key="return_value", task_ids=task_id, dag_ids=dag_id)
        row = session.scalars(query).first()
        return XComModel.deserialize_value(row) if row is not None else None


if __name__ == "__main__":
    drive = continue_run if sys.argv[3:] == ["continue"] else run_dag
    drive(dag_named(sys.argv[1]), datetime.fromisoformat(sys.argv[2]))
