"""The ledger: the `raw_objects` row of every raw object the ETL loaded or quarantined.

`read_ledger` tells the extract step what is already loaded (by sha256 and listed ETag);
`record_objects` writes one `LedgerRow` per object a run handled, in the run's transaction, so an object
counts as loaded exactly when its rows are committed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import astuple, dataclass, fields
from typing import TYPE_CHECKING, NamedTuple

import psycopg
from psycopg import sql

from etl.schema import RAW_OBJECTS, TABLES
from etl.staging import StagingWriter, Upserted, counted_upsert
from pipeline.outcomes import OBJECT_LOADED, OBJECT_QUARANTINED

if TYPE_CHECKING:
    from etl.extract import PendingObject

LEDGER = TABLES[RAW_OBJECTS]


class LedgerEntry(NamedTuple):
    """What the extract step compares a listed object with: the recorded sha256 and ETag."""

    sha256: str
    etag: str | None


@dataclass(frozen=True)
class LedgerRow:
    """One `raw_objects` row as a run records it (`loaded_at` is set by the database)."""

    key: str
    source: str
    sha256: str
    status: str
    rows: int
    error: str | None
    data_date: dt.date | None
    synthetic: bool
    etag: str | None

    @classmethod
    def outcome(
        cls,
        *,
        key: str,
        source: str,
        sha256: str,
        rows: int,
        error: str | None,
        data_date: dt.date | None,
        synthetic: bool,
        etag: str | None,
    ) -> LedgerRow:
        """The row of an object the run handled: quarantined when there is an `error`, else loaded."""
        status = OBJECT_QUARANTINED if error else OBJECT_LOADED
        return cls(key, source, sha256, status, rows, error, data_date, synthetic, etag)

    @property
    def loaded(self) -> bool:
        return self.status == OBJECT_LOADED

    @property
    def quarantined(self) -> bool:
        return self.status == OBJECT_QUARANTINED


LEDGER_COLUMNS: tuple[str, ...] = tuple(field.name for field in fields(LedgerRow))


def ledger_row(item: PendingObject, sha256: str, *, rows: int, error: str | None) -> LedgerRow:
    """The ledger row of a pending object the run handled."""
    return LedgerRow.outcome(
        key=item.key,
        source=item.source,
        sha256=sha256,
        rows=rows,
        error=error,
        data_date=item.data_date,
        synthetic=item.synthetic,
        etag=item.etag,
    )


def read_ledger(conn: psycopg.Connection, keys: Sequence[str] | None = None) -> dict[str, LedgerEntry]:
    """The sha256 and listed ETag of every object the ledger records (loaded or quarantined), by key;
    only those of `keys` when given (a run of named keys reads no more of the ledger than it needs)."""
    with conn.cursor() as cursor:
        if keys is None:
            cursor.execute(f"SELECT key, sha256, etag FROM {RAW_OBJECTS}")
        else:
            cursor.execute(f"SELECT key, sha256, etag FROM {RAW_OBJECTS} WHERE key = ANY(%s)", (list(keys),))
        return {key: LedgerEntry(sha256, etag) for key, sha256, etag in cursor}


def record_objects(cursor: psycopg.Cursor, rows: Sequence[LedgerRow]) -> Upserted:
    """Upsert ledger rows; an unchanged row keeps its `loaded_at`, a changed one gets now()."""
    if not rows:
        return Upserted(0, 0)
    StagingWriter(cursor, LEDGER, columns=LEDGER_COLUMNS).write(astuple(row) for row in rows)
    staging = sql.Identifier(LEDGER.staging)
    names = sql.SQL(", ").join(map(sql.Identifier, LEDGER_COLUMNS))
    return counted_upsert(
        cursor,
        RAW_OBJECTS,
        sql.SQL(
            "INSERT INTO {table} AS {table} ({names}, loaded_at) SELECT {names}, now() FROM {staging} {action}"
        ).format(
            table=sql.Identifier(RAW_OBJECTS),
            names=names,
            staging=staging,
            action=LEDGER.on_conflict_update(
                [name for name in LEDGER_COLUMNS if name != "key"], stamp="loaded_at"
            ),
        ),
    )


def record_etags(cursor: psycopg.Cursor, etags: Mapping[str, str]) -> int:
    """Set the listed ETag of ledger rows whose bytes are unchanged (their `loaded_at` stays)."""
    if not etags:
        return 0
    cursor.execute(
        f"UPDATE {RAW_OBJECTS} AS ledger SET etag = listed.etag "
        "FROM unnest(%s::text[], %s::text[]) AS listed (key, etag) "
        "WHERE ledger.key = listed.key AND ledger.etag IS DISTINCT FROM listed.etag",
        (list(etags), list(etags.values())),
    )
    return cursor.rowcount
