"""Callers catch ecsrun's errors by name: a parent state machine (examples/parent-state-machine/parent.asl.json,
the file users deploy) starts ecsrun with `.waitForTaskToken` and the token in the request; ecsrun answers it.

Each test runs the parent and ecsrun on the local engine, and checks what the parent saw, and that every answer
the token got was the same one (a retried or late answer never says something else)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ecsrun.adapters.stepfunctions import Callbacks
from ecsrun.domain.callback import Answer
from ecsrun.local.engine import follow
from ecsrun.local.runtime import LocalAws

from tests.conftest import EVENTS, ROOT

PARENT_ASL = ROOT / "examples" / "parent-state-machine" / "parent.asl.json"


@pytest.fixture
def aws() -> Iterator[LocalAws]:
    with LocalAws() as local:
        yield local


@pytest.fixture
def answers(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, Answer]]:
    """Every answer ecsrun's functions give a caller's token, in order."""
    given: list[tuple[str, Answer]] = []
    real = Callbacks.answer

    def record(self: Callbacks, token: str, answer: Answer) -> str | None:
        given.append((token, answer))
        return real(self, token, answer)

    monkeypatch.setattr(Callbacks, "answer", record)
    return given


def _parent(aws: LocalAws) -> str:
    """The example parent, deployed next to the local ecsrun stack as its template would deploy it."""
    definition = PARENT_ASL.read_text().replace("${EcsrunStateMachineArn}", aws.state_machine_arn)
    sfn = aws.client("stepfunctions")
    role = aws.client("iam").get_role(RoleName="ecsrun-local")["Role"]["Arn"]
    return str(sfn.create_state_machine(name="nightly-report", definition=definition, roleArn=role)["stateMachineArn"])


def _register(aws: LocalAws, name: str) -> None:
    aws.register_task_definition(json.loads((EVENTS / "task-definitions" / f"{name}.json").read_text()))


def _input(task_definition: str, run_id: str, timeout_seconds: int = 120) -> dict[str, Any]:
    return {
        "runId": run_id,
        "cluster": "default",
        "taskDefinition": task_definition,
        "subnets": ["subnet-0123456789abcdef0"],
        "securityGroups": ["sg-0123456789abcdef0"],
        "timeoutSeconds": timeout_seconds,
    }


def _run_parent(aws: LocalAws, parent: str, execution_input: dict[str, Any], timeout: float = 120) -> dict[str, Any]:
    sfn = aws.client("stepfunctions")
    arn = sfn.start_execution(stateMachineArn=parent, name="tonight", input=json.dumps(execution_input))["executionArn"]
    return _wait_for_end(aws, arn, timeout)


def _wait_for_end(aws: LocalAws, arn: str, timeout: float = 120) -> dict[str, Any]:
    sfn = aws.client("stepfunctions")
    deadline = time.monotonic() + timeout
    while (described := sfn.describe_execution(executionArn=arn))["status"] == "RUNNING":
        assert time.monotonic() < deadline, "the parent is still waiting"
        time.sleep(0.05)
    return dict(described)


def _ecsrun_execution(aws: LocalAws) -> dict[str, Any]:
    [execution] = aws.client("stepfunctions").list_executions(stateMachineArn=aws.state_machine_arn)["executions"]
    return dict(execution)


def _one_answer(answers: list[tuple[str, Answer]]) -> Answer:
    """Every answer the token got is the same answer (retries and late safety nets never disagree)."""
    assert answers, "the caller's token was never answered"
    assert len({token for token, _ in answers}) == 1
    assert len({answer for _, answer in answers}) == 1, answers
    return answers[0][1]


def test_a_parent_gets_the_runs_output_when_it_succeeds(aws: LocalAws, answers: list[tuple[str, Answer]]) -> None:
    # Given the example parent, and a task that succeeds
    parent = _parent(aws)
    _register(aws, "hello")
    # When the parent runs it through ecsrun with a callback
    ended = _run_parent(aws, parent, _input("ecsrun-hello", "report-ok"))
    # Then the parent succeeds with ecsrun's output: the run, its task and where its logs are
    assert ended["status"] == "SUCCEEDED", ended
    output = json.loads(ended["output"])
    assert (output["runId"], output["status"]) == ("report-ok", "SUCCEEDED")
    assert output["task"]["containers"][0]["exitCode"] == 0
    assert output["logs"]["manifestKey"] == "runs/report-ok/manifest.json"
    # And ecsrun's own execution ended the same way, the token answered once
    # (once it has ended: the parent, answered from CopyLogs, may end before ecsrun's own last transitions)
    child = _wait_for_end(aws, _ecsrun_execution(aws)["executionArn"], timeout=30)
    assert child["status"] == "SUCCEEDED"
    assert _one_answer(answers).succeeded
    record = aws.client("dynamodb").get_item(TableName="ecsrun-local-runs", Key={"runId": {"S": "report-ok"}})
    assert record["Item"]["callerAnswer"]["S"] == "delivered"


def test_a_parent_catches_a_non_zero_exit_by_its_name(aws: LocalAws, answers: list[tuple[str, Answer]]) -> None:
    # Given the example parent, whose Catch names ECS.ContainerExitedNonZero, and a task that exits 3
    parent = _parent(aws)
    _register(aws, "failing")
    # When the parent runs it through ecsrun with a callback
    ended = _run_parent(aws, parent, _input("ecsrun-failing", "report-exit-3"))
    # Then the parent's Catch matched the name, not States.TaskFailed: it ended in its own ReportFailed state
    assert (ended["status"], ended["error"]) == ("FAILED", "Report.Failed"), ended
    # And the cause is ecsrun's JSON document: the exit code, a message, the last log lines
    cause = json.loads(ended["cause"])
    assert cause["error"] == "ECS.ContainerExitedNonZero"
    assert cause["task"]["containers"][0]["exitCode"] == 3
    assert cause["lastLogLines"]["lines"]
    # And ecsrun's own execution failed with the same name, the token answered once
    # (once it has ended: the parent, answered from CopyLogs, may end before ecsrun's own last transitions)
    child = _wait_for_end(aws, _ecsrun_execution(aws)["executionArn"], timeout=30)
    assert child["error"] == "ECS.ContainerExitedNonZero"
    assert _one_answer(answers).error == "ECS.ContainerExitedNonZero"


def test_an_invalid_request_still_answers_the_token(aws: LocalAws, answers: list[tuple[str, Answer]]) -> None:
    # Given the example parent, and a request ecsrun refuses (a runId with a space and a '!')
    parent = _parent(aws)
    _register(aws, "hello")
    # When the parent runs it
    ended = _run_parent(aws, parent, _input("ecsrun-hello", "bad id!"))
    # Then the parent fails with RunRequest.Invalid and ecsrun's list of problems, without waiting for a timeout:
    # ExecutionEnded answered it from the end ecsrun's execution had, and only once
    assert (ended["status"], ended["error"]) == ("FAILED", "RunRequest.Invalid"), ended
    assert [p["field"] for p in json.loads(ended["cause"])["problems"]] == ["runId"]
    ecsrun_end = aws.client("stepfunctions").describe_execution(executionArn=_ecsrun_execution(aws)["executionArn"])
    assert ecsrun_end["error"] == "RunRequest.Invalid"
    assert _one_answer(answers).error == "RunRequest.Invalid"
    # And no task was started
    assert aws.agent._tasks == {}


def test_an_aborted_run_answers_the_parent_with_run_aborted(aws: LocalAws, answers: list[tuple[str, Answer]]) -> None:
    # Given the example parent running a long task through ecsrun
    parent = _parent(aws)
    _register(aws, "slow")
    sfn = aws.client("stepfunctions")
    arn = sfn.start_execution(
        stateMachineArn=parent, name="tonight", input=json.dumps(_input("ecsrun-slow", "report-aborted", 300))
    )["executionArn"]
    _wait_until(lambda: any(t.started_at and not t.done.is_set() for t in aws.agent._tasks.values()))
    # When an operator stops ecsrun's execution (the console, or `ecsrun stop`)
    child = _ecsrun_execution(aws)["executionArn"]
    stopping = threading.Thread(target=lambda: follow(aws, child))  # delivers the end to ExecutionEnded
    sfn.stop_execution(executionArn=child, cause="operator")
    stopping.start()
    ended = _wait_for_end(aws, arn)
    stopping.join(timeout=60)
    # Then the parent learns it by name, Run.Aborted, instead of waiting for its own timeout
    assert (ended["status"], ended["error"]) == ("FAILED", "Run.Aborted"), ended
    assert json.loads(ended["cause"])["runId"] == "report-aborted"
    # And the task was stopped, and every answer the token got was that one
    assert all(t.done.is_set() for t in aws.agent._tasks.values())
    assert _one_answer(answers).error == "Run.Aborted"


def test_a_timed_out_run_answers_run_timed_out_after_its_logs_are_copied(
    aws: LocalAws, answers: list[tuple[str, Answer]]
) -> None:
    # Given the example parent, and a task that outlives the run's timeoutSeconds (2)
    parent = _parent(aws)
    _register(aws, "slow")
    # When the parent runs it
    ended = _run_parent(aws, parent, _input("ecsrun-slow", "report-slow", timeout_seconds=2))
    # Then the parent fails with ecsrun's own name, and the cause has the lines written before the stop
    assert (ended["status"], ended["error"]) == ("FAILED", "Run.TimedOut"), ended
    assert json.loads(ended["cause"])["lastLogLines"]["lines"]
    assert _one_answer(answers).error == "Run.TimedOut"


def test_a_taken_run_id_answers_run_duplicate_and_starts_nothing(
    aws: LocalAws, answers: list[tuple[str, Answer]]
) -> None:
    # Given a run that already used runId report-twice
    parent = _parent(aws)
    _register(aws, "hello")
    assert _run_parent(aws, parent, _input("ecsrun-hello", "report-twice"))["status"] == "SUCCEEDED"
    answers.clear()
    # When the parent runs again with the same runId (a new execution, a new token)
    sfn = aws.client("stepfunctions")
    arn = sfn.start_execution(
        stateMachineArn=parent, name="tomorrow", input=json.dumps(_input("ecsrun-hello", "report-twice"))
    )["executionArn"]
    ended = _wait_for_end(aws, arn)
    # Then it is told Run.Duplicate, naming the first execution, and no second task ran
    assert (ended["status"], ended["error"]) == ("FAILED", "Run.Duplicate"), ended
    assert json.loads(ended["cause"])["firstExecutionArn"]
    assert len(aws.agent._tasks) == 1
    assert _one_answer(answers).error == "Run.Duplicate"


def test_an_array_parent_answers_once_for_all_its_children(aws: LocalAws, answers: list[tuple[str, Answer]]) -> None:
    # Given a parent that runs an array of three through ecsrun, one child failing
    _register(aws, "array")
    request = json.loads((EVENTS / "requests" / "array.json").read_text())
    request["array"] = {"items": ["a", "fail", "b"]}
    run_array = {
        "StartAt": "RunArray",
        "States": {
            "RunArray": {
                "Type": "Task",
                "Resource": "arn:aws:states:::states:startExecution.waitForTaskToken",
                "Parameters": {
                    "StateMachineArn": aws.state_machine_arn,
                    "Input": {**request, "callbackTaskToken.$": "$$.Task.Token"},
                },
                "Catch": [{"ErrorEquals": ["Run.ArrayFailed"], "ResultPath": "$.failure", "Next": "Caught"}],
                "End": True,
            },
            "Caught": {"Type": "Fail", "Error": "Nightly.SomeFilesFailed", "CausePath": "$.failure.Cause"},
        },
    }
    role = aws.client("iam").get_role(RoleName="ecsrun-local")["Role"]["Arn"]
    parent = aws.client("stepfunctions").create_state_machine(
        name="nightly-files", definition=json.dumps(run_array), roleArn=role
    )["stateMachineArn"]
    # When it runs
    ended = _run_parent(aws, parent, {}, timeout=180)
    # Then the parent caught Run.ArrayFailed once the whole array ended, with the children's counts
    assert (ended["status"], ended["error"]) == ("FAILED", "Nightly.SomeFilesFailed"), ended
    counts = json.loads(ended["cause"])["array"]
    assert (counts["size"], counts["succeeded"], counts["failed"]) == (3, 2, 1)
    # And only the parent's end answered the token: no child's did
    assert _one_answer(answers).error == "Run.ArrayFailed"


def _wait_until(condition: Any, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.05)


def test_the_example_parent_is_the_one_its_template_deploys() -> None:
    # Given the example's SAM template
    template = (PARENT_ASL.parent / "template.yaml").read_text()
    # Then it deploys this ASL, with the ecsrun state machine substituted in
    assert "DefinitionUri: parent.asl.json" in template
    assert "EcsrunStateMachineArn: !Ref EcsrunStateMachineArn" in template
    assert "${EcsrunStateMachineArn}" in PARENT_ASL.read_text()


__all__ = ["Path"]


def test_a_parent_gets_the_result_its_task_handed_back(aws: LocalAws, answers: list[tuple[str, Answer]]) -> None:
    # Given the example parent, and a task that prints a result line and succeeds
    parent = _parent(aws)
    definition = json.loads((EVENTS / "task-definitions" / "hello.json").read_text())
    definition["family"] = "ecsrun-result"
    definition["containerDefinitions"][0]["command"] = ["sh", "-c", "echo '::ecsrun-result::{\"rows\": 42}'"]
    aws.register_task_definition(definition)
    # When the parent runs it through ecsrun with a callback
    ended = _run_parent(aws, parent, _input("ecsrun-result", "report-result"))
    # Then the callback's output (the parent's output) carries the result
    assert ended["status"] == "SUCCEEDED", ended
    assert json.loads(ended["output"])["result"] == {"rows": 42}
    assert json.loads(_one_answer(answers).output or "{}")["result"] == {"rows": 42}
