"""When a container's log stream, read to its end, can be taken as complete: decided from evidence.

The awslogs driver sends a container's lines to CloudWatch Logs in batches (every 5 s, or sooner when a batch
fills) and once more when the container stops: its final flush carries whatever the container wrote since the
last batch, the lines written just before it exited included (moby's awslogs driver; newer Docker closes the
driver after it reports the container stopped, so that flush can land after ECS reports the stop). CloudWatch
Logs stamps every event with its `ingestionTime`. Hence:

- An event ingested after the moment the task's containers had stopped came from the final flush (the
  driver sends nothing after it): the stream is complete now. The moment is ECS's `executionStoppedAt` (all
  containers stopped), else `stoppedAt`; both come later than a container's exit, so a batch sent while the
  container still ran is not mistaken for its final flush. (ECS's and CloudWatch Logs' clocks are taken to
  agree far more closely than the driver's 5-second batches.)
- Otherwise nothing in the stream tells a quiet end (the final flush had nothing to send) from a final flush
  still on its way, and the 5-second batching does not help: the lines of the last interval before the exit
  travel only in the final flush. So wait, but never past `settle_seconds` after the task stopped: the bound
  operators set (template parameter LogSettleSeconds), after which the stream is taken as it is.

`lastEventTimestamp`/`lastIngestionTime` of DescribeLogStreams are no evidence: they update "on an eventual
consistency basis ... typically in less than an hour" (CloudWatch Logs API reference, LogStream).
"""

from __future__ import annotations

from datetime import datetime


def epoch_ms(iso: str | None) -> int | None:
    """Milliseconds since the epoch of an ISO-8601 time (ECS's, as the run record keeps it); None stays None."""
    if not iso:
        return None
    return round(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000)


def settle_wait(
    *,
    last_ingested_ms: int | None,
    containers_stopped_ms: int | None,
    task_stopped_ms: int | None,
    now_ms: int,
    settle_seconds: float,
) -> float:
    """Seconds to wait before a stream read to its end can be taken as complete; 0 when it can be now.

    `last_ingested_ms`: the latest `ingestionTime` among the stream's events (None: no events).
    `containers_stopped_ms`: when the task's containers had all stopped (`executionStoppedAt`, else `stoppedAt`).
    `task_stopped_ms`: the task's `stoppedAt`, from which `settle_seconds` is counted.
    """
    if settle_seconds <= 0 or task_stopped_ms is None:
        return 0.0
    if last_ingested_ms is not None and containers_stopped_ms is not None and last_ingested_ms > containers_stopped_ms:
        return 0.0  # the driver's final flush is in
    remaining = (task_stopped_ms + settle_seconds * 1000 - now_ms) / 1000
    return max(0.0, min(float(settle_seconds), remaining))  # a stop time in the future (clock skew) waits no longer
