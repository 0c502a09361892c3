"""Docker-free bundling of the ingestion Lambda: the runtime code plus the ``lambda`` extra, for arm64.

The code in the bundle is exactly the project's modules that the handler imports, followed import by
import from `HANDLER_MODULE` (read with `ast`, never executed), plus the package data pyproject.toml
declares for the packages it reaches; nothing else of the repository ships.

`LocalPythonBundler` is a CDK ``ILocalBundling``: CDK calls `try_bundle` with the asset's output folder
and never falls back to Docker. The third-party packages are exactly those of ``requirements-lambda.lock``
(the ``lambda`` extra resolved by `make lock` for the Lambda's platform, at requirements.lock's
versions, every file hashed), installed by pip with ``--require-hashes`` for manylinux2014_aarch64 and the
runtime's CPython, wheels only, into ``.build/lambda-deps/<hash>/``, keyed by a hash of the lock's pins
and the pip flags, so a second synth copies them instead of reaching PyPI. The asset hash covers those
pins, so a new resolved version (not only a new range) makes a new bundle.
"""

from __future__ import annotations

import ast
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

import jsii
from aws_cdk import AssetHashType, BundlingOptions, DockerImage, ILocalBundling
from aws_cdk import aws_lambda as lambda_

REPO_ROOT = Path(__file__).resolve().parent.parent
#: The Lambda's third-party packages, pinned with hashes (`make lock` writes it from the `lambda` extra).
LAMBDA_LOCK = "requirements-lambda.lock"
#: The module the Lambda's handler string names; the bundle is what it imports.
HANDLER_MODULE = "lambda_src.handler"
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


def _module_file(root: Path, module: str) -> Path | None:
    """The file of a module of this repository (a package's ``__init__.py``), or None if not ours."""
    base = root.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _imported_modules(path: Path, module: str) -> set[str]:
    """Every module name an import statement of `path` may load, lazy imports in functions included."""
    is_package = path.name == "__init__.py"
    package = module if is_package else module.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_bytes(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([node.module] if node.module else [])])
            else:
                base = node.module or ""
            names.add(base)
            # `from package import module` loads a submodule; `from module import name` only the module.
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def handler_modules(root: Path = REPO_ROOT, entry: str = HANDLER_MODULE) -> dict[str, Path]:
    """The repository's modules that importing `entry` can load, each with its file, parents included."""
    found: dict[str, Path] = {}
    pending = [entry]
    while pending:
        module = pending.pop()
        parts = module.split(".")
        # Importing a.b.c runs a/__init__.py and a/b/__init__.py first.
        for depth in range(1, len(parts) + 1):
            name = ".".join(parts[:depth])
            if name in found:
                continue
            path = _module_file(root, name)
            if path is None:
                break
            found[name] = path
            pending.extend(_imported_modules(path, name))
    return dict(sorted(found.items()))


def _package_data(root: Path, packages: set[str]) -> list[Path]:
    """The files that [tool.setuptools.package-data] declares for `packages` (e.g. the universe CSV)."""
    with (root / "pyproject.toml").open("rb") as handle:
        declared = tomllib.load(handle).get("tool", {}).get("setuptools", {}).get("package-data", {})
    files: list[Path] = []
    for package, patterns in declared.items():
        if package in packages:
            folder = root.joinpath(*package.split("."))
            files.extend(path for pattern in patterns for path in sorted(folder.glob(pattern)))
    return files


def _source_files(root: Path) -> list[Path]:
    """The repository files the bundle ships: the handler's modules and their packages' data."""
    modules = handler_modules(root)
    packages = {name for name, path in modules.items() if path.name == "__init__.py"}
    files = {*modules.values(), *_package_data(root, packages)}
    return sorted(path for path in files if _is_shipped(path.relative_to(root)))


def write_code(output: Path, root: Path = REPO_ROOT) -> list[Path]:
    """Copy the bundle's project code into `output`; returns the files written (relative to it)."""
    written = []
    for path in _source_files(root):
        relative = path.relative_to(root)
        target = output / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)
        written.append(relative)
    return written


def locked_pins(lock: Path) -> list[str]:
    """The lock's pins (``name==version`` and each ``--hash``), comments and annotations left out."""
    if not lock.is_file():
        raise BundlingError(f"{lock} is missing: run `make lock`")
    text = lock.read_text(encoding="utf-8").replace("\\\n", " ")
    pins = [
        " ".join(line.split())
        for line in text.splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    if not pins:
        raise BundlingError(f"{lock} pins nothing: run `make lock`")
    return pins


def _requirements_hash(root: Path) -> str:
    pins = locked_pins(root / LAMBDA_LOCK)
    return hashlib.sha256("\n".join([*pins, *PIP_PLATFORM_FLAGS]).encode()).hexdigest()[:16]


def bundle_hash(root: Path = REPO_ROOT) -> str:
    """A hash of everything that goes into the bundle: the code bytes, the locked versions and pip's flags."""
    digest = hashlib.sha256(_requirements_hash(root).encode())
    for path in _source_files(root):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def installed_dependencies(root: Path = REPO_ROOT) -> Path:
    """The folder of pip-installed Lambda dependencies, built on first use and then reused from .build/."""
    cache = root / ".build" / "lambda-deps" / _requirements_hash(root)
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
        "--require-hashes",
        "--no-deps",
        *PIP_PLATFORM_FLAGS,
        "--target",
        str(staging),
        "--requirement",
        str(root / LAMBDA_LOCK),
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
        write_code(output, self._root)
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
