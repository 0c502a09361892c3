"""The SQL explorer's runner: a checked statement, run as its own role, within a byte and a row budget.

Layers, each of which holds without the others:

- `dashboard.statement_check` passes only one plain query, calling no dangerous function;
- the statement runs as the role `dashboard_explorer`, whose limits are set on the role itself
  (connection limit, statement_timeout, work_mem, temp_file_limit, idle_in_transaction_session_timeout,
  read-only transactions; sql/0021) and which may read only the analytics data;
- on its own connection, in a READ ONLY transaction that is always rolled back, through a cursor
  (DECLARE accepts only queries; EXPLAIN runs directly), so nothing it does outlives the statement;
- rows come back through `explorer_fetch`, and an EXPLAIN's lines through `explorer_explain`, which stop
  in the server at `EXPLORER_MAX_ROWS` rows or `EXPLORER_MAX_BYTES` bytes, so a huge result never
  reaches this process; a database message is cut to `EXPLORER_MAX_MESSAGE_CHARACTERS`;
- at most `EXPLORER_MAX_CONCURRENT` statements run at once in this server, whichever sessions send
  them; more are refused at once, and the pages keep their own connection, role and the other core.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pandas as pd
import psycopg

from dashboard.statement_check import CheckedStatement, RefusedStatement
from pipeline.db import DatabaseUnavailable, connect, explorer_database_url
from pipeline.redaction import one_line_reason
from pipeline.settings import SettingsError

EXPLORER_MAX_ROWS = 10_000
#: Bytes of JSON-encoded rows; a few megabytes is more than a page can usefully show.
EXPLORER_MAX_BYTES = 4 * 1024 * 1024
#: The role's own statement_timeout (sql/0021) is the limit; this only words the message.
EXPLORER_TIMEOUT_MS = 5_000
#: One statement at a time across every session: a heavy statement holds a core for up to its timeout,
#: and on a 2-core instance the pages need the other (sql/0024 sets the role's connection limit to match).
EXPLORER_MAX_CONCURRENT = 1
_CURSOR_NAME = "explorer"
_PLAN_COLUMN = "QUERY PLAN"
#: The role's work_mem (sql/0023); each sort, hash or stored result of a plan keeps at most this much.
EXPLORER_WORK_MEM_MB = 4
#: 16 steps of 4 MB: one statement keeps at most 64 MB besides its backend's own few megabytes.
EXPLORER_MAX_MEMORY_STEPS = 16
_MEMORY_NODES = frozenset(
    {
        *("Sort", "Incremental Sort", "Hash", "Materialize", "Memoize", "WindowAgg", "CTE Scan"),
        *("Function Scan", "Bitmap Heap Scan", "Recursive Union", "Table Function Scan"),
    }
)
#: A database message longer than this is cut: it may quote a value of the visitor's statement.
EXPLORER_MAX_MESSAGE_CHARACTERS = 2_000

_running = threading.BoundedSemaphore(EXPLORER_MAX_CONCURRENT)


class ExplorerError(ValueError):
    """A statement of the SQL explorer failed in the database; the message says why, in one line."""


class ExplorerBusy(RuntimeError):
    """As many explorer statements as allowed are running already; the visitor should try again."""


@dataclass(frozen=True)
class ExplorerResult:
    """The first rows of an explorer statement, why the rest was cut off (if it was), how long it took."""

    frame: pd.DataFrame
    cut_off: str | None
    elapsed_ms: float

    @property
    def truncated(self) -> bool:
        return self.cut_off is not None


@contextmanager
def _explorer_slot() -> Iterator[None]:
    if not _running.acquire(blocking=False):
        raise ExplorerBusy(
            "another statement is running already (statements run one at a time); try again in a few seconds"
        )
    try:
        yield
    finally:
        _running.release()


def run_explorer_statement(statement: CheckedStatement) -> ExplorerResult:
    """Run one statement that passed `check_read_only_statement`, as `dashboard_explorer`; never writes."""
    with _explorer_slot():
        try:
            conn = connect(explorer_database_url())
        except SettingsError as error:
            raise DatabaseUnavailable(str(error)) from error
        started = time.perf_counter()
        try:
            conn.execute("SET TRANSACTION READ ONLY")
            _check_plan(conn, statement.planned_text)
            if statement.explain:
                frame, cut_off = _explain(conn, statement.text)
            else:
                frame, cut_off = _query(conn, statement.text)
        except psycopg.errors.QueryCanceled as error:
            raise ExplorerError(
                f"the statement ran longer than {EXPLORER_TIMEOUT_MS / 1000:g} s and was cancelled"
            ) from error
        except psycopg.Error as error:
            if conn.broken:
                raise DatabaseUnavailable(
                    f"the database stopped answering: {one_line_reason(error)}"
                ) from error
            # A limit of the role (temp_file_limit, out of memory) is the statement's failure, not the database's.
            raise ExplorerError(_short_message(error.diag.message_primary or str(error))) from error
        finally:
            if not conn.closed:
                conn.rollback()
                conn.close()
    return ExplorerResult(frame, cut_off, (time.perf_counter() - started) * 1000)


def _check_plan(conn: psycopg.Connection, query: str) -> None:
    """Refuse a plan with more steps that each keep up to work_mem than `EXPLORER_MAX_MEMORY_STEPS`."""
    [(plan,)] = conn.execute(f"EXPLAIN (FORMAT JSON) {query}").fetchall()
    steps = memory_steps(plan[0]["Plan"])
    if steps > EXPLORER_MAX_MEMORY_STEPS:
        raise RefusedStatement(
            f"its plan has {steps} sorts, hashes and stored results, each of which may keep "
            f"{EXPLORER_WORK_MEM_MB} MB; at most {EXPLORER_MAX_MEMORY_STEPS} may run in one statement"
        )


def memory_steps(plan: dict[str, Any]) -> int:
    """The steps of `plan` (EXPLAIN's JSON) that each keep up to work_mem: sorts, hashes, stored rows."""
    node = plan["Node Type"]
    keeps = node in _MEMORY_NODES or (
        node in ("Aggregate", "SetOp") and plan.get("Strategy") in ("Hashed", "Mixed")
    )
    return int(keeps) + sum(memory_steps(child) for child in plan.get("Plans", []))


def _short_message(message: str) -> str:
    """The message on one line, cut to `EXPLORER_MAX_MESSAGE_CHARACTERS` (saying how much was left out)."""
    head = message[: EXPLORER_MAX_MESSAGE_CHARACTERS * 2]
    line = " ".join(head.split())
    if len(line) <= EXPLORER_MAX_MESSAGE_CHARACTERS and len(head) == len(message):
        return line
    return f"{line[:EXPLORER_MAX_MESSAGE_CHARACTERS]}... (cut: {len(message):,} characters in all)"


def _query(conn: psycopg.Connection, text: str) -> tuple[pd.DataFrame, str | None]:
    """Declare the user's query as a cursor, then fetch it through the server-side budget."""
    with conn.cursor(name=_CURSOR_NAME) as declared:
        declared.execute(text)
        description = declared.description or []
        columns = _unique_column_names([column.name for column in description])
        types = [column.type_code for column in description]
        budgeted = conn.execute(
            "SELECT row_json::text, cut_off FROM explorer_fetch(%s, %s, %s)",
            (_CURSOR_NAME, EXPLORER_MAX_ROWS, EXPLORER_MAX_BYTES),
        ).fetchall()
    rows = [_decode_row(encoded, types) for encoded, cut_off in budgeted if cut_off is None]
    cut_off = next((reason for _, reason in budgeted if reason is not None), None)
    return pd.DataFrame(rows, columns=columns), cut_off


def _explain(conn: psycopg.Connection, text: str) -> tuple[pd.DataFrame, str | None]:
    """The plan's lines through `explorer_explain`, which keeps them to the row and byte budget in the server."""
    budgeted = conn.execute(
        "SELECT line, cut_off FROM explorer_explain(%s, %s, %s)",
        (text, EXPLORER_MAX_ROWS, EXPLORER_MAX_BYTES),
    ).fetchall()
    lines = [(line,) for line, cut_off in budgeted if cut_off is None]
    cut_off = next((reason for _, reason in budgeted if reason is not None), None)
    return pd.DataFrame(lines, columns=[_PLAN_COLUMN]), cut_off


class _JsonObject(list[tuple[str, Any]]):
    """A JSON object as its (key, value) pairs in order: `SELECT 1 AS a, 2 AS a` has two columns a."""


def _decode_row(encoded: str, types: list[int]) -> list[Any]:
    """One row of `explorer_fetch` back to Python values: JSON's, and dates and floats by column type."""
    pairs = json.loads(encoded, object_pairs_hook=_JsonObject, parse_float=Decimal)
    return [_typed(_plain(value), type_oid) for (_, value), type_oid in zip(pairs, types, strict=True)]


def _plain(value: Any) -> Any:
    if isinstance(value, _JsonObject):
        return {key: _plain(item) for key, item in value}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


_FLOAT_TYPES = {700, 701}  # real, double precision
_NUMERIC = 1700  # stays an exact Decimal
_DATE_TYPES = {1082: dt.date.fromisoformat, 1114: dt.datetime.fromisoformat, 1184: dt.datetime.fromisoformat}


def _typed(value: Any, type_oid: int) -> Any:
    if value is None:
        return None
    if isinstance(value, dict | list):
        # Arrays and JSON documents as JSON text: a table column needs one type, and nested values mix them.
        return json.dumps(value, ensure_ascii=False, default=str)
    if type_oid in _FLOAT_TYPES:
        return float(value)  # JSON carries NaN and Infinity as the strings PostgreSQL writes
    if type_oid == _NUMERIC and isinstance(value, str):
        return Decimal(value)  # 'NaN', 'Infinity
    parse = _DATE_TYPES.get(type_oid)
    if parse is not None and isinstance(value, str):
        try:
            return parse(value)
        except ValueError:  # 'infinity', years before 1 or after 9999: shown as PostgreSQL wrote them
            return value
    return value


def _unique_column_names(names: list[str]) -> list[str]:
    # `SELECT 1, 1` is valid SQL, but a table (and its CSV) needs distinct column names.
    seen: dict[str, int] = {}
    unique = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        unique.append(name if seen[name] == 1 else f"{name}_{seen[name]}")
    return unique
