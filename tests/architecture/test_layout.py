"""The layout is the architecture: the layers import-linter checks, the pure layer's one use of botocore, and a
deployed package that holds what the functions need and nothing of the CLI or the local engine."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from ecsrun.local.template import Template

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "functions" / "ecsrun"


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def test_the_layering_contracts_hold() -> None:
    # Given the contracts in pyproject.toml, When import-linter checks the package
    linter = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(linter)], cwd=ROOT, capture_output=True, text=True, check=False)
    # Then every contract is kept
    assert result.returncode == 0, result.stdout[-3000:]
    assert "BROKEN" not in result.stdout


def test_the_pure_layer_reads_only_botocores_model_data() -> None:
    # Given every module of the pure layer
    for path in (PACKAGE / "domain").rglob("*.py"):
        botocore = {name for name in _imports(path) if name.split(".")[0] in ("botocore", "boto3")}
        # Then none imports boto3, and only the API-shape checker reads botocore, through its loader and model
        allowed = {"botocore.loaders", "botocore.model"} if path.name == "apishape.py" else set()
        assert botocore <= allowed, (path.name, botocore)


def test_every_package_says_what_lives_there_and_what_it_may_import() -> None:
    for init in PACKAGE.rglob("__init__.py"):
        doc = ast.get_docstring(ast.parse(init.read_text()))
        assert doc, f"{init.relative_to(ROOT)} has no docstring"
    for layer in ("domain", "steps", "adapters", "handlers", "plumbing", "local"):
        assert "May import" in (ast.get_docstring(ast.parse((PACKAGE / layer / "__init__.py").read_text())) or "")


@pytest.fixture(scope="module")
def artifact(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """What `sam build` packages for a function: functions/Makefile's build target, run as sam runs it."""
    if shutil.which("make") is None:
        pytest.fail("make is needed: sam build runs functions/Makefile (BuildMethod: makefile)")
    out = tmp_path_factory.mktemp("artifact")
    subprocess.run(
        ["make", "-s", "-C", str(ROOT / "functions"), "build-StartTaskFunction", f"ARTIFACTS_DIR={out}"], check=True
    )
    return out


def test_every_function_is_built_with_the_makefile() -> None:
    # Given the template's functions
    for logical_id, resource in Template(ROOT / "template.yaml").resources.items():
        if resource.get("Type") == "AWS::Serverless::Function":
            # Then each is built by functions/Makefile, so none carries the CLI or the local engine
            assert resource.get("Metadata", {}).get("BuildMethod") == "makefile", logical_id


def test_the_deployed_package_holds_no_cli_and_no_local_engine(artifact: Path) -> None:
    # Then the package has every layer a handler needs, and neither the CLI nor the local engine
    layers = sorted(p.name for p in (artifact / "ecsrun").iterdir() if p.is_dir())
    assert layers == ["adapters", "domain", "handlers", "plumbing", "steps"]
    assert not list(artifact.rglob("__pycache__"))


def test_every_handler_imports_from_the_deployed_package_alone(artifact: Path) -> None:
    # Given a Python that sees only the package and the runtime's libraries (no editable install of the checkout)
    handlers = sorted(Template(ROOT / "template.yaml").functions().values())
    libraries = sysconfig.get_paths()["purelib"]
    script = (
        "import importlib, sys\n"
        f"for h in {handlers!r}:\n"
        "    module = importlib.import_module(h.rpartition('.')[0])\n"
        "    assert callable(getattr(module, 'handler')), h\n"
        "assert not [m for m in sys.modules if m.startswith(('ecsrun.cli', 'ecsrun.local', 'moto'))], 'tools'\n"
        "assert sys.modules['ecsrun'].__file__.startswith(sys.argv[1]), sys.modules['ecsrun'].__file__\n"
    )
    env = {**os.environ, "PYTHONPATH": f"{artifact}{os.pathsep}{libraries}", "POWERTOOLS_TRACE_DISABLED": "true"}
    # When every handler the template names is imported (-S: no site, so the checkout's editable install is unseen)
    result = subprocess.run(
        [sys.executable, "-S", "-c", script, str(artifact)], env=env, capture_output=True, text=True, check=False
    )
    # Then each imports, and nothing of the CLI, the local engine or moto comes with it
    assert result.returncode == 0, result.stderr[-3000:]
