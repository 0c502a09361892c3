"""The one module that owns database connections (psycopg 3).

Where the database is comes from the settings: ``DATABASE_URL``; else a Secrets Manager secret in the
RDS format (``DB_SECRET_ARN``); else an embedded PostgreSQL 16 (pgserver) whose data lives in
``$PIPELINE_HOME/pg``, started on first use and left running so that later commands, the ETL and the
dashboard share it.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
from collections.abc import Iterator
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


@functools.cache
def _embedded_uri(data_dir: Path) -> str:
    """The URI of the embedded server in `data_dir`: the one running and ready, else started (once per
    process and data folder)."""
    running = embedded_start.ready_server_uri(data_dir)
    if running is not None:
        return running
    try:
        return embedded_start.start_server(data_dir, connect_timeout=CONNECT_TIMEOUT_SECONDS)
    except embedded_start.ServerStartFailed as error:
        raise DatabaseUnavailable(str(error)) from error


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
    data_dir = embedded_data_dir(settings)
    return _embedded_uri(data_dir)


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
        embedded_start.pg_ctl(data_dir, ["-w", "-m", "fast", "stop"])
    except Exception as error:  # pg_ctl says "no server running" through a non-zero exit
        log.debug("pg_ctl stop in %s: %s", data_dir, error)
        return False
    finally:
        _embedded_uri.cache_clear()
    return True
