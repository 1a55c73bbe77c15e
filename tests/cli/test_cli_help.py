"""`ecsrun --help` is worth reading: every command says what it does and how it exits; every option is explained."""

from __future__ import annotations

import argparse

import pytest
from ecsrun.cli import build_parser


def _leaf_commands() -> dict[str, argparse.ArgumentParser]:
    leaves: dict[str, argparse.ArgumentParser] = {}

    def walk(parser: argparse.ArgumentParser, path: str) -> None:
        subparsers = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if not subparsers:
            leaves[path] = parser
        for action in subparsers:
            for name, child in action.choices.items():
                walk(child, f"{path} {name}".strip())

    walk(build_parser(), "")
    return leaves


LEAVES = _leaf_commands()


def test_the_walk_finds_every_command() -> None:
    assert set(LEAVES) == {
        "local run", "local event", "local serve", "validate", "explain", "logs", "start", "status", "list", "stop",
        "timeline", "smoke", "capacity",
    }  # fmt: skip


@pytest.mark.parametrize("command", sorted(LEAVES))
def test_each_command_says_what_it_does_and_how_it_exits(command: str) -> None:
    description = LEAVES[command].description or ""
    assert len(description) > 80, command
    assert "Exits 0" in description, command


@pytest.mark.parametrize("command", sorted(LEAVES))
def test_each_argument_is_explained(command: str) -> None:
    for action in LEAVES[command]._actions:
        if isinstance(action, argparse._HelpAction) or action.help == argparse.SUPPRESS:
            continue
        assert action.help and len(action.help) > 10, (command, action.dest)


def test_the_top_level_help_lists_commands_examples_and_environment(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        build_parser().parse_args(["--help"])
    assert exited.value.code == 0
    text = capsys.readouterr().out
    for expected in ("local", "start", "status", "list", "logs", "validate", "explain"):
        assert expected in text
    assert "examples:" in text and "ECSRUN_STACK_NAME" in text
