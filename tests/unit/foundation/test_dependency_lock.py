"""requirements.lock pins a version, with hashes, that satisfies every requirement of pyproject.toml."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.markers import Marker, default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO_ROOT = Path(__file__).resolve().parents[3]
LOCKED_EXTRAS = ("dev", "infra")
_PIN = re.compile(r"^([A-Za-z0-9_.\-]+)==([^\s;\\]+)\s*(?:;\s*([^\\]+?))?\s*\\?$")


def locked_versions(text: str) -> dict[str, str]:
    """The version pinned for this interpreter of each package in a `uv pip compile` lock."""
    versions: dict[str, str] = {}
    for line in text.splitlines():
        match = _PIN.match(line)
        if not match:
            continue
        name, version, marker = match.groups()
        if marker is None or Marker(marker).evaluate():
            versions[canonicalize_name(name)] = version
    return versions


def project_requirements() -> list[Requirement]:
    with (REPO_ROOT / "pyproject.toml").open("rb") as handle:
        project = tomllib.load(handle)["project"]
    requirements = [Requirement(text) for text in project["dependencies"]]
    for extra in LOCKED_EXTRAS:
        requirements += [Requirement(text) for text in project["optional-dependencies"][extra]]
    return [
        requirement
        for requirement in requirements
        if canonicalize_name(requirement.name) != canonicalize_name(project["name"])
        and (requirement.marker is None or requirement.marker.evaluate(default_environment()))
    ]


@pytest.fixture(scope="module")
def lock_text() -> str:
    return (REPO_ROOT / "requirements.lock").read_text()


def test_every_requirement_is_locked_at_an_allowed_version(lock_text: str) -> None:
    locked = locked_versions(lock_text)
    unmet = {}
    for requirement in project_requirements():
        version = locked.get(canonicalize_name(requirement.name))
        if version is None or version not in requirement.specifier:
            unmet[str(requirement)] = version
    assert unmet == {}, "run `make lock`: requirements.lock no longer satisfies pyproject.toml"


def test_every_pin_carries_a_hash(lock_text: str) -> None:
    entries = re.split(r"\n(?=[A-Za-z0-9])", lock_text.split("\n", 2)[2])
    assert entries and all("--hash=sha256:" in entry for entry in entries if "==" in entry)


def test_a_version_outside_the_range_is_reported() -> None:
    locked = locked_versions("click==7.0 \\\n    --hash=sha256:00\n")
    assert locked["click"] not in Requirement("click>=8.1,<9").specifier
