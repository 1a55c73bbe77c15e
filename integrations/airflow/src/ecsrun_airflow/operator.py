"""`EcsRunOperator`: run one ECS task through an ecsrun stack, and end when the run has ended.

Each Airflow try owns at most one run, named after (dag, task, DAG run, map index, try). A try first looks for
the runs of its own and earlier tries (DescribeExecution by name, newest first): if the newest one found is still
running, the try re-attaches to it (a worker was lost, the task was retried while the run went on); if it has
ended, or none exists, the try starts its own run. So a retry or a clear after the run ended runs the job again,
and nothing runs twice at once.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowException, AirflowFailException

from ecsrun_airflow.client import EcsrunApi, Stack
from ecsrun_airflow.connection import api_for
from ecsrun_airflow.logs import LogTail, copied_logs
from ecsrun_airflow.names import earlier_names, execution_arn, run_name
from ecsrun_airflow.outcome import RunEnd, read_end
from ecsrun_airflow.request import RequestError, load_request, with_run_id
from ecsrun_airflow.trigger import EcsRunTrigger

if TYPE_CHECKING:
    from airflow.sdk import Context

# How many earlier tries are looked at for a run still going (one DescribeExecution each, only on a retry).
MAX_EARLIER_TRIES = 50


class EcsRunOperator(BaseOperator):
    """Run an ECS task through the ecsrun stack `stack_name`, with the run request `request`.

    :param request: the run request (RunTask's camelCase fields plus ecsrun's runner fields, docs/requests.md): a
        dict, or the path of a JSON file (relative to the DAG's folder or `template_searchpath`). Templated, nested
        values included. ``runId`` is the operator's: one per try.
    :param stack_name: the ecsrun stack; its outputs give the state machine, the logs bucket and the runs table.
    :param aws_conn_id, region_name, verify, botocore_config: as the Amazon provider's operators take them.
    :param deferrable: wait in the triggerer (no worker slot held) rather than on the worker.
    :param poll_interval: seconds between DescribeExecution calls and log tail reads while the run runs.
    :param tail_logs: print the containers' log lines in the task log while the task runs.
    :param log_lines_at_end: how many of each container's last lines to print from the copied logs once the run
        has ended; None prints the whole log, 0 nothing.
    :param retry_non_retryable: let Airflow retry a run ecsrun says is not retryable (``retryable: false``, e.g. a
        container that exited non-zero). By default such a failure is final (``AirflowFailException``).
    """

    template_fields: Sequence[str] = (
        "request",
        "stack_name",
        "aws_conn_id",
        "region_name",
        "verify",
        "botocore_config",
    )
    template_ext: Sequence[str] = (".json",)
    template_fields_renderers: ClassVar[dict[str, str]] = {"request": "json"}
    ui_color = "#f4e4cc"

    def __init__(
        self,
        *,
        request: dict[str, Any] | str,
        stack_name: str,
        aws_conn_id: str | None = "aws_default",
        region_name: str | None = None,
        verify: bool | str | None = None,
        botocore_config: dict[str, Any] | None = None,
        deferrable: bool = True,
        poll_interval: float = 15.0,
        tail_logs: bool = True,
        log_lines_at_end: int | None = 100,
        retry_non_retryable: bool = False,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self.request = request
        self.stack_name = stack_name
        self.aws_conn_id = aws_conn_id
        self.region_name = region_name
        self.verify = verify
        self.botocore_config = botocore_config
        self.deferrable = deferrable
        self.poll_interval = poll_interval
        self.tail_logs = tail_logs
        self.log_lines_at_end = log_lines_at_end
        self.retry_non_retryable = retry_non_retryable
        self._execution_arn: str | None = None
        self._run_id: str | None = None

    def _api(self) -> EcsrunApi:
        return api_for(self.aws_conn_id, self.region_name, self.verify, self.botocore_config)

    # ---- start, or re-attach ----

    def execute(self, context: Context) -> Any:
        try:
            request = load_request(self.request)
        except RequestError as exc:
            raise AirflowFailException(str(exc)) from exc
        api = self._api()
        stack = api.stack(self.stack_name)
        ti = context["ti"]
        identity = (ti.dag_id, ti.task_id, ti.run_id, ti.map_index if ti.map_index is not None else -1)
        own = run_name(*identity, ti.try_number)
        arn, run_id = self._attach_or_start(api, stack, own, earlier_names(*identity, ti.try_number), request)
        self._execution_arn, self._run_id = arn, run_id
        if self.do_xcom_push:
            ti.xcom_push(key="ecsrun_run", value={"runId": run_id, "executionArn": arn})
        if self.deferrable:
            self.defer(
                trigger=EcsRunTrigger(
                    execution_arn=arn,
                    run_id=run_id,
                    runs_table=stack.runs_table,
                    poll_interval=self.poll_interval,
                    tail_logs=self.tail_logs,
                    aws_conn_id=self.aws_conn_id,
                    region_name=self.region_name,
                    verify=self.verify,
                    botocore_config=self.botocore_config,
                ),
                method_name="execute_complete",
            )
        return self._wait(api, stack, arn, run_id)

    def _attach_or_start(
        self, api: EcsrunApi, stack: Stack, own: str, earlier: list[str], request: dict[str, Any]
    ) -> tuple[str, str]:
        """(execution ARN, runId) of the run this try follows: the newest existing run of this or an earlier try
        if it still runs, else a new run of its own."""
        for name in [own, *earlier[:MAX_EARLIER_TRIES]]:
            arn = execution_arn(stack.state_machine_arn, name)
            described = api.describe(arn)
            if described is None:
                continue
            if described["status"] == "RUNNING":
                how = "this try's run" if name == own else "a run an earlier try started, still running"
                self.log.info("ecsrun run %s: re-attaching to %s (%s)", name, how, arn)
                return arn, name
            if name == own:  # this very try started a run that has ended (the worker was lost after it ended)
                self.log.info("ecsrun run %s: this try's run has already ended (%s)", name, described["status"])
                return arn, name
            self.log.info("ecsrun run %s (an earlier try's) ended %s: starting a new run", name, described["status"])
            break
        arn = api.start(stack.state_machine_arn, own, with_run_id(request, own))
        self.log.info("ecsrun run %s: started %s on stack %s", own, arn, stack.name)
        return arn, own

    # ---- wait, and end ----

    def _wait(self, api: EcsrunApi, stack: Stack, arn: str, run_id: str) -> Any:
        """Block until the run has ended, tailing its log lines (deferrable=False)."""
        table = stack.runs_table if self.tail_logs else None
        tail = LogTail(api, table, run_id, arn, self.log.info, self.log.warning)
        while True:
            described = api.describe(arn)
            if described is None:
                raise AirflowException(f"ecsrun run {run_id}: execution {arn} does not exist")
            ended = described["status"] != "RUNNING"
            tail.poll(final=ended)
            if ended:
                return self._end(api, read_end(described))
            time.sleep(self.poll_interval)

    def execute_complete(self, context: Context, event: dict[str, Any]) -> Any:
        """Resumed from the trigger once the run has ended: report it."""
        arn = str(event["executionArn"])
        if event.get("status") == "error":
            raise AirflowException(f"waiting on {arn}: {event.get('message')}")
        self._execution_arn = arn
        api = self._api()
        described = api.describe(arn)
        if described is None:
            raise AirflowException(f"execution {arn} does not exist")
        return self._end(api, read_end(described))

    def _end(self, api: EcsrunApi, end: RunEnd) -> Any:
        """Print the summary and the copied logs; return the run's output (the XCom), or raise its failure."""
        for line in end.summary():
            self.log.info("%s", line)
        if self.log_lines_at_end != 0:
            try:
                for line in copied_logs(api, end, self.log_lines_at_end):
                    self.log.info("%s", line)
            except Exception as exc:  # noqa: BLE001 - the logs are a courtesy: never the task's verdict
                self.log.warning("the copied logs could not be read: %s", exc)
        if end.succeeded:
            return end.output
        if not end.retryable and not self.retry_non_retryable:
            raise AirflowFailException(end.failure())
        raise AirflowException(end.failure())

    def on_kill(self) -> None:
        """The task was killed while it waited on the worker: stop the run; ecsrun stops its task and still copies
        its logs."""
        if self._execution_arn is None:
            return
        cause = f"the Airflow task {self.task_id} waiting on run {self._run_id} was killed"
        if self._api().stop(self._execution_arn, cause):
            self.log.info("stopped ecsrun run %s (%s)", self._run_id, self._execution_arn)
