"""A throwaway copy of the repository, where the rehearsal runs the project's real Makefile targets.

The copy holds the files git would (tracked and untracked-but-not-ignored), so it is what a fresh clone
plus the working tree's edits looks like; the virtualenv, node_modules and the Lambda dependency cache
are linked from the repository, not rebuilt. Running in a copy keeps cdk.out and every edit the
rehearsal makes (the update's code change, the self-tests' broken files) out of the working tree.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
LINKED = (".venv", "node_modules", ".build")
# `make -o`: treat the install stamps as up to date, so the copy never re-installs the linked .venv
# (an editable install pointing at the copy would outlive it).
MAKE = ("make", "--no-print-directory", "-o", ".venv/.installed", "-o", "node_modules/.installed")
MAKE_TIMEOUT_SECONDS = 900


@dataclass(frozen=True)
class MakeResult:
    target: str
    returncode: int
    seconds: float
    log: Path

    def tail(self, lines: int = 6) -> str:
        text = self.log.read_text(encoding="utf-8", errors="replace").strip().splitlines()
        return " | ".join(line.strip() for line in text[-lines:])


class Workspace:
    """The copy at `root`; `make(...)` runs a Makefile target there with the given environment."""

    def __init__(self, root: Path, logs: Path) -> None:
        self.root = root
        self.logs = logs
        logs.mkdir(parents=True, exist_ok=True)
        if root.exists():
            shutil.rmtree(root)
        listed = subprocess.run(
            ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
            cwd=REPO,
            check=True,
            capture_output=True,
        ).stdout.decode()
        for relative in filter(None, listed.split("\0")):
            source = REPO / relative
            if not source.is_file():
                continue  # deleted in the working tree
            target = root / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
        for name in LINKED:
            (REPO / name).mkdir(exist_ok=True)
            (root / name).symlink_to(REPO / name)
        self._count = 0

    def make(self, target: str, environment: Mapping[str, str], *variables: str) -> MakeResult:
        """Run a Makefile target (with ``NAME=value`` variables) in the copy."""
        name = f"make-{target}{'-lab' if 'LAB=1' in variables else ''}"
        return self.run([*MAKE, target, *variables], environment, name)

    def run(self, command: Sequence[str], environment: Mapping[str, str], name: str) -> MakeResult:
        """Any other command in the copy (e.g. `cdk diff`), logged like a make target."""
        self._count += 1
        log = self.logs / f"{self._count:02d}-{name}.log"
        started = time.monotonic()
        with log.open("wb") as output:
            completed = subprocess.run(
                list(command),
                cwd=self.root,
                env=dict(environment),
                stdout=output,
                stderr=subprocess.STDOUT,
                timeout=MAKE_TIMEOUT_SECONDS,
                check=False,
            )
        return MakeResult(name, completed.returncode, time.monotonic() - started, log)
