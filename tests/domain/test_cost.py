"""Unit tests for ecsrun.domain.cost: the cost receipt of a Fargate task and the cost cap as a deadline."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from ecsrun.domain import cost
from ecsrun.domain.models.request import validate_request
from ecsrun.domain.models.run import Run
from ecsrun.domain.runtask import price_run

TABLE: dict[str, Any] = {
    "date": "2026-03-01",
    "source": "https://aws.amazon.com/fargate/pricing/",
    "regions": {
        "us-east-1": {
            "X86_64": {"vcpuHour": 0.036, "gbHour": 0.0036},
            "ARM64": {"vcpuHour": 0.018, "gbHour": 0.0018},
            "storageGbHour": 0.00036,
        }
    },
}
DEFINITION = {"cpu": "1024", "memory": "2048", "requiresCompatibilities": ["FARGATE"]}


def times(seconds: float) -> tuple[str, str]:
    # Derived from the clock: the receipt reads only the difference.
    start = datetime.now(UTC)
    end = start + timedelta(seconds=seconds)
    return start.isoformat().replace("+00:00", "Z"), end.isoformat().replace("+00:00", "Z")


def test_receipt_bills_vcpu_and_gb_seconds_per_second():
    # Given a 1 vCPU / 2 GiB x86 Fargate task that ran 600 s in us-east-1
    size = cost.size(DEFINITION, {"launchType": "FARGATE"}, "us-east-1")
    # When its receipt is computed
    got = cost.receipt(size, *times(600), TABLE)
    # Then it is 600 vCPU-s at $0.00001/s plus 1200 GB-s at $0.000001/s
    assert got["usd"] == pytest.approx(600 * 0.00001 + 1200 * 0.000001)
    assert got["currency"] == "USD" and got["estimate"] is False
    assert got["basis"]["vcpuSeconds"] == 600 and got["basis"]["gbSeconds"] == 1200
    assert got["basis"]["region"] == "us-east-1" and got["basis"]["architecture"] == "X86_64"
    assert got["prices"] == "AWS Fargate on-demand prices of 2026-03-01 (https://aws.amazon.com/fargate/pricing/)"


def test_receipt_bills_one_minute_at_least():
    # Given a task that ran 5 s
    size = cost.size(DEFINITION, {}, "us-east-1")
    # When priced
    got = cost.receipt(size, *times(5), TABLE)
    # Then 60 s are billed
    assert got["basis"]["billedSeconds"] == 60
    assert got["usd"] == pytest.approx(60 * (0.00001 + 2 * 0.000001))


def test_overrides_arm64_and_extra_storage_change_the_price():
    # Given an ARM64 definition, task-level overrides of 2 vCPU / 4 GiB and 50 GiB of ephemeral storage
    definition = {**DEFINITION, "runtimePlatform": {"cpuArchitecture": "ARM64", "operatingSystemFamily": "LINUX"}}
    request = {"overrides": {"cpu": "2048", "memory": "4096", "ephemeralStorage": {"sizeInGiB": 50}}}
    size = cost.size(definition, request, "us-east-1")
    # When priced for 100 s
    got = cost.receipt(size, *times(100), TABLE)
    # Then ARM64 rates apply to the overridden size, and 30 GiB of storage are billed
    expected = 100 * (2 * 0.000005 + 4 * 0.0000005 + 30 * 0.0000001)
    assert got["usd"] == pytest.approx(expected)
    assert got["basis"]["architecture"] == "ARM64" and got["basis"]["storageGbSeconds"] == 3000


def test_spot_is_an_estimate():
    # Given a FARGATE_SPOT capacity provider strategy
    size = cost.size(DEFINITION, {"capacityProviderStrategy": [{"capacityProvider": "FARGATE_SPOT"}]}, "us-east-1")
    # When priced
    got = cost.receipt(size, *times(120), TABLE)
    # Then it is marked an estimate, with Spot in its basis
    assert got["estimate"] is True and got["basis"]["spot"] is True and got["usd"] > 0


@pytest.mark.parametrize(
    ("request_", "region", "says"),
    [
        ({"launchType": "EC2"}, "us-east-1", "launch type EC2"),
        ({"launchType": "EXTERNAL"}, "us-east-1", "launch type EXTERNAL"),
        ({"launchType": "FARGATE"}, "mars-north-1", "unknown Region mars-north-1"),
    ],
)
def test_no_usd_where_it_cannot_be_known(request_, region, says):
    # Given an EC2 or EXTERNAL task, or a Region the table lacks
    size = cost.size(DEFINITION, request_, region)
    # When priced
    got = cost.receipt(size, *times(60), TABLE)
    # Then there is no usd, and a note says why
    assert "usd" not in got and says in got["note"]


def test_the_cap_becomes_a_deadline():
    # Given a 1 vCPU / 2 GiB task at $0.000012/s
    size = cost.size(DEFINITION, {}, "us-east-1")
    # When the cap is $0.012 (1000 s), or below the one-minute minimum
    # Then the deadline is that second, or at once
    assert cost.cost_limit_seconds(0.012, size, TABLE) == 1000
    assert cost.cost_limit_seconds(0.0001, size, TABLE) == 1
    # And a task without a price has no deadline
    assert cost.cost_limit_seconds(1.0, cost.size(DEFINITION, {"launchType": "EC2"}, "us-east-1"), TABLE) is None


def test_price_run_cuts_the_wait_only_when_the_cap_binds():
    # Given a run with timeoutSeconds 3600 on the shipped table
    def run(cap: float | None) -> Run:
        return Run(runId="r1", timeoutSeconds=3600, waitSeconds=3600, successExitCodes=[0], request={}, maxCostUsd=cap)

    # When priced with a tiny cap, a huge cap and none
    tiny, huge, none = (price_run(run(c), DEFINITION, "us-east-1") for c in (0.0001, 10_000.0, None))
    # Then only the tiny cap cuts the wait and names its limit
    assert tiny.waitSeconds == 1 and tiny.costLimitSeconds == 1
    assert huge.waitSeconds == 3600 and huge.costLimitSeconds is None
    assert none.waitSeconds == 3600 and none.costSize is not None


def test_the_shipped_table_has_its_date_source_and_regions():
    # Given the price table shipped as data
    table = cost.prices()
    # Then it says where its figures came from, and covers the Regions documented
    assert table["date"] and table["source"].startswith("https://aws.amazon.com/fargate/pricing")
    for region in (
        "us-east-1",
        "us-east-2",
        "us-west-2",
        "eu-west-1",
        "eu-central-1",
        "ap-southeast-1",
        "ap-southeast-2",
        "ap-northeast-1",
    ):
        for arch in cost.ARCHITECTURES:
            assert table["regions"][region][arch]["vcpuHour"] > 0 and table["regions"][region][arch]["gbHour"] > 0


@pytest.mark.parametrize("bad", [0, -1, "1", True, 1e9, float("nan")])
def test_max_cost_usd_is_a_bounded_positive_number(bad):
    # Given a request with a maxCostUsd that is not a positive number within bounds
    request, problems = validate_request({"taskDefinition": "hello", "maxCostUsd": bad})
    # Then it is refused on that field
    assert request is None and [p.field for p in problems] == ["maxCostUsd"]


def test_max_cost_usd_is_kept():
    # Given a valid cap
    request, problems = validate_request({"taskDefinition": "hello", "maxCostUsd": 0.5})
    # Then it is a runner field, not a RunTask field
    assert not problems and request is not None and request.maxCostUsd == 0.5 and "maxCostUsd" not in request.fields


def test_the_completion_detail_and_the_list_line_carry_the_cost():
    from ecsrun.cli.stack import list_line
    from ecsrun.domain.completion import run_summary

    # Given a run's output with a cost receipt
    receipt = cost.receipt(cost.size(DEFINITION, {}, "us-east-1"), *times(60), TABLE)
    output = {"runId": "r1", "status": "SUCCEEDED", "task": {}, "logs": {}, "cost": receipt}
    # When its completion detail and its list line are shaped
    detail = run_summary(output, "arn:aws:states:us-east-1:123456789012:execution:m:r1")
    line = list_line({"status": "SUCCEEDED", "name": "r1", "startDate": None, "durationSeconds": 61, "cost": receipt})
    # Then both carry it
    assert detail["cost"] == receipt
    assert f"${receipt['usd']:.4f}" in line
