"""The one module that owns database connections (psycopg 3).

Where the database is comes from the settings: ``DATABASE_URL``; else a Secrets Manager secret in the
RDS format (``DB_SECRET_ARN``); else an embedded PostgreSQL 16 (pgserver) whose data lives in
``$PIPELINE_HOME/pg``, started on first use and left running so that later commands, the ETL and the
dashboard share it.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import json
import logging
import os
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import psycopg

from pipeline import embedded_start
from pipeline.catalog import DASHBOARD_ROLE, EXPLORER_ROLE
from pipeline.redaction import one_line_reason, redact
from pipeline.settings import Settings, get_settings

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_SECONDS = 10
APPLICATION_NAME = "pipeline"


class DatabaseUnavailable(RuntimeError):
    """The database cannot be reached or started; the message says which and why, in one line."""


def embedded_data_dir(settings: Settings) -> Path:
    return Path(settings.pipeline_home) / "pg"


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


# Beside the data folder: the server (pid and start time) that `_embedded_uri` last found ready and
# configured with `EMBEDDED_SERVER_SETTINGS`, so the next command can connect without pgserver.
_READY_MARKER = ".pg.ready"


@functools.cache
def _embedded_uri(data_dir: Path) -> str:
    running = _ready_server_uri(data_dir)
    if running is not None:
        return running
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI); the fallback is fine.
        warnings.simplefilter("ignore")
        import pgserver

    data_dir.parent.mkdir(parents=True, exist_ok=True)
    # One process at a time starts and configures the server; the others then find it running.
    with open(data_dir.parent / ".pg.lock", "a") as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX)
        if embedded_start.is_interrupted_initdb(data_dir):
            aside = embedded_start.set_aside(data_dir)
            log.warning(
                "the embedded database in %s was never completely created (its first start was "
                "interrupted); moved it to %s and creating it again",
                data_dir,
                aside,
            )
        try:
            uri = _start_embedded(pgserver, data_dir)
        except DatabaseUnavailable:
            raise
        except Exception as error:
            # A server killed a moment ago may still hold its shared memory: once more, then give up.
            log.info("%s; starting it once more", embedded_start.start_failure(data_dir, error))
            time.sleep(embedded_start.RESTART_WAIT_SECONDS)
            try:
                uri = _start_embedded(pgserver, data_dir)
            except DatabaseUnavailable:
                raise
            except Exception as again:
                raise DatabaseUnavailable(embedded_start.start_failure(data_dir, again)) from again
    return uri


def _start_embedded(pgserver: Any, data_dir: Path) -> str:
    """Start (initdb first if needed) and configure the server; its own output stays in its log file."""
    with warnings.catch_warnings(), embedded_start.quiet_pgserver():
        warnings.simplefilter("ignore")
        # pgserver keeps one instance per folder in this process: a failed start must not be reused.
        vars(pgserver.postgres_server.PostgresServer).get("_instances", {}).pop(data_dir.resolve(), None)
        # cleanup_mode=None: the server outlives this process and is reused by the next command.
        server = pgserver.get_server(data_dir, cleanup_mode=None)
    uri: str = server.get_uri()
    _configure_embedded(uri, data_dir)
    _mark_ready(data_dir)
    return uri


def _ready_server_uri(data_dir: Path) -> str | None:
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
    if not _is_postgres_process(pid):
        return None
    return f"postgresql://postgres:@/postgres?host={socket_dir}"


def _is_postgres_process(pid: str) -> bool:
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
    """Record the running, configured server for `_ready_server_uri` (re-read: a restart changed it)."""
    try:
        lines = (data_dir / "postmaster.pid").read_text().splitlines()
    except OSError:
        return
    if len(lines) >= 8:
        (data_dir.parent / _READY_MARKER).write_text(_ready_stamp(lines))


def _configure_embedded(uri: str, data_dir: Path) -> None:
    """Apply `EMBEDDED_SERVER_SETTINGS` once; restart the server if a setting needs it."""
    with psycopg.connect(uri, autocommit=True, connect_timeout=CONNECT_TIMEOUT_SECONDS) as conn:
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
        _pg_ctl(data_dir, ["-w", "-m", "fast", "restart"])


def _pg_ctl(data_dir: Path, arguments: list[str]) -> None:
    """Run pgserver's pg_ctl on `data_dir` as the user the server runs as (pgserver's own when root)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pgserver

    # pgserver generates its command wrappers (pg_ctl, initdb...) at import time: look it up by name.
    pg_ctl: Callable[..., object] = vars(pgserver)["pg_ctl"]

    user = "pgserver" if os.geteuid() == 0 else None
    # Without an explicit -o, restart reuses the options the server was started with (its socket).
    pg_ctl(arguments, pgdata=data_dir.resolve(), user=user, timeout=60)


def secret_url(secret_arn: str, region: str | None = None) -> str:
    """A PostgreSQL URI from a Secrets Manager secret in the RDS format."""
    import boto3

    client = boto3.client("secretsmanager", region_name=region or _region_of(secret_arn))
    try:
        secret = json.loads(client.get_secret_value(SecretId=secret_arn)["SecretString"])
        user, password = secret["username"], secret["password"]
        host, port = secret["host"], int(secret.get("port", 5432))
        dbname = secret.get("dbname", "postgres")
    except Exception as error:
        raise DatabaseUnavailable(f"cannot read the database secret {secret_arn}: {error}") from error
    # A Unix-socket directory is a valid host too; libpq wants it percent-encoded in a URI.
    host = quote(host, safe="") if host.startswith("/") else host
    return f"postgresql://{quote(user, safe='')}:{quote(password, safe='')}@{host}:{port}/{quote(dbname, safe='')}"


def _region_of(arn: str) -> str | None:
    parts = arn.split(":")
    return parts[3] if len(parts) > 3 and parts[3] else None


def database_url(settings: Settings | None = None) -> str:
    """The URI of the pipeline's database (owner credentials), starting the embedded server if needed."""
    settings = settings or get_settings()
    if settings.database_url:
        return settings.database_url
    if settings.db_secret_arn:
        return secret_url(settings.db_secret_arn, settings.aws_region)
    return _embedded_uri(embedded_data_dir(settings))


def dashboard_database_url(settings: Settings | None = None) -> str:
    """The URI the dashboard connects with: the role `dashboard_reader`, never the owner."""
    settings = settings or get_settings()
    if settings.dashboard_database_url:
        return settings.dashboard_database_url
    if settings.dashboard_db_secret_arn:
        return secret_url(settings.dashboard_db_secret_arn, settings.aws_region)
    # Same server and database as the owner's URI, as the reader role (trusted locally, no password).
    return with_user(database_url(settings), DASHBOARD_ROLE, password=None)


def explorer_database_url(settings: Settings | None = None) -> str:
    """The URI the SQL explorer connects with: the role `dashboard_explorer`, with its own limits."""
    settings = settings or get_settings()
    if settings.explorer_database_url:
        return settings.explorer_database_url
    if settings.explorer_db_secret_arn:
        return secret_url(settings.explorer_db_secret_arn, settings.aws_region)
    return with_user(database_url(settings), EXPLORER_ROLE, password=None)


def with_user(url: str, user: str, password: str | None) -> str:
    """`url` with its user (and password) replaced."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    credentials = quote(user, safe="") + (f":{quote(password, safe='')}" if password else "")
    return urlunsplit(parts._replace(netloc=f"{credentials}@{host}"))


def connect(url: str | None = None, *, autocommit: bool = False, **options: Any) -> psycopg.Connection:
    """Open a connection (the pipeline's database unless `url` is given); one clear error if impossible."""
    url = url or database_url()
    try:
        return psycopg.connect(
            url,
            autocommit=autocommit,
            connect_timeout=CONNECT_TIMEOUT_SECONDS,
            application_name=APPLICATION_NAME,
            **options,
        )
    except psycopg.Error as error:
        # ProgrammingError too: libpq rejects a malformed URI with a message that quotes it whole.
        raise DatabaseUnavailable(f"cannot connect to {redact(url)}: {one_line_reason(error)}") from None


def fetch_row(cursor: psycopg.Cursor) -> tuple[Any, ...]:
    """The one row a query that always returns a row (an aggregate, a function call) returned."""
    row = cursor.fetchone()
    if row is None:
        raise psycopg.ProgrammingError("the query returned no row where one was expected")
    return row


def fetch_value(cursor: psycopg.Cursor) -> Any:
    """The first column of the one row `fetch_row` reads."""
    return fetch_row(cursor)[0]


@contextlib.contextmanager
def connection(url: str | None = None, **options: Any) -> Iterator[psycopg.Connection]:
    """A connection as a context manager: committed on success, rolled back on error, always closed."""
    with connect(url, **options) as conn:
        yield conn


def stop_embedded(settings: Settings | None = None) -> bool:
    """Stop the embedded PostgreSQL of `settings` if it runs; True if one was stopped."""
    settings = settings or get_settings()
    data_dir = embedded_data_dir(settings).resolve()
    if not (data_dir / "postmaster.pid").exists():
        return False
    try:
        _pg_ctl(data_dir, ["-w", "-m", "fast", "stop"])
    except Exception as error:  # pg_ctl says "no server running" through a non-zero exit
        log.debug("pg_ctl stop in %s: %s", data_dir, error)
        return False
    finally:
        _embedded_uri.cache_clear()
    return True
