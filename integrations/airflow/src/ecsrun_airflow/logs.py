"""The run's log lines in the Airflow task log: tailed from CloudWatch Logs while the task runs, then the copy
ecsrun made in S3 once it has ended (the last lines of each container, labelled).

The tail reads what `ecsrun start --follow` reads: the run record names the task and each container's awslogs
stream (`<awslogs-stream-prefix>/<container>/<task id>`), read with GetLogEvents until its forward token stops
changing. GetLogEvents is 10 calls a second per account, shared with ecsrun's own log copy: one call per container
per poll while there is nothing new. A tail that cannot read (no permission, the record gone) says so once and
stops; it never fails the Airflow task, and the copied logs are still printed at the end.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from botocore.exceptions import BotoCoreError, ClientError

from ecsrun_airflow.client import EcsrunApi, Stream, error_code, streams_of
from ecsrun_airflow.outcome import RunEnd

MAX_PAGES_PER_POLL = 10  # a chatty container catches up over a few polls instead of starving the others
MAX_PAGES_DRAINED = 1000  # the last read of a stream, once the task stopped: to its end, with a bound

Emit = Callable[[str], None]


@dataclass
class _Cursor:
    stream: Stream
    token: str | None = None


class LogTail:
    """Prints each container's new log lines, `app | line`, at every `poll()`."""

    def __init__(self, api: EcsrunApi, table: str | None, run_id: str, execution_arn: str, emit: Emit, warn: Emit):
        self._api, self._table, self._run_id, self._arn = api, table, run_id, execution_arn
        self._emit, self._warn = emit, warn
        self._task_arn: str | None = None
        self._cursors: list[_Cursor] = []
        self.stopped = table is None
        self.lines = 0

    def poll(self, *, final: bool = False) -> int:
        """Print what the streams have new; with `final` (the run has ended), read each to its end. Returns how
        many lines it printed."""
        if self.stopped:
            return 0
        before = self.lines
        try:
            self._follow_task()
            for cursor in self._cursors:
                self._read(cursor, drain=final)
        except (ClientError, BotoCoreError) as exc:
            self.stopped = True
            what = f"{error_code(exc)}: {exc}" if isinstance(exc, ClientError) else str(exc)
            self._warn(f"the log tail stopped ({what}); the copied logs are printed when the run ends")
        return self.lines - before

    def _follow_task(self) -> None:
        """Learn the run's task from its record; a new attempt's task replaces the previous one's streams."""
        assert self._table is not None
        record = self._api.record(self._table, self._run_id)
        if record is None or record["executionArn"] != self._arn or not record["taskArn"]:
            return
        if record["taskArn"] == self._task_arn:
            return
        for cursor in self._cursors:  # the previous attempt's task: what it still had to say
            self._read(cursor, drain=True)
        self._task_arn = record["taskArn"]
        streams, without = streams_of(record)
        self._cursors = [_Cursor(stream) for stream in streams]
        tailed = ", ".join(s.container for s in streams) or "no container"
        self._emit(f"ecsrun run {self._run_id}: task {self._task_arn} (attempt {record['attempt']}); tailing {tailed}")
        for name in without:
            self._emit(f"  ({name}: no awslogs stream to tail; see its copied log at the end)")

    def _read(self, cursor: _Cursor, *, drain: bool) -> None:
        for _ in range(MAX_PAGES_DRAINED if drain else MAX_PAGES_PER_POLL):
            events, token = self._api.log_page(cursor.stream, cursor.token)
            for event in events:
                self.lines += 1
                self._emit(f"{cursor.stream.container} | {str(event.get('message', '')).rstrip()}")
            repeated = token == cursor.token
            cursor.token = token
            if repeated or (not events and not drain):
                return


def copied_logs(api: EcsrunApi, end: RunEnd, last: int | None) -> Iterator[str]:
    """Each container's log as ecsrun copied it to S3, under a `==> name <==` header: its `last` lines, or all of
    them when `last` is None. Nothing when the run names no copied logs."""
    if end.logs is None:
        return
    bucket, manifest_key = end.logs
    manifest = api.manifest(bucket, manifest_key)
    for entry in (manifest.get("logs") or {}).get("containers") or []:
        name, key = entry.get("name"), entry.get("key")
        if not key:
            yield f"==> {name} <== no copied log: {entry.get('note') or 'none'}"
            continue
        total = 0
        kept: deque[str] = deque(maxlen=last)
        for line in api.log_lines(bucket, key):
            total += 1
            kept.append(line)
        shown = f"last {len(kept)} of {total} lines" if len(kept) < total else f"{total} lines"
        yield f"==> {name} <== s3://{bucket}/{key} ({shown})"
        yield from kept
