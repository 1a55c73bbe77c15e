"""The completion event: its detail from a run's output or cause, and its entry on the bus."""

from __future__ import annotations

import json

from ecsrun.domain.completion import completion_entry, run_summary

OUTPUT = {
    "runId": "r1",
    "status": "SUCCEEDED",
    "task": {
        "taskArn": "arn:aws:ecs:us-east-1:123456789012:task/default/abc",
        "clusterArn": "arn:aws:ecs:us-east-1:123456789012:cluster/default",
        "stopCode": "EssentialContainerExited",
        "stoppedReason": "Essential container in task exited",
        "containers": [{"name": "app", "exitCode": 0}, {"name": "sidecar", "exitCode": None}],
    },
    "logs": {
        "bucket": "b",
        "manifestKey": "runs/r1/manifest.json",
        "containers": [{"name": "app", "key": "runs/r1/logs/app.log.gz"}, {"name": "sidecar", "key": None}],
    },
    "attempts": [{"attempt": 1}, {"attempt": 2}],
}


def test_a_success_summary_names_the_task_exit_codes_and_logs() -> None:
    detail = run_summary(OUTPUT, "arn:exec")
    assert detail == {
        "runId": "r1",
        "status": "SUCCEEDED",
        "error": None,
        "message": None,
        "executionArn": "arn:exec",
        "taskArn": OUTPUT["task"]["taskArn"],
        "clusterArn": OUTPUT["task"]["clusterArn"],
        "stopCode": "EssentialContainerExited",
        "stoppedReason": "Essential container in task exited",
        "exitCodes": {"app": 0, "sidecar": None},
        "attempts": 2,
        "logs": {
            "bucket": "b",
            "manifestKey": "runs/r1/manifest.json",
            "keys": {"app": "runs/r1/logs/app.log.gz", "sidecar": None},
        },
    }


def test_a_failure_without_a_task_still_has_every_field() -> None:
    detail = run_summary({"runId": None, "status": "FAILED", "error": "RunRequest.Invalid", "message": "m"}, "e")
    assert detail["error"] == "RunRequest.Invalid" and detail["taskArn"] is None and detail["exitCodes"] == {}
    assert set(detail) == set(run_summary(OUTPUT, "e"))


def test_the_entry_carries_the_detail_type_for_its_status() -> None:
    succeeded = completion_entry(run_summary(OUTPUT, "e"), "bus")
    failed = completion_entry(run_summary({**OUTPUT, "status": "FAILED", "error": "ECS.TaskStopped"}, "e"), "bus")
    assert (succeeded["Source"], succeeded["DetailType"], succeeded["EventBusName"]) == (
        "ecsrun",
        "ecsrun.RunSucceeded",
        "bus",
    )
    assert failed["DetailType"] == "ecsrun.RunFailed"
    assert json.loads(failed["Detail"])["error"] == "ECS.TaskStopped"


def test_an_ended_runs_summary_quotes_a_lambda_error_without_its_stack_trace() -> None:
    # Given a run whose CopyLogs crashed: the execution's cause is Lambda's error payload, stack trace included
    from ecsrun.adapters.dynamodb import new_record
    from ecsrun.domain.completion import ended_summary
    from ecsrun.domain.models.run import Run

    run = Run(runId="r1", timeoutSeconds=60, successExitCodes=[0], request={"taskDefinition": "td"})
    record = new_record(
        runId="r1", executionArn="arn:exec", run=run, startedBy="ecsrun/r1", clientToken="t", ttl_days=1
    )
    cause = json.dumps(
        {
            "errorMessage": "An error occurred (AccessDenied) when calling the PutObject operation: Access Denied",
            "errorType": "ClientError",
            "stackTrace": ['  File "/var/task/ecsrun/steps/copy_logs.py", line 80, in copy\n'],
        }
    )
    # When ExecutionEnded announces it
    detail = ended_summary(record, "arn:exec", "FAILED", "Logs.CopyFailed", cause)
    # Then the event's message says what failed, with no stack trace or file path
    assert detail is not None
    assert detail["message"] == (
        "the execution ended FAILED: ClientError: An error occurred (AccessDenied) when calling the PutObject "
        "operation: Access Denied"
    )
