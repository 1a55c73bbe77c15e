"""The pure FireLens rules: Fluent Bit's s3 key format, a task's prefix, records to log lines, completeness."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from ecsrun.domain import firelens
from ecsrun.domain.firelens import ContainerState, completeness
from ecsrun.domain.runtask import container_specs

TASK_ID = "3de392df6bfa470b97edaa6f482cd7a6"
TAG = firelens.tag("app", TASK_ID)


def _target(**options: str) -> firelens.FirelensTarget:
    target = firelens.target({"Name": "s3", "bucket": "logs", **options}, "log_router", "eu-west-1")
    assert target is not None
    return target


# ---- where the files are ----


def test_the_tag_is_container_firelens_task_id() -> None:
    # Given a container and a task id, Then FireLens's tag joins them as ECS documents
    assert firelens.tag("app", TASK_ID) == f"app-firelens-{TASK_ID}"


def test_tag_parts_follow_the_delimiters_as_fluent_bits_example() -> None:
    # Given Fluent Bit's documented example (tag my_app_name-logs.prod, delimiters ".-", format
    # /$TAG[2]/$TAG[0]/%Y/%m/%d/%H/%M/%S/$UUID.gz), at a time taken from the clock
    now = datetime.now(UTC)
    # When the key is rendered
    key = firelens.render_key(
        "/$TAG[2]/$TAG[0]/%Y/%m/%d/%H/%M/%S/$UUID.gz", "my_app_name-logs.prod", delimiters=".-",
        first_record=now, uuid="bgdHN1NM",
    )  # fmt: skip
    # Then it is the documented shape, without the request path's leading "/"
    assert key == f"prod/my_app_name/{now:%Y/%m/%d/%H/%M/%S}/bgdHN1NM.gz"


def test_the_task_prefix_ends_at_the_first_part_that_varies() -> None:
    # Given the default key format and the sample's
    for key_format, prefix in [
        (firelens.DEFAULT_KEY_FORMAT, f"fluent-bit-logs/{TAG}/"),
        ("/ecsrun-firelens/$TAG/%Y/%m/%d/%H_%M_%S-$UUID.log", f"ecsrun-firelens/{TAG}/"),
        ("/logs/$TAG[0]/$TAG/$INDEX", f"logs/{TAG}/{TAG}/"),
    ]:
        # When the task's files are located
        where = firelens.task_objects(key_format, TAG, TASK_ID, ".")
        # Then the prefix is everything fixed before the first time, $UUID or $INDEX
        assert where is not None and where.prefix == prefix


def test_rendered_keys_match_and_other_tasks_do_not() -> None:
    # Given the sample's format and a key Fluent Bit would write for this task now
    key_format = "/ecsrun-firelens/$TAG/%Y/%m/%d/%H_%M_%S-$UUID.log"
    now = datetime.now(UTC)
    ours = firelens.render_key(key_format, TAG, delimiters=".", first_record=now, uuid="Ab3dE6g8")
    where = firelens.task_objects(key_format, TAG, TASK_ID, ".")
    assert where is not None
    # Then that key matches, and so does a PutObject key with Fluent Bit's random suffix when $UUID is absent
    assert where.matches(ours)
    plain = firelens.task_objects("/x/$TAG/%Y", TAG, TASK_ID, ".")
    assert plain is not None and plain.matches(f"x/{TAG}/{now:%Y}-objectQw3rTy12")
    # And another task's, another container's or a longer task id's key does not
    assert not where.matches(ours.replace(TASK_ID, TASK_ID[:-1] + "0"))
    assert not where.matches(ours.replace("app-firelens", "api-firelens"))
    assert not where.matches(ours.replace(TASK_ID, TASK_ID + "ff"))


def test_a_format_that_names_the_task_only_after_a_varying_part_has_no_prefix() -> None:
    # Given formats whose task part comes after the time, or never
    for key_format in ["/logs/%Y/%m/$TAG/$UUID", "/logs/$UUID/$TAG", "/logs/static", "/$TAG[0]/%Y"]:
        # Then the task's files cannot be found by a prefix ($TAG[0] with "-" delimiters is the container only)
        assert firelens.task_objects(key_format, TAG, TASK_ID, ".-") is None, key_format


# ---- which containers ----


def test_container_specs_read_the_s3_output_from_the_app_options() -> None:
    # Given a task definition with a FireLens router and an app logging through it to s3, options in any case
    definition = {
        "containerDefinitions": [
            {"name": "log_router", "firelensConfiguration": {"type": "fluentbit"}},
            {
                "name": "app",
                "logConfiguration": {
                    "logDriver": "awsfirelens",
                    "options": {"Name": "s3", "Bucket": "b", "S3_Key_Format": "/k/$TAG/%Y", "compression": "gzip"},
                },
            },
            {"name": "other", "logConfiguration": {"logDriver": "awsfirelens", "options": {"Name": "cloudwatch"}}},
        ]
    }
    # When the specs are built
    specs = {s.name: s for s in container_specs(definition, "us-east-2")}
    # Then the app's FireLens target names the router, the bucket, the default region, and its format
    app = specs["app"].firelens
    assert app is not None
    assert (app.router, app.bucket, app.region, app.key_format) == ("log_router", "b", "us-east-2", "/k/$TAG/%Y")
    assert app.compression == "gzip" and app.date_key == "date"
    # And a container with another output, and the router itself, have none
    assert specs["other"].firelens is None and specs["log_router"].firelens is None


def test_awsfirelens_without_a_router_is_not_a_firelens_target() -> None:
    # Given awsfirelens options but no container with firelensConfiguration
    definition = {
        "containerDefinitions": [
            {"name": "app", "logConfiguration": {"logDriver": "awsfirelens", "options": {"Name": "s3", "bucket": "b"}}}
        ]
    }
    # Then there is nothing to read back
    assert container_specs(definition, "us-east-1")[0].firelens is None


# ---- records ----


def test_a_firelens_record_becomes_its_log_message_at_its_date() -> None:
    # Given a record as FireLens with ECS metadata and Fluent Bit's iso8601 date write it
    now = datetime.now(UTC).replace(microsecond=681000)
    line = json.dumps(
        {
            "date": now.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "source": "stderr",
            "log": "116.82.105.169 - 501",
            "container_id": "e54cccfac2b8",
            "container_name": "/ecs-demo-6-container2-a4eafbb3d4c7f1e16e00",
            "ecs_cluster": "mycluster",
            "ecs_task_arn": f"arn:aws:ecs:us-east-2:012345678910:task/mycluster/{TASK_ID}",
            "ecs_task_definition": "demo:7",
        }
    )
    # When it is read
    event = firelens.record_event(line, _target(), fallback_ms=0)
    # Then the message is `log`, the time the date's, the stream its source
    assert event == {"timestamp": round(now.timestamp() * 1000), "message": "116.82.105.169 - 501", "stream": "stderr"}


@pytest.mark.parametrize("date_format", ["double", "epoch", "epoch_ms", "java_sql_timestamp", "iso8601"])
def test_every_json_date_format_is_read(date_format: str) -> None:
    # Given a record stamped in each of Fluent Bit's json_date_formats, a second ago
    when = datetime.now(UTC).replace(microsecond=250000) - timedelta(seconds=1)
    value: object = {
        "double": when.timestamp(),
        "epoch": int(when.timestamp()),
        "epoch_ms": int(when.timestamp() * 1000),
        "java_sql_timestamp": when.strftime("%Y-%m-%d %H:%M:%S.%f"),
        "iso8601": when.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
    }[date_format]
    event = firelens.record_event(json.dumps({"date": value, "log": "x"}), _target(json_date_format=date_format), 0)
    # Then the time is the record's (to the second for epoch)
    assert event is not None
    expected = int(when.timestamp()) * 1000 if date_format == "epoch" else round(when.timestamp() * 1000)
    assert event["timestamp"] == expected


def test_records_without_date_or_log_and_raw_lines_are_kept() -> None:
    fallback = round(datetime.now(UTC).timestamp() * 1000)
    # Given json_date_key false: the fallback time (the file's) stamps the record
    no_date = firelens.record_event('{"log": "plain"}', _target(json_date_key="false"), fallback)
    assert no_date == {"timestamp": fallback, "message": "plain"}
    # Given a record with no `log` field: the record is the message, minus its date
    other = firelens.record_event('{"date": 1.5, "cpu": 3}', _target(json_date_format="double"), fallback)
    assert other == {"timestamp": 1500, "message": '{"cpu": 3}'}
    # Given log_key log: each line is the message itself; a blank line is none
    assert firelens.record_event("raw text\n", _target(log_key="log"), fallback) == {
        "timestamp": fallback,
        "message": "raw text",
    }
    assert firelens.record_event("  \n", _target(), fallback) is None


# ---- completeness ----

ROUTER = ContainerState("log_router", 0)
APP = ContainerState("app", 0)


def test_complete_when_the_router_exited_0_after_the_app_and_nothing_is_open() -> None:
    assert completeness(router=ROUTER, senders=[APP], stop_code="EssentialContainerExited", open_uploads=[]) == (
        firelens.Completeness(True)
    )


def test_a_router_killed_or_unknown_is_incomplete() -> None:
    # Given a router killed at the end of its stopTimeout, one with no exit code, and none at all
    killed = completeness(
        router=ContainerState("log_router", 137), senders=[APP], stop_code="UserInitiated", open_uploads=[]
    )
    unknown = completeness(router=ContainerState("log_router", None), senders=[APP], stop_code=None, open_uploads=[])
    missing = completeness(router=None, senders=[APP], stop_code=None, open_uploads=[])
    # Then none is complete, and each says why
    assert not killed.complete and "exited 137" in (killed.reason or "")
    assert not unknown.complete and "no exit code" in (unknown.reason or "")
    assert not missing.complete and "no log router" in (missing.reason or "")


def test_a_router_that_ended_the_task_before_its_senders_is_incomplete() -> None:
    # Given an essential router that exited 0 by itself: ECS then stopped the app (SIGTERM, 143)
    early = completeness(
        router=ROUTER, senders=[ContainerState("app", 143)], stop_code="EssentialContainerExited", open_uploads=[]
    )
    # Then lines the app wrote afterwards never reached it
    assert not early.complete and "exited before app" in (early.reason or "")
    # But the same exit codes after a StopTask (ECS stops the app first, then the router) are complete
    stopped = completeness(
        router=ROUTER, senders=[ContainerState("app", 143)], stop_code="UserInitiated", open_uploads=[]
    )
    assert stopped.complete


def test_an_open_multipart_upload_is_incomplete() -> None:
    judged = completeness(router=ROUTER, senders=[APP], stop_code="EssentialContainerExited", open_uploads=["k/1"])
    assert not judged.complete and "multipart upload" in (judged.reason or "") and judged.open_uploads == ["k/1"]
