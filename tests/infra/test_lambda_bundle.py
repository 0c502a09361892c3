"""The ingestion Lambda's bundle holds exactly the project modules its handler imports, and the
handler imports from the built bundle alone (no other project code on the path)."""

from __future__ import annotations

import json
import subprocess
import sys
import sysconfig
from pathlib import Path

from stacks.lambda_bundling import HANDLER_MODULE, handler_modules, write_code
from tests.infra.conftest import Synthesized

FIRST_PARTY = (
    "cli",
    "pipeline",
    "lambda_src",
    "sample_data",
    "etl",
    "dashboard",
    "stacks",
    "ops",
    "benchmarks",
)

# Run with -S (no site hooks, so the editable install's finder that maps the project's packages to this
# repository is not installed) and with the interpreter's own third-party packages *before* the bundle:
# the bundle's compiled wheels are for arm64 Lambda, but the project code can only come from the bundle.
_PROBE = """
import json, sys
sys.path[:] = [p for p in sys.path if p] + {site!r} + [{bundle!r}]
import {handler}
from lambda_src.handler import InvalidEvent, handler
try:
    handler({{"day": "2024-01-02"}}, None)
except InvalidEvent as error:
    rejected = str(error)
ours = {{
    name: module.__file__ for name, module in sys.modules.items()
    if name.split(".")[0] in {first_party!r} and getattr(module, "__file__", None)
}}
print(json.dumps({{"modules": ours, "rejected": rejected}}))
"""


def _import_from(bundle: Path, tmp_path: Path) -> dict:
    paths = sysconfig.get_paths()
    code = _PROBE.format(
        site=[paths["purelib"], paths["platlib"]],
        bundle=str(bundle),
        handler=HANDLER_MODULE,
        first_party=FIRST_PARTY,
    )
    completed = subprocess.run(
        [sys.executable, "-S", "-c", code], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout)


def _shipped_modules(bundle: Path) -> set[str]:
    names = set()
    for package in FIRST_PARTY:
        for path in (bundle / package).rglob("*.py"):
            parts = path.relative_to(bundle).with_suffix("").parts
            names.add(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


def _assert_handler_imports_exactly_the_bundle(bundle: Path, tmp_path: Path) -> None:
    probe = _import_from(bundle, tmp_path)
    assert "unknown event key(s) ['day']" in probe["rejected"]
    loaded = probe["modules"]
    assert all(Path(file).is_relative_to(bundle) for file in loaded.values()), loaded
    # Every shipped module is imported by the handler, and nothing it imports is missing.
    assert set(loaded) == _shipped_modules(bundle)


def test_the_handler_closure_leaves_out_the_cli_database_and_sample_generator() -> None:
    modules = handler_modules()
    assert {"lambda_src.handler", "lambda_src.ingestion.runner", "pipeline.rawzone"} <= set(modules)
    assert not {"pipeline.db", "pipeline.migrations", "sample_data.generator"} & set(modules)
    assert not any(name.split(".")[0] in {"cli", "sample_data", "etl", "dashboard"} for name in modules)


def test_the_code_alone_imports_the_handler(tmp_path: Path) -> None:
    bundle = tmp_path / "bundle"
    written = write_code(bundle)
    assert Path("pipeline/data/universe.csv") in written
    _assert_handler_imports_exactly_the_bundle(bundle, tmp_path)


def test_the_synthesized_bundle_imports_the_handler(dev: Synthesized, tmp_path: Path) -> None:
    _, function = next(
        (name, f)
        for name, f in dev.resources("AWS::Lambda::Function").items()
        if name.startswith("IngestionFunction")
    )
    bundle = (
        dev.template_path.parent / f"asset.{function['Properties']['Code']['S3Key'].removesuffix('.zip')}"
    )
    assert (bundle / "pipeline" / "data" / "us_states.csv").is_file()
    _assert_handler_imports_exactly_the_bundle(bundle, tmp_path)
