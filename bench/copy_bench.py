"""`make bench`: the log copy pipeline (GetLogEvents pages → formatted lines → gzip → S3 multipart) measured.

Not a test: it prints a table and, with --write, records it in docs/benchmarks.md with the command that made it.
Sources follow the real API shapes: GetLogEvents pages of at most 10,000 events or 1 MB, ending when the forward
token repeats; S3 is moto (throughput) or an API-shaped sink that keeps nothing (memory).
"""

from __future__ import annotations

import argparse
import io
import math
import multiprocessing
import os
import platform
import random
import resource
import sys
import threading
import time
import zlib
from typing import Any

from ecsrun.adapters.cloudwatch_logs import iter_log_pages
from ecsrun.adapters.s3.checkpoints import CopyCheckpoints
from ecsrun.adapters.s3.writer import S3StreamWriter
from ecsrun.domain.logformat import format_event
from ecsrun.domain.models.logs import LogProgress
from ecsrun.domain.models.record import RunRecord, RunStatus
from ecsrun.domain.models.run import ContainerSpec, LogTarget, Run
from ecsrun.domain.resumable import COMPRESS_LEVEL
from ecsrun.steps.copy_logs import copy_run_logs, write_pages
from record import write_section

MIB = 1024 * 1024
PAGE_EVENTS = 10_000  # GetLogEvents: at most 10,000 events a page …
PAGE_BYTES = 1_048_576  # … or 1 MB, counting 26 bytes of overhead an event
EVENT_OVERHEAD = 26
LEVELS = ("INFO", "INFO", "INFO", "DEBUG", "WARN", "ERROR")
WORDS = ("processed", "fetched", "wrote", "skipped", "retried", "validated")
MULTIBYTE = ("résumé", "数据处理", "ünïcödé", "✓ done", "Ελληνικά", "🚀 launch")


def message(rnd: random.Random) -> str:
    """A realistic log line: mostly short templated lines, 1% long JSON-ish lines, 5% multi-byte text."""
    roll = rnd.random()
    if roll < 0.01:
        fields = ", ".join(f'"k{i}": "{rnd.getrandbits(64):x}"' for i in range(rnd.randint(150, 600)))
        return "{" + fields + "}"
    line = (
        f"{rnd.choice(LEVELS)} [worker-{rnd.randint(1, 16)}] pipeline.stage{rnd.randint(1, 9)}: "
        f"{rnd.choice(WORDS)} item {rnd.randint(0, 10**7)} in {rnd.randint(1, 5000)}ms "
        f"user=u{rnd.randint(1, 500)} status={rnd.choice((200, 200, 200, 404, 500))}"
    )
    if roll < 0.06:
        line += " " + rnd.choice(MULTIBYTE)
    return line


class PagedLogs:
    """GetLogEvents over `total_bytes` of generated message text, in pages within the API's limits.

    The pages are built once and served in turn, so producing them costs the benchmark nothing.
    """

    def __init__(self, total_bytes: int, seed: int = 7):
        rnd = random.Random(seed)
        self.pages: list[tuple[list[dict[str, Any]], int]] = []  # (events, message bytes)
        events: list[dict[str, Any]] = []
        page_bytes = text_bytes = 0
        for index in range(20_000):
            text = message(rnd)
            size = len(text.encode())
            if events and (len(events) == PAGE_EVENTS or page_bytes + size + EVENT_OVERHEAD > PAGE_BYTES):
                self.pages.append((events, text_bytes))
                events, page_bytes, text_bytes = [], 0, 0
            events.append({"timestamp": 1_795_000_000_000 + index, "message": text, "ingestionTime": 0})
            page_bytes += size + EVENT_OVERHEAD
            text_bytes += size
        self.total_bytes = total_bytes
        self.calls = 0

    def get_log_events(
        self, *, logGroupName: str, logStreamName: str, startFromHead: bool, nextToken: str = ""
    ) -> dict:
        self.calls += 1
        served, done = (int(part) for part in nextToken[2:].split(".")) if nextToken else (0, 0)
        if done >= self.total_bytes:  # the end: the token comes back unchanged
            return {"events": [], "nextForwardToken": nextToken, "nextBackwardToken": "b/0"}
        events, size = self.pages[served % len(self.pages)]
        token = f"f/{served + 1}.{done + size}"
        return {"events": events, "nextForwardToken": token, "nextBackwardToken": f"b/{served}"}

    def page_count(self) -> int:
        """Pages with events that a read of the whole log gets (the tokens say where each one starts)."""
        served = done = 0
        while done < self.total_bytes:
            done += self.pages[served % len(self.pages)][1]
            served += 1
        return served


class DiscardingS3:
    """The S3 calls the writer makes, answered in the real shapes, keeping nothing."""

    def __init__(self) -> None:
        self.received = 0

    def create_multipart_upload(self, **kwargs: Any) -> dict:
        return {"Bucket": kwargs["Bucket"], "Key": kwargs["Key"], "UploadId": "bench"}

    def upload_part(self, *, Body: bytes, PartNumber: int, **kwargs: Any) -> dict:
        self.received += len(Body)
        return {"ETag": f'"{PartNumber:032x}"'}

    def complete_multipart_upload(self, **kwargs: Any) -> dict:
        return {"Location": "bench", "ETag": '"bench"'}

    def put_object(self, *, Body: bytes, **kwargs: Any) -> dict:
        self.received += len(Body)
        return {"ETag": '"bench"'}

    def abort_multipart_upload(self, **kwargs: Any) -> dict:
        return {}


def copy(logs: Any, s3: Any, bucket: str, key: str) -> LogProgress:
    writer = S3StreamWriter(s3, bucket, key, ContentType="text/plain; charset=utf-8", ContentEncoding="gzip")
    written = write_pages(iter_log_pages(logs, "/bench", "ecs/app/bench"), writer, tail_lines=20)
    writer.close()
    return written


def throughput(megabytes: int) -> dict[str, float]:
    """The pipeline into moto S3, against zlib alone compressing the very same text in this process."""
    import boto3
    from moto import mock_aws

    logs = PagedLogs(megabytes * MIB)
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="bench")
        started = time.perf_counter()
        written = copy(logs, s3, "bench", "runs/bench/logs/app.log.gz")
        pipeline = time.perf_counter() - started
        stored = s3.head_object(Bucket="bench", Key="runs/bench/logs/app.log.gz")["ContentLength"]
    # The same text, formatted outside the timing, then compressed by zlib alone at the same level.
    again = PagedLogs(megabytes * MIB)
    text = io.BytesIO()
    for page in iter_log_pages(again, "/bench", "ecs/app/bench"):
        for event in page.events:
            text.write(format_event(event["timestamp"], event["message"]).encode())
    data = text.getvalue()
    started = time.perf_counter()
    compressor = zlib.compressobj(COMPRESS_LEVEL, zlib.DEFLATED, 31)
    for offset in range(0, len(data), MIB):
        compressor.compress(data[offset : offset + MIB])
    compressor.flush()
    zlib_only = time.perf_counter() - started
    assert len(data) == written.bytes
    mb = written.bytes / 1e6
    return {
        "text_mb": mb,
        "pipeline_mbps": mb / pipeline,
        "zlib_mbps": mb / zlib_only,
        "ratio": zlib_only / pipeline,
        "compression": stored / written.bytes,
        "calls": logs.calls,
        "events": written.events,
    }


def _bench_record() -> RunRecord:
    """A stopped run with one awslogs container, as the copy function reads it from the runs table."""
    run = Run(runId="bench", timeoutSeconds=3600, successExitCodes=[0], request={})
    return RunRecord(
        runId="bench",
        executionArn="arn:aws:states:us-east-1:123456789012:execution:ecsrun:bench",
        status=RunStatus.STOPPED,
        startedBy="ecsrun/bench",
        clientToken="bench",
        run=run,
        containers=[ContainerSpec(name="app", log=LogTarget(group="/bench", stream_prefix="ecs"))],
        taskArn="arn:aws:ecs:us-east-1:123456789012:task/default/bench",
        createdAt="2026-11-21T00:00:00Z",
        updatedAt="2026-11-21T00:00:00Z",
        expiresAt=0,
    )


def continuation(megabytes: int, invocations: int = 10) -> dict[str, Any]:
    """The same log copied by the copy function's own code in one invocation, then in `invocations`: each
    pausing after its share of pages, the next continuing from the checkpoint it left in (moto) S3."""
    import boto3
    from moto import mock_aws

    record = _bench_record()
    key = "runs/bench/logs/app.log.gz"
    pages = PagedLogs(megabytes * MIB).page_count()
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="bench")
        checkpoints = CopyCheckpoints(s3, "bench")
        requests = {"n": 0}
        s3.meta.events.register("before-call.s3.*", lambda **_: requests.update(n=requests["n"] + 1))

        def run(share: int | None) -> tuple[float, int, bytes, list[Any], int]:
            logs = PagedLogs(megabytes * MIB)
            requests["n"] = 0
            calls = {"n": 0}

            def pause() -> bool:
                calls["n"] += 1
                return share is not None and calls["n"] % share == 0

            started, count = time.perf_counter(), 0
            progress = None
            while progress is None or not progress.done:
                count += 1
                checkpoint = checkpoints.load("bench") if progress is not None else None
                progress = copy_run_logs(
                    record, s3=s3, bucket="bench", logs_client=lambda _region: logs, tail_lines=20,
                    checkpoint=checkpoint, should_pause=pause,
                )  # fmt: skip
            elapsed, made = time.perf_counter() - started, requests["n"]
            return elapsed, count, s3.get_object(Bucket="bench", Key=key)["Body"].read(), progress.entries, made

        one_time, one_count, one_bytes, one_entries, one_requests = run(None)
        ten_time, ten_count, ten_bytes, ten_entries, ten_requests = run(math.ceil(pages / invocations))
    return {
        "text_mb": one_entries[0].bytes / 1e6,
        "one_s": one_time,
        "ten_s": ten_time,
        "invocations": ten_count,
        "one_requests": one_requests,
        "ten_requests": ten_requests,
        "identical": one_bytes == ten_bytes and one_entries == ten_entries and one_count == 1,
    }


def _rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize()


def _peak_rss_child(megabytes: int, queue: Any) -> None:
    logs = PagedLogs(megabytes * MIB)
    logs.get_log_events(logGroupName="/bench", logStreamName="warm", startFromHead=True)  # imports, pool ready
    logs = PagedLogs(megabytes * MIB)
    baseline = _rss_bytes()
    peak = [baseline]
    done = threading.Event()

    def sample() -> None:  # the resident set, every 5 ms, for as long as the copy runs
        while not done.wait(0.005):
            peak[0] = max(peak[0], _rss_bytes())

    sampler = threading.Thread(target=sample)
    sampler.start()
    s3 = DiscardingS3()
    written = copy(logs, s3, "bench", "k")
    done.set()
    sampler.join()
    peak[0] = max(peak[0], _rss_bytes())
    growth = (peak[0] - baseline) / MIB
    queue.put({"growth_mib": growth, "text_mb": written.bytes / 1e6, "gzip_mb": s3.received / 1e6})


def memory(megabytes: int) -> dict[str, float]:
    """Peak RSS growth of a whole copy, in a fresh process, with an S3 that keeps nothing."""
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    child = context.Process(target=_peak_rss_child, args=(megabytes, queue))
    child.start()
    result = queue.get()
    child.join()
    return dict(result)


def minimum_calls(text_mb: float, events: int) -> int:
    """Pages the API's limits force, plus the one call that returns the repeated token."""
    return max(math.ceil(events / PAGE_EVENTS), math.ceil(text_mb * 1e6 / PAGE_BYTES)) + 1


NOTES = """\
Continuation: the copy function's own code (`copy_run_logs`) against moto S3, first in one invocation, then
pausing after a tenth of the pages each time and continuing from the checkpoint it left in S3. Compared: the
S3 object's bytes and the manifest entry (events, bytes, sha256, first and last timestamps). The extra S3
requests per pause are the checkpoint and the staged bytes short of a part (one put each, one get each).
"""


def _met(ok: bool) -> str:
    return "met" if ok else "MISSED"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--throughput-mb", type=int, default=int(os.environ.get("BENCH_THROUGHPUT_MB", 256)))
    parser.add_argument("--memory-mb", type=int, default=int(os.environ.get("BENCH_MEMORY_MB", 1024)))
    parser.add_argument("--continuation-mb", type=int, default=int(os.environ.get("BENCH_CONTINUATION_MB", 128)))
    parser.add_argument("--write", metavar="FILE", help="also record the table in FILE (markdown)")
    args = parser.parse_args()

    speed = throughput(args.throughput_mb)
    mem = memory(args.memory_mb)
    cont = continuation(args.continuation_mb)
    overhead = cont["ten_s"] / cont["one_s"] - 1
    floor = minimum_calls(speed["text_mb"], int(speed["events"]))
    rows = [
        ("Throughput, format + gzip + multipart upload to moto S3",
         f"{speed['pipeline_mbps']:.1f} MB/s of log text ({speed['text_mb']:.0f} MB)", ""),
        ("zlib alone, same bytes, same level (6), same process", f"{speed['zlib_mbps']:.1f} MB/s", ""),
        ("Ratio to zlib alone", f"{speed['ratio']:.2f}", "target ≥ 0.70: " + _met(speed["ratio"] >= 0.7)),
        ("Compressed size / text size", f"{speed['compression']:.3f}", ""),
        (f"Peak memory growth copying {mem['text_mb'] / 1000:.2f} GB of log text",
         f"{mem['growth_mib']:.1f} MiB", "target ≤ 64 MiB: " + _met(mem["growth_mib"] <= 64)),
        ("GetLogEvents calls per MB copied", f"{speed['calls'] / speed['text_mb']:.2f} ({int(speed['calls'])} calls)",
         f"page limits force {floor}: " + _met(speed["calls"] <= floor)),
        (f"Continuation: {cont['text_mb']:.0f} MB copied in one invocation, then in {cont['invocations']}",
         f"{cont['one_s']:.1f} s vs {cont['ten_s']:.1f} s ({overhead:+.0%}), "
         f"{cont['one_requests']} vs {cont['ten_requests']} S3 requests; "
         + ("byte-identical object and manifest entry" if cont["identical"] else "RESULTS DIFFER"),
         "identical: " + _met(cont["identical"])),
    ]  # fmt: skip
    table = ["| measure | result | target |", "|---|---|---|", *[f"| {a} | {b} | {c} |" for a, b, c in rows]]
    command = (
        f"make bench  (python bench/copy_bench.py --throughput-mb {args.throughput_mb} --memory-mb {args.memory_mb}"
        f" --continuation-mb {args.continuation_mb})"
    )
    machine = (
        f"{platform.python_implementation()} {platform.python_version()}, {os.cpu_count()} cores, {platform.machine()}"
    )
    report = "\n".join(table)
    print(report)
    if args.write:
        write_section(
            args.write,
            "copy",
            "## Logs: the copy pipeline\n\n"
            "Measured by `bench/copy_bench.py`. Log text is generated: templated lines, 1% long JSON lines\n"
            "(4-16 KB), 5% multi-byte text.\n\n"
            f"Command: `{command}`  \nMachine: {machine}\n\n{report}\n\n{NOTES}",
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
