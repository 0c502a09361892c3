"""Load: rows (`etl.columns`) and stored bars between numpy and PostgreSQL.

Rows become binary COPY tuples (`etl.staging` moves them into the curated tables); the stored bars an
incremental load re-reads come back as numpy columns.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import psycopg
from psycopg import sql

from etl.columns import Coded, Columns, concatenated, is_missing, object_array, row_count
from etl.copy_binary import ENCODABLE_TYPES, POSTGRES_EPOCH, encode_tuples
from etl.derive import CONTEXT_BARS, date_dimension
from etl.parse import BAR_COLUMNS
from etl.precedence import FETCH_RANK, VALUE_RANKS
from etl.schema import DIM_DATE, TABLES, TableSpec
from etl.staging import StagingWriter, Upserted, upsert_from_staging
from pipeline.db import fetch_row

# The ranks `stored_bars` reads besides the bars: the row's, and each price column's.
_RANK_NAMES = (FETCH_RANK, *(f"rank_{name}" for name in BAR_COLUMNS[1:]))


def _column_values(values: Any, pg_type: str) -> list:
    """One column as Python values for COPY: dates as `date`, NaN and NaT as None."""
    array = values.decoded() if isinstance(values, Coded) else np.asarray(values)
    if pg_type == "date":
        days = array.astype("datetime64[D]")
        objects = days.astype(object)
        objects[np.isnat(days)] = None
        return objects.tolist()
    if pg_type in ("float8", "int8", "int2") and array.dtype.kind == "f":
        missing = np.isnan(array)
        objects = (array.astype(np.int64) if pg_type != "float8" else array).astype(object)
        objects[missing] = None
        return objects.tolist()
    if array.dtype.kind in "iu":
        return array.tolist()
    return [None if is_missing(value) else value for value in array.tolist()]


def table_rows(rows: Mapping[str, Any], spec: TableSpec) -> Iterator[tuple]:
    """The rows of `rows` in the column order of `spec`, ready for `Copy.write_row`."""
    columns = [_column_values(rows[name], pg_type) for name, pg_type in spec.columns]
    return zip(*columns, strict=True)


def write_rows(writer: StagingWriter, rows: Mapping[str, Any]) -> None:
    """COPY `rows` (columns named as the table's) through `writer`."""
    if all(pg_type in ENCODABLE_TYPES for _, pg_type in writer.spec.columns):
        writer.write_tuples(encode_tuples(rows, writer.spec.columns), row_count(rows))
    else:
        writer.write(table_rows(rows, writer.spec))


def stage_rows(cursor: psycopg.Cursor, spec: TableSpec, rows: Mapping[str, Any]) -> int:
    """COPY `rows` into the staging table of `spec`; return the rows staged."""
    writer = StagingWriter(cursor, spec)
    write_rows(writer, rows)
    return writer.pending


def load_rows(
    cursor: psycopg.Cursor,
    table: str,
    rows: Mapping[str, Any],
    *,
    unique_keys: bool = False,
    defer_indexes: bool = False,
) -> Upserted:
    """Stage and upsert `rows` into `table`; return the rows written (inserted or changed) and inserted.

    `unique_keys`: no two rows share a key; `defer_indexes`: into an empty table, build the indexes
    after the rows are in (see `StagingWriter`).
    """
    if not row_count(rows):
        return Upserted(0, 0)
    writer = StagingWriter(cursor, TABLES[table], unique_keys=unique_keys, defer_indexes=defer_indexes)
    write_rows(writer, rows)
    return Upserted(writer.finish(), writer.inserted)


def stored_bars(cursor: psycopg.Cursor, table: str, since_by_symbol: dict[str, dt.date]) -> Columns:
    """The stored bars each symbol's recomputation needs: from its date on, plus the `CONTEXT_BARS` before.

    Columns `symbol` (the symbol's position in `since_by_symbol`) and `BAR_COLUMNS` (dates as
    datetime64[ns]), by symbol and date; NULL prices are NaN. With them each bar's `fetch_rank` and,
    per price column, the rank of its value (`rank_<column>`, `etl.precedence`).
    """
    symbols = list(since_by_symbol)
    if not symbols:
        return {
            "symbol": np.array([], dtype=np.int64),
            **{
                name: np.array([], dtype="datetime64[ns]" if name == "trade_date" else float)
                for name in BAR_COLUMNS
            },
            **{name: np.array([], dtype=np.int64) for name in _RANK_NAMES},
        }
    columns = _stored_bar_columns(cursor, table, symbols, list(since_by_symbol.values()))
    order = np.lexsort((columns["trade_date"], columns["symbol"]))
    return {
        "symbol": columns["symbol"][order] - 1,
        "trade_date": (POSTGRES_EPOCH + columns["trade_date"][order]).astype("datetime64[ns]"),
        **{name: columns[name][order] for name in (*BAR_COLUMNS[1:], *_RANK_NAMES)},
    }


def _stored_bar_columns(
    cursor: psycopg.Cursor, table: str, symbols: list[str], since: list[dt.date]
) -> dict[str, np.ndarray]:
    """The bars of `stored_bars` as numpy columns: `symbol` (1-based position in `symbols`), `trade_date`
    (days since 2000-01-01) and the prices.

    Each column comes as one bytea of big-endian binary values, concatenated by the server: a re-read
    ten-year window is a million rows, seconds as Python tuples or COPY rows, and float8send keeps
    every bit of the stored prices, as the derived values need.
    """
    key = TABLES[table].key[0]
    names = sql.SQL(", ").join(sql.Identifier(name) for name in (*BAR_COLUMNS, FETCH_RANK, VALUE_RANKS))
    prices = [
        sql.SQL("string_agg(float8send(coalesce(bars.{}::float8, 'NaN')), '')").format(sql.Identifier(name))
        for name in BAR_COLUMNS[1:]
    ]
    ranks = [sql.SQL("string_agg(int8send(bars.fetch_rank), '')")] + [
        sql.SQL(
            "string_agg(int8send(coalesce((bars.value_ranks ->> {})::int8, bars.fetch_rank)), '')"
        ).format(sql.Literal(name))
        for name in BAR_COLUMNS[1:]
    ]
    query = sql.SQL(
        """
        SELECT string_agg(int4send(wanted.number::int4), ''),
               string_agg(int4send((bars.trade_date - DATE '2000-01-01')::int4), ''),
               {prices}, {ranks}
        FROM unnest(%s::text[], %s::date[]) WITH ORDINALITY AS wanted(symbol, since, number)
        CROSS JOIN LATERAL (
            (SELECT {names} FROM {table} WHERE {key} = wanted.symbol AND trade_date < wanted.since
             ORDER BY trade_date DESC LIMIT {context})
            UNION ALL
            (SELECT {names} FROM {table} WHERE {key} = wanted.symbol AND trade_date >= wanted.since)
        ) AS bars
        """
    ).format(
        prices=sql.SQL(", ").join(prices),
        ranks=sql.SQL(", ").join(ranks),
        names=names,
        table=sql.Identifier(table),
        key=sql.Identifier(key),
        context=sql.Literal(CONTEXT_BARS),
    )
    cursor.execute(query, (symbols, since), binary=True)
    values = [bytes(value or b"") for value in fetch_row(cursor)]
    return {
        "symbol": np.frombuffer(values[0], dtype=">i4").astype(np.int64),
        "trade_date": np.frombuffer(values[1], dtype=">i4").astype(np.int64),
        **{
            name: np.frombuffer(value, dtype=">f8").astype(float)
            for name, value in zip(BAR_COLUMNS[1:], values[2 : len(BAR_COLUMNS) + 1], strict=True)
        },
        **{
            name: np.frombuffer(value, dtype=">i8").astype(np.int64)
            for name, value in zip(_RANK_NAMES, values[len(BAR_COLUMNS) + 1 :], strict=True)
        },
    }


def stored_rows(cursor: psycopg.Cursor, spec: TableSpec, rows: Mapping[str, Any]) -> Columns:
    """The stored rows of `spec`'s table whose keys `rows` has: keys, the merged value columns (float,
    NULL as NaN), `fetch_rank` and `value_ranks` (JSON text or None). A table of two-column keys
    (a name and a date), as every object-sourced fact table has."""
    name_column, date_column = spec.key
    names = np.asarray(rows[name_column], dtype=object)
    days = np.asarray(rows[date_column]).astype("datetime64[D]")
    wanted = sorted(set(zip(names.tolist(), days.tolist(), strict=True)))
    values = spec.merged_names
    query = sql.SQL(
        "SELECT t.{name}::text, t.{day}, {values}, t.fetch_rank, t.value_ranks::text "
        "FROM unnest(%s::text[], %s::date[]) AS wanted(name, day) "
        "JOIN {table} AS t ON t.{name} = wanted.name AND t.{day} = wanted.day"
    ).format(
        name=sql.Identifier(name_column),
        day=sql.Identifier(date_column),
        values=sql.SQL(", ").join(sql.SQL("t.{}::float8").format(sql.Identifier(value)) for value in values),
        table=sql.Identifier(spec.name),
    )
    found = []
    if wanted:
        cursor.execute(query, ([name for name, _ in wanted], [day for _, day in wanted]))
        found = cursor.fetchall()
    columns = list(zip(*found, strict=True)) if found else [()] * (len(values) + 4)
    result: Columns = {
        name_column: object_array(columns[0]),
        date_column: np.array(columns[1], dtype="datetime64[D]").astype("datetime64[ns]"),
    }
    for index, value in enumerate(values, start=2):
        result[value] = np.array([np.nan if item is None else item for item in columns[index]], dtype=float)
    result["fetch_rank"] = np.array(columns[-2], dtype=np.int64)
    result["value_ranks"] = object_array(columns[-1])
    return result


def extend_date_dimension(cursor: psycopg.Cursor, dates: Sequence[dt.date]) -> int:
    """Make `dim_date` cover, without gaps, every day from its first to its last and the given dates."""
    if not dates:
        return 0
    cursor.execute(f"SELECT min(date_id), max(date_id), count(*) FROM {DIM_DATE}")
    stored_first, stored_last, stored_days = fetch_row(cursor)
    first = min(d for d in (stored_first, *dates) if d is not None)
    last = max(d for d in (stored_last, *dates) if d is not None)
    spans = [(first, last)]
    if stored_first is not None and stored_days == (stored_last - stored_first).days + 1:
        # Without gaps already: only the days before and after the stored ones can be missing.
        one_day = dt.timedelta(days=1)
        spans = [(first, stored_first - one_day), (stored_last + one_day, last)]
    missing_days = [date_dimension(start, end) for start, end in spans if start <= end]
    if not missing_days:
        return 0
    spec = TABLES[DIM_DATE]
    stage_rows(cursor, spec, concatenated(missing_days))
    return upsert_from_staging(cursor, spec, insert_only=True).written
