"""`validate`'s warnings and `explain` on partial records, from outside (the installed `ecsrun` in a subprocess)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.conftest import EVENTS

ECSRUN = str(Path(sys.executable).parent / "ecsrun")


def ecsrun(tmp_path: Path, *args: str) -> Any:
    return subprocess.run([ECSRUN, *args], capture_output=True, text=True, timeout=60, check=False, cwd=tmp_path)


def _write(tmp_path: Path, name: str, document: Any) -> str:
    (tmp_path / name).write_text(json.dumps(document))
    return name


def _definition(*containers: dict[str, Any]) -> dict[str, Any]:
    return {"family": "ecsrun-hello", "cpu": "256", "memory": "512", "containerDefinitions": list(containers)}


APP = json.loads((EVENTS / "task-definitions" / "hello.json").read_text())["containerDefinitions"][0]
REQUEST = str(EVENTS / "requests" / "hello.json")


# ---- validate: warnings that do not fail ----


def test_a_container_without_awslogs_is_warned_about_without_failing(tmp_path: Path) -> None:
    # Given a task definition whose sidecar has no log configuration and whose router logs elsewhere
    quiet = {"name": "quiet", "image": "busybox", "essential": False}
    router = {"name": "router", "image": "fluent-bit", "logConfiguration": {"logDriver": "awsfirelens"}}
    definition = _write(tmp_path, "td.json", _definition(APP, quiet, router))
    # When the request is validated with it
    done = ecsrun(tmp_path, "validate", REQUEST, "--task-definition", definition)
    # Then it is valid (exit 0), and each container whose logs ecsrun cannot copy is named
    assert (done.returncode, done.stderr) == (0, "")
    lines = done.stdout.splitlines()
    assert lines[0].endswith(": a valid run request")
    assert lines[1].startswith("warning: containerDefinitions[1].logConfiguration: container quiet has no log")
    assert lines[2].startswith("warning: containerDefinitions[2].logConfiguration: container router logs with ")
    assert all("ecsrun cannot copy its logs" in line for line in lines[1:])
    # And as JSON, in the shared document, under "warnings"
    done = ecsrun(tmp_path, "validate", REQUEST, "--task-definition", definition, "--output", "json")
    report = json.loads(done.stdout)
    assert (done.returncode, report["status"], report["valid"]) == (0, "SUCCEEDED", True)
    assert [(w["container"], w["field"]) for w in report["warnings"]] == [
        ("quiet", "containerDefinitions[1].logConfiguration"),
        ("router", "containerDefinitions[2].logConfiguration"),
    ]


def test_awslogs_without_a_stream_prefix_is_warned_about(tmp_path: Path) -> None:
    app = json.loads(json.dumps(APP))
    del app["logConfiguration"]["options"]["awslogs-stream-prefix"]
    done = ecsrun(tmp_path, "validate", REQUEST, "--task-definition", _write(tmp_path, "td.json", _definition(app)))
    assert done.returncode == 0
    assert done.stdout.splitlines()[1].startswith(
        "warning: containerDefinitions[0].logConfiguration.options: container app has no awslogs-stream-prefix"
    )


def test_a_task_definition_that_logs_everything_gets_no_warning(tmp_path: Path) -> None:
    done = ecsrun(tmp_path, "validate", REQUEST, "--task-definition", str(EVENTS / "task-definitions" / "hello.json"))
    assert (done.returncode, done.stdout.splitlines()) == (0, [f"{REQUEST}: a valid run request"])


# ---- explain: partial records ----


def _event_without(*fields: str) -> dict[str, Any]:
    event = json.loads((EVENTS / "ecs-events" / "stopped-nonzero.json").read_text())
    for field in fields:
        event["detail"].pop(field, None)
    return event


def test_a_record_missing_fields_the_verdict_does_not_need_is_judged_and_they_are_named(tmp_path: Path) -> None:
    # Given an event with no taskArn, clusterArn or stoppedAt (a hand-trimmed or logged record)
    path = _write(tmp_path, "partial.json", _event_without("taskArn", "clusterArn", "stoppedAt"))
    # When explained
    done = ecsrun(tmp_path, "explain", path)
    # Then it is judged as the full event is, and the missing fields are named as not needed
    assert (done.returncode, done.stderr) == (1, "")
    lines = done.stdout.splitlines()
    assert lines[0] == "FAILED  ECS.ContainerExitedNonZero"
    assert lines[-1] == "missing: taskArn, clusterArn, stoppedAt (none of them is needed for the verdict)"
    done = ecsrun(tmp_path, "explain", path, "--output", "json")
    report = json.loads(done.stdout)
    assert (report["status"], report["error"], report["taskArn"]) == ("FAILED", "ECS.ContainerExitedNonZero", None)
    assert report["missingFields"] == ["taskArn", "clusterArn", "stoppedAt"]


def test_a_describe_tasks_task_missing_its_arn_and_a_containers_name_is_judged(tmp_path: Path) -> None:
    task = json.loads((EVENTS / "ecs-events" / "stopped-success.json").read_text())["detail"]
    del task["taskArn"]
    del task["containers"][0]["name"]
    done = ecsrun(tmp_path, "explain", _write(tmp_path, "task.json", task), "--output", "json")
    report = json.loads(done.stdout)
    assert (done.returncode, report["status"]) == (0, "SUCCEEDED")
    assert report["missingFields"][0] == "taskArn" and "containers[0].name" in report["missingFields"]


def test_a_record_missing_what_the_verdict_needs_says_so(tmp_path: Path) -> None:
    done = ecsrun(tmp_path, "explain", _write(tmp_path, "no-containers.json", _event_without("containers")))
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stdout.splitlines()[-1].startswith("missing: containers (containers would change the verdict")
