"""The Lambda's platform on this machine: an aarch64 CPython of the runtime's version, run under qemu-user.

The ingestion bundle holds compiled aarch64 wheels (pydantic-core, cffi, curl_cffi) that cannot load on
an x86-64 test machine. Debian ships the same CPython minor version for arm64 (the Lambda runtime's, see
`stacks.lambda_bundling.RUNTIME`); its packages are downloaded with apt into a private folder (no change
to the machine's apt sources) and unpacked into a root folder that ``qemu-aarch64-static -L`` uses as
the guest's file system. ``python -m tests.support.lambda_platform`` prepares it (`make lambda-platform`).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from stacks.lambda_bundling import PYTHON_VERSION, REPO_ROOT

QEMU = "qemu-aarch64-static"
# The Debian release whose default CPython is the runtime's version.
DEBIAN_SUITES = {"3.13": "trixie"}
PLATFORM_ROOT = REPO_ROOT / ".build" / "lambda-platform" / PYTHON_VERSION
GUEST_PYTHON = f"/usr/bin/python{PYTHON_VERSION}"
_PACKAGES = (
    f"python{PYTHON_VERSION}-minimal",
    f"libpython{PYTHON_VERSION}-minimal",
    f"libpython{PYTHON_VERSION}-stdlib",
    "libc6",
    "libgcc-s1",
    "libstdc++6",
    "libssl3t64",
    "libffi8",
    "zlib1g",
    "libexpat1",
    "libbz2-1.0",
    "liblzma5",
    "libzstd1",
)


class PlatformMissing(RuntimeError):
    """The emulated platform is not prepared; the message says how to prepare it."""


def _apt_options(state: Path) -> list[str]:
    return [
        f"-o Dir::Etc::SourceList={state / 'sources.list'}",
        "-o Dir::Etc::SourceParts=/dev/null",
        f"-o Dir::State::Lists={state / 'lists'}",
        f"-o Dir::Cache={state / 'cache'}",
        "-o APT::Architecture=arm64",
        "-o APT::Architectures=arm64",
        "-o Debug::NoLocking=1",
    ]


def _run(command: Sequence[str], cwd: Path) -> None:
    completed = subprocess.run(list(command), cwd=cwd, capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        last = (completed.stderr.strip().splitlines() or ["no output"])[-1]
        raise PlatformMissing(f"{' '.join(command[:2])} failed: {last}")


def prepare(root: Path = PLATFORM_ROOT) -> Path:
    """Download and unpack Debian's arm64 CPython into `root` (once); return `root`."""
    if (root / GUEST_PYTHON.lstrip("/")).is_file():
        return root
    suite = DEBIAN_SUITES.get(PYTHON_VERSION)
    if suite is None:
        raise PlatformMissing(f"no Debian release is known to ship CPython {PYTHON_VERSION} for arm64")
    state = root.parent / f"apt-{PYTHON_VERSION}"
    for folder in (state / "lists" / "partial", state / "cache" / "archives" / "partial", state / "debs"):
        folder.mkdir(parents=True, exist_ok=True)
    (state / "sources.list").write_text(f"deb [arch=arm64] http://deb.debian.org/debian {suite} main\n")
    options = [part for option in _apt_options(state) for part in option.split(" ", 1)]
    _run(["apt-get", *options, "update"], state)
    _run(["apt-get", *options, "download", *_PACKAGES], state / "debs")
    staging = root.with_name(root.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    for package in sorted((state / "debs").glob("*.deb")):
        _run(["dpkg-deb", "-x", str(package), str(staging)], state)
    # Debian's merged /usr: the links come from base-files, which a guest root of libraries lacks.
    for link in ("lib", "bin", "sbin"):
        if not (staging / link).exists():
            (staging / link).symlink_to(f"usr/{link}")
    shutil.rmtree(root, ignore_errors=True)
    staging.rename(root)
    return root


def guest_command(root: Path = PLATFORM_ROOT) -> list[str]:
    """The command line that starts the aarch64 CPython (append its arguments)."""
    qemu = shutil.which(QEMU)
    if qemu is None or not (root / GUEST_PYTHON.lstrip("/")).is_file():
        raise PlatformMissing(
            f"the Lambda platform (qemu-user and an aarch64 CPython {PYTHON_VERSION}) is not prepared: "
            "run `make lambda-platform`"
        )
    return [qemu, "-L", str(root), str(root / GUEST_PYTHON.lstrip("/"))]


if __name__ == "__main__":
    try:
        print(f"Lambda platform ready: {prepare()}")
    except PlatformMissing as error:
        sys.exit(f"lambda-platform: {error}")
