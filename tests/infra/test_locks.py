"""The two locks cut from requirements.lock by `make lock`: what the instance installs at first boot and
what the Lambda bundle holds pin the versions the tests run, with hashes, and satisfy pyproject.toml."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from stacks.instance_bootstrap import RUNTIME_LOCK
from stacks.lambda_bundling import LAMBDA_LOCK, PYTHON_VERSION, REPO_ROOT

_PIN = re.compile(r"^([A-Za-z0-9_.\-]+)==([^\s;\\]+)\s*(?:;\s*([^\\]+?))?\s*\\?$")
# Amazon Linux 2023's python3.11 on the instance (x86_64 or arm64), and the Lambda's CPython on arm64.
INSTANCE = {
    "python_version": "3.11",
    "python_full_version": "3.11.9",
    "sys_platform": "linux",
    "platform_system": "Linux",
    "platform_machine": "x86_64",
    "implementation_name": "cpython",
    "platform_python_implementation": "CPython",
    "os_name": "posix",
    "extra": "",
}
LAMBDA = {
    **INSTANCE,
    "python_version": PYTHON_VERSION,
    "python_full_version": f"{PYTHON_VERSION}.0",
    "platform_machine": "aarch64",
}


def pins(path: Path, environment: dict[str, str]) -> dict[str, str]:
    """Each package the lock pins for `environment` (markers evaluated), by canonical name."""
    found = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        match = _PIN.match(line)
        if match and (match.group(3) is None or Marker(match.group(3)).evaluate(environment)):
            found[canonicalize_name(match.group(1))] = match.group(2)
    return found


def _project() -> dict:
    with (REPO_ROOT / "pyproject.toml").open("rb") as handle:
        return tomllib.load(handle)


def every_pin(path: Path) -> dict[str, set[str]]:
    """Every version the lock pins for each package, whatever the markers."""
    found: dict[str, set[str]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        match = _PIN.match(line)
        if match:
            found.setdefault(canonicalize_name(match.group(1)), set()).add(match.group(2))
    return found


@pytest.mark.parametrize(("lock", "environment"), [(RUNTIME_LOCK, INSTANCE), (LAMBDA_LOCK, LAMBDA)])
def test_each_lock_pins_the_versions_of_requirements_lock_with_hashes(lock: str, environment) -> None:
    locked = pins(REPO_ROOT / lock, environment)
    main = every_pin(REPO_ROOT / "requirements.lock")
    # The build backend is the one package the main lock lacks (make setup builds the project isolated).
    build = {canonicalize_name(Requirement(text).name) for text in _project()["build-system"]["requires"]}
    assert set(locked) - set(main) <= build
    different = {
        name: (version, main[name])
        for name, version in locked.items()
        if name in main and version not in main[name]
    }
    assert locked and different == {}
    text = (REPO_ROOT / lock).read_text(encoding="utf-8")
    entries = [entry for entry in re.split(r"\n(?=[A-Za-z0-9])", text) if "==" in entry]
    assert entries and all("--hash=sha256:" in entry for entry in entries)


def test_the_runtime_lock_holds_the_runtime_dependencies_and_the_build_backend_but_no_dev_tool() -> None:
    project = _project()
    locked = pins(REPO_ROOT / RUNTIME_LOCK, INSTANCE)
    for requirement in map(
        Requirement, [*project["project"]["dependencies"], *project["build-system"]["requires"]]
    ):
        assert locked.get(canonicalize_name(requirement.name)) in requirement.specifier, requirement
    assert not {"aws-cdk-lib", "pytest", "moto", "playwright", "ruff", "mypy", "cfn-lint"} & set(locked)


def test_the_lambda_lock_holds_the_lambda_extra_for_the_lambdas_python_only() -> None:
    extra = [Requirement(text) for text in _project()["project"]["optional-dependencies"]["lambda"]]
    locked = pins(REPO_ROOT / LAMBDA_LOCK, LAMBDA)
    for requirement in extra:
        assert locked.get(canonicalize_name(requirement.name)) in requirement.specifier, requirement
    assert not {"boto3", "pandas", "psycopg", "streamlit"} & set(locked)
