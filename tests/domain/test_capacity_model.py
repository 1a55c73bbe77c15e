"""The capacity model (ecsrun.domain.capacity) over the quota table (ecsrun.domain.ratequotas): calls scaled per
container and per MB, utilisation at N runs a day, the binding quota, and the Regions' different quotas."""

from __future__ import annotations

from typing import Any

import pytest
from ecsrun.domain import capacity, ratequotas

DATA: dict[str, Any] = {
    "typical": {"containers": 2, "logMB": 5, "taskMinutes": 10},
    "modes": {
        "read-back": {
            "CloudWatchLogs.GetLogEvents": 12,
            "ECS.RunTask": 1,
            "StepFunctions.StateTransitions": 6,
            "StepFunctions.StartExecution": 1,
            "S3.PutObject": 3,
        },
        "firelens": {"ECS.RunTask": 1, "StepFunctions.StateTransitions": 6, "StepFunctions.StartExecution": 1},
    },
    "scaling": {"read-back": {"perContainer": {"CloudWatchLogs.GetLogEvents": 1},
                              "perContainerMB": {"CloudWatchLogs.GetLogEvents": 1}}},
}  # fmt: skip


def test_calls_grow_per_container_and_per_megabyte_from_the_typical_run() -> None:
    # Given a typical run (2 containers x 5 MB) making 12 GetLogEvents, 1 more per container and 1 per MB
    # When the run has 4 containers of 20 MB each
    calls = capacity.calls_per_run(DATA, "read-back", containers=4, log_mb=20)
    # Then GetLogEvents = 12 + 1 x (4 - 2) + 1 x (80 - 10), and calls that do not scale stay as measured
    assert calls["CloudWatchLogs.GetLogEvents"] == 12 + 2 + 70
    assert calls["ECS.RunTask"] == 1
    # And a smaller run never makes fewer than zero calls
    assert capacity.calls_per_run(DATA, "read-back", containers=1, log_mb=0)["CloudWatchLogs.GetLogEvents"] >= 0


def test_read_back_at_ten_million_runs_a_day_is_bound_by_get_log_events_which_cannot_be_raised() -> None:
    # When 10 M runs a day copy their logs back from CloudWatch Logs
    usages = capacity.usage(DATA, 10_000_000, mode="read-back", containers=2, log_mb=5, region="us-east-1")
    binding = capacity.binding(usages)
    # Then GetLogEvents binds: 12 x 115.7/s against 10/s, and it is not adjustable; it allows 72,000 runs a day
    assert binding is not None and binding.quota.key == "CloudWatchLogs.GetLogEvents"
    assert not binding.quota.adjustable
    assert binding.utilization == pytest.approx(10_000_000 / 86_400 * 12 / 10)
    assert binding.max_runs_per_day == pytest.approx(72_000)
    # And calls without an account quota (S3 is per prefix) are not listed
    assert all(u.quota.key != "S3.PutObject" for u in usages)


def test_firelens_at_ten_million_leaves_no_unadjustable_quota_over_its_limit() -> None:
    usages = capacity.usage(DATA, 10_000_000, mode="firelens", containers=2, log_mb=5, region="us-east-1")
    assert all(u.utilization <= 1 for u in usages if not u.quota.adjustable)
    assert "CloudWatchLogs.GetLogEvents" not in {u.quota.key for u in usages}


def test_step_functions_quotas_are_smaller_outside_the_three_largest_regions() -> None:
    # Given the same runs in us-east-1 and in eu-central-1
    east = {u.quota.key: u for u in capacity.usage(DATA, 1e6, mode="firelens", containers=2, log_mb=5,
                                                    region="us-east-1")}  # fmt: skip
    frankfurt = {u.quota.key: u for u in capacity.usage(DATA, 1e6, mode="firelens", containers=2, log_mb=5,
                                                         region="eu-central-1")}  # fmt: skip
    # Then transitions are 5,000/s against 800/s, StartExecution refills 300/s against 150/s
    assert east["StepFunctions.StateTransitions"].quota_per_second == 5000
    assert frankfurt["StepFunctions.StateTransitions"].quota_per_second == 800
    assert east["StepFunctions.StartExecution"].quota_per_second == 300
    assert frankfurt["StepFunctions.StartExecution"].quota_per_second == 150


def test_a_mode_the_measurements_lack_is_a_data_error() -> None:
    with pytest.raises(capacity.CapacityDataError, match="no 'firelens' mode"):
        capacity.calls_per_run({"typical": DATA["typical"], "modes": {"read-back": {}}}, "firelens", 2, 5)
    with pytest.raises(capacity.CapacityDataError, match="typical"):
        capacity.calls_per_run({"modes": {"read-back": {}}}, "read-back", 2, 5)


def test_every_quota_cites_an_aws_page_and_the_throttling_error_aws_answers() -> None:
    for quota in ratequotas.QUOTAS:
        assert quota.source.startswith("https://docs.aws.amazon.com/"), quota.key
        assert quota.error in {"ThrottlingException", "ProvisionedThroughputExceededException",
                               "TooManyRequestsException"}, quota.key  # fmt: skip
        assert quota.burst >= quota.rate, quota.key


def test_a_call_finds_the_quotas_it_takes_from() -> None:
    # RunTask takes from the API's bucket and from Fargate's launch rate; GetLogEvents from its own
    assert {q.key for q in ratequotas.throttled_by("ecs", "RunTask")} == {"ECS.RunTask", "ECS.FargateTaskLaunch"}
    assert [q.key for q in ratequotas.throttled_by("logs", "GetLogEvents")] == ["CloudWatchLogs.GetLogEvents"]
    assert ratequotas.throttled_by("s3", "PutObject") == []
