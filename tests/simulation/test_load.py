"""A smoke of `make load` (tests/simulation/load.py): a few virtual seconds of runs through the deployed ASL and
the real handlers with AWS's rate quotas as token buckets (tests/simulation/quotas.py), scaled down. The load
itself (10 M runs a day, 10 virtual minutes) is `make load`, never part of `make test`."""

from __future__ import annotations

import random

from botocore.exceptions import ClientError
from ecsrun.domain.ratequotas import BY_KEY

from tests.simulation.load import LoadPlan, report, run_load
from tests.simulation.quotas import Quotas, backoff, operation_name, throttling_error


def test_runs_under_their_quotas_all_end_once_with_their_tasks_verdict() -> None:
    # Given 2 runs a second for 5 virtual seconds, every quota at AWS's default (none near its limit), 1 in 5 failing
    plan = LoadPlan(rate=2.0, scale=1.0, seconds=5.0, drain=1800.0, task_seconds=30.0, fail_every=5)
    # When they run through the deployed ASL and the real handlers
    result = run_load(plan)
    summary = result.summary()
    # Then every run started, ended once, none lost, each with its task's verdict, none failed by throttling
    assert summary["runsRequested"] == 10
    assert summary["runsStarted"] == summary["runsEnded"] == 10, summary
    assert summary["runsLost"] == 0 and summary["runsEndedTwice"] == 0
    assert summary["verdictsDifferingFromTheTask"] == 0, summary["wrongEndings"]
    assert sorted(r.status for r in result.runs) == ["FAILED"] * 2 + ["SUCCEEDED"] * 8
    # And the delays are measured: RunTask within seconds of the request, the end within a minute of STOPPED
    assert summary["requestToRunTaskP99"] is not None and summary["requestToRunTaskP99"] < 30
    assert summary["stoppedToEndP99"] is not None and summary["stoppedToEndP99"] < 120
    # And the backlog was sampled from the first request to the end
    assert result.backlog[0]["requested"] == 0 and result.backlog[-1]["ended"] == 10
    # And the report's table says so
    table = report(result)
    assert "| Runs requested / started / ended | 10 / 10 / 10 |" in table
    assert "| Runs that failed because of throttling | 0 |" in table


def test_firelens_runs_read_no_cloudwatch_logs_and_keep_every_log() -> None:
    # Given the same runs with their containers logging through a FireLens router to S3
    plan = LoadPlan(rate=2.0, scale=1.0, seconds=5.0, drain=1800.0, task_seconds=30.0, fail_every=5, mode="firelens")
    result = run_load(plan)
    summary = result.summary()
    # Then each ends once with its task's verdict, no GetLogEvents was made, and every container's log was copied
    # from the router's objects, complete
    assert summary["runsEnded"] == 10 and summary["runsLost"] == 0
    assert summary["verdictsDifferingFromTheTask"] == 0, summary["wrongEndings"]
    assert "CloudWatchLogs.GetLogEvents" not in result.taken
    assert summary["containerLogs"] == {"firelens-s3 complete": 20}


def test_a_quota_scaled_below_the_load_throttles_and_every_run_still_ends_once() -> None:
    # Given 10 M runs a day scaled by 200 (0.58 runs a second) against quotas scaled by 200 (GetLogEvents 0.05/s)
    plan = LoadPlan(scale=200.0, seconds=10.0, drain=3600.0, task_seconds=20.0)
    result = run_load(plan)
    summary = result.summary()
    # Then calls were throttled (GetLogEvents waits its turn on the shared pace instead), no run failed because of
    # it, and the busiest quota is one that binds at 10 M a day
    assert summary["throttledCalls"], summary
    assert summary["failedBecauseOfThrottling"] == 0, summary["wrongEndings"]
    assert summary["bindingQuota"] in {"CloudWatchLogs.GetLogEvents", "ECS.DescribeTaskDefinition"}
    # And no run ended twice, and every run that ended has an execution's status
    assert summary["runsEndedTwice"] == 0
    assert all(r.status in {"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"} for r in result.runs if r.ended)


def test_a_bucket_refuses_as_aws_does_and_refills_on_the_virtual_clock() -> None:
    # Given the quotas on a virtual clock at t=0
    now = [0.0]
    quotas = Quotas(lambda: now[0])
    # When 11 GetLogEvents arrive at t=0, Then the 11th is answered ThrottlingException, as CloudWatch Logs answers
    answers = [quotas.admit("logs", "GetLogEvents") for _ in range(11)]
    assert answers[:10] == [None] * 10
    refused = answers[10]
    assert isinstance(refused, ClientError)
    assert refused.response["Error"] == {"Code": "ThrottlingException", "Message": "Rate exceeded"}
    assert refused.operation_name == "GetLogEvents"
    # And 0.1 virtual second later one more passes
    now[0] = 0.1
    assert quotas.admit("logs", "GetLogEvents") is None
    assert quotas.throttled["CloudWatchLogs.GetLogEvents"] == 1


def test_each_service_throttles_with_its_own_error() -> None:
    lambda_error = throttling_error(BY_KEY["Lambda.Invocations"], "Invoke")
    assert lambda_error.response["Error"]["Code"] == "TooManyRequestsException"
    assert lambda_error.response["ResponseMetadata"]["HTTPStatusCode"] == 429
    index = throttling_error(BY_KEY["DynamoDB.WaitingIndexWrite"], "UpdateItem")
    assert index.response["Error"]["Code"] == "ProvisionedThroughputExceededException"
    assert index.response["ThrottlingReasons"][0]["reason"] == "IndexWriteKeyRangeThroughputExceeded"  # type: ignore[typeddict-item]


def test_scaling_divides_every_quota_and_the_sdks_backoff_is_bounded() -> None:
    quotas = Quotas(lambda: 0.0, scale=10)
    assert quotas.bucket("ECS.RunTask").rate == 2.0
    assert quotas.bucket("CloudWatchLogs.GetLogEvents").burst == 1.0  # never less than one call's token
    rng = random.Random(1)
    assert all(0 <= backoff(attempt, rng) <= 20 for attempt in range(1, 9) for _ in range(50))
    assert operation_name("list_objects_v2") == "ListObjectsV2"
    assert operation_name("get_log_events") == "GetLogEvents"
