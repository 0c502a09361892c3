"""What can go wrong when the embedded PostgreSQL starts, and how `pipeline.db` recovers or says so.

- A first start killed during initdb leaves a data folder that is not a cluster: `is_interrupted_initdb`
  tells it from a real one by the files initdb writes last, and `set_aside` moves it away (never
  deletes it) so that initdb runs again.
- A server killed a moment ago may still have backends attached to its shared memory, and the next
  start fails: `pipeline.db` waits `RESTART_WAIT_SECONDS` and starts it once more before giving up.
- The server's own output stays in its log file (``<data>/log``): pgserver's logger, which would copy
  the whole log to the terminal, is muted (`quiet_pgserver`), and `start_failure` makes one line of
  the server's last FATAL or PANIC message and the log file's path.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from collections.abc import Iterator
from pathlib import Path

#: Seconds to let a killed server's backends exit before the one second start.
RESTART_WAIT_SECONDS = 2.0
#: What a finished initdb leaves: the version, the configuration, the control file, and the three
#: databases it creates last (template1, template0, postgres).
_CLUSTER_FILES = ("PG_VERSION", "postgresql.conf", "global/pg_control", "base/1", "base/4", "base/5")
_SERVER_PROBLEMS = ("PANIC:", "FATAL:")


def is_interrupted_initdb(data_dir: Path) -> bool:
    """True when `data_dir` holds files but not a complete cluster (an initdb that never finished)."""
    try:
        if not any(data_dir.iterdir()):
            return False
    except FileNotFoundError:
        return False
    return not all((data_dir / name).exists() for name in _CLUSTER_FILES)


def set_aside(data_dir: Path, now: dt.datetime | None = None) -> Path:
    """Move `data_dir` beside itself as ``<name>.incomplete-<UTC time>``; return where it went."""
    stamp = (now or dt.datetime.now(dt.UTC)).strftime("%Y%m%dT%H%M%SZ")
    target = data_dir.with_name(f"{data_dir.name}.incomplete-{stamp}")
    data_dir.rename(target)
    return target


def server_log(data_dir: Path) -> Path:
    """Where pgserver has the server write its log."""
    return data_dir / "log"


def start_failure(data_dir: Path, error: BaseException) -> str:
    """One line: why the server did not start (its last FATAL/PANIC line, else the error's first line)
    and where its log is."""
    reason = _last_problem(server_log(data_dir))
    if reason is None:
        lines = [line.strip() for line in str(error).splitlines() if line.strip()]
        reason = lines[0] if lines else type(error).__name__
    return (
        f"cannot start the embedded PostgreSQL in {data_dir}: {reason} (server log: {server_log(data_dir)})"
    )


def _last_problem(log: Path) -> str | None:
    try:
        lines = log.read_text(errors="replace").splitlines()
    except OSError:
        return None
    for line in reversed(lines):
        for marker in _SERVER_PROBLEMS:
            if marker in line:
                return line[line.index(marker) :].strip()
    return None


@contextlib.contextmanager
def quiet_pgserver() -> Iterator[None]:
    """Mute pgserver's logger, which copies the server's whole log into an ERROR record on failure."""
    logger = logging.getLogger("pgserver")
    was = logger.disabled
    logger.disabled = True
    try:
        yield
    finally:
        logger.disabled = was
