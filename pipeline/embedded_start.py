"""The embedded PostgreSQL (pgserver): finding it ready, starting and configuring it, and what can go
wrong when it starts (`pipeline.db` asks for its URI here and turns a failure into `DatabaseUnavailable`).

- A server found running and configured by an earlier command is used without importing pgserver
  (`ready_server_uri`, from ``postmaster.pid`` and the ready marker `start_server` leaves).

- A first start killed during initdb leaves a data folder that is not a cluster: `is_interrupted_initdb`
  tells it from a real one by the files initdb writes last, and `set_aside` moves it away (never
  deletes it) so that initdb runs again.
- A server killed a moment ago may still have backends attached to its shared memory, and the next
  start fails: `start_server` waits `RESTART_WAIT_SECONDS` and starts it once more before giving up.
- The server's own output stays in its log file (``<data>/log``): pgserver's logger, which would copy
  the whole log to the terminal, is muted (`quiet_pgserver`), and `start_failure` makes one line of
  the server's last FATAL or PANIC message and the log file's path.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import logging
import os
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg

log = logging.getLogger(__name__)

#: Seconds to let a killed server's backends exit before the one second start.
RESTART_WAIT_SECONDS = 2.0
#: What a finished initdb leaves: the version, the configuration, the control file, and the three
#: databases it creates last (template1, template0, postgres).
_CLUSTER_FILES = ("PG_VERSION", "postgresql.conf", "global/pg_control", "base/1", "base/4", "base/5")
_SERVER_PROBLEMS = ("PANIC:", "FATAL:")


class ServerStartFailed(RuntimeError):
    """The embedded server did not start, twice; one line with its last FATAL/PANIC and its log file."""


def start_server(data_dir: Path, *, connect_timeout: int) -> str:
    """Start the server in `data_dir` (initdb first when needed, an interrupted one set aside),
    configure it and mark it ready; return its URI. `ServerStartFailed`, one line, when it cannot."""
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI); the fallback is fine.
        warnings.simplefilter("ignore")
        import pgserver

    data_dir.parent.mkdir(parents=True, exist_ok=True)
    # One process at a time starts and configures the server; the others then find it running.
    with open(data_dir.parent / ".pg.lock", "a") as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX)
        if is_interrupted_initdb(data_dir):
            aside = set_aside(data_dir)
            log.warning(
                "the embedded database in %s was never completely created (its first start was "
                "interrupted); moved it to %s and creating it again",
                data_dir,
                aside,
            )
        try:
            uri = _start(pgserver, data_dir, connect_timeout)
        except Exception as error:
            # A server killed a moment ago may still hold its shared memory: once more, then give up.
            log.info("%s; starting it once more", start_failure(data_dir, error))
            time.sleep(RESTART_WAIT_SECONDS)
            try:
                uri = _start(pgserver, data_dir, connect_timeout)
            except Exception as again:
                raise ServerStartFailed(start_failure(data_dir, again)) from again
    return uri


def _start(pgserver: Any, data_dir: Path, connect_timeout: int) -> str:
    """Start (initdb first if needed) and configure the server; its own output stays in its log file."""
    with warnings.catch_warnings(), quiet_pgserver():
        warnings.simplefilter("ignore")
        # pgserver keeps one instance per folder in this process: a failed start must not be reused.
        vars(pgserver.postgres_server.PostgresServer).get("_instances", {}).pop(data_dir.resolve(), None)
        # cleanup_mode=None: the server outlives this process and is reused by the next command.
        server = pgserver.get_server(data_dir, cleanup_mode=None)
    uri: str = server.get_uri()
    _configure(uri, data_dir, connect_timeout)
    _mark_ready(data_dir)
    return uri


def ready_server_uri(data_dir: Path) -> str | None:
    """The URI of the embedded server when the one `_mark_ready` recorded is still up and ready;
    else None (stopped, restarted, never configured, other settings), and pgserver starts or finds it.

    Read from ``postmaster.pid`` (pid, data folder, start time, port, socket folder, ..., status) as
    pgserver reads it, without importing pgserver (psutil, its locks and bookkeeping: about 0.1 s of
    every command), and the same URI as pgserver's `get_uri`.
    """
    try:
        lines = (data_dir / "postmaster.pid").read_text().splitlines()
        marker = (data_dir.parent / _READY_MARKER).read_text()
    except OSError:
        return None
    if len(lines) < 8 or lines[7].strip() != "ready" or marker != _ready_stamp(lines):
        return None
    pid, port, socket_dir = lines[0].strip(), lines[3].strip(), lines[4].strip()
    if not socket_dir or not (Path(socket_dir) / f".s.PGSQL.{port}").exists():
        return None
    if not is_postgres_process(pid):
        return None
    return f"postgresql://postgres:@/postgres?host={socket_dir}"


def is_postgres_process(pid: str) -> bool:
    """Whether `pid` is alive and, where /proc tells (Linux), a postgres process: after a crash and
    a reboot, a stale postmaster.pid may name a pid some other process now has."""
    try:
        os.kill(int(pid), 0)
    except (ProcessLookupError, ValueError):
        return False
    except PermissionError:
        pass  # alive, run by another user (pgserver's own when we are root)
    try:
        command = Path(f"/proc/{int(pid)}/cmdline").read_bytes()
    except OSError:
        return True  # no /proc (macOS): the pid and the socket are what we have, as for pgserver
    return b"postgres" in command


def _ready_stamp(postmaster_lines: list[str]) -> str:
    """The server (pid and start time) and the settings it was configured with."""
    settings = ",".join(f"{name}={value}" for name, value in sorted(EMBEDDED_SERVER_SETTINGS.items()))
    return f"{postmaster_lines[0].strip()} {postmaster_lines[2].strip()} {settings}\n"


def _mark_ready(data_dir: Path) -> None:
    """Record the running, configured server for `ready_server_uri` (re-read: a restart changed it)."""
    try:
        lines = (data_dir / "postmaster.pid").read_text().splitlines()
    except OSError:
        return
    if len(lines) >= 8:
        (data_dir.parent / _READY_MARKER).write_text(_ready_stamp(lines))


def _configure(uri: str, data_dir: Path, connect_timeout: int) -> None:
    """Apply `EMBEDDED_SERVER_SETTINGS` once; restart the server if a setting needs it."""
    with psycopg.connect(uri, autocommit=True, connect_timeout=connect_timeout) as conn:
        rows = conn.execute(
            "SELECT name, current_setting(name), context FROM pg_settings WHERE name = ANY(%s)",
            (list(EMBEDDED_SERVER_SETTINGS),),
        ).fetchall()
        current = {name: value for name, value, _ in rows}
        context = {name: ctx for name, _, ctx in rows}
        wanted = {
            name: value for name, value in EMBEDDED_SERVER_SETTINGS.items() if current.get(name) != value
        }
        if not wanted:
            return
        for name, value in wanted.items():
            # ALTER SYSTEM takes no bind parameters; names and values are this module's constants.
            conn.execute(f"ALTER SYSTEM SET {name} = '{value}'")
        conn.execute("SELECT pg_reload_conf()")
    # Decided from each setting's context, not from `pending_restart`: the reload is asynchronous, so
    # that flag may not be set yet when read right after pg_reload_conf().
    if any(context.get(name) == "postmaster" for name in wanted):
        pg_ctl(data_dir, ["-w", "-m", "fast", "restart"])


def pg_ctl(data_dir: Path, arguments: list[str]) -> None:
    """Run pgserver's pg_ctl on `data_dir` as the user the server runs as (pgserver's own when root)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pgserver

    # pgserver generates its command wrappers (pg_ctl, initdb...) at import time: look it up by name.
    pg_ctl: Callable[..., object] = vars(pgserver)["pg_ctl"]

    user = "pgserver" if os.geteuid() == 0 else None
    # Without an explicit -o, restart reuses the options the server was started with (its socket).
    pg_ctl(arguments, pgdata=data_dir.resolve(), user=user, timeout=60)


# The embedded server serves one user's bulk loads and dashboard, not a shared fleet: more memory for
# pages and a larger WAL allowance than PostgreSQL's conservative defaults, so a ten-year backfill does
# not spend its time on forced checkpoints and evicting the index it is upserting into.
EMBEDDED_SERVER_SETTINGS = {
    "shared_buffers": "512MB",
    "wal_buffers": "32MB",
    "max_wal_size": "4GB",
    "checkpoint_timeout": "15min",
    "maintenance_work_mem": "256MB",
}


# Beside the data folder: the server (pid and start time) that `start_server` last configured (or `ready_server_uri` found) and
# configured with `EMBEDDED_SERVER_SETTINGS`, so the next command can connect without pgserver.
_READY_MARKER = ".pg.ready"


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
