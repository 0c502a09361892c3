"""The lake sink: an ETL run's changes to the curated tables, written to their Iceberg tables.

It runs inside the load's transaction, right before the commit, and reads what the run wrote from
there: the transform ran once, for PostgreSQL, and the lake gets the rows exactly as stored (derived
returns and analytics included), so both hold the same values to the bit. A failure here rolls the
PostgreSQL load back too, and the next run loads the same objects again; a commit that fails after
the lake was written leaves rows the next run writes again, identically.

What changed is found without a second bookkeeping: every row the run inserted or updated carries
the transaction's id (`xmin`), and the upserts never rewrite an unchanged row. For the fact tables a
run then rewrites, per name (ticker, symbol, state...), its rows from the first day that changed: a
filtered overwrite ("these tickers, from this day") in one Iceberg commit, idempotent, and
unaffected by pyiceberg's composite-key upsert failing on large inputs (apache/iceberg-python#3508).
The small tables (`companies`, `dim_date`, and the analytics, which also lose rows) are rewritten
whole when the run changed them. A lake table that is new or empty, and every table with `--full`,
is written whole from PostgreSQL: setting `LAKE_WAREHOUSE` on a loaded database fills the lake.
"""

from __future__ import annotations

import datetime as dt
import functools
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING

import psycopg
from psycopg import sql

from etl.lake import (
    CURATED_LAKE_TABLES,
    FACT_TABLES,
    arrow_schema,
    lake_spec,
    open_catalog,
    open_table,
    replace_rows,
)
from etl.schema import TableSpec
from pipeline.settings import Settings

if TYPE_CHECKING:
    import pyarrow as pa
    from pyiceberg.expressions import BooleanExpression

# Past this many distinct first days in one run, a table's overwrite uses the earliest for every
# changed name: a little more rewritten, a filter that stays short.
MAX_SCOPE_GROUPS = 20


@dataclass
class LakeWrite:
    """What the sink wrote: rows per lake table (tables left as they were are absent), and seconds."""

    rows: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


@dataclass(frozen=True)
class Scope:
    """The part of a fact table a run rewrites: per name, its rows from that day on."""

    since_by_name: dict[str, dt.date]

    def grouped(self) -> dict[dt.date, list[str]]:
        """The names by first day (all of them under the earliest past `MAX_SCOPE_GROUPS` days)."""
        groups: dict[dt.date, list[str]] = {}
        for name, since in sorted(self.since_by_name.items()):
            groups.setdefault(since, []).append(name)
        if len(groups) > MAX_SCOPE_GROUPS:
            return {min(groups): sorted(self.since_by_name)}
        return groups

    def since_for_export(self) -> tuple[list[str], list[dt.date]]:
        """Each name with the first day its group rewrites, as the export query's two arrays."""
        pairs = [(name, since) for since, names in self.grouped().items() for name in names]
        return [name for name, _ in pairs], [since for _, since in pairs]

    def expression(self, spec: TableSpec) -> BooleanExpression:
        from pyiceberg.expressions import And, GreaterThanOrEqual, In, Or

        name_column, day_column = spec.key
        terms = [
            And(In(name_column, names), GreaterThanOrEqual(day_column, since.isoformat()))
            for since, names in self.grouped().items()
        ]
        return functools.reduce(Or, terms[1:], terms[0]) if len(terms) > 1 else terms[0]


def write_curated_changes(
    cursor: psycopg.Cursor, settings: Settings, rows_written: Mapping[str, int], *, full: bool
) -> LakeWrite:
    """Write to the lake what this transaction changed in the curated tables (see the module docstring).

    `rows_written` is the run's count per table (a table it did not change is not read at all).
    """
    started = time.perf_counter()
    catalog = open_catalog(settings)
    result = LakeWrite()
    transaction_id = None
    for name in CURATED_LAKE_TABLES:
        table = open_table(catalog, settings, name)
        spec = lake_spec(name)
        if table.current_snapshot() is None:
            # New (or never written): filled whole from PostgreSQL, once there is a row to write.
            rows = export_rows(cursor, spec)
            if not rows.num_rows:
                continue
            replace_rows(table, rows)
        elif full:
            rows = export_rows(cursor, spec)
            replace_rows(table, rows)
        elif not rows_written.get(name):
            continue
        elif name not in FACT_TABLES:
            rows = export_rows(cursor, spec)
            replace_rows(table, rows)
        else:
            if transaction_id is None:
                cursor.execute("SELECT pg_current_xact_id()::xid::text")
                transaction_id = str(_one(cursor))
            scope = changed_scope(cursor, spec, transaction_id)
            if not scope.since_by_name:
                continue
            rows = export_rows(cursor, spec, scope)
            replace_rows(table, rows, scope.expression(spec))
        result.rows[name] = rows.num_rows
    result.seconds = time.perf_counter() - started
    return result


def changed_scope(cursor: psycopg.Cursor, spec: TableSpec, transaction_id: str) -> Scope:
    """Each name whose rows this transaction inserted or updated, with the first such day."""
    name_column, day_column = (sql.Identifier(column) for column in spec.key)
    cursor.execute(
        sql.SQL("SELECT {name}, min({day}) FROM {table} WHERE xmin = %s::xid GROUP BY {name}").format(
            name=name_column, day=day_column, table=sql.Identifier(spec.name)
        ),
        (transaction_id,),
    )
    return Scope({str(name): since for name, since in cursor.fetchall()})


def export_rows(cursor: psycopg.Cursor, spec: TableSpec, scope: Scope | None = None) -> pa.Table:
    """The stored rows of `spec`'s table (those `scope` covers, or all) as an Arrow table of the lake's
    schema, read by one COPY in CSV and parsed by Arrow.

    PostgreSQL prints a float8 in its shortest form that reads back to the same bits, and Arrow's
    parser rounds correctly, so every value crosses unchanged; dates go as ISO text whatever the
    session's DateStyle, JSON as its text.
    """
    columns = sql.SQL(", ").join(_exported(name, pg_type) for name, pg_type in spec.columns)
    query = sql.SQL("SELECT {columns} FROM {table}").format(columns=columns, table=sql.Identifier(spec.name))
    parameters: tuple = ()
    if scope is not None:
        name_column, day_column = (sql.Identifier(column) for column in spec.key)
        query = sql.SQL(
            "{query} JOIN unnest(%s::text[], %s::date[]) AS scope(name, since) "
            "ON {table}.{name} = scope.name AND {table}.{day} >= scope.since"
        ).format(query=query, table=sql.Identifier(spec.name), name=name_column, day=day_column)
        parameters = scope.since_for_export()
    # Any value above 0 prints the shortest exact form (PostgreSQL 12 on); a session may have set less.
    cursor.execute("SET LOCAL extra_float_digits = 1")
    with tempfile.TemporaryFile() as spool:
        with cursor.copy(sql.SQL("COPY ({}) TO STDOUT (FORMAT csv)").format(query), parameters) as copy:
            for chunk in copy:
                spool.write(chunk)
        spool.seek(0)
        return _read_csv(spool, spec)


def _exported(name: str, pg_type: str) -> sql.Composable:
    column = sql.Identifier(name)
    if pg_type == "date":
        return sql.SQL("to_char({}, 'YYYY-MM-DD')").format(column)
    if pg_type == "jsonb":
        return sql.SQL("{}::text").format(column)
    return column


def _read_csv(spool: IO[bytes], spec: TableSpec) -> pa.Table:
    import pyarrow as pa
    from pyarrow import csv

    schema = arrow_schema(spec.name)
    table = csv.read_csv(
        spool,
        read_options=csv.ReadOptions(column_names=spec.column_names, block_size=16 << 20),
        parse_options=csv.ParseOptions(newlines_in_values=True),
        convert_options=csv.ConvertOptions(
            column_types={item.name: item.type for item in schema},
            # COPY writes NULL as an empty unquoted field and an empty string as "".
            null_values=[""],
            strings_can_be_null=True,
            quoted_strings_can_be_null=False,
            true_values=["t"],
            false_values=["f"],
        ),
    )
    return pa.Table.from_arrays(table.columns, schema=schema)


def _one(cursor: psycopg.Cursor) -> object:
    row = cursor.fetchone()
    assert row is not None
    return row[0]
