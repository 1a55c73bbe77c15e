"""A container's output, read as the awslogs driver reads it: one reader, lines in the order they were written.

The container's stdout and stderr are one pipe (the child's fd 2 is a copy of its fd 1, as `2>&1` makes it), so
the kernel keeps every write in the order the container made it: a traceback on stderr after a line on stdout
arrives after it, and a failed run's last line is the line the container wrote last. Two pipes read apart (or
even by one selector) cannot say which of two writes came first once both are waiting. CloudWatch Logs keeps no
stdout/stderr label either: a log event is a timestamp and a message.
"""

from __future__ import annotations

import os
import select
import threading
import time
from collections.abc import Callable
from typing import IO

READ_CHUNK = 65536
# Once a container's processes are gone, its output is read until the pipe ends, or this long if a process that
# left the container's process group (setsid) still holds it: the task does not wait for leftovers.
DRAIN_SECONDS = 0.5


def read_lines(stream: IO[bytes], ended: threading.Event, deliver: Callable[[list[bytes], bool], None]) -> None:
    """Read `stream` until it ends (or DRAIN_SECONDS after `ended` is set), handing each chunk's complete lines
    to `deliver(lines, more_waiting)` as they arrive; `more_waiting` says more output is already in the pipe (the
    caller may batch). A last line without a newline is delivered at the end. Closes the stream."""
    fd = stream.fileno()
    pending = b""
    drain_until: float | None = None
    try:
        while True:
            if ended.is_set() and drain_until is None:
                drain_until = time.monotonic() + DRAIN_SECONDS
            if drain_until is not None and time.monotonic() > drain_until:
                break
            if not select.select([fd], [], [], 0.05)[0]:
                continue
            chunk = os.read(fd, READ_CHUNK)
            if not chunk:
                break
            *lines, pending = (pending + chunk).split(b"\n")
            deliver(lines, bool(select.select([fd], [], [], 0)[0]))
    finally:
        try:
            deliver([pending] if pending else [], False)
        finally:
            stream.close()
