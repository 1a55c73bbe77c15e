"""The runs table's transitions. Every one is a conditional write on what was read, named by its lifecycle edge
(domain.lifecycle), so concurrent handlers and duplicate events can never move a run backwards, settle it twice or
end it twice: the end has one door (RunsTable.end), and its loser adopts the recorded end. The record's storage form
is in runs_codec, the reads (and the reconciler's overdue index) in runs_queries."""

from __future__ import annotations

import contextlib
import json
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from ecsrun.adapters.runs_codec import JSON_ATTRS, dump, from_item, from_wire, iso_utc, now_iso, to_item
from ecsrun.adapters.runs_queries import RunQueries
from ecsrun.domain import lifecycle
from ecsrun.domain.errors import EcsrunError, StaleRecord
from ecsrun.domain.lifecycle import Edge
from ecsrun.domain.models.ecs import EcsTask
from ecsrun.domain.models.record import (
    MAX_EARLY_EVENTS,
    Callback,
    RunRecord,
    RunStatus,
    TokenState,
)
from ecsrun.domain.models.run import ContainerSpec
from ecsrun.domain.models.verdict import Verdict


class RunExists(EcsrunError):
    """A record for this runId exists already."""

    def __init__(self, existing: RunRecord):
        super().__init__(f"run {existing.runId} exists (execution {existing.executionArn})")
        self.existing = existing


@dataclass(frozen=True)
class Ended:
    """What the one door to a run's end answers: whether this writer's end was recorded (`won`), and the record as
    it stands (the writer's own end, or the one it lost to; a record whose status changed but that has no end yet
    when the writer lost because of that status)."""

    won: bool
    record: RunRecord | None

    @property
    def outcome(self) -> dict[str, Any] | None:
        return self.record.outcome if self.record is not None else None


def _is_conditional_failure(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


class RunsTable(RunQueries):
    """The run record's transitions: each a conditional write, named by its lifecycle edge where it has one."""

    def __init__(self, table: Any):
        self._table = table

    def create(self, record: RunRecord) -> RunRecord:
        try:
            self._table.put_item(Item=to_item(record), ConditionExpression="attribute_not_exists(runId)")
        except ClientError as exc:
            if not _is_conditional_failure(exc):
                raise
            existing = self.get(record.runId)
            if existing is None:  # deleted in between: vanishingly rare, let the caller retry
                raise StaleRecord(record.runId) from exc
            raise RunExists(existing) from exc
        return record

    def _update(
        self,
        run_id: str,
        sets: dict[str, Any],
        condition: str,
        values: dict[str, Any],
        removes: tuple[str, ...] = (),
        *,
        raw_sets: tuple[str, ...] = (),
        names: dict[str, str] | None = None,
        return_new: bool = False,
        due: str | None = None,
    ) -> RunRecord | None:
        """One conditional UpdateItem; StaleRecord (with the record as it was, ALL_OLD) when the condition fails.
        With `return_new`, the record as the write left it (ALL_NEW): what the writer saw, atomically, at the
        moment it won. Every write moves `dueAt` (to now, or to `due`): the reconciler's grace counts from there."""
        stamp = now_iso()
        sets = {**sets, "updatedAt": stamp, "dueAt": due or stamp}
        all_names = {f"#{k}": k for k in (*sets, *removes)}
        all_names.update(names or {})
        expression = "SET " + ", ".join([f"#{k} = :{k}" for k in sets] + list(raw_sets))
        if removes:
            expression += " REMOVE " + ", ".join(f"#{k}" for k in removes)
        attr_values = {f":{k}": (dump(v) if k in JSON_ATTRS else v) for k, v in sets.items()}
        attr_values.update(values)
        for placeholder in re.findall(r"#\w+", condition):  # "#status" names the attribute "status"
            all_names.setdefault(placeholder, placeholder[1:])
        try:
            answer = self._table.update_item(
                Key={"runId": run_id},
                UpdateExpression=expression,
                ConditionExpression=condition,
                ExpressionAttributeNames=all_names,
                ExpressionAttributeValues=attr_values,
                ReturnValues="ALL_NEW" if return_new else "NONE",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if _is_conditional_failure(exc):
                old: Any = exc.response.get("Item")
                raise StaleRecord(run_id, from_wire(old) if isinstance(old, dict) and old else None) from exc
            raise
        return from_item(answer["Attributes"]) if return_new else None

    def _from_state(self, read: RunRecord, edge: Edge | None = None) -> tuple[str, dict[str, Any]]:
        """A condition that holds only while the record is as `read` saw it (same status, token and attempt).
        With `edge`, refused at once (StaleRecord) when the lifecycle does not allow it from the status read."""
        if edge is not None and not lifecycle.allow(read.status, edge):
            raise StaleRecord(read.runId, read)
        values = {":read_status": read.status.value, ":read_attempt": read.attempt}
        condition = "#status = :read_status AND #attempt = :read_attempt"
        if read.taskToken is None:  # an array's parent never has one
            return condition + " AND attribute_not_exists(#taskToken)", values
        return condition + " AND #taskToken = :read_token", {**values, ":read_token": read.taskToken}

    # ---- the start ----

    def set_token(self, read: RunRecord, token: str) -> RunRecord:
        """A retried start state brings a new token; the task, if any, stays the same. A settled run whose
        callback went to the old token has it pending again, for the new one."""
        condition, values = self._from_state(read, Edge.RESUME)
        sets: dict[str, Any] = {"taskToken": token, "tokenState": TokenState.START.value}
        if read.status in (RunStatus.STOPPED, RunStatus.START_FAILED):
            sets |= {"callback": Callback.PENDING.value}
        new = self._update(read.runId, sets, condition, values, return_new=True)
        assert new is not None
        return new

    def begin_start(self, run_id: str, attempt: int, containers: list[ContainerSpec]) -> None:
        """Just before RunTask: from now on a task may exist for this attempt that only its clientToken names.
        Only while the run is starting this attempt: once a stop or an abort has begun, no RunTask follows."""
        self._update(
            run_id,
            {"containers": containers, "runTaskAttempt": attempt},
            "#status = :starting AND #attempt = :attempt",
            {":starting": RunStatus.STARTING.value, ":attempt": attempt, ":now": now_iso()},
            raw_sets=("runTaskAt = if_not_exists(runTaskAt, :now)",),
        )

    def record_task_arn(self, run_id: str, attempt: int, task_arn: str, cluster_arn: str | None) -> RunRecord:
        """The attempt's task, as RunTask named it for the attempt's clientToken: recorded once. STARTING →
        RUNNING; a run that is stopping or aborted keeps its status. Returns the record as the write left it
        (ALL_NEW), or as it is when the same task was recorded already (by a concurrent stop or abort)."""
        sets: dict[str, Any] = {"taskArn": task_arn, "clusterArn": cluster_arn or "", "taskRecordedAt": now_iso()}
        values = {":attempt": attempt, ":starting": RunStatus.STARTING.value}
        unrecorded = "#attempt = :attempt AND attribute_not_exists(#taskArn)"
        for status_sets, condition in (
            ({"status": RunStatus.RUNNING.value}, f"#status = :starting AND {unrecorded}"),
            ({}, unrecorded),
        ):
            try:
                new = self._update(
                    run_id,
                    {**sets, **status_sets},
                    condition,
                    values if status_sets else {":attempt": attempt},
                    return_new=True,
                )
                assert new is not None
                return new
            except StaleRecord:
                continue
        now = self.get(run_id)
        if now is None or now.attempt != attempt or now.taskArn != task_arn:
            raise StaleRecord(run_id)
        return now

    def store_early_event(self, read: RunRecord, task: EcsTask) -> None:
        """Keep a STOPPED event that came before the run's task was known, by its taskArn: only while the ARN
        is still unknown, for this attempt, once per task, at most MAX_EARLY_EVENTS."""
        if read.earlyEvents is None:  # a record from before early events: give it an empty map first
            with contextlib.suppress(StaleRecord):
                self._update(read.runId, {"earlyEvents": {}}, "attribute_not_exists(#earlyEvents)", {})
        self._update(
            read.runId,
            {},
            "#attempt = :attempt AND attribute_not_exists(#taskArn) AND attribute_not_exists(#earlyEvents.#arn) "
            "AND size(#earlyEvents) < :most",
            {":attempt": read.attempt, ":most": MAX_EARLY_EVENTS, ":event": json.dumps(task.model_dump(mode="json"))},
            raw_sets=("#earlyEvents.#arn = :event",),
            names={"#arn": task.taskArn},
        )

    def mark_start_failed(self, read: RunRecord, verdict: Verdict) -> None:
        """RunTask refused: no task exists. The verdict and its pending callback are recorded together."""
        self._update(
            read.runId,
            {"status": RunStatus.START_FAILED.value, "verdict": verdict, "callback": Callback.PENDING.value},
            "#status = :starting AND #attempt = :attempt",
            {":starting": RunStatus.STARTING.value, ":attempt": read.attempt},
        )

    # ---- settling ----

    def settle(self, read: RunRecord, task: EcsTask, verdict: Verdict, settled_by: str) -> None:
        """Record the STOPPED task and its verdict once, with the callback pending: only from the status and
        token that were read, and only for the recorded task."""
        condition, values = self._from_state(read, Edge.SETTLE)
        sets: dict[str, Any] = {
            "status": RunStatus.STOPPED.value,
            "task": task,
            "verdict": verdict,
            "settledBy": settled_by,
            "callback": Callback.PENDING.value,
        }
        if task.version is not None:
            sets["taskVersion"] = task.version
        self._update(
            read.runId,
            sets,
            condition + " AND #taskArn = :arn",
            {**values, ":arn": task.taskArn},
        )

    def mark_callback(self, run_id: str, token: str, *, delivered: bool) -> None:
        """The pending callback was acknowledged (or its token was closed): recorded once."""
        sets: dict[str, Any] = {"callback": (Callback.DELIVERED if delivered else Callback.CLOSED).value}
        if not delivered:
            sets["callbackClosed"] = True
        self._update(
            run_id,
            sets,
            "#callback = :pending AND #taskToken = :token",
            {":pending": Callback.PENDING.value, ":token": token},
        )

    def record_task(self, read: RunRecord, task: EcsTask, verdict: Verdict) -> None:
        """The stopped task of a run nobody waits for any more (aborted, or ended before its task was known to
        have stopped): kept, once, for the manifest."""
        self._update(
            read.runId,
            {"task": task, "verdict": verdict, "clusterArn": task.clusterArn or read.clusterArn or ""},
            "#status = :read_status AND attribute_not_exists(#task) AND #taskArn = :arn",
            {":read_status": read.status.value, ":arn": task.taskArn},
        )

    # ---- retries ----

    def begin_attempt(
        self,
        read: RunRecord,
        attempt: int,
        token: str,
        fields: dict[str, Any] | None = None,
        note: dict[str, Any] | None = None,
    ) -> None:
        """The failed attempt joins the history; the record starts over for the next one, which runs with
        `fields` (the RunTask fields its escalation replaced) and says `note` (what changed and why)."""
        verdict = read.verdict
        earlier = {
            "attempt": read.attempt,
            "taskArn": read.taskArn,
            "error": verdict.error.value if verdict and verdict.error else None,
            "reason": verdict.reason if verdict else None,
            **(read.attemptNote or {}),
        }
        self._update(
            read.runId,
            {
                "status": RunStatus.STARTING.value,
                "attempt": attempt,
                "clientToken": token,
                "attempts": [*read.attempts, earlier],
                "earlyEvents": {},
                "tokenState": TokenState.START.value,
                "attemptFields": fields if fields is not None else (read.attemptFields or {}),
                "attemptNote": note or {},
            },
            "#status = :read_status AND #attempt = :read_attempt",
            {":read_status": read.status.value, ":read_attempt": read.attempt},
            removes=(
                "taskArn",
                "clusterArn",
                "task",
                "verdict",
                "taskVersion",
                "settledBy",
                "callback",
                "runTaskAt",
                "taskRecordedAt",
                "stopRequestedAt",
            ),
        )

    # ---- stopping and aborting ----

    def record_caller_answer(self, run_id: str, result: str) -> bool:
        """The caller's token was answered ("delivered") or found closed ("closed: <code>"): written once; False
        when an answer was recorded already (that one stands)."""
        try:
            self._update(
                run_id, {"callerAnswer": result}, "attribute_exists(runId) AND attribute_not_exists(#callerAnswer)", {}
            )
        except StaleRecord:
            return False
        return True

    def begin_stop(self, read: RunRecord, token: str, reason: str, state: TokenState, *, timed_out: bool) -> RunRecord:
        """A run whose start state ended without a verdict (timed out, or interrupted beyond its retries): the
        stop state's token replaces the start state's, and no RunTask can follow (begin_start needs STARTING).
        Returns the record as the write left it: whether RunTask may have been called is read atomically."""
        condition, values = self._from_state(read, Edge.STOP)
        sets: dict[str, Any] = {
            "status": RunStatus.STOPPING.value,
            "taskToken": token,
            "tokenState": state.value,
            "stopReason": reason,
        }
        sets |= {"timedOut": True} if timed_out else {"interrupted": True}
        new = self._update(read.runId, sets, condition, values, return_new=True)
        assert new is not None
        return new

    def mark_stop_requested(self, run_id: str, task_arn: str) -> None:
        with contextlib.suppress(StaleRecord):  # the task is recorded stopped already: nothing to remember
            self._update(
                run_id,
                {"stopRequestedAt": now_iso()},
                "#taskArn = :arn AND attribute_not_exists(#task)",
                {":arn": task_arn},
            )

    def mark_aborted(
        self, read: RunRecord, reason: str, execution_status: str = "ABORTED", execution_error: str | None = None
    ) -> RunRecord:
        """The execution ended first: nobody waits for this run any more. It stays open to the reconciler until its
        task is stopped, its logs are copied and its end is recorded and announced. A pending callback is closed
        with the execution."""
        condition, values = self._from_state(read, Edge.ABORT)
        sets: dict[str, Any] = {
            "status": RunStatus.ABORTED.value,
            "stopReason": reason,
            "executionStatus": execution_status,
        }
        if execution_error:
            sets["executionError"] = execution_error
        if read.callback == Callback.PENDING:
            sets |= {"callback": Callback.CLOSED.value, "callbackClosed": True}
        new = self._update(read.runId, sets, condition + " AND attribute_not_exists(#outcome)", values, return_new=True)
        assert new is not None
        return new

    # ---- the end: one door ----

    def end(
        self,
        read: RunRecord,
        outcome: dict[str, Any],
        *,
        aborted: bool = False,
        close_callback: bool = False,
        logs_copied: bool = False,
    ) -> Ended:
        """Record the run's outcome, once, only from the status that was read. Whoever loses gets the record as it
        is (ALL_OLD): with an outcome, the end to adopt; without one, a status that changed under the writer
        (e.g. an abort while CopyLogs copied), to judge again from. `close_callback`: a pending callback is done
        with, the state machine has moved on. `logs_copied`: the manifest describes the task as it ended."""
        status = lifecycle.end_status(outcome, aborted=aborted)
        sets: dict[str, Any] = {"status": status.value, "outcome": outcome}
        if close_callback:
            sets["callback"] = Callback.DELIVERED.value
        if logs_copied:
            sets["logsCopied"] = True
        try:
            if not lifecycle.allow(read.status, Edge.END):
                raise StaleRecord(read.runId, self.get(read.runId))
            new = self._update(
                read.runId,
                sets,
                "#status = :read_status AND attribute_not_exists(#outcome)",
                {":read_status": read.status.value},
                return_new=True,
            )
        except StaleRecord as lost:
            current = lost.current if isinstance(lost.current, RunRecord) else self.get(read.runId)
            return Ended(won=False, record=current)
        return Ended(won=True, record=new)

    def mark_logs_copied(self, run_id: str) -> None:
        """The manifest now describes the ended run's task as it stopped (it ended before its task did)."""
        with contextlib.suppress(StaleRecord):
            self._update(run_id, {"logsCopied": True}, "attribute_exists(#outcome)", {})

    def mark_announced(self, run_id: str) -> None:
        """EventBridge took the run's completion event: nobody publishes it again."""
        with contextlib.suppress(StaleRecord):
            self._update(run_id, {"announced": True}, "attribute_exists(#outcome)", {})

    def release(self, read: RunRecord) -> bool:
        """Nothing is left for the run (lifecycle.chores): it leaves the overdue index. Conditioned on every fact
        that made it so (each is written once and never undone). False when something is still left."""
        if lifecycle.chores(read):
            return False
        condition = "attribute_exists(#outcome) AND #announced = :yes"
        if read.run.callbackTaskToken:
            condition += " AND attribute_exists(#callerAnswer)"
        condition += (
            " AND attribute_exists(#task) AND #logsCopied = :yes"
            if read.task
            else " AND attribute_not_exists(#taskArn)"
        )
        try:
            self._update(read.runId, {}, condition, {":yes": True}, removes=("openShard",))
        except StaleRecord:
            return False
        return True

    def release_if_done(self, run_id: str) -> bool:
        now = self.get(run_id)
        return now is not None and now.openShard is not None and self.release(now)

    def mark_no_task(self, read: RunRecord) -> None:
        """RunTask refused the attempt's clientToken: no call with it started a task, so none can be running (the
        attempt is as if RunTask had never been called)."""
        with contextlib.suppress(StaleRecord):
            self._update(
                read.runId,
                {},
                "#attempt = :attempt AND attribute_not_exists(#taskArn)",
                {":attempt": read.attempt},
                removes=("runTaskAttempt",),
            )

    # ---- the reconciler's view ----

    def reopen_retired(self, run_id: str) -> None:
        """A run written before the overdue index (it carries the retired `waiting` mark): moved to the overdue
        index, due now."""
        with contextlib.suppress(StaleRecord):
            self._update(
                run_id,
                {"openShard": lifecycle.open_shard(run_id)},
                "attribute_exists(#waiting)",
                {},
                removes=("waiting",),
            )

    def recheck_later(self, read: RunRecord, grace: timedelta) -> None:
        """The reconciler found the run still going: it looks again later, sooner for a young run (its grace counts
        from the returned time)."""
        now = datetime.now(UTC)
        created = datetime.fromisoformat(read.createdAt.replace("Z", "+00:00"))
        due = iso_utc(now + lifecycle.recheck_after(created, now, grace))
        with contextlib.suppress(StaleRecord):
            self._update(
                read.runId, {}, "attribute_exists(#openShard) AND #status = :s", {":s": read.status.value}, due=due
            )


def new_record(**fields: Any) -> RunRecord:
    """A run's first record: open (in the overdue index) until nothing is left for it."""
    stamp = now_iso()
    ttl_days = fields.pop("ttl_days")
    return RunRecord(
        status=RunStatus.STARTING,
        earlyEvents={},
        openShard=lifecycle.open_shard(fields["runId"]),
        dueAt=stamp,
        createdAt=stamp,
        updatedAt=stamp,
        expiresAt=int(time.time()) + ttl_days * 86400,
        **fields,
    )


__all__ = ["Ended", "RunExists", "RunsTable", "iso_utc", "new_record", "now_iso"]
