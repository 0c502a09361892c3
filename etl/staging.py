"""Staging: the one PostgreSQL writer of the ETL.

Rows go by binary COPY into temporary staging tables, then into the curated tables with the schema's
``ON CONFLICT ... WHERE (...) IS DISTINCT FROM (...)`` clause, so a row whose values did not change is
never rewritten and a re-run writes nothing. Everything happens inside the caller's transaction,
together with the ledger rows that record it. Only psycopg here: a run with nothing new loads the
universe into `companies` without importing numpy.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import astuple
from typing import NamedTuple

import psycopg
from psycopg import sql

from etl.schema import COMPANIES, TABLES, TableSpec
from pipeline.db import fetch_row, fetch_value
from pipeline.reference import Company

# The framing of a binary COPY stream around the tuples `etl.copy_binary.encode_tuples` makes: the
# signature, flags and header extension length, then the end-of-data marker.
SIGNATURE = b"PGCOPY\n\xff\r\n\x00" + b"\x00\x00\x00\x00" + b"\x00\x00\x00\x00"
TRAILER = b"\xff\xff"


def create_staging(cursor: psycopg.Cursor, spec: TableSpec) -> None:
    """An empty temporary (unlogged) copy of the table's columns and defaults, dropped at commit."""
    staging = sql.Identifier(spec.staging)
    cursor.execute(
        sql.SQL("CREATE TEMP TABLE IF NOT EXISTS {} (LIKE {} INCLUDING DEFAULTS) ON COMMIT DROP").format(
            staging, sql.Identifier(spec.name)
        )
    )
    cursor.execute(sql.SQL("TRUNCATE {}").format(staging))


class StagingWriter:
    """Binary COPY of rows into one staging table, moved into the curated table batch by batch.

    Upserting every `batch_rows` staged rows lets PostgreSQL write one batch while the worker
    processes parse the next, instead of idling until everything is parsed.

    With `unique_keys` (the caller writes each key at most once) and a table empty when the writer
    starts (a first load, or a backfill into a new database), nothing can conflict: the rows are
    copied straight into the table, which spares PostgreSQL the staging table and the speculative
    insertion of ``INSERT ... ON CONFLICT``. The run's lock keeps other ETL runs out meanwhile.

    With `defer_indexes` as well (a backfill), the empty table's indexes and primary key are dropped
    before the first row and rebuilt by `finish`, in one sort each, instead of being maintained row by
    row: PostgreSQL's own advice for populating a table, and the larger part of a first load's time.
    Readers of that table wait for the load's commit meanwhile (they would have found it empty).

    `columns` (default: all of the table's) are the columns the rows hold; the others take their defaults.
    """

    def __init__(
        self,
        cursor: psycopg.Cursor,
        spec: TableSpec,
        batch_rows: int | None = None,
        *,
        unique_keys: bool = False,
        defer_indexes: bool = False,
        columns: Sequence[str] | None = None,
    ) -> None:
        self.cursor = cursor
        self.spec = spec
        types = dict(spec.columns)
        self.columns = [(name, types[name]) for name in columns or spec.column_names]
        self.batch_rows = batch_rows
        self.rows = 0
        self.pending = 0
        self.written = 0
        # Of the rows written, those that were new (the rest changed a stored row): the table's count
        # moves by these (`etl.analytics.update_table_stats`).
        self.inserted = 0
        self.into_empty = unique_keys and table_is_empty(cursor, spec.name)
        if not self.into_empty:
            create_staging(cursor, spec)
        self.rebuild = drop_indexes(cursor, spec.name) if self.into_empty and defer_indexes else []
        self.copy_statement = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(
            sql.Identifier(spec.name if self.into_empty else spec.staging),
            sql.SQL(", ").join(sql.Identifier(name) for name, _ in self.columns),
        )

    def write(self, rows: Iterable[tuple]) -> None:
        """COPY `rows`, tuples of Python values in the order of `columns` (psycopg's binary dumpers)."""
        with self.cursor.copy(self.copy_statement) as copy:
            copy.set_types([pg_type for _, pg_type in self.columns])
            for row in rows:
                copy.write_row(row)
                self.pending += 1
        self._flush_when_full()

    def write_tuples(self, tuples: bytes, rows: int) -> None:
        """COPY rows already encoded as binary tuples (`etl.copy_binary.encode_tuples`)."""
        with self.cursor.copy(self.copy_statement) as copy:
            copy.write(SIGNATURE)
            copy.write(tuples)
            copy.write(TRAILER)
        self.pending += rows
        self._flush_when_full()

    def _flush_when_full(self) -> None:
        if self.batch_rows and self.pending >= self.batch_rows:
            self.flush()

    def flush(self) -> int:
        """Upsert the staged rows and empty the staging table; return the rows written so far."""
        if self.pending:
            if self.into_empty:
                self.written += self.pending
                self.inserted += self.pending
            else:
                upserted = upsert_from_staging(self.cursor, self.spec)
                self.written += upserted.written
                self.inserted += upserted.inserted
                self.cursor.execute(sql.SQL("TRUNCATE {}").format(sql.Identifier(self.spec.staging)))
            self.rows += self.pending
            self.pending = 0
        return self.written

    def finish(self) -> int:
        """Flush, then rebuild the indexes dropped at the start and gather the table's statistics
        (the planner would take the freshly filled table for empty); return the rows written."""
        written = self.flush()
        if self.rebuild:
            for statement in self.rebuild:
                self.cursor.execute(statement)
            self.cursor.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(self.spec.name)))
            self.rebuild = []
        return written


def drop_indexes(cursor: psycopg.Cursor, table: str) -> list[sql.Composed | sql.SQL]:
    """Drop the indexes of `table` (its primary key and unique constraints included); return the
    statements that rebuild them as they were."""
    cursor.execute(
        """
        SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid), c.conname,
               pg_get_constraintdef(c.oid)
        FROM pg_index AS i LEFT JOIN pg_constraint AS c ON c.conindid = i.indexrelid AND c.conrelid = i.indrelid
        WHERE i.indrelid = %s::regclass
        ORDER BY c.conname IS NULL, i.indexrelid
        """,
        (table,),
    )
    rebuild: list[sql.Composed | sql.SQL] = []
    for index, definition, constraint, constraint_definition in cursor.fetchall():
        if constraint is None:
            cursor.execute(sql.SQL("DROP INDEX {}").format(sql.SQL(index)))
            rebuild.append(sql.SQL(definition))
        else:
            table_name, name = sql.Identifier(table), sql.Identifier(constraint)
            cursor.execute(sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(table_name, name))
            rebuild.append(
                sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} {}").format(
                    table_name, name, sql.SQL(constraint_definition)
                )
            )
    return rebuild


def table_is_empty(cursor: psycopg.Cursor, table: str) -> bool:
    """Whether `table` has no row (as this transaction sees it)."""
    cursor.execute(sql.SQL("SELECT NOT EXISTS (SELECT FROM {})").format(sql.Identifier(table)))
    return bool(fetch_value(cursor))


class Upserted(NamedTuple):
    """What one upsert did: rows written (inserted or changed), and of them those inserted."""

    written: int
    inserted: int


def upsert_from_staging(cursor: psycopg.Cursor, spec: TableSpec, *, insert_only: bool = False) -> Upserted:
    """Move staged rows into the table; return the rows inserted or changed (unchanged rows are skipped).

    `insert_only` keeps existing rows as they are (``DO NOTHING``), for facts that never change.
    """
    names = sql.SQL(", ").join(map(sql.Identifier, spec.column_names))
    return counted_upsert(
        cursor,
        spec.name,
        sql.SQL("INSERT INTO {table} AS {table} ({names}) SELECT {names} FROM {staging} {action}").format(
            table=sql.Identifier(spec.name),
            names=names,
            staging=sql.Identifier(spec.staging),
            action=spec.on_conflict_update([] if insert_only else None),
        ),
    )


def counted_upsert(cursor: psycopg.Cursor, table: str, upsert: sql.Composable) -> Upserted:
    """Run `upsert` (an ``INSERT INTO table AS table ... ON CONFLICT ...``); count what it wrote and inserted.

    A row version that ``ON CONFLICT DO UPDATE`` wrote carries the updating transaction in xmax (it
    locked the row first); an inserted one has none.
    """
    cursor.execute(
        sql.SQL(
            "WITH written AS ({upsert} RETURNING {table}.xmax = 0 AS inserted) "
            "SELECT count(*), count(*) FILTER (WHERE inserted) FROM written"
        ).format(upsert=upsert, table=sql.Identifier(table))
    )
    written, inserted = fetch_row(cursor)
    return Upserted(written, inserted)


def load_companies(cursor: psycopg.Cursor, companies: Sequence[Company]) -> int:
    """Upsert the universe into `companies`; return the rows inserted or changed."""
    writer = StagingWriter(cursor, TABLES[COMPANIES])
    writer.write(astuple(company) for company in companies)
    return writer.flush()
