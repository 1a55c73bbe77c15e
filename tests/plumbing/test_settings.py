"""Settings come from the function's environment, checked as strictly as the pydantic model they replace did:
a variable that is missing or not what its field must be is named, the rest keep their defaults."""

from __future__ import annotations

import pytest
from ecsrun.plumbing.settings import Settings, SettingsError

REQUIRED = {"RUNS_TABLE": "runs", "LOGS_BUCKET": "logs"}


def test_defaults_apply_to_variables_not_set() -> None:
    # Given only the required variables, When the settings are read, Then every other field has its default
    settings = Settings.from_env(REQUIRED)
    assert (settings.runs_table, settings.logs_bucket) == ("runs", "logs")
    assert settings.started_by_prefix == "ecsrun/" and settings.log_settle_seconds == 10
    assert settings.event_bus_name is None and settings.redact_secrets is True
    assert settings.max_array_size == 10_000 and settings.pass_role_arns == ""


def test_values_are_parsed_by_the_field_type() -> None:
    settings = Settings.from_env(
        {**REQUIRED, "LOG_SETTLE_SECONDS": " 0 ", "REDACT_SECRETS": "False", "EVENT_BUS_NAME": "bus"}
    )
    assert settings.log_settle_seconds == 0 and settings.redact_secrets is False
    assert settings.event_bus_name == "bus"


@pytest.mark.parametrize("value, expected", [("1", True), ("yes", True), ("ON", True), ("0", False), ("off", False)])
def test_booleans_read_as_pydantic_read_them(value: str, expected: bool) -> None:
    assert Settings.from_env({**REQUIRED, "REDACT_SECRETS": value}).redact_secrets is expected


@pytest.mark.parametrize(
    "environ, message",
    [
        ({"LOGS_BUCKET": "logs"}, "RUNS_TABLE is not set"),
        ({**REQUIRED, "RUNS_TABLE": ""}, "RUNS_TABLE must not be empty"),
        ({**REQUIRED, "LOG_TAIL_LINES": "201"}, "LOG_TAIL_LINES must be at most 200; got 201"),
        ({**REQUIRED, "DEFAULT_TIMEOUT_SECONDS": "0"}, "DEFAULT_TIMEOUT_SECONDS must be at least 1; got 0"),
        ({**REQUIRED, "LOG_SETTLE_SECONDS": "ten"}, "LOG_SETTLE_SECONDS must be an integer; got 'ten'"),
        ({**REQUIRED, "REDACT_SECRETS": "maybe"}, "REDACT_SECRETS must be true or false; got 'maybe'"),
        ({**REQUIRED, "STARTED_BY_PREFIX": "no-slash"}, "STARTED_BY_PREFIX must match"),
    ],
    ids=["missing", "empty", "above", "below", "not an integer", "not a boolean", "pattern"],
)
def test_a_misconfigured_variable_is_named(environ: dict[str, str], message: str) -> None:
    # Given an environment with one variable wrong, When the settings are read, Then the error names it
    with pytest.raises(SettingsError) as raised:
        Settings.from_env(environ)
    assert str(raised.value).startswith(message)
