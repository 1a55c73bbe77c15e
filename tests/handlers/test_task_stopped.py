"""The task-stopped function: one callback per run, whatever EventBridge delivers and however often."""

from __future__ import annotations

import json

from botocore.stub import ANY, Stubber
from ecsrun.adapters import clients
from ecsrun.adapters.dynamodb import RunsTable

from tests.conftest import TABLE, Stack, ecs_event
from tests.handlers.helpers import deliver, start


def _started(stack: Stack, definition: str = "hello.json", request: str = "hello.json") -> dict:
    stack.register(definition)
    return start(stack.request(request))


def _stopped_event(started: dict, sample: str = "stopped-success.json", **detail: object) -> dict:
    fields = {
        "taskArn": started["taskArn"],
        "clusterArn": "arn:aws:ecs:us-east-1:123456789012:cluster/default",
        "startedBy": f"ecsrun/{started['runId']}",
        **detail,
    }
    return ecs_event(sample, **fields)


def _record(stack: Stack, run_id: str) -> dict:
    return stack.table.get_item(Key={"runId": run_id})["Item"]


def test_success_wakes_the_execution_once(stack: Stack, sfn: Stubber) -> None:
    # Given a running task
    started = _started(stack)
    sfn.add_response("send_task_success", {}, {"taskToken": "token-start-1", "output": ANY})
    # When its STOPPED event arrives
    result = deliver(_stopped_event(started))
    # Then the execution is told it succeeded, and the record keeps the event and the verdict
    sfn.assert_no_pending_responses()
    assert result["result"] == "settled"
    record = _record(stack, "hello-demo")
    assert record["status"] == "STOPPED"
    assert json.loads(record["verdict"])["succeeded"] is True
    assert json.loads(record["task"])["stopCode"] == "EssentialContainerExited"


def test_duplicate_events_are_harmless(stack: Stack, sfn: Stubber) -> None:
    # Given a run that was settled by its STOPPED event
    started = _started(stack)
    sfn.add_response("send_task_success", {}, {"taskToken": "token-start-1", "output": ANY})
    event = _stopped_event(started)
    deliver(event)
    # When EventBridge delivers the same event twice more (the stubber fails on any further call)
    again = [deliver(event)["result"] for _ in range(2)]
    # Then nothing else happens
    assert again == ["ignored: already settled", "ignored: already settled"]
    sfn.assert_no_pending_responses()


def test_essential_non_zero_exit_fails_with_its_name(stack: Stack, sfn: Stubber) -> None:
    started = _started(stack, "failing.json", "failing.json")
    sfn.add_response(
        "send_task_failure", {}, {"taskToken": "token-start-1", "error": "ECS.ContainerExitedNonZero", "cause": ANY}
    )
    deliver(_stopped_event(started, "stopped-nonzero.json"))
    sfn.assert_no_pending_responses()
    verdict = json.loads(_record(stack, "failing-demo")["verdict"])
    assert verdict["failingContainer"] == "app"


def test_a_sidecar_exit_does_not_fail_the_run(stack: Stack, sfn: Stubber) -> None:
    # Given a task whose non-essential log router exits 137 while the app exits 0
    started = _started(stack, "sidecar.json", "sidecar.json")
    sfn.add_response("send_task_success", {}, {"taskToken": "token-start-1", "output": ANY})
    # When it stops, Then the run succeeds
    deliver(_stopped_event(started, "stopped-sidecar-nonzero.json"))
    sfn.assert_no_pending_responses()


def test_failed_start_is_named(stack: Stack, sfn: Stubber) -> None:
    started = _started(stack)
    sfn.add_response(
        "send_task_failure", {}, {"taskToken": "token-start-1", "error": "ECS.TaskFailedToStart", "cause": ANY}
    )
    deliver(_stopped_event(started, "stopped-failed-to-start.json"))
    sfn.assert_no_pending_responses()


def test_events_for_other_tasks_are_ignored(stack: Stack, sfn: Stubber) -> None:
    # Given a running run, When events arrive for a task another tool started, a RUNNING task,
    # and another task carrying this run's startedBy
    started = _started(stack)
    foreign = deliver(_stopped_event(started, startedBy="airflow-dag-7"))
    running = deliver(_stopped_event(started, "running.json"))
    stranger = deliver(_stopped_event(started, taskArn="arn:aws:ecs:us-east-1:123456789012:task/default/other"))
    # Then none of them settles the run (the stubber fails on any callback)
    assert foreign["result"] == "ignored: not started by this stack"
    assert running["result"] == "ignored: lastStatus RUNNING"
    assert stranger["result"] == "ignored: event is for another task of this run"
    assert _record(stack, "hello-demo")["status"] == "RUNNING"


def test_an_event_for_an_unknown_run_is_ignored(stack: Stack, sfn: Stubber) -> None:
    event = ecs_event("stopped-success.json", startedBy="ecsrun/never-started")
    assert deliver(event)["result"] == "ignored: no run record"


def test_a_closed_token_is_recorded_quietly(stack: Stack, sfn: Stubber) -> None:
    # Given the execution already timed out, so its token is closed
    started = _started(stack)
    sfn.add_client_error("send_task_success", service_error_code="TaskTimedOut", http_status_code=400)
    # When the STOPPED event arrives, Then it is recorded and the handler does not fail (no endless retries)
    assert deliver(_stopped_event(started))["result"] == "settled: token already closed"
    assert _record(stack, "hello-demo")["status"] == "STOPPED"


def test_a_stopped_event_that_beats_the_start_is_kept_until_the_start_records_its_task(
    stack: Stack, sfn: Stubber
) -> None:
    # Given the STOPPED event arrived before the start function recorded the task (record still STARTING)
    started = _started(stack)
    stack.table.update_item(
        Key={"runId": "hello-demo"},
        UpdateExpression="SET #s = :s REMOVE taskArn",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":s": "STARTING"},
    )
    # When it is delivered, Then it is neither trusted nor dropped: kept on the record, no callback (stubber)
    assert deliver(_stopped_event(started))["result"] == "deferred: stored until the start records its task"
    assert started["taskArn"] in _record(stack, "hello-demo")["earlyEvents"]
    # And when the start records that very task, it settles the run with the kept event, once
    sfn.add_response("send_task_success", {}, {"taskToken": "token-start-1", "output": ANY})
    from ecsrun.handlers import wiring
    from ecsrun.plumbing.settings import Settings
    from ecsrun.steps.tasks import record_attempt_task

    settings = Settings.from_env()
    task = {"taskArn": started["taskArn"], "clusterArn": "arn:aws:ecs:us-east-1:123456789012:cluster/default"}
    record_attempt_task(
        "hello-demo",
        1,
        task,
        store=RunsTable(clients.table(TABLE)),
        ecs=wiring.ecs(),
        callbacks=wiring.callbacks(),
        settings=settings,
    )
    sfn.assert_no_pending_responses()
    record = _record(stack, "hello-demo")
    assert (record["status"], record["taskArn"], record["callback"]) == ("STOPPED", started["taskArn"], "DELIVERED")
    assert record["openShard"].startswith("open#")  # open until its end is recorded
