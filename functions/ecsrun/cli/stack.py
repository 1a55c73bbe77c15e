"""The `ecsrun` commands that act on a deployed stack: start, status, list, stop, timeline.

Stack resources come from the stack's outputs (`--stack-name`, or ECSRUN_STACK_NAME), with the session that
--profile and --region (or AWS_REGION) choose. Following a run with `--wait` polls DescribeExecution from the
user's terminal; `--follow` instead reads the run record and tails the task's log streams while the task runs
(GetLogEvents), and asks Step Functions again only once the task has stopped. The pipeline itself never polls.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ecsrun.cli.common import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    UsageError,
    aws_errors,
    aws_session,
    execution_input,
    read_json,
    reader_gone,
    stack_name,
    stack_output,
)
from ecsrun.cli.document import document, duration_seconds, execution_document, iso
from ecsrun.cli.render import ContainerLines
from ecsrun.cli.timeline import (
    Span,
    container_spans,
    history_spans,
    outcome_of,
    render_svg,
    task_spans,
    text_lines,
)
from ecsrun.domain.errors import ErrorName

STATUSES = ("RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED")
# While tailing: how often the run record is read to learn that the task stopped.
RECORD_CHECK_SECONDS = 5.0


@dataclass
class Stack:
    """The deployed stack's resources, and the clients to reach them (one session: --profile, --region)."""

    session: Any
    cloudformation: Any
    name: str
    state_machine_arn: str
    runs_table: str
    _sfn: Any = None
    _table: Any = None

    def output(self, key: str) -> str:
        return stack_output(self.cloudformation, self.name, key)

    @property
    def sfn(self) -> Any:
        if self._sfn is None:
            self._sfn = self.session.client("stepfunctions")
        return self._sfn

    @property
    def table(self) -> Any:
        if self._table is None:
            from ecsrun.adapters.dynamodb import RunsTable

            self._table = RunsTable(self.session.resource("dynamodb").Table(self.runs_table))
        return self._table

    def client(self, service: str, region: str | None = None) -> Any:
        return self.session.client(service, region_name=region) if region else self.session.client(service)


def stack_resources(stack_output: Any, stack: str) -> tuple[str, str]:
    return stack_output(stack, "StateMachineArn"), stack_output(stack, "RunsTableName")


# ---- start ----


def start(args: argparse.Namespace, request: Any, stack: Stack) -> int:
    from ecsrun.domain.models.request import problems_report, validate_request
    from ecsrun.domain.runtask import execution_name, run_id_for_execution

    as_json = args.output == "json"
    _, problems = validate_request(request)
    if problems:
        if as_json:
            report = problems_report(problems)
            print(json.dumps(_invalid_document(report), indent=2))
        else:
            print(f"{ErrorName.REQUEST_INVALID.value}: not started; {len(problems)} problem(s):")
            for problem in problems:
                print(f"  {problem.field}: {problem.message}")
        return EXIT_USAGE
    name = args.name or execution_name(request)
    arn = stack.sfn.start_execution(stateMachineArn=stack.state_machine_arn, name=name, input=json.dumps(request))[
        "executionArn"
    ]
    run_id = run_id_for_execution(request, name)
    if not as_json:
        print(f"started {arn}", flush=True)
    if not (args.wait or args.follow):
        if as_json:
            print(json.dumps(document(status="RUNNING", run_id=run_id, execution_arn=arn), indent=2))
        return EXIT_OK
    if args.follow:
        tail(arn, run_id, stack, poll_seconds=args.poll_seconds, quiet=as_json)
    return follow(arn, stack, poll_seconds=args.poll_seconds, as_json=as_json)


def _invalid_document(report: dict[str, Any]) -> dict[str, Any]:
    return document(
        status="FAILED",
        error=ErrorName.REQUEST_INVALID.value,
        message=report["message"],
        cause=report,
        problems=report["problems"],
    )


def _plain(value: Any) -> str:
    """A value as a person reads it: an object's fields as `key value, ...`, never a Python repr."""
    if isinstance(value, dict):
        return ", ".join(f"{k} {_plain(v)}" for k, v in value.items() if v is not None)
    if isinstance(value, list):
        return ", ".join(_plain(v) for v in value)
    return str(value)


# A choice or an end takes no time and says nothing of the run: the live line shows what the run does.
_DECISIONS = ("ChoiceStateEntered", "FailStateEntered", "SucceedStateEntered")


def _current_state(sfn: Any, arn: str) -> str | None:
    history = sfn.get_execution_history(executionArn=arn, reverseOrder=True, maxResults=100)["events"]
    entered = [e for e in history if e["type"].endswith("StateEntered") and e["type"] not in _DECISIONS]
    newest = max(entered, key=lambda e: e["id"], default=None)
    return str(newest["stateEnteredEventDetails"]["name"]) if newest else None


def _task_status(table: Any, ecs: Any, run_id: str | None) -> str | None:
    """The run's status from its record, and its task's: recorded once stopped, asked of ECS until then."""
    record = table.get(run_id) if run_id else None
    if record is None:
        return None
    task = record.task.lastStatus if record.task else None
    if task is None and record.taskArn:
        found = ecs.describe_tasks(cluster=record.clusterArn or "default", tasks=[record.taskArn])["tasks"]
        task = found[0]["lastStatus"] if found else None
    return f"run {record.status.value}" + (f", task {task}" if task else "")


def follow(arn: str, stack: Stack, *, poll_seconds: float, as_json: bool = False) -> int:
    """Print a line whenever the state or the task's status changes, then the result."""
    from ecsrun.domain.runtask import run_id_for_execution

    ecs = stack.client("ecs")
    started = time.monotonic()
    shown = None
    while True:
        described = stack.sfn.describe_execution(executionArn=arn)
        run_id = run_id_for_execution(execution_input(described), described["name"])
        if described["status"] != "RUNNING":
            break
        if not as_json:
            line = (_current_state(stack.sfn, arn), _task_status(stack.table, ecs, run_id))
            if line != shown:
                shown = line
                extra = f"  ({line[1]})" if line[1] else ""
                print(f"  +{time.monotonic() - started:6.1f}s  {line[0] or 'starting'}{extra}", flush=True)
        time.sleep(poll_seconds)
    if not as_json:
        line = (_current_state(stack.sfn, arn), _task_status(stack.table, ecs, run_id))
        if line != shown:
            extra = f"  ({line[1]})" if line[1] else ""
            print(f"  +{time.monotonic() - started:6.1f}s  {line[0] or 'starting'}{extra}", flush=True)
    return _result(described, run_id, as_json=as_json)


def _result(described: dict[str, Any], run_id: str | None, *, as_json: bool) -> int:
    status = described["status"]
    error = described.get("error")
    code = EXIT_OK if status == "SUCCEEDED" else EXIT_USAGE if error == ErrorName.REQUEST_INVALID.value else EXIT_FAILED
    if as_json:
        print(json.dumps(execution_document(described, run_id), indent=2))
        return code
    if status == "SUCCEEDED":
        output = json.loads(described.get("output") or "{}")
        array = output.get("array")
        if array:  # an array run's parent
            print(f"SUCCEEDED  {array['succeeded']} of {array['size']} children succeeded  "
                  f"summary s3://{array['bucket']}/{array['summaryKey']}")  # fmt: skip
            return code
        codes = ", ".join(
            f"{c['name']} {'no exit code' if c.get('exitCode') is None else c['exitCode']}"
            for c in (output.get("task") or {}).get("containers", [])
        )
        print(f"SUCCEEDED  exit codes: {codes or 'none'}  logs s3://{(output.get('logs') or {}).get('bucket')}/runs/"
              f"{output.get('runId')}/")  # fmt: skip
        return code
    try:
        message = json.loads(described.get("cause") or "{}").get("message")
    except (json.JSONDecodeError, AttributeError):
        message = described.get("cause")
    print(f"{status}  {error}: {message}")
    return code


# ---- start --follow: the task's logs, tailed while it runs ----


@dataclass
class _Stream:
    container: str
    group: str
    name: str
    region: str | None
    token: str | None = None
    done: bool = False


def tail(arn: str, run_id: str | None, stack: Stack, *, poll_seconds: float, quiet: bool = False) -> None:
    """Print each container's log lines while the task runs, from the streams its task definition names
    (`<awslogs-stream-prefix>/<container>/<task id>`), read with GetLogEvents. Until the task is known, the
    run record (and, for a run that ends before any task, the execution) is read; while tailing, only the
    record, every RECORD_CHECK_SECONDS, to learn the task stopped; then each stream is read to its end."""
    if run_id is None:
        return
    say = (lambda line: None) if quiet else (lambda line: print(line, flush=True))
    record = None
    while True:
        record = stack.table.get(run_id)
        if record is not None and record.executionArn == arn and (record.taskArn or record.array):
            break
        if stack.sfn.describe_execution(executionArn=arn)["status"] != "RUNNING":
            return  # ended before any task (a refused request, a duplicate): the result says why
        time.sleep(poll_seconds)
    if record.array:
        say(f"  (an array run: its {record.array.get('size', '?')} children's logs are not tailed here)")
        return
    task_id = str(record.taskArn).rsplit("/", 1)[-1]
    streams = [
        _Stream(c.name, c.log.group, f"{c.log.stream_prefix}/{c.name}/{task_id}", c.log.region)
        for c in record.containers
        if c.log is not None and c.log.stream_prefix
    ]
    for container in record.containers:
        if container.log is None or not container.log.stream_prefix:
            say(f"  ({container.name}: no awslogs stream to tail)")
    printer = ContainerLines([s.container for s in streams])
    last_check = time.monotonic()
    stopped = False
    while not stopped:
        if time.monotonic() - last_check >= RECORD_CHECK_SECONDS:
            last_check = time.monotonic()
            now = stack.table.get(run_id)
            stopped = (
                now is None or now.executionArn != arn or now.status.value not in ("STARTING", "RUNNING", "STOPPING")
            )
        # One last pass after the stop: each stream read until its token repeats.
        quiet_pass = all(not _read_stream(stack, stream, printer, quiet, drain=stopped) for stream in streams)
        if printer.closed or reader_gone():  # stdout's reader went away (`| head`): stop here
            raise BrokenPipeError
        if not stopped and quiet_pass:
            time.sleep(poll_seconds)
    bucket = _logs_bucket(stack)
    where = f"s3://{bucket}/runs/{run_id}/logs/" if bucket else f"runs/{run_id}/logs/ in the stack's logs bucket"
    say(f"  task stopped; the logs are copied to {where} (ecsrun logs {run_id})")


def _read_stream(stack: Stack, stream: _Stream, printer: ContainerLines, quiet: bool, *, drain: bool) -> bool:
    """Print the stream's new events; True if there were any. With `drain`, read on until the token repeats."""
    from botocore.exceptions import ClientError

    logs = stack.client("logs", stream.region)
    printed = False
    while True:
        kwargs: dict[str, Any] = {"logGroupName": stream.group, "logStreamName": stream.name, "startFromHead": True}
        if stream.token:
            kwargs["nextToken"] = stream.token
        try:
            page = logs.get_log_events(**kwargs)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
                return printed  # the container has not started yet (or never will)
            raise
        for event in page.get("events", []):
            printed = True
            if not quiet:
                printer(None, stream.container, str(event.get("message", "")))
        token = page.get("nextForwardToken")
        repeated = token == stream.token
        stream.token = token
        if repeated or not drain:
            return printed


def _logs_bucket(stack: Stack) -> str | None:
    try:
        return stack.output("LogsBucketName")
    except UsageError:
        return None


# ---- status ----


def _find_run(run: str, stack: Stack) -> tuple[str | None, dict[str, Any] | None, Any]:
    """(runId, DescribeExecution, run record) for a runId or an execution ARN; Nones for what does not exist."""
    from botocore.exceptions import ClientError

    from ecsrun.domain.runtask import run_id_for_execution

    execution: dict[str, Any] | None = None
    if run.startswith("arn:"):
        try:
            execution = stack.sfn.describe_execution(executionArn=run)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ExecutionDoesNotExist":
                raise
            return None, None, None
        run_id = run_id_for_execution(execution_input(execution), execution["name"])
    else:
        run_id = run
    record = stack.table.get(run_id) if run_id else None
    if execution is None and record is not None:
        execution = stack.sfn.describe_execution(executionArn=record.executionArn)
    return run_id, execution, record


def status(args: argparse.Namespace, stack: Stack) -> int:
    run_id, execution, record = _find_run(args.run, stack)
    if execution is None and record is None:
        what = f"no execution {args.run}" if args.run.startswith("arn:") else f"no run {args.run} in the runs table"
        print(f"ecsrun: {what}", file=sys.stderr if args.output == "json" else sys.stdout)
        return EXIT_FAILED
    report = {
        "runId": run_id,
        "executionArn": execution["executionArn"] if execution else None,
        "executionStatus": execution["status"] if execution else None,
        "runStatus": record.status.value if record else None,
        "taskArn": record.taskArn if record else None,
        "taskStatus": record.task.lastStatus if record and record.task else None,
        "error": (record.outcome or {}).get("error") if record else (execution or {}).get("error"),
        "manifestKey": (record.outcome or {}).get("manifestKey") if record else None,
        "array": _array_counts(record, stack.table),
        **_handed_back(record),
    }
    if args.output == "json":
        described = execution or {"status": None}
        doc = execution_document(described, run_id, **{k: v for k, v in report.items() if k not in ("runId", "error")})
        if doc["error"] is None and report["error"]:
            doc["error"] = report["error"]
        print(json.dumps(doc, indent=2))
    else:
        for key, value in report.items():
            if value is not None:  # a result is the task's own JSON: shown as JSON
                print(f"{key:16} {json.dumps(value, ensure_ascii=False) if key == 'result' else _plain(value)}")
    return EXIT_OK


def _handed_back(record: Any) -> dict[str, Any]:
    """The run's `result` or `resultError`, from its recorded end (a success's output; a failure's own fields)."""
    outcome = (record.outcome if record else None) or {}
    output = outcome.get("output")
    found = output if isinstance(output, dict) else outcome
    return {k: found[k] for k in ("result", "resultError") if k in found}


def _array_counts(record: Any, table: Any) -> dict[str, Any] | None:
    """An array parent's children, counted: from its outcome once it ended; while it runs, from its children's
    run records (`<runId>-<i>`, as many as its record's size)."""
    if record is None:
        return None
    array = (record.outcome or {}).get("array")
    if array:
        keys = ("size", "succeeded", "failed", "byOutcome", "summaryKey")
        return {key: array[key] for key in keys if key in array}
    if not record.array:
        return None
    return children_progress(table, record.runId, record.array.get("size"))


# A running array's children are counted from their records up to this size (BatchGetItem, 100 keys a call).
PROGRESS_LIMIT = 1000
FINISHED = {"SUCCEEDED": "succeeded", "FAILED": "failed", "ABORTED": "failed"}


def children_progress(table: Any, run_id: str, size: Any) -> dict[str, Any]:
    """A running array's children: how many succeeded, failed, run (a record, not yet finished) and wait (no
    record yet). Past PROGRESS_LIMIT children, the size alone."""
    progress: dict[str, Any] = {"size": size, "status": "RUNNING"}
    if not isinstance(size, int) or not 0 < size <= PROGRESS_LIMIT:
        return progress
    found = table.get_many([f"{run_id}-{index}" for index in range(size)])
    counts = {"succeeded": 0, "failed": 0, "running": 0}
    for record in found.values():
        counts[FINISHED.get(str(record.get("status")), "running")] += 1
    return {**progress, **counts, "pending": size - len(found)}


# ---- list ----


def list_runs(args: argparse.Namespace, stack: Stack) -> int:
    from ecsrun.domain.runtask import run_id_for_execution

    kwargs: dict[str, Any] = {"stateMachineArn": stack.state_machine_arn, "maxResults": max(1, min(args.limit, 1000))}
    if args.status:
        kwargs["statusFilter"] = args.status
    executions = sorted(stack.sfn.list_executions(**kwargs)["executions"], key=lambda e: e["startDate"], reverse=True)

    def describe(execution: dict[str, Any]) -> dict[str, Any]:
        # ListExecutions gives neither the input (the runId) nor the error: one DescribeExecution per run listed.
        return dict(stack.sfn.describe_execution(executionArn=execution["executionArn"]))

    with ThreadPoolExecutor(max_workers=8) as pool:
        described = list(pool.map(describe, executions))
    runs = []
    for execution in described:
        request = execution_input(execution)
        run_id = run_id_for_execution(request, execution["name"])
        doc = execution_document(
            execution,
            run_id,
            name=execution["name"],
            startDate=iso(execution.get("startDate")),
            stopDate=iso(execution.get("stopDate")),
            durationSeconds=duration_seconds(execution.get("startDate"), execution.get("stopDate")),
        )
        doc["array"] = _array_progress(doc, request, run_id, stack)
        doc["cost"] = _cost(doc)
        runs.append(doc)
    if args.output == "json":
        print(json.dumps({"runs": runs}, indent=2))
        return EXIT_OK
    for run in runs:
        print(list_line(run))
    return EXIT_OK


def _array_progress(doc: dict[str, Any], request: Any, run_id: str | None, stack: Stack) -> dict[str, Any] | None:
    """An array run's children: counted in its output or cause once it ended; while it runs, its size."""
    for source in (doc.get("output"), doc.get("cause")):
        if isinstance(source, dict) and isinstance(source.get("array"), dict):
            array = source["array"]
            return {k: array[k] for k in ("size", "succeeded", "failed") if k in array}
    if not (isinstance(request, dict) and "array" in request) or doc["status"] != "RUNNING":
        return None
    record = stack.table.get(run_id) if run_id else None
    if record is None or not record.array:
        return {"size": None, "status": "RUNNING"}
    return children_progress(stack.table, record.runId, record.array.get("size"))


def _cost(doc: dict[str, Any]) -> dict[str, Any] | None:
    """The run's cost receipt (domain/cost.py), from its output or cause once it ended."""
    for source in (doc.get("output"), doc.get("cause")):
        if isinstance(source, dict) and isinstance(source.get("cost"), dict):
            return dict(source["cost"])
    return None


def list_line(run: dict[str, Any]) -> str:
    """One run in `ecsrun list`: start time, status, duration, runId (or execution name), error or children."""
    started = (run.get("startDate") or "")[:19].replace("T", " ")
    seconds = run.get("durationSeconds")
    duration = _duration(seconds) if seconds is not None else "running"
    name, run_id = run.get("name") or "", run.get("runId")
    line = f"{started}  {run['status']:10} {duration:>9}  {name}"
    if run_id and not name.startswith(run_id):
        line += f"  (run {run_id})"
    array = run.get("array")
    if array and "running" in array:
        line += (
            f"  children {array['succeeded']}/{array['size']} succeeded, {array['failed']} failed, "
            f"{array['running']} running, {array['pending']} waiting"
        )
    elif array and "succeeded" in array:
        line += f"  children {array['succeeded']}/{array['size']} succeeded, {array['failed']} failed"
    elif array:
        line += f"  children {array.get('size')} (running)"
    cost = run.get("cost") or {}
    if cost.get("usd") is not None:
        line += f"  ~${cost['usd']:.4f}" if cost.get("estimate") else f"  ${cost['usd']:.4f}"
    if run.get("error"):
        line += f"  {run['error']}"
    return line


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


# ---- stop ----


def stop(args: argparse.Namespace, stack: Stack) -> int:
    run_id, execution, record = _find_run(args.run, stack)
    if execution is None:
        print(f"ecsrun: no run {args.run}", file=sys.stderr)
        return EXIT_FAILED
    arn = execution["executionArn"]
    if execution["status"] != "RUNNING":
        print(f"ecsrun: run {run_id or args.run} has already ended ({execution['status']})", file=sys.stderr)
        return EXIT_FAILED
    # The run ends as the record and manifest name an aborted run; the reason reaches the task's stoppedReason.
    stack.sfn.stop_execution(executionArn=arn, error=ErrorName.ABORTED.value, cause=args.reason[:32768])
    print(f"stopped {arn}: {args.reason}")
    task = f"task {record.taskArn} " if record is not None and record.taskArn else "its task "
    print(f"  the stack stops {task}and still copies its logs (ecsrun status {run_id})")
    return EXIT_OK


# ---- timeline ----


def timeline(args: argparse.Namespace, stack: Stack) -> int:
    import tempfile

    run_id, execution, record = _find_run(args.run, stack)
    if execution is None:
        print(f"ecsrun: no run {args.run}", file=sys.stderr)
        return EXIT_FAILED
    spans = run_spans(stack, execution, record)
    described = stack.sfn.describe_execution(executionArn=execution["executionArn"])
    summary = _summary(described)
    svg = render_svg(
        spans,
        f"ecsrun run {run_id or execution['name']}",
        outcome_of(described["status"], summary, described.get("error")),
    )
    if args.out == "-":
        sys.stdout.write(svg)
        return EXIT_OK
    # Not the current directory: a temporary folder of its own unless --out says where.
    out = (
        Path(args.out)
        if args.out
        else Path(tempfile.gettempdir()) / "ecsrun" / (run_id or execution["name"]) / "timeline.svg"
    )
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(svg)
    except OSError as exc:
        raise UsageError(f"--out {out}: {exc.strerror}") from exc
    print(f"run {run_id}  {described['status']}")
    for line in text_lines(spans):
        print(line)
    print(f"wrote {out} ({len(spans)} spans)")
    return EXIT_OK


def _summary(described: dict[str, Any]) -> Any:
    """The run summary an ended execution carries: its output, or the JSON in its cause."""
    for text in (described.get("output"), described.get("cause")):
        try:
            found = json.loads(text or "null")
        except json.JSONDecodeError:
            continue
        if isinstance(found, dict):
            return found
    return None


def run_spans(stack: Stack, execution: dict[str, Any], record: Any) -> list[Span]:
    """The run's spans: the execution's history, the record's task, each container from the manifest."""
    events: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"executionArn": execution["executionArn"], "maxResults": 1000}
    while True:
        page = stack.sfn.get_execution_history(**kwargs)
        events += page["events"]
        if not page.get("nextToken"):
            break
        kwargs["nextToken"] = page["nextToken"]
    spans = history_spans(events, f"execution {execution['name']}")
    if record is not None and record.executionArn == execution["executionArn"] and record.task is not None:
        spans += task_spans(record.task.model_dump(mode="json"))
        spans += container_spans(_manifest_containers(stack, record.runId), source="logs")
    return spans


def _manifest_containers(stack: Stack, run_id: str) -> list[dict[str, Any]]:
    from botocore.exceptions import ClientError

    from ecsrun.domain.keys import manifest_key

    bucket = _logs_bucket(stack)
    if not bucket:
        return []
    try:
        body = stack.client("s3").get_object(Bucket=bucket, Key=manifest_key(run_id))["Body"].read()
    except ClientError:
        return []  # no manifest yet (the run still going), or no read access: the containers are left out
    return list((json.loads(body).get("logs") or {}).get("containers") or [])


# ---- the stack ----


def on_stack(args: argparse.Namespace) -> int:
    """start, status, list, stop and timeline: the stack found from its outputs; AWS errors as one line."""
    name = stack_name(args)
    request = read_json(args.request, "request") if args.command == "start" else None
    session = aws_session(args)
    with aws_errors():
        cloudformation = session.client("cloudformation")
        machine, table = stack_resources(lambda stack, key: stack_output(cloudformation, stack, key), name)
        stack = Stack(session, cloudformation, name, machine, table)
        if args.command == "start":
            return start(args, request, stack)
        if args.command == "status":
            return status(args, stack)
        if args.command == "stop":
            return stop(args, stack)
        if args.command == "timeline":
            return timeline(args, stack)
        return list_runs(args, stack)
