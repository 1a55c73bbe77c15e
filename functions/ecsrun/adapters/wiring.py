"""The adapters a handler needs, built on the process's shared clients."""

from __future__ import annotations

from ecsrun.adapters import clients
from ecsrun.adapters.callbacks import Callbacks
from ecsrun.adapters.ecs import Ecs
from ecsrun.adapters.runs_table import RunsTable
from ecsrun.settings import Settings


def runs_table(settings: Settings) -> RunsTable:
    return RunsTable(clients.table(settings.runs_table))


def ecs() -> Ecs:
    return Ecs(clients.client("ecs"))


def callbacks() -> Callbacks:
    return Callbacks(clients.client("stepfunctions"))
