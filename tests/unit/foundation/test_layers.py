"""The layers of docs/internals.md, enforced: each package imports only the packages below it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[3]
FIRST_PARTY = frozenset(
    {"cli", "pipeline", "lambda_src", "sample_data", "etl", "dashboard", "stacks", "ops", "benchmarks"}
)
# The table of docs/internals.md: a package may always import itself.
MAY_IMPORT: dict[str, frozenset[str]] = {
    "pipeline": frozenset(),
    "lambda_src": frozenset({"pipeline"}),
    "etl": frozenset({"pipeline"}),
    "dashboard": frozenset({"pipeline", "etl"}),
    "sample_data": frozenset({"pipeline", "lambda_src"}),
    "stacks": frozenset(),
    "ops": frozenset({"pipeline", "etl", "stacks"}),
    "cli": frozenset({"pipeline", "lambda_src", "sample_data", "etl", "dashboard"}),
    "benchmarks": frozenset({"pipeline", "lambda_src", "sample_data", "etl", "dashboard", "cli"}),
}


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
        str(path.relative_to(REPO_ROOT)): sorted(imported_packages(path) - allowed)
        for path in sorted((REPO_ROOT / package).rglob("*.py"))
    }
    assert {file: names for file, names in offences.items() if names} == {}


def test_the_rule_catches_a_lazy_import_of_a_higher_layer(tmp_path: Path) -> None:
    module = tmp_path / "example.py"
    module.write_text("import os\n\ndef late():\n    from etl import run_etl\n    import dashboard.app\n")
    assert imported_packages(module) == {"etl", "dashboard"}


def test_the_operator_commands_synthesize_nothing() -> None:
    # ops/ runs boto3 against a deployment with the operator's credentials; it reads the stack's
    # configuration and names from stacks/, but builds no construct.
    offences = [
        str(path.relative_to(REPO_ROOT))
        for path in sorted((REPO_ROOT / "ops").rglob("*.py"))
        if "aws_cdk" in path.read_text()
    ]
    assert offences == []


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
