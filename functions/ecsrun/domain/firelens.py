"""FireLens to S3, the pure parts: which containers log through a Fluent Bit `s3` output, where that output puts a
task's records, how a record becomes a line of the run's log, and when the copy of them is complete.

What Fluent Bit does is taken from its `s3` output's documentation (docs.fluentbit.io, pipeline/outputs/s3) and
source (plugins/out_s3): the key is `s3_key_format` with `$TAG`, `$TAG[n]` (the tag split on any of
`s3_key_format_tag_delimiters`, default "."), `$UUID` (8 random characters), `$INDEX` (an upload counter) and
strftime fields (UTC, the time of the file's first record); the leading "/" is the request path's, not the key's;
a PutObject upload whose format has neither `$UUID` nor `$INDEX` (and no `static_file_path`) gets "-object" and 8
random characters appended. Records are newline-delimited JSON, the time under `json_date_key` (default "date",
`json_date_format` iso8601). FireLens tags each container's records `<container>-firelens-<task id>`
(not changeable) and adds `ecs_cluster`, `ecs_task_arn`, `ecs_task_definition` unless `enable-ecs-log-metadata`
is false; Docker's fluentd log driver adds `container_id`, `container_name` and `source` (stdout or stderr).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ecsrun.domain.models.run import FirelensTarget

DEFAULT_KEY_FORMAT = "/fluent-bit-logs/$TAG/%Y/%m/%d/%H/%M/%S"
DEFAULT_DELIMITERS = "."
DEFAULT_DATE_KEY = "date"
# ECS's signal stops: Docker reports a container killed by SIGTERM or SIGKILL as 128 + the signal's number.
SIGNAL_EXITS = frozenset({143, 137})
_TOKEN = re.compile(r"\$TAG\[(\d+)\]|\$TAG|\$UUID|\$INDEX|%(.)")
_STRFTIME_DIGITS = {"Y": 4, "m": 2, "d": 2, "H": 2, "M": 2, "S": 2, "y": 2, "j": 3, "s": None}


def tag(container: str, task_id: str) -> str:
    """The tag FireLens gives every record of `container` in task `task_id`."""
    return f"{container}-firelens-{task_id}"


def _options(options: dict[str, Any]) -> dict[str, str]:
    """Fluent Bit's option names are case-insensitive ("Name", "name")."""
    return {str(k).lower(): str(v) for k, v in options.items()}


def target(options: dict[str, Any], router: str, default_region: str) -> FirelensTarget | None:
    """Where an `awsfirelens` container's records go when its options name Fluent Bit's `s3` output; None for any
    other output (or none named: a config file the task definition does not show)."""
    given = _options(options)
    if given.get("name", "").lower() != "s3" or not given.get("bucket"):
        return None
    date_key: str | None = given.get("json_date_key", DEFAULT_DATE_KEY)
    if date_key is not None and date_key.lower() in ("false", "off", "no", "0"):
        date_key = None
    compression = given.get("compression")
    return FirelensTarget(
        router=router,
        bucket=given["bucket"],
        region=given.get("region") or default_region,
        key_format=given.get("s3_key_format") or DEFAULT_KEY_FORMAT,
        tag_delimiters=given.get("s3_key_format_tag_delimiters") or DEFAULT_DELIMITERS,
        date_key=date_key,
        date_format=given.get("json_date_format") or "iso8601",
        log_key=given.get("log_key"),
        compression=compression.lower() if compression else None,
    )


def tag_parts(full_tag: str, delimiters: str) -> list[str]:
    return re.split("[" + re.escape(delimiters) + "]", full_tag) if delimiters else [full_tag]


def render_key(
    key_format: str, full_tag: str, *, delimiters: str, first_record: datetime, uuid: str = "", index: int = 0
) -> str:
    """The key Fluent Bit gives a file: `s3_key_format` filled in (before any random suffix it appends)."""
    parts = tag_parts(full_tag, delimiters)
    when = first_record.astimezone(UTC)

    def fill(match: re.Match[str]) -> str:
        field_ = match.group(0)
        if match.group(1) is not None:
            n = int(match.group(1))
            return parts[n] if n < len(parts) else ""
        if field_ == "$TAG":
            return full_tag
        if field_ == "$UUID":
            return uuid
        if field_ == "$INDEX":
            return str(index)
        return when.strftime(field_)

    return _TOKEN.sub(fill, _key(key_format))


@dataclass(frozen=True)
class TaskObjects:
    """Where one container's files of one task are: every key starts with `prefix` and matches `pattern`."""

    prefix: str
    pattern: re.Pattern[str]

    def matches(self, key: str) -> bool:
        return self.pattern.fullmatch(key) is not None


def _key(key_format: str) -> str:
    """The format as keys start: Fluent Bit's request path is "/<bucket>" + the key, so its leading "/" is not
    part of the key."""
    return key_format[1:] if key_format.startswith("/") else key_format


def task_objects(key_format: str, full_tag: str, task_id: str, delimiters: str) -> TaskObjects | None:
    """The prefix and pattern of a task's files under `key_format`, or None when the format names the task nowhere
    before its first part that varies per file (a time, `$UUID`, `$INDEX`): such files cannot be found by listing
    a prefix, only by listing everything the router ever wrote."""
    key_format = _key(key_format)
    parts = tag_parts(full_tag, delimiters)
    prefix: str | None = None
    pattern, fixed = "", ""
    position = 0
    for match in _TOKEN.finditer(key_format):
        literal = key_format[position : match.start()]
        pattern, fixed = pattern + re.escape(literal), fixed + literal
        position = match.end()
        field_, letter = match.group(0), match.group(2)
        if match.group(1) is not None or field_ == "$TAG":
            n = int(match.group(1)) if match.group(1) is not None else None
            value = full_tag if n is None else (parts[n] if n < len(parts) else "")
            pattern, fixed = pattern + re.escape(value), fixed + value
            continue
        if prefix is None:
            prefix = fixed
        if field_ == "$UUID":
            pattern += "[A-Za-z0-9]{8}"
        elif field_ == "$INDEX":
            pattern += "[0-9]+"
        elif _STRFTIME_DIGITS.get(letter):
            pattern += f"[0-9]{{{_STRFTIME_DIGITS[letter]}}}"
        else:
            pattern += "[^/]*"
    tail = key_format[position:]
    pattern, fixed = pattern + re.escape(tail), fixed + tail
    prefix = fixed if prefix is None else prefix
    if task_id not in prefix:
        return None
    # A PutObject upload without $UUID or $INDEX in the format ends in "-object" and 8 random characters.
    return TaskObjects(prefix=prefix, pattern=re.compile(pattern + "(?:-object[A-Za-z0-9]{8})?"))


# ---- records ----


def _epoch_ms(value: Any, date_format: str) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        if date_format == "epoch_ms":
            return round(value)
        return round(value * 1000)
    if isinstance(value, str):
        text = value.strip().replace(" ", "T", 1)
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return None
        parsed = parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
        return round(parsed.timestamp() * 1000)
    return None


def record_event(line: str, spec: FirelensTarget, fallback_ms: int) -> dict[str, Any] | None:
    """One line of a file as a log event (`timestamp` in ms, `message`, `stream`: stdout or stderr); None for a
    blank line. The message is the record's `log` (what the container wrote); a line that is not a JSON object
    (`log_key` set: only the value is written) is the message itself, stamped `fallback_ms`."""
    text = line.rstrip("\r\n")
    if not text.strip():
        return None
    try:
        record = json.loads(text) if spec.log_key is None else None
    except json.JSONDecodeError:
        record = None
    if not isinstance(record, dict):
        return {"timestamp": fallback_ms, "message": text}
    stamp = _epoch_ms(record.get(spec.date_key), spec.date_format) if spec.date_key else None
    message = record.get("log")
    if message is None:  # a record without a `log` field (a custom input's): keep all of it, minus the time
        message = json.dumps({k: v for k, v in record.items() if k != spec.date_key}, ensure_ascii=False)
    event: dict[str, Any] = {"timestamp": fallback_ms if stamp is None else stamp, "message": str(message)}
    if isinstance(record.get("source"), str):
        event["stream"] = record["source"]
    return event


# ---- completeness ----


@dataclass(frozen=True)
class ContainerState:
    """A container as the STOPPED task reports it."""

    name: str
    exit_code: int | None
    essential: bool = True


@dataclass(frozen=True)
class Completeness:
    complete: bool
    reason: str | None = None
    open_uploads: list[str] = field(default_factory=list)


def completeness(
    *,
    router: ContainerState | None,
    senders: list[ContainerState],
    stop_code: str | None,
    open_uploads: list[str],
) -> Completeness:
    """Whether the files under a task's prefix hold everything the router was sent.

    Complete only when (1) the router exited 0: Fluent Bit exits 0 after its shutdown flush, in which the `s3`
    output sends what it buffered and completes its multipart uploads (killed before, e.g. SIGKILL at the end of
    its stopTimeout, it exits 137 and its buffer is lost); (2) it exited after every container that logs through
    it: ECS stops the router after them, unless the router itself ended the task (an essential router that
    exited while they ran: the stop code is EssentialContainerExited and every other essential container was
    stopped by ECS's signal), and lines they wrote after that were never received; (3) no multipart upload is
    open under the prefix: its parts are invisible until completed. Otherwise `complete` is False with the reason.
    """
    if router is None:
        return Completeness(False, "the task reports no log router container")
    if router.exit_code is None:
        return Completeness(False, f"the log router {router.name} has no exit code: it may not have flushed")
    if router.exit_code != 0:
        return Completeness(
            False,
            f"the log router {router.name} exited {router.exit_code}, not 0: what it had buffered was not flushed",
        )
    ran = [s for s in senders if s.exit_code is not None]
    others = [s for s in ran if s.essential]
    if (
        stop_code == "EssentialContainerExited"
        and router.essential
        and ran
        and all(s.exit_code in SIGNAL_EXITS for s in others or ran)
    ):
        names = ", ".join(s.name for s in ran)
        return Completeness(
            False,
            f"the log router {router.name} exited before {names} (stopped by ECS): "
            "lines written after it exited were not received",
        )
    if open_uploads:
        shown = ", ".join(open_uploads[:3]) + (" ..." if len(open_uploads) > 3 else "")
        return Completeness(
            False, f"{len(open_uploads)} multipart upload(s) still open under the task's prefix: {shown}", open_uploads
        )
    return Completeness(True)
