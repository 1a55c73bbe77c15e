"""The README and docs/ say true things: their links lead somewhere, their counts match the template, and the
commands the README shows run as written."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import yaml
from ecsrun.cli import main

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
NUMBERS = {"four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12}


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped (hyphens kept), spaces to hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.S)  # a "# comment" in a code block is no heading
    return {_slug(m) for m in re.findall(r"^#{1,6} (.+)$", text, flags=re.M)}


def _links(page: Path) -> list[str]:
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.S)
    return [target for target in re.findall(r"\]\(([^)\s]+)\)", text) if not re.match(r"[a-z]+:", target)]


class _Template(yaml.SafeLoader):
    """template.yaml with CloudFormation's short-form tags read as plain values."""


_Template.add_multi_constructor("!", lambda loader, suffix, node: None)


def _resources() -> dict[str, dict]:
    return yaml.load((ROOT / "template.yaml").read_text(), Loader=_Template)["Resources"]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_relative_link_leads_to_a_file_and_heading_that_exist(page: Path) -> None:
    # Given a page of the docs
    # When each relative link in it is followed
    broken = []
    for link in _links(page):
        path, _, anchor = link.partition("#")
        target = (page.parent / path).resolve() if path else page
        # Then its file exists, and so does the heading it names
        if not target.exists():
            broken.append(f"{link}: no such file")
        elif anchor and target.suffix == ".md" and anchor not in _anchors(target):
            broken.append(f"{link}: no heading #{anchor} in {target.name}")
    assert not broken, broken


def test_the_readme_is_a_front_door_that_links_every_page() -> None:
    # Given the README and the pages under docs/
    readme = (ROOT / "README.md").read_text()
    # Then its first lines are the two commands, it stays short, and it leads to every page
    assert [line.split("#")[0].strip() for line in readme.splitlines()[3:5]] == ["make demo", "make test"]
    assert len(readme.split()) < 1500, "five minutes' reading"
    unlinked = [p.name for p in PAGES[1:] if f"docs/{p.name}" not in readme]
    assert not unlinked


def test_the_counts_the_docs_give_are_the_templates() -> None:
    # Given the stack as template.yaml declares it
    resources = _resources().values()
    functions = sum(r["Type"] == "AWS::Serverless::Function" for r in resources)
    alarms = sum(r["Type"] == "AWS::CloudWatch::Alarm" for r in resources)
    operations = (ROOT / "docs" / "operations.md").read_text()
    # When the docs count them
    said_functions = re.search(r"(\w+) arm64 Python 3\.13 functions", operations)
    said_alarms = re.search(r"a CloudWatch dashboard, (\w+) alarms", operations)
    # Then they count right
    assert said_functions and NUMBERS[said_functions.group(1)] == functions
    assert said_alarms and NUMBERS[said_alarms.group(1)] == alarms


def _readme_ecsrun_commands() -> list[list[str]]:
    text = (ROOT / "README.md").read_text()
    commands = []
    for block in re.findall(r"```sh\n(.*?)```", text, flags=re.S):
        for line in block.splitlines():
            if line.startswith(".venv/bin/ecsrun "):
                commands.append(shlex.split(line, comments=True)[1:])
    return commands


# The exit status each of the README's local commands promises (docs/local-engine.md, docs/outcomes.md).
README_EXITS = {"local": 1, "validate": 2, "explain": 1}


def test_the_readmes_local_commands_run_as_written(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given the commands the README's "Try it locally" shows, run from the checkout as the README says
    monkeypatch.chdir(ROOT)
    commands = _readme_ecsrun_commands()
    assert sorted(c[0] for c in commands) == sorted(README_EXITS)
    for command in commands:
        # When each runs
        code = main(command)
        # Then it ends as the docs say: the failing run fails, the invalid request is refused, the OOM is a failure
        assert code == README_EXITS[command[0]], (command, capsys.readouterr())


# What `sam remote invoke` can invoke and what `sam logs -n` can read, by resource type (SAM CLI's docs:
# "sam remote invoke" supports Lambda, Step Functions, SQS and Kinesis; "sam logs" Lambda, API Gateway and
# Step Functions).
_REMOTE_INVOKABLE = {
    "AWS::Serverless::Function",
    "AWS::Serverless::StateMachine",
    "AWS::SQS::Queue",
    "AWS::Kinesis::Stream",
}
_LOGGABLE = {"AWS::Serverless::Function", "AWS::Serverless::StateMachine", "AWS::Serverless::Api"}


def _sam_commands() -> list[tuple[Path, list[str]]]:
    found = []
    for page in PAGES:
        text = page.read_text()
        lines = [m for block in re.findall(r"```\w*\n(.*?)```", text, flags=re.S) for m in block.splitlines()]
        lines += re.findall(r"`(sam [^`]+)`", text)
        for line in lines:
            bare = line.strip() in ("sam remote invoke", "sam logs", "sam sync")  # the command named in prose
            if re.match(r"sam (remote|logs|sync) ", line.strip()) and not bare:
                found.append((page, shlex.split(line, comments=True)))
    return found


def test_the_sam_commands_the_docs_show_name_what_the_stack_has() -> None:
    # Given every `sam remote invoke`, `sam logs` and `sam sync` the docs show
    commands = _sam_commands()
    assert {words[1] for _, words in commands} == {"remote", "logs", "sync"}
    resources = _resources()
    wrong = []
    for page, words in commands:
        where = f"{page.name}: {' '.join(words)}"
        # Then each names the stack, its resource is one of the template's that the command can use, and its
        # event file exists
        if "--stack-name" not in words:
            wrong.append(f"{where}: no --stack-name")
        if words[1] == "remote":
            positional = [
                w for i, w in enumerate(words[3:], 3) if not w.startswith("-") and not words[i - 1].startswith("-")
            ]
            if len(positional) != 1 or resources.get(positional[0], {}).get("Type") not in _REMOTE_INVOKABLE:
                wrong.append(f"{where}: {positional} is not a resource sam remote invoke can invoke")
            if "--event-file" not in words or not (ROOT / words[words.index("--event-file") + 1]).is_file():
                wrong.append(f"{where}: no event file that exists")
        named = words[words.index("-n") + 1] if words[1] == "logs" and "-n" in words else None
        if named and resources.get(named, {}).get("Type") not in _LOGGABLE:
            wrong.append(f"{where}: no such function")
    assert not wrong, wrong


def _serve_walkthrough() -> str:
    text = (ROOT / "docs" / "local-engine.md").read_text()
    section = text.split("## Real clients: `ecsrun local serve`", 1)[1]
    found = re.search(r"```sh\n(.*?)```", section, flags=re.S)
    assert found, "the local serve walkthrough has no sh block"
    return found.group(1)


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_the_local_serve_walkthrough_runs_as_written(tmp_path: Path) -> None:
    import contextlib
    import os
    import signal
    import subprocess

    # Given the walkthrough's commands exactly as docs/local-engine.md shows them, on a free port instead of 4580
    # (tests run side by side), from the checkout, with no AWS settings of this machine's
    script = _serve_walkthrough().replace("4580", str(_free_port()))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "ECSRUN_"))}
    # When bash runs them, stopping at the first that fails
    process = subprocess.Popen(
        ["bash", "-e", "-o", "pipefail", "-c", script],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = process.communicate(timeout=600)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)  # whatever the walkthrough left behind
    # Then every command succeeds: the run started with `ecsrun start` succeeds, its log reads back from S3, the
    # event reaches the local stack's bus, and no run ends Run.Duplicate (each has its own runId)
    assert process.returncode == 0, out[-3000:] + err[-3000:]
    assert "SUCCEEDED  exit codes: app 0" in out
    assert "hello from ecsrun-hello" in out
    assert '"FailedEntryCount": 0' in out
    assert "Run.Duplicate" not in out + err
    listed = out.rsplit('"FailedEntryCount": 0', 1)[1]  # what `ecsrun list` printed, last
    for run in ("hello-demo", "two-containers-demo", "hello-event"):
        assert run in listed, out


# The exit status each of local-engine.md's `local run` examples promises.
LOCAL_RUN_EXITS = {"failing.json": 1, "timeout.json": 1, "invalid.json": 2, "orders-nightly.json": 0}


def test_the_local_run_examples_run_as_written(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given the `ecsrun local run` examples docs/local-engine.md shows (the console-exported task definition with
    # its environment file and secret seeded among them), run from the checkout
    monkeypatch.chdir(ROOT)
    text = (ROOT / "docs" / "local-engine.md").read_text().split("## `ecsrun local run`", 1)[1]
    block = re.search(r"```sh\n(.*?)```", text, flags=re.S)
    assert block
    lines = block.group(1).replace("\\\n", " ").splitlines()
    commands = [shlex.split(line)[1:] for line in lines if line.startswith(".venv/bin/ecsrun ")]
    assert sorted(Path(c[2]).name for c in commands) == sorted(LOCAL_RUN_EXITS)
    for command in commands:
        # When each runs
        code = main(command)
        # Then it ends as the page says
        out, err = capsys.readouterr()
        assert code == LOCAL_RUN_EXITS[Path(command[2]).name], (command, out[-2000:], err[-2000:])
