"""Docker-free bundling of the ingestion Lambda: the runtime code plus the ``lambda`` extra, for arm64.

`LocalPythonBundler` is a CDK ``ILocalBundling``: CDK calls `try_bundle` with the asset's output folder
and never falls back to Docker. The third-party packages are installed by pip for the Lambda's platform
(manylinux2014_aarch64, the runtime's CPython, wheels only) into ``.build/lambda-deps/<hash>/``, keyed by a hash of
the requirement list and the pip flags, so a second synth copies them instead of reaching PyPI.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import tomllib
from collections.abc import Iterator
from pathlib import Path

import jsii
from aws_cdk import AssetHashType, BundlingOptions, DockerImage, ILocalBundling
from aws_cdk import aws_lambda as lambda_

REPO_ROOT = Path(__file__).resolve().parent.parent
# The packages the Lambda imports: the handler and the shared core it builds on (docs/internals.md).
LAMBDA_PACKAGES: tuple[str, ...] = ("lambda_src", "pipeline")
#: The Lambda runtime; the bundle's wheels are built for exactly this CPython.
RUNTIME = lambda_.Runtime.PYTHON_3_13
PYTHON_VERSION = RUNTIME.name.removeprefix("python")
PIP_PLATFORM_FLAGS: tuple[str, ...] = (
    "--platform",
    "manylinux2014_aarch64",
    "--only-binary=:all:",
    "--python-version",
    PYTHON_VERSION,
    "--implementation",
    "cp",
)
_SKIPPED_FOLDERS = frozenset({"__pycache__", "tests", ".pytest_cache"})


class BundlingError(RuntimeError):
    """The Lambda bundle could not be built (pip failed, or the project files are missing)."""


def lambda_requirements(pyproject: Path = REPO_ROOT / "pyproject.toml") -> list[str]:
    """The ``lambda`` optional dependencies of pyproject.toml: what the Lambda needs beyond its runtime."""
    with pyproject.open("rb") as handle:
        project = tomllib.load(handle)["project"]
    try:
        return sorted(project["optional-dependencies"]["lambda"])
    except KeyError:
        raise BundlingError(f"{pyproject} has no [project.optional-dependencies] lambda extra") from None


def _is_shipped(relative: Path) -> bool:
    """Runtime files only: no tests, no bytecode caches."""
    if _SKIPPED_FOLDERS.intersection(relative.parts):
        return False
    return relative.suffix != ".pyc" and not relative.name.startswith("test_")


def _source_files(root: Path) -> Iterator[Path]:
    for package in LAMBDA_PACKAGES:
        for path in sorted((root / package).rglob("*")):
            if path.is_file() and _is_shipped(path.relative_to(root)):
                yield path


def _requirements_hash(requirements: list[str]) -> str:
    return hashlib.sha256("\n".join([*requirements, *PIP_PLATFORM_FLAGS]).encode()).hexdigest()[:16]


def bundle_hash(root: Path = REPO_ROOT) -> str:
    """A hash of everything that goes into the bundle: the code bytes, the requirements and pip's flags."""
    digest = hashlib.sha256(_requirements_hash(lambda_requirements(root / "pyproject.toml")).encode())
    for path in _source_files(root):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def installed_dependencies(root: Path = REPO_ROOT) -> Path:
    """The folder of pip-installed Lambda dependencies, built on first use and then reused from .build/."""
    requirements = lambda_requirements(root / "pyproject.toml")
    cache = root / ".build" / "lambda-deps" / _requirements_hash(requirements)
    if cache.is_dir():
        return cache
    cache.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix="install-", dir=cache.parent))
    command = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        *PIP_PLATFORM_FLAGS,
        "--target",
        str(staging),
        *requirements,
    ]
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        shutil.rmtree(staging, ignore_errors=True)
        last_line = (completed.stderr.strip().splitlines() or ["no output"])[-1]
        raise BundlingError(f"pip could not install the Lambda dependencies: {last_line}")
    try:
        # Another synth may have finished the same install meanwhile; either copy is complete.
        os.rename(staging, cache)
    except OSError:
        shutil.rmtree(staging, ignore_errors=True)
    return cache


@jsii.implements(ILocalBundling)
class LocalPythonBundler:
    """Builds the Lambda bundle on this machine: code from the repository, packages from the pip cache."""

    def __init__(self, root: Path = REPO_ROOT) -> None:
        self._root = root

    def try_bundle(self, output_dir: str, *_options: object, **_keywords: object) -> bool:
        """Fill `output_dir` with the bundle; returns True so that CDK never tries Docker."""
        output = Path(output_dir)
        # Bytecode compiled by this machine's Python is useless to the Lambda's: leave it out.
        shutil.copytree(
            installed_dependencies(self._root),
            output,
            dirs_exist_ok=True,
            ignore=shutil.ignore_patterns("__pycache__"),
        )
        for path in _source_files(self._root):
            target = output / path.relative_to(self._root)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)
        return True


def ingestion_code(root: Path = REPO_ROOT) -> lambda_.Code:
    """The Lambda's code asset; its hash changes exactly when the bundle's inputs change."""
    return lambda_.Code.from_asset(
        str(root / "lambda_src"),
        asset_hash=bundle_hash(root),
        asset_hash_type=AssetHashType.CUSTOM,
        bundling=BundlingOptions(
            # Never pulled: the local bundler always succeeds, the image is only a required placeholder.
            image=DockerImage.from_registry(f"public.ecr.aws/sam/build-{RUNTIME.name}"),
            local=LocalPythonBundler(root),
        ),
    )
