"""Cold start, measured in fresh interpreters that see only what a deployed function's interpreter sees.

Times are the process's CPU time (`time.process_time`): importing and creating clients is CPU work, and CPU
time is what other load on this shared machine does not inflate (its wall time varied 2.5-fold between runs,
its CPU time by a few percent). On an idle machine the two agree for this work.

Two measures per handler, each a median over fresh processes, run interleaved so drift in the machine's load
hits every subject alike:

- import only: `import <handler module>` against `import boto3`;
- the fair measure: the handler imported and the boto3 clients its first invocation creates (built the way its
  wiring builds them), against a bare handler that imports boto3 and creates the same clients with the same
  configuration. Modules a handler's first invocation imports inside a function (FIRST_INVOCATION_IMPORTS) are
  counted too, so moving an import into a function cannot hide it; those imported lazily on rarer paths are
  listed with the results.

What "Lambda-like" means here: `python -S -E` (no site-packages, no PYTHON* variables) with a path made of
the function's code, the Powertools layer's packages and the runtime's boto3 packages only, symlinked from
this virtualenv. So nothing Lambda lacks can be imported: this virtualenv also holds awscrt and pyOpenSSL,
which botocore imports when it finds them (~150 ms here), and Lambda's Python runtime has neither
(aws/aws-lambda-base-images#147 asks for a CRT build). The variables are the runtime's and the template's.
"""

from __future__ import annotations

import ast
import importlib.util
import os
import re
import statistics
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
FUNCTIONS = ROOT / "functions"
PYTHON = sys.executable

# Lambda's Python runtime: boto3 and its dependencies (/var/runtime).
RUNTIME_PACKAGES = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "six", "urllib3")
# The Powertools layer (/opt/python): Powertools with the extras ecsrun uses (parser: pydantic; tracer: X-Ray SDK).
LAYER_PACKAGES = (
    "aws_lambda_powertools",
    "pydantic",
    "pydantic_core",
    "annotated_types",
    "typing_extensions",
    "typing_inspection",
    "aws_xray_sdk",
    "wrapt",
)

# The boto3 clients each handler's first invocation creates, read from the handler and handlers/wiring.py (the
# common path: a valid request, a run record that exists; CopyLogs and SummarizeArray build their callbacks'
# Step Functions client whether or not the run has a caller's token). "table" is the runs table (a boto3
# resource). The bench checks these against the clients the handlers created in its local runs (see
# `observed_clients`).
HANDLER_CLIENTS: dict[str, tuple[str, ...]] = {
    "ecsrun.handlers.validate_request": ("ecs",),
    "ecsrun.handlers.start_task": ("table", "ecs", "stepfunctions"),
    "ecsrun.handlers.task_stopped": ("table", "stepfunctions"),
    "ecsrun.handlers.stop_task": ("table", "ecs", "stepfunctions"),
    "ecsrun.handlers.copy_logs": ("table", "s3", "logs", "events", "stepfunctions"),
    "ecsrun.handlers.plan_retry": ("table",),
    "ecsrun.handlers.prepare_array": ("ecs", "table", "s3"),
    "ecsrun.handlers.summarize_array": ("table", "s3", "events", "stepfunctions"),
    "ecsrun.handlers.reconcile": ("table", "ecs", "stepfunctions", "events"),
    "ecsrun.handlers.execution_ended": ("table", "events", "ecs", "stepfunctions"),
}

# Modules a handler's first invocation imports inside a function (read from the code: CopyLogs' wiring.finish
# imports the copy step). They count in the fair measure, so moving an import into a function cannot hide it.
# Every other ecsrun module imported inside a function the handler's code reaches is listed by the bench as
# imported on a rarer path (an aborted run's copy, say): `lazy_imports` finds them all.
FIRST_INVOCATION_IMPORTS: dict[str, tuple[str, ...]] = {
    "ecsrun.handlers.copy_logs": ("ecsrun.steps.finish",),
}

GROUPS = {
    "boto3 and its dependencies": set(RUNTIME_PACKAGES),
    "pydantic": {"pydantic", "pydantic_core", "annotated_types", "typing_inspection"},
    "Powertools": {"aws_lambda_powertools", "typing_extensions"},
    "X-Ray SDK": {"aws_xray_sdk", "wrapt"},
    "ecsrun": {"ecsrun"},
}
OTHER = "standard library"

CONFIG = 'Config(retries={"mode": "adaptive", "max_attempts": 8})'  # ecsrun.adapters.clients' configuration


def lambda_site(directory: Path) -> list[Path]:
    """Symlink the layer's and the runtime's packages from this virtualenv into `directory`; the sys.path."""
    paths = []
    for name, packages in (("layer", LAYER_PACKAGES), ("runtime", RUNTIME_PACKAGES)):
        target = directory / name
        target.mkdir(parents=True, exist_ok=True)
        for package in packages:
            spec = importlib.util.find_spec(package)
            if spec is None or spec.origin is None:  # the layer ships it; ecsrun no longer imports it
                continue
            source = Path(spec.origin).parent if spec.submodule_search_locations else Path(spec.origin)
            link = target / source.name
            if not link.exists():
                link.symlink_to(source)
        paths.append(target)
    return [FUNCTIONS, *paths]


def lambda_environment(variables: dict[str, str]) -> dict[str, str]:
    """The runtime's variables and the template's (`variables`), as a deployed function's process sees them."""
    return {
        **variables,
        "LAMBDA_TASK_ROOT": "/var/task",
        "AWS_LAMBDA_FUNCTION_NAME": "ecsrun-bench",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
        "AWS_LAMBDA_RUNTIME_API": "127.0.0.1:9001",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_SESSION_TOKEN": "bench",
        "PATH": os.environ.get("PATH", ""),
    }


def lazy_imports(handler: str, path: list[Path], environment: dict[str, str]) -> list[str]:
    """ecsrun modules that the code a handler imports imports inside functions, on some path or other."""
    code = f"import sys; sys.path[:0] = {[str(p) for p in path]!r}; import {handler}; print(' '.join(sys.modules))"
    loaded = _run(code, environment).split()
    found: set[str] = set()
    for module in (m for m in loaded if m.startswith("ecsrun")):
        spec = importlib.util.find_spec(module)
        if spec is None or spec.origin is None:
            continue
        tree = ast.parse(Path(spec.origin).read_text())
        for function in (n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))):
            for node in ast.walk(function):
                if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                    found.add(node.module)
                elif isinstance(node, ast.Import):
                    found |= {alias.name for alias in node.names}
    return sorted(m for m in found - set(loaded) if m.startswith("ecsrun"))


def _clients_code(clients: Iterable[str], *, bare: bool) -> str:
    lines = []
    for name in clients:
        if bare:
            lines.append(
                'boto3.resource("dynamodb", config=config).Table(os.environ["RUNS_TABLE"])'
                if name == "table"
                else f'boto3.client("{name}", config=config)'
            )
        else:
            lines.append('clients.table(os.environ["RUNS_TABLE"])' if name == "table" else f'clients.client("{name}")')
    return "\n".join(lines)


def subjects(path: list[Path], environment: dict[str, str]) -> dict[str, str]:
    """Each measured subject's code: what runs between the two clock readings in a fresh interpreter."""
    codes = {"boto3": "import boto3"}
    for handler, clients in HANDLER_CLIENTS.items():
        codes[f"import {handler}"] = f"import {handler}"
        extra = "".join(f"\nimport {m}" for m in FIRST_INVOCATION_IMPORTS.get(handler, ()))
        codes[f"fair {handler}"] = (
            f"import os\nimport {handler}{extra}\nfrom ecsrun.adapters import clients\n"
            + _clients_code(clients, bare=False)
        )
        codes[f"bare {handler}"] = (
            f"import os\nimport boto3\nfrom botocore.config import Config\nconfig = {CONFIG}\n"
            + _clients_code(clients, bare=True)
        )
    return codes


def _timed(code: str, path: list[Path]) -> str:
    """`code` between two readings of the process's CPU time (and of the wall clock), printed in ms."""
    setup = f"import sys, time\nsys.path[:0] = {[str(p) for p in path]!r}\n"
    body = "\n".join(f"    {line}" for line in code.splitlines())
    start = "c, t = time.process_time(), time.perf_counter()"
    end = "print((time.process_time() - c) * 1000, (time.perf_counter() - t) * 1000)"
    return f"{setup}{start}\nif True:\n{body}\n{end}\n"


def _run(code: str, environment: dict[str, str], *flags: str) -> str:
    command = [PYTHON, "-S", "-E", *flags, "-c", code]  # this interpreter, code this module wrote
    done = subprocess.run(command, env=environment, capture_output=True, text=True)  # noqa: S603
    if done.returncode != 0:
        raise RuntimeError(f"cold-start subject failed:\n{code}\n{done.stderr[-2000:]}")
    return done.stdout if not flags else done.stderr


def measure(samples: int, variables: dict[str, str]) -> dict[str, Any]:
    """Medians (ms) of every subject over `samples` interleaved rounds, and the breakdown of the fair measure."""
    with tempfile.TemporaryDirectory(prefix="ecsrun-lambda-site-") as directory:
        path = lambda_site(Path(directory))
        environment = lambda_environment(variables)
        codes = subjects(path, environment)
        times: dict[str, list[float]] = {name: [] for name in codes}
        for _ in range(samples):
            for name, code in codes.items():
                times[name].append(float(_run(_timed(code, path), environment).split()[0]))
        medians = {name: statistics.median(values) for name, values in times.items()}
        breakdown = {
            handler: _breakdown(codes[f"fair {handler}"], path, environment, max(3, samples // 3))
            for handler in HANDLER_CLIENTS
        }
        rarer = {
            handler: [
                m
                for m in lazy_imports(handler, path, environment)
                if m not in FIRST_INVOCATION_IMPORTS.get(handler, ())
            ]
            for handler in HANDLER_CLIENTS
        }
    rows = []
    for handler, clients in HANDLER_CLIENTS.items():
        rows.append(
            {
                "handler": handler,
                "import_ms": medians[f"import {handler}"],
                "import_ratio": medians[f"import {handler}"] / medians["boto3"],
                "fair_ms": medians[f"fair {handler}"],
                "bare_ms": medians[f"bare {handler}"],
                "fair_ratio": medians[f"fair {handler}"] / medians[f"bare {handler}"],
                "clients": clients,
            }
        )
    return {"boto3_ms": medians["boto3"], "rows": rows, "breakdown": breakdown, "samples": samples, "rarer": rarer}


IMPORTTIME = re.compile(r"import time:\s+(\d+) \|\s+\d+ \|( *)(\S+)")


def _group(top: str) -> str | None:
    return next((group for group, members in GROUPS.items() if top in members), None)


def import_groups(report: str) -> Counter[str]:
    """`-X importtime` self times (ms) by group. A standard-library module counts for whoever imported it
    first (its nearest ancestor in the import tree that is not standard library), so what botocore pulls in
    from the standard library counts as boto3's."""
    lines = [(int(m.group(1)), len(m.group(2)), m.group(3)) for m in IMPORTTIME.finditer(report)]
    groups: list[str | None] = [None] * len(lines)
    # importtime prints a module after everything it imported, one level deeper: a line's parent is the
    # first later line that is less indented. Walk backwards so parents are resolved first.
    parents: list[int | None] = [None] * len(lines)
    stack: list[int] = []  # indices of later lines, innermost last
    for index in range(len(lines) - 1, -1, -1):
        depth = lines[index][1]
        while stack and lines[stack[-1]][1] >= depth:
            stack.pop()
        parents[index] = stack[-1] if stack else None
        stack.append(index)
        own = _group(lines[index][2].split(".")[0])
        parent = parents[index]
        groups[index] = own or (groups[parent] if parent is not None else None)
    parts: Counter[str] = Counter()
    for (self_us, _, _), group in zip(lines, groups, strict=True):
        parts[group or OTHER] += self_us / 1000
    return parts


def _breakdown(code: str, path: list[Path], environment: dict[str, str], samples: int) -> dict[str, float]:
    """Where the fair measure's time goes: `python -X importtime` self times by group, and the rest (creating
    the clients, module-level work that is not importing) as the measured time minus the import time, the whole
    apportioned to the run's CPU time. Medians; importtime's own bookkeeping inflates every figure a little."""
    runs: list[Counter[str]] = []
    for _ in range(samples):
        program = _timed(code, path)
        command = [PYTHON, "-S", "-E", "-X", "importtime", "-c", program]
        done = subprocess.run(command, env=environment, capture_output=True, text=True, check=True)  # noqa: S603
        cpu, wall = map(float, done.stdout.split())
        parts = import_groups(done.stderr)
        parts["clients and other work"] = max(0.0, wall - sum(parts.values()))
        scale = cpu / max(wall, 1e-9)  # importtime reads the wall clock: apportion the CPU time by its shares
        runs.append(Counter({name: ms * scale for name, ms in parts.items()}))
    names = [*GROUPS, OTHER, "clients and other work"]
    return {name: statistics.median(r[name] for r in runs) for name in names}


def observed_clients(created: dict[str, set[str]], handlers: dict[str, str]) -> list[str]:
    """Disagreements between HANDLER_CLIENTS and the clients handlers created in the bench's runs."""
    problems = []
    for logical_id, services in created.items():
        module = handlers[logical_id].rsplit(".", 1)[0]
        expected = set(HANDLER_CLIENTS.get(module, ()))
        if services - expected:
            problems.append(f"{module} created {sorted(services - expected)} that the fair measure does not")
    return problems
