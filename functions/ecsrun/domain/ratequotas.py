"""AWS's default rate quotas for every API a run touches, per account and Region, as data. Pure.

One table serves three readers: `ecsrun capacity` (utilisation at a number of runs a day), the local engine's
`--quotas` (token buckets on the wall clock) and the simulation (token buckets on its virtual clock). Each entry
names the calls it counts (`<Service>.<Operation>`, as the measured calls-per-run file counts them), its default
rate and bucket size, whether AWS raises it on request, the error code AWS answers when it throttles, and the page
that says so (docs/capacity.md lists them). Quotas change: the figures are defaults as published in 2026-12.

Step Functions and EventBridge publish larger quotas in their three largest Regions than elsewhere; the other
services publish one default everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass

LARGE_REGIONS = frozenset({"us-east-1", "us-west-2", "eu-west-1"})
DEFAULT_REGION = "us-east-1"

ECS_THROTTLING = "https://docs.aws.amazon.com/AmazonECS/latest/APIReference/request-throttling.html"
FARGATE_THROTTLING = "https://docs.aws.amazon.com/AmazonECS/latest/developerguide/throttling.html"
LOGS_QUOTAS = "https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/cloudwatch_limits_cwl.html"
SFN_QUOTAS = "https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html"
EVENTS_QUOTAS = "https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-quota.html"
LAMBDA_QUOTAS = "https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html"
DYNAMODB_QUOTAS = "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html"
DYNAMODB_PARTITIONS = "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/bp-partition-key-design.html"


@dataclass(frozen=True)
class RateQuota:
    """One rate quota: `rate` a second refilling a bucket of `burst` (elsewhere: outside LARGE_REGIONS)."""

    key: str  # the counted call it limits, "<Service>.<Operation>"
    name: str  # as a person reads it
    rate: float
    burst: float
    adjustable: bool
    error: str  # the error code AWS answers a throttled call with
    source: str
    caller: str  # who makes the calls: ecsrun, the run's caller, ECS, Step Functions, EventBridge
    rate_elsewhere: float | None = None
    burst_elsewhere: float | None = None
    counts: tuple[str, ...] = ()  # the counted calls that take from it (default: `key` alone)

    def per_second(self, region: str) -> float:
        if region not in LARGE_REGIONS and self.rate_elsewhere is not None:
            return self.rate_elsewhere
        return self.rate

    def bucket(self, region: str) -> float:
        if region not in LARGE_REGIONS and self.burst_elsewhere is not None:
            return self.burst_elsewhere
        return self.burst

    @property
    def counted(self) -> tuple[str, ...]:
        return self.counts or (self.key,)


QUOTAS: tuple[RateQuota, ...] = (
    RateQuota("CloudWatchLogs.GetLogEvents", "CloudWatch Logs GetLogEvents", 10, 10, False, "ThrottlingException",
              LOGS_QUOTAS, "ecsrun (log copy, read-back)"),
    RateQuota("CloudWatchLogs.CreateLogStream", "CloudWatch Logs CreateLogStream", 50, 50, True,
              "ThrottlingException", LOGS_QUOTAS, "ECS (awslogs driver)"),
    RateQuota("CloudWatchLogs.PutLogEvents", "CloudWatch Logs PutLogEvents", 5000, 5000, True, "ThrottlingException",
              LOGS_QUOTAS, "ECS (awslogs driver)", rate_elsewhere=1500, burst_elsewhere=1500),
    RateQuota("ECS.DescribeTaskDefinition", "ECS DescribeTaskDefinition", 20, 50, True, "ThrottlingException",
              ECS_THROTTLING, "ecsrun"),
    RateQuota("ECS.DescribeClusters", "ECS DescribeClusters", 20, 50, True, "ThrottlingException", ECS_THROTTLING,
              "ecsrun"),
    RateQuota("ECS.RunTask", "ECS RunTask", 20, 100, True, "ThrottlingException", ECS_THROTTLING, "ecsrun"),
    RateQuota("ECS.FargateTaskLaunch", "Fargate task launch rate", 20, 100, True, "ThrottlingException",
              FARGATE_THROTTLING, "ecsrun (RunTask's tasks)", counts=("ECS.RunTask",)),
    RateQuota("ECS.DescribeTasks", "ECS DescribeTasks", 20, 100, True, "ThrottlingException", ECS_THROTTLING,
              "ecsrun (reconciler, stop)"),
    RateQuota("StepFunctions.StartExecution", "Step Functions StartExecution", 300, 1300, True, "ThrottlingException",
              SFN_QUOTAS, "the run's caller", rate_elsewhere=150, burst_elsewhere=800),
    RateQuota("StepFunctions.StateTransitions", "Step Functions Standard state transitions", 5000, 5000, True,
              "ThrottlingException", SFN_QUOTAS, "Step Functions", rate_elsewhere=800, burst_elsewhere=800),
    RateQuota("StepFunctions.SendTaskSuccess", "Step Functions SendTaskSuccess", 500, 3000, True, "ThrottlingException",
              SFN_QUOTAS, "ecsrun"),
    RateQuota("StepFunctions.SendTaskFailure", "Step Functions SendTaskFailure", 500, 3000, True, "ThrottlingException",
              SFN_QUOTAS, "ecsrun"),
    RateQuota("Lambda.Invocations", "Lambda invocations (10 x concurrency 1,000)", 10_000, 10_000, True,
              "TooManyRequestsException", LAMBDA_QUOTAS, "Step Functions, EventBridge",
              counts=("Lambda.Invocations", "Lambda.Invoke")),
    RateQuota("EventBridge.PutEvents", "EventBridge PutEvents", 10_000, 10_000, True, "ThrottlingException",
              EVENTS_QUOTAS, "ecsrun (completion event)", rate_elsewhere=400, burst_elsewhere=400),
    RateQuota("EventBridge.Invocation", "EventBridge rule target invocations", 18_750, 18_750, True,
              "ThrottlingException", EVENTS_QUOTAS, "EventBridge (task and execution events)",
              rate_elsewhere=1100, burst_elsewhere=1100),
    RateQuota("DynamoDB.WriteRequestUnits", "DynamoDB on-demand table write units", 40_000, 40_000, True,
              "ThrottlingException", DYNAMODB_QUOTAS, "ecsrun (runs table)"),
    RateQuota("DynamoDB.WaitingIndexWrite", "DynamoDB `waiting` index: writes to one partition key value", 1000,
              1000, False, "ProvisionedThroughputExceededException", DYNAMODB_PARTITIONS, "ecsrun (runs table)"),
)  # fmt: skip

BY_KEY = {quota.key: quota for quota in QUOTAS}

# The counted operations of each service's clients, by the botocore service name the handlers' clients use, and
# the key they are counted under. Anything else is counted as "<Service>.<Operation>" with the service's own id.
SERVICE_PREFIX = {
    "ecs": "ECS",
    "logs": "CloudWatchLogs",
    "cloudwatch-logs": "CloudWatchLogs",
    "stepfunctions": "StepFunctions",
    "sfn": "StepFunctions",
    "states": "StepFunctions",
    "events": "EventBridge",
    "eventbridge": "EventBridge",
    "dynamodb": "DynamoDB",
    "s3": "S3",
    "lambda": "Lambda",
}


def call_key(service: str, operation: str) -> str:
    """`<Service>.<Operation>` for a botocore service name (or service id) and an operation name."""
    prefix = SERVICE_PREFIX.get(service.lower(), service)
    return f"{prefix}.{operation}"


def throttled_by(service: str, operation: str) -> list[RateQuota]:
    """The rate quotas a call takes a token from (RunTask: the API's and Fargate's launch rate)."""
    key = call_key(service, operation)
    return [quota for quota in QUOTAS if key in quota.counted]


__all__ = ["BY_KEY", "DEFAULT_REGION", "LARGE_REGIONS", "QUOTAS", "RateQuota", "call_key", "throttled_by"]
