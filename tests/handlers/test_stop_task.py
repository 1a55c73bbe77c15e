"""The stop-task function: a timed-out run's task is stopped, and the run waits for it to stop."""

from __future__ import annotations

from botocore.stub import ANY, Stubber
from ecsrun.handlers import stop_task

from tests.conftest import Stack, context, ecs_event
from tests.handlers.helpers import deliver, start


def _stop(token: str = "token-stop-1") -> dict:
    return dict(stop_task.handler({"runId": "hello-demo", "timeoutSeconds": 300, "taskToken": token}, context()))


def test_timeout_stops_the_task_and_waits_for_it(stack: Stack, sfn: Stubber) -> None:
    # Given a running task
    stack.register("hello.json")
    started = start(stack.request())
    # When the run times out
    result = _stop()
    # Then ECS is asked to stop the task with a reason that says why
    assert result["stopRequested"] is True
    task = stack.ecs.describe_tasks(cluster="default", tasks=[started["taskArn"]])["tasks"][0]
    assert task["lastStatus"] == "STOPPED"
    assert task["stoppedReason"] == "ecsrun: run hello-demo exceeded timeoutSeconds=300"
    record = stack.table.get_item(Key={"runId": "hello-demo"})["Item"]
    assert record["status"] == "STOPPING"
    assert record["timedOut"] is True
    # And when the STOPPED event arrives, the stop state (not the closed start state) is woken, with success
    sfn.add_response("send_task_success", {}, {"taskToken": "token-stop-1", "output": ANY})
    event = ecs_event(
        "stopped-user-initiated.json",
        taskArn=started["taskArn"],
        startedBy="ecsrun/hello-demo",
        stopCode="UserInitiated",
    )
    assert deliver(event)["result"] == "settled"
    sfn.assert_no_pending_responses()


def test_a_task_that_already_stopped_is_not_waited_for(stack: Stack, sfn: Stubber) -> None:
    # Given the task stopped on its own just as the run timed out
    stack.register("hello.json")
    started = start(stack.request())
    sfn.add_response("send_task_success", {}, {"taskToken": "token-start-1", "output": ANY})
    deliver(ecs_event("stopped-success.json", taskArn=started["taskArn"], startedBy="ecsrun/hello-demo"))
    # When the stop function runs, Then it wakes its own state at once and stops nothing
    sfn.add_response("send_task_success", {}, {"taskToken": "token-stop-1", "output": ANY})
    assert _stop()["stopRequested"] is False
    sfn.assert_no_pending_responses()
    record = stack.table.get_item(Key={"runId": "hello-demo"})["Item"]
    assert record.get("timedOut") is not True
