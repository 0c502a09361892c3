"""Sinks: where the transform's rows go. PostgreSQL is the first (`etl.postgres_sink`); more may follow.

A run hands every sink the same rows, table by table, inside one begin/commit bracket:

    for sink in sinks: sink.begin(run)
    for each curated table's rows, as the transform makes them: for sink in sinks: sink.write(rows)
    for sink in sinks: sink.commit()        (or, after any failure, sink.abort() on each)

What a sink receives (`TableRows`) is final: of every key it covers, the merged row as the curated table
must hold it (the newest fetch's values, `etl.precedence`, merged with what PostgreSQL already stored, and
the derived columns recomputed), never a delta to apply. Writing it is an upsert by the table's key: a sink
that is handed the same rows twice (a run retried after a failure) ends as if handed them once.

PostgreSQL is the system of record: the ledger of loaded objects (`raw_objects`), the stored rows the
merge starts from and the analytics tables live there, and it commits last (`etl.run`), so an object
counts as loaded only once every sink holds its rows. A second sink (an Iceberg table per curated
table, say) therefore implements `begin`, `write`, `commit` and `abort` and is appended to the run's
list of sinks; it never reads the raw zone or the database itself.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class RunStart:
    """What a sink knows of the run it writes for, at `begin`.

    `full`: every raw object is read again (`pipeline etl --full`); `backfill`: the run is big (worker
    processes transform the instruments), so a sink may prefer its bulk path.
    """

    run_id: str
    full: bool
    backfill: bool


@dataclass(frozen=True)
class TableRows:
    """Rows of one curated table (`etl.schema.TABLES`), final, and the keys and dates they cover.

    `columns` maps every column of the table to a numpy array, one value per row (`etl.columns`: a
    text column with few distinct values may be `etl.columns.Coded`, which `etl.columns.decoded`
    turns into a plain array; NaN, NaT and None are NULL). `key` names the key columns: no two rows
    share a key. `first_day` and `last_day` bound the rows' dates (the key's date column; None for
    `pipeline_runs`, keyed by the run).
    """

    table: str
    columns: Mapping[str, Any]
    key: tuple[str, ...]
    rows: int
    first_day: dt.date | None
    last_day: dt.date | None


class Sink(Protocol):
    """A destination of the transform's rows; see the module's docstring for the order of the calls."""

    def begin(self, run: RunStart) -> None:
        """Start the run's writes (a transaction, a snapshot): nothing is visible before `commit`."""

    def write(self, rows: TableRows) -> None:
        """Upsert `rows` into the sink's copy of `rows.table`. Called any number of times per table,
        each key at most once per run."""

    def commit(self) -> None:
        """Make every write of the run visible at once."""

    def abort(self) -> None:
        """Drop every write of the run (called after any failure, also one in another sink); never raises."""
