"""The dashboard's connection to its database, shared by every page, and the one way pages query it.

Pages read as the role `dashboard_reader` through one shared autocommit connection whose transactions
are read-only by default. `fetch` runs one parameterised statement and returns a DataFrame; each
statement's duration is logged at DEBUG level on this module's logger with the extras ``query_name``
and ``elapsed_ms`` (the benchmark listens to them). The SQL explorer has its own role and connections
(`dashboard.explorer`), so a flooded explorer never takes the pages' connection.
"""

from __future__ import annotations

import logging
import time

import pandas as pd
import psycopg
import streamlit as st

from pipeline.db import DatabaseUnavailable, connect, dashboard_database_url
from pipeline.redaction import one_line_reason
from pipeline.settings import SettingsError

log = logging.getLogger(__name__)

#: The dashboard's own queries are small; anything slower than this is a bug, not a report.
READER_STATEMENT_TIMEOUT_MS = 15_000

_READER_OPTIONS = f"-c default_transaction_read_only=on -c statement_timeout={READER_STATEMENT_TIMEOUT_MS}"


def _is_usable(conn: psycopg.Connection) -> bool:
    return not conn.closed and not conn.broken


@st.cache_resource(validate=_is_usable, show_spinner=False)
def _reader_connection() -> psycopg.Connection:
    """One autocommit, read-only connection as `dashboard_reader`, shared by the sessions of this server.

    psycopg serialises concurrent use of a connection, which is enough for a handful of readers whose
    queries take milliseconds; a broken connection fails `_is_usable` and is replaced on next use.
    """
    try:
        url = dashboard_database_url()
    except SettingsError as error:
        raise DatabaseUnavailable(str(error)) from error
    return connect(url, autocommit=True, options=_READER_OPTIONS)


def forget_connection() -> None:
    """Drop the cached connection and cached results (the Retry button, tests)."""
    _reader_connection.clear()
    st.cache_data.clear()


def fetch(query_name: str, sql: str, params: dict[str, object] | None = None) -> pd.DataFrame:
    """Run one of the dashboard's statements with `params`; its rows as a DataFrame."""
    started = time.perf_counter()
    try:
        with _reader_connection().cursor() as cursor:
            cursor.execute(sql, params)
            columns = [column.name for column in cursor.description or ()]
            rows = cursor.fetchall()
    except psycopg.OperationalError as error:
        _reader_connection.clear()
        raise DatabaseUnavailable(f"the database stopped answering: {one_line_reason(error)}") from error
    elapsed_ms = (time.perf_counter() - started) * 1000
    log.debug(
        "query %s: %.1f ms, %d rows",
        query_name,
        elapsed_ms,
        len(rows),
        extra={"query_name": query_name, "elapsed_ms": elapsed_ms},
    )
    return pd.DataFrame(rows, columns=columns)
