"""The layers of docs/internals.md, enforced: each package imports only the packages below it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[3]
FIRST_PARTY = frozenset({"cli", "pipeline", "lambda_src", "etl", "dashboard", "stacks", "benchmarks"})
# The table of docs/internals.md: a package may always import itself.
MAY_IMPORT: dict[str, frozenset[str]] = {
    "pipeline": frozenset(),
    "lambda_src": frozenset({"pipeline"}),
    "etl": frozenset({"pipeline"}),
    "dashboard": frozenset({"pipeline", "etl"}),
    "stacks": frozenset(),
    "cli": frozenset({"pipeline", "lambda_src", "etl", "dashboard"}),
    "benchmarks": frozenset({"pipeline", "lambda_src", "etl", "dashboard", "cli"}),
}
# The one module of stacks/ that is no infrastructure: the operator's commands (make smoke, pause,
# resume, etl-now) check a deployed pipeline's sources and tables by the runtime's own names and key
# layout. It imports no aws_cdk, and nothing the CDK app synthesizes imports it.
MODULE_EXCEPTIONS: dict[str, frozenset[str]] = {"stacks/operations.py": frozenset({"pipeline", "etl"})}


def imported_packages(path: Path) -> set[str]:
    """The first-party top-level packages `path` imports anywhere (lazy imports in functions too)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_bytes(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names & FIRST_PARTY


def test_every_first_party_package_has_a_rule() -> None:
    packages = {path.parent.name for path in REPO_ROOT.glob("*/__init__.py")}
    # sql/ holds migrations (data, no imports); tests/ may import anything.
    assert packages - {"tests", "sql"} == set(MAY_IMPORT)


@pytest.mark.parametrize("package", sorted(MAY_IMPORT))
def test_a_package_imports_only_the_layers_below_it(package: str) -> None:
    allowed = MAY_IMPORT[package] | {package}
    offences = {
        str(path.relative_to(REPO_ROOT)): sorted(
            imported_packages(path)
            - allowed
            - MODULE_EXCEPTIONS.get(str(path.relative_to(REPO_ROOT)), frozenset())
        )
        for path in sorted((REPO_ROOT / package).rglob("*.py"))
    }
    assert {file: names for file, names in offences.items() if names} == {}


def test_the_rule_catches_a_lazy_import_of_a_higher_layer(tmp_path: Path) -> None:
    module = tmp_path / "example.py"
    module.write_text("import os\n\ndef late():\n    from etl import run_etl\n    import dashboard.app\n")
    assert imported_packages(module) == {"etl", "dashboard"}


def test_no_module_of_the_cdk_app_imports_the_operations_module() -> None:
    importers = [
        str(path.relative_to(REPO_ROOT))
        for path in sorted((REPO_ROOT / "stacks").rglob("*.py"))
        if any(
            (isinstance(node, ast.ImportFrom) and node.module == "stacks.operations")
            or (
                isinstance(node, ast.Import)
                and any(alias.name == "stacks.operations" for alias in node.names)
            )
            for node in ast.walk(ast.parse(path.read_bytes()))
        )
    ]
    assert importers == []
    assert "aws_cdk" not in (REPO_ROOT / "stacks" / "operations.py").read_text()


def test_the_sign_in_service_imports_neither_streamlit_nor_the_rest_of_the_dashboard() -> None:
    # dashboard.gate runs as its own small process in front of Streamlit (docs/internals.md).
    offences = {}
    for path in sorted((REPO_ROOT / "dashboard" / "gate").rglob("*.py")):
        tree = ast.parse(path.read_bytes())
        modules = {
            alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names
        }
        modules |= {
            node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module
        }
        bad = {
            name
            for name in modules
            if name.split(".")[0] in ("streamlit", "pandas")
            or (name.startswith("dashboard") and not name.startswith("dashboard.gate"))
        }
        if bad:
            offences[str(path.relative_to(REPO_ROOT))] = sorted(bad)
    assert offences == {}
