"""What the rehearsal reads from the instance's systemd units, and how it runs their commands."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

COMMAND_TIMEOUT_SECONDS = 300


def unit_setting(unit: str, key: str) -> str:
    """The last ``key=`` line of a unit file's text (what systemd uses when a key is repeated)."""
    values = re.findall(rf"^{key}=(.*)$", unit, flags=re.MULTILINE)
    if not values:
        raise AssertionError(f"the unit has no {key}=")
    return str(values[-1])


def run_logged(
    command: Sequence[str], cwd: str, environment: Mapping[str, str], log: Path
) -> subprocess.CompletedProcess[str]:
    """Run ``command`` as a unit would, its output (both streams) in ``log``, within the time limit."""
    with log.open("w") as output:
        return subprocess.run(
            list(command),
            cwd=cwd,
            env=dict(environment),
            stdout=output,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=COMMAND_TIMEOUT_SECONDS,
            check=False,
        )


def tail(log: Path, lines: int = 4) -> str:
    """The last lines of a log on one line, for a check's detail."""
    return " | ".join(log.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-lines:])
