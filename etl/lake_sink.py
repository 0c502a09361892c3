"""The lake sink (`etl.sinks`): the run's curated rows written to their Iceberg tables (`etl.lake`).

The fact tables (`stock_daily`, `index_daily`, `weather_daily`, `news_daily`, `macro_daily`) come as
the transform hands them to every sink (`write`): the same final rows PostgreSQL upserts, so both
hold the same values to the bit. Converted to Arrow as they come, they are written at `commit` as
one filtered overwrite per table: the rows of exactly the keys the run handed on (per name, its
days) are replaced, in one Iceberg commit. That is an upsert by key, idempotent, and clear of
pyiceberg's composite-key `upsert`, which fails on large inputs (apache/iceberg-python#3508).

The tables PostgreSQL computes itself (`companies`, `dim_date`, and the analytics, which also lose
rows) are handed over by the run once they are final (`take_from_postgres`, in the load's
transaction, before any commit) and rewritten whole when the run changed them; so is any lake table
that is new or empty, and every table with `--full`: setting `LAKE_WAREHOUSE` on a loaded database
fills the lake on the next run. The sink commits before PostgreSQL (the ledger): a failure before
then loses both, and a PostgreSQL commit that fails after the lake's leaves rows the next run writes
again, identically. A run that hands on nothing leaves the lake untouched (no new snapshot).
"""

from __future__ import annotations

import functools
import tempfile
import time
from collections.abc import Mapping
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
from etl.schema import STOCK_MINUTE, TableSpec
from etl.sinks import RunStart, TableRows
from pipeline.settings import Settings

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa
    from pyiceberg.expressions import BooleanExpression
    from pyiceberg.table import Table, Transaction


class LakeSink:
    """The Iceberg tables of `LAKE_WAREHOUSE` as a sink of the ETL run (see the module docstring)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.tables: dict[str, Table] = {}
        self.full = False
        # Per table: the Arrow batches handed on, or the whole table (`whole`), to write at `commit`.
        self.batches: dict[str, list[pa.Table]] = {}
        self.whole: dict[str, pa.Table] = {}
        # Minute bars are written chunk by chunk into one transaction, committed at `commit`.
        self.minute_transaction: Transaction | None = None
        self.minute_rows = 0
        self._minute_table: Table | None = None
        #: Rows written per lake table by `commit`, and the seconds it took.
        self.rows: dict[str, int] = {}
        self.seconds = 0.0

    def begin(self, run: RunStart) -> None:
        catalog = open_catalog(self.settings)
        self.tables = {name: open_table(catalog, self.settings, name) for name in CURATED_LAKE_TABLES}
        self.full = run.full

    def write(self, rows: TableRows) -> None:
        if rows.table in FACT_TABLES and rows.rows:
            self.batches.setdefault(rows.table, []).append(to_arrow(rows))

    def take_from_postgres(self, cursor: psycopg.Cursor, rows_written: Mapping[str, int]) -> None:
        """Read, whole, each lake table the run changed but did not hand on (computed in PostgreSQL),
        each one new or empty in the lake, and every one with `--full`, from the run's transaction."""
        for name, table in self.tables.items():
            changed_in_postgres = name not in FACT_TABLES and rows_written.get(name)
            if self.full or changed_in_postgres or table.current_snapshot() is None:
                self.whole[name] = export_rows(cursor, lake_spec(name))

    def minute_table(self) -> Table:
        """`stock_minute` (created, or given the columns added since, on first use in the run)."""
        if self._minute_table is None:
            self._minute_table = open_table(open_catalog(self.settings), self.settings, STOCK_MINUTE)
        return self._minute_table

    def stage_minute_bars(self, rows: pa.Table, replaced: BooleanExpression) -> None:
        """A chunk of minute bars (`etl.intraday`) for `stock_minute`, replacing `replaced`: its data
        files are written now (so the chunk's memory is freed), the snapshot is committed with the
        others at `commit`, one catalog commit for all the run's chunks (a failure before leaves
        only files no snapshot references)."""
        if self.minute_transaction is None:
            self.minute_transaction = self.minute_table().transaction()
        replace_rows(self.minute_transaction, rows, replaced)
        self.minute_rows += rows.num_rows

    @property
    def pending_rows(self) -> dict[str, int]:
        """The rows `commit` will write per lake table (known once `take_from_postgres` ran)."""
        rows = {
            name: whole.num_rows
            for name, whole in self.whole.items()
            if whole.num_rows or self.tables[name].current_snapshot() is not None
        }
        for name, batches in self.batches.items():
            if name not in self.whole:
                rows[name] = sum(batch.num_rows for batch in batches)
        if self.minute_transaction is not None:
            rows[STOCK_MINUTE] = self.minute_rows
        return rows

    def commit(self) -> None:
        import pyarrow as pa

        started = time.perf_counter()
        for name, whole in self.whole.items():
            if whole.num_rows or self.tables[name].current_snapshot() is not None:
                replace_rows(self.tables[name], whole)
                self.rows[name] = whole.num_rows
        for name, batches in self.batches.items():
            if name in self.whole:
                continue  # written whole, this run's rows included
            rows = pa.concat_tables(batches)
            replace_rows(self.tables[name], rows, key_filter(lake_spec(name), rows))
            self.rows[name] = rows.num_rows
        if self.minute_transaction is not None:
            self.minute_transaction.commit_transaction()
            self.rows[STOCK_MINUTE] = self.minute_rows
        self.seconds = time.perf_counter() - started

    def abort(self) -> None:
        # Nothing was written before `commit`: dropping the buffers is all there is to undo.
        self.batches, self.whole, self.minute_transaction = {}, {}, None


def to_arrow(rows: TableRows) -> pa.Table:
    """The transform's columns of a fact table as an Arrow table of its lake schema (NaN, NaT: null)."""
    import numpy as np
    import pyarrow as pa

    from etl.columns import decoded

    schema = arrow_schema(rows.table)
    columns = decoded(rows.columns)
    arrays = []
    for field in schema:
        values = columns[field.name]
        if pa.types.is_string(field.type) or pa.types.is_large_string(field.type):
            arrays.append(pa.array(np.asarray(values, dtype=object), type=field.type, from_pandas=True))
        elif pa.types.is_date32(field.type):
            days = np.asarray(values).astype("datetime64[D]")
            arrays.append(pa.array(days, type=field.type, mask=np.isnat(days)))
        else:
            numbers = np.asarray(values, dtype=float)
            missing = np.isnan(numbers)
            if pa.types.is_integer(field.type):
                numbers = np.where(missing, 0, numbers).astype(np.int64)
            arrays.append(pa.array(numbers, type=field.type, mask=missing))
    return pa.Table.from_arrays(arrays, schema=schema)


def key_filter(spec: TableSpec, rows: pa.Table) -> BooleanExpression:
    """The rows of exactly the keys of `rows`: per name, its days; names with the same days together
    (a daily run: every ticker, one day), so the filter stays as short as the run is varied."""
    import numpy as np
    from pyiceberg.expressions import And, In, Or

    name_column, day_column = spec.key
    names = np.asarray(rows[name_column].to_numpy(zero_copy_only=False), dtype=object)
    days = rows[day_column].to_numpy().astype("datetime64[D]")
    order = np.lexsort((days, names.astype(str)))
    names, days = names[order], days[order]
    starts = np.flatnonzero(np.r_[True, names[1:] != names[:-1]])
    groups: dict[bytes, tuple[np.ndarray, list[str]]] = {}
    for start, end in zip(starts, [*starts[1:], len(names)], strict=True):
        name_days = np.unique(days[start:end])
        groups.setdefault(name_days.tobytes(), (name_days, []))[1].append(str(names[start]))
    terms = [
        And(In(name_column, group_names), In(day_column, [str(day) for day in group_days]))
        for group_days, group_names in groups.values()
    ]
    return functools.reduce(Or, terms[1:], terms[0]) if len(terms) > 1 else terms[0]


def export_rows(cursor: psycopg.Cursor, spec: TableSpec) -> pa.Table:
    """The stored rows of `spec`'s table as an Arrow table of the lake's schema, read by one COPY in
    CSV and parsed by Arrow.

    PostgreSQL prints a float8 in its shortest form that reads back to the same bits, and Arrow's
    parser rounds correctly, so every value crosses unchanged; dates go as ISO text whatever the
    session's DateStyle, JSON as its text.
    """
    columns = sql.SQL(", ").join(_exported(name, pg_type) for name, pg_type in spec.columns)
    query = sql.SQL("SELECT {columns} FROM {table}").format(columns=columns, table=sql.Identifier(spec.name))
    # Any value above 0 prints the shortest exact form (PostgreSQL 12 on); a session may have set less.
    cursor.execute("SET LOCAL extra_float_digits = 1")
    with tempfile.TemporaryFile() as spool:
        with cursor.copy(sql.SQL("COPY ({}) TO STDOUT (FORMAT csv)").format(query)) as copy:
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
    if not spool.read(1):
        return schema.empty_table()  # an empty table: COPY sent nothing, which Arrow cannot parse
    spool.seek(0)
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
