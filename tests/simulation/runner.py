"""Run schedules: set the process up once (moto's DynamoDB, the virtual clock, the handlers' clients), then one
World per schedule, its invariants checked after it drains.

    python -m tests.simulation.runner --schedules 10000            # the soak (make soak)
    python -m tests.simulation.runner --replay 1234                # one schedule, its trace printed
    python -m tests.simulation.runner --schedules 200 --plant no-manifest   # how many schedules flag a plant
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.simulation import coverage, plants
from tests.simulation.invariants import Violation, check, owner
from tests.simulation.world import EPOCH, ROOT, World, environment, virtual_sleep


@dataclass
class Outcome:
    seed: int
    violations: list[Violation]
    trace: list[str]
    plan: str
    faults: list[str]
    status: str
    error: str | None
    unsupported: str | None = None
    seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)
    classes: set[str] = field(default_factory=set)

    def report(self) -> str:
        lines = [
            f"schedule seed {self.seed}: execution {self.status} {self.error or ''}".rstrip(),
            f"plan: {self.plan}",
        ]
        lines += [f"fault injected: {f}" for f in self.faults]
        lines += [f"VIOLATION {v}" for v in self.violations]
        lines += ["trace:", *self.trace]
        return "\n".join(lines)


class Simulator:
    """The process-wide setup for running many schedules (a context manager)."""

    def __init__(self, template_path: Path | None = None):
        from ecsrun.local.template import Template

        self.template = Template(template_path or ROOT / "template.yaml")
        self._count = 0

    def __enter__(self) -> Simulator:
        import boto3
        import time_machine
        from ecsrun.adapters import clients
        from ecsrun.plumbing.observability import logger
        from moto import mock_aws

        warnings.filterwarnings("ignore", message="No application metrics to publish")
        self._saved_env = dict(os.environ)
        os.environ.update(
            {"AWS_ACCESS_KEY_ID": "sim", "AWS_SECRET_ACCESS_KEY": "sim", "AWS_DEFAULT_REGION": "us-east-1"}
        )
        self._mock = mock_aws()
        self._mock.start()
        self._dynamodb = boto3.resource("dynamodb", region_name="us-east-1")
        self._traveller = time_machine.travel(EPOCH, tick=False)
        self._clock = self._traveller.start()
        self._clients = clients
        self._saved_clients = (clients.client, clients.table)
        self._logger = logger
        self._saved_stream = getattr(logger.registered_handler, "stream", None)
        # Handlers that wait (a log copy's settle time) sleep in virtual time. time.sleep is looked up at call time
        # by wiring; the steps bind it as a default argument at import, so those defaults are redirected too.
        import importlib

        self._world: World | None = None
        self._saved_sleep = time.sleep
        time.sleep = virtual_sleep(self._saved_sleep, lambda: self._world)
        self._saved_defaults = []
        for module, name in (("ecsrun.steps.copy_logs", "copy_run_logs"), ("ecsrun.steps.finish", "finish_run")):
            function = getattr(importlib.import_module(module), name, None)
            defaults = dict(getattr(function, "__kwdefaults__", None) or {})
            if "sleep" in defaults:
                self._saved_defaults.append((function, defaults))
                function.__kwdefaults__ = {**defaults, "sleep": lambda seconds: time.sleep(seconds)}
        return self

    def __exit__(self, *exc: Any) -> None:
        time.sleep = self._saved_sleep
        for function, defaults in self._saved_defaults:
            function.__kwdefaults__ = defaults
        self._clients.client, self._clients.table = self._saved_clients
        self._clients.reset()
        if self._saved_stream is not None:
            self._logger.registered_handler.setStream(self._saved_stream)  # type: ignore[attr-defined]
        self._traveller.stop()
        self._mock.stop()
        os.environ.clear()
        os.environ.update(self._saved_env)

    def run(self, seed: int, choose: Callable[[int], int] | None = None) -> Outcome:
        """One schedule. Without `choose`, every choice comes from random.Random(seed)."""
        if choose is None:
            rng = random.Random(seed)
            choose = lambda n: rng.randrange(n)  # noqa: E731
        self._count += 1
        name = f"runs-{self._count}"
        definition = self.template.table_definition("RunsTable")
        table = self._dynamodb.create_table(TableName=name, **definition)
        started = time.perf_counter()
        world = World(seed, choose, dynamodb=table, template=self.template)
        self._world = world
        world._clock = self._clock.move_to  # type: ignore[method-assign]
        self._clock.move_to(EPOCH)
        os.environ.update(environment(world))
        random.seed(seed)  # plan_retry's jitter
        self._clients.client = lambda service, region=None: world.client(service)  # type: ignore[assignment]
        self._clients.table = lambda table_name, region=None: world.table_proxy  # type: ignore[assignment]
        self._logger.registered_handler.setStream(world.logs_text)  # type: ignore[attr-defined]
        try:
            world.run()
        finally:
            world.finish()
            self._world = None
        violations = check(world)
        execution = owner(world, None)
        outcome = Outcome(
            seed=seed,
            violations=violations,
            trace=world.trace,
            plan=f"{world.plan.describe()}; {world.widen.describe()}",
            faults=world.faults_injected,
            status=execution.status,
            error=execution.error,
            unsupported=world.unsupported,
            seconds=time.perf_counter() - started,
            extra={"steps": len(world.trace), "virtualSeconds": world.now - EPOCH},
            classes=coverage.classes(world),
        )
        table.delete()
        return outcome


@contextmanager
def simulator() -> Iterator[Simulator]:
    with Simulator() as sim:
        yield sim


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--schedules", type=int, default=1000)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--replay", type=int, help="run one schedule and print its trace")
    parser.add_argument("--json", help="write the summary (counts, rate, violations by invariant) to this file")
    parser.add_argument("--show", type=int, default=3, help="print the traces of this many failing schedules")
    parser.add_argument("--plant", choices=sorted(plants.BY_NAME), help="count the schedules that flag this plant")
    parser.add_argument("--coverage", action="store_true", help="print the fault-class coverage table (markdown)")
    args = parser.parse_args(argv)
    if args.plant:
        return _plant(args.plant, args.first_seed, args.schedules)
    with simulator() as sim:
        if args.replay is not None:
            outcome = sim.run(args.replay)
            print(outcome.report())
            return 1 if outcome.violations else 0
        started = time.perf_counter()
        failing: list[Outcome] = []
        by_invariant: dict[str, int] = {}
        statuses: dict[str, int] = {}
        exercised: dict[str, int] = {}
        for seed in range(args.first_seed, args.first_seed + args.schedules):
            outcome = sim.run(seed)
            for name in outcome.classes:
                exercised[name] = exercised.get(name, 0) + 1
            key = f"{outcome.status} {outcome.error or ''}".strip()
            statuses[key] = statuses.get(key, 0) + 1
            if outcome.violations:
                failing.append(outcome)
                first = outcome.violations[0]
                print(f"seed {seed}: {first.invariant}: {first.detail}", file=sys.stderr, flush=True)
                for invariant in {v.invariant for v in outcome.violations}:
                    by_invariant[invariant] = by_invariant.get(invariant, 0) + 1
            done = seed - args.first_seed + 1
            if done % 500 == 0:
                print(f"{done} schedules, {len(failing)} with violations", file=sys.stderr, flush=True)
        elapsed = time.perf_counter() - started
    for outcome in failing[: args.show]:
        print(outcome.report(), end="\n\n")
    summary = {
        "schedules": args.schedules,
        "firstSeed": args.first_seed,
        "failingSchedules": len(failing),
        "violationsByInvariant": dict(sorted(by_invariant.items())),
        "failingSeeds": [o.seed for o in failing[:50]],
        "seconds": round(elapsed, 1),
        "schedulesPerSecond": round(args.schedules / elapsed, 2),
        "endings": dict(sorted(statuses.items(), key=lambda kv: -kv[1])),
        "coverage": dict(sorted(exercised.items(), key=lambda kv: -kv[1])),
    }
    if args.coverage:
        print(coverage.table(exercised, args.schedules))
    print(json.dumps(summary, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=2) + "\n")
    return 1 if failing else 0


def _plant(name: str, first: int, schedules: int) -> int:
    """Each schedule with and without the plant: how many flag it (its invariant broken only with it)."""
    plant = plants.BY_NAME[name]
    flagged: list[int] = []
    started = time.perf_counter()
    with simulator() as sim:
        for seed in range(first, first + schedules):
            baseline = sim.run(seed).violations
            with plants.planted(plant):
                planted = sim.run(seed).violations
            if plants.flags(plant, baseline, planted):
                flagged.append(seed)
    summary = {
        "plant": name,
        "invariant": plant.invariant,
        "bug": plant.bug,
        "schedules": schedules,
        "firstSeed": first,
        "flagged": len(flagged),
        "flaggedSeeds": flagged[:20],
        "seconds": round(time.perf_counter() - started, 1),
    }
    print(json.dumps(summary, indent=2))
    return 0 if flagged else 1


if __name__ == "__main__":
    sys.exit(main())
