"""`ecsrun capacity` from outside: the quotas a number of runs a day use, from the calls per run `make bench`
measured (the file the CLI ships with), as a table or one JSON document in the documented shape; usage errors
in one line with exit 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from ecsrun.cli import main
from ecsrun.cli.capacity import load_calls

from tests.conftest import ROOT

ECSRUN = str(Path(sys.executable).parent / "ecsrun")
SCHEMA = json.loads((ROOT / "docs" / "cli-output.schema.json").read_text())


def capacity(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    status = main(["capacity", *args])
    out, err = capsys.readouterr()
    return status, out, err


def document(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    status, out, err = capacity(capsys, *args, "--output", "json")
    assert status == 0, err
    parsed: dict[str, Any] = json.loads(out)
    jsonschema.validate(parsed, SCHEMA)
    return parsed


def test_the_installed_cli_finds_its_measured_calls_and_prints_a_table(tmp_path: Path) -> None:
    # Given the installed console script, run away from the checkout
    done = subprocess.run([ECSRUN, "capacity", "--runs-per-day", "100000"], capture_output=True, text=True,
                          cwd=tmp_path, timeout=60, check=False)  # fmt: skip
    # Then it exits 0 with a table: a header, one row per quota, and the binding one
    assert done.returncode == 0, done.stderr
    assert "API" in done.stdout and "utilization" in done.stdout
    assert "binding: CloudWatch Logs GetLogEvents (cannot be raised)" in done.stdout


def test_read_back_at_ten_million_shows_its_real_ceiling_get_log_events(capsys: pytest.CaptureFixture[str]) -> None:
    # When 10 M runs a day copy their logs back from CloudWatch Logs
    report = document(capsys, "--runs-per-day", "10000000", "--log-mode", "read-back", "--region", "us-east-1")
    # Then the binding quota is GetLogEvents, which cannot be raised, far over its 10/s
    binding = report["binding"]
    assert binding["api"] == "CloudWatchLogs.GetLogEvents"
    assert binding["adjustable"] is False and binding["quotaPerSecond"] == 10
    assert binding["utilization"] > 1
    # And its ceiling follows from the measured calls: 10/s x 86,400 / calls per run
    assert binding["maxRunsPerDay"] == int(10 * 86_400 / binding["callsPerRun"])
    # And every call count comes from the measured file, not from the command
    measured = load_calls()["modes"]["read-back"]
    assert binding["callsPerRun"] == pytest.approx(measured["CloudWatchLogs.GetLogEvents"], abs=1e-3)


def test_firelens_at_ten_million_uses_no_quota_that_cannot_be_raised_above_its_limit(
    capsys: pytest.CaptureFixture[str],
) -> None:
    report = document(capsys, "--runs-per-day", "10000000", "--log-mode", "firelens", "--region", "us-east-1")
    fixed = [q for q in report["quotas"] if not q["adjustable"]]
    assert all(q["utilization"] <= 1 for q in fixed), fixed
    assert "CloudWatchLogs.GetLogEvents" not in {q["api"] for q in report["quotas"]}
    # And the binding quota is the most used one, and it can be raised
    assert report["binding"] == max(report["quotas"], key=lambda q: q["utilization"])
    assert report["binding"]["adjustable"] is True
    # And the document says the FireLens figures' provenance
    assert report["measured"]["derived"]


def test_more_containers_and_more_log_mean_more_reads(capsys: pytest.CaptureFixture[str]) -> None:
    # Given the typical run (2 containers x 5 MB) and one of 4 containers x 50 MB
    typical = document(capsys, "--runs-per-day", "1000")
    large = document(capsys, "--runs-per-day", "1000", "--containers", "4", "--log-mb", "50")

    def reads(report: dict[str, Any]) -> float:
        return next((q["callsPerRun"] for q in report["quotas"] if q["api"] == "CloudWatchLogs.GetLogEvents"), 0)

    # Then the larger run reads many more pages, and still starts one task
    assert reads(large) > reads(typical) * 10
    run_task = [next(q["callsPerRun"] for q in r["quotas"] if q["api"] == "ECS.RunTask") for r in (typical, large)]
    assert run_task == [1, 1]


def test_the_region_decides_step_functions_quotas(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def transitions(report: dict[str, Any]) -> float:
        return next(q["quotaPerSecond"] for q in report["quotas"] if q["api"] == "StepFunctions.StateTransitions")

    assert transitions(document(capsys, "--runs-per-day", "1e6", "--region", "eu-west-1")) == 5000
    assert transitions(document(capsys, "--runs-per-day", "1e6", "--region", "ap-southeast-2")) == 800
    # Without --region: AWS_REGION, as every other command reads it
    monkeypatch.setenv("AWS_REGION", "sa-east-1")
    assert document(capsys, "--runs-per-day", "1e6")["region"] == "sa-east-1"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--runs-per-day", "-5"], "--runs-per-day must be a positive number"),
        (["--runs-per-day", "0"], "--runs-per-day must be a positive number"),
        (["--runs-per-day", "1000", "--containers", "0"], "--containers must be a positive number"),
        (["--runs-per-day", "1000", "--log-mb", "-1"], "--log-mb must be a non-negative number"),
        (["--runs-per-day", "1000", "--region", "Mars"], "is not a Region name"),
        (["--runs-per-day", "1000", "--calls-file", "/nonexistent/calls.json"], "cannot read the measured calls"),
    ],
)
def test_bad_values_are_one_line_and_exit_2(capsys: pytest.CaptureFixture[str], args: list[str], message: str) -> None:
    status, out, err = capacity(capsys, *args)
    assert status == 2
    assert out == ""
    assert err.count("\n") == 1 and message in err and err.startswith("ecsrun: ")


def test_argparse_errors_exit_2_with_the_usage(capsys: pytest.CaptureFixture[str]) -> None:
    # A missing --runs-per-day, a log mode that does not exist: the usage and one error line, as every command
    for args in ([], ["--runs-per-day", "10", "--log-mode", "syslog"], ["--runs-per-day", "lots"]):
        with pytest.raises(SystemExit) as exited:
            main(["capacity", *args])
        assert exited.value.code == 2
        err = capsys.readouterr().err
        assert err.startswith("usage: ecsrun capacity") and "error:" in err.splitlines()[-1]


def test_a_measured_file_without_the_mode_asked_for_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    calls = tmp_path / "calls.json"
    calls.write_text(json.dumps({"typical": {"containers": 2, "logMB": 5}, "modes": {"read-back": {}}}))
    status, _, err = capacity(capsys, "--runs-per-day", "10", "--log-mode", "firelens", "--calls-file", str(calls))
    assert status == 2 and "no 'firelens' mode" in err
