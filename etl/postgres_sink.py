"""The PostgreSQL sink: the transform's rows upserted into the curated tables, in the run's transaction.

Every table's rows go by binary COPY (`etl.load.write_rows`) into a staging table and from there into
the curated table (`etl.staging.StagingWriter`). The instrument tables, written batch by batch as the
transform makes them, are upserted every `UPSERT_BATCH_ROWS` rows, so the server writes one batch while
the next is parsed. A backfill's bulk path stays in here: into a table empty at the start, rows are
copied straight in, and its indexes are dropped first and rebuilt once at the end (`StagingWriter`).
"""

from __future__ import annotations

import logging

import psycopg

from etl.schema import INDEX_DAILY, STOCK_DAILY, TABLES
from etl.sinks import RunStart, TableRows
from etl.staging import StagingWriter, Upserted

log = logging.getLogger(__name__)

#: The tables written batch by batch, each key once per run: the instruments' bars.
BATCHED_TABLES = (STOCK_DAILY, INDEX_DAILY)
# Instrument rows staged before they are upserted (see `StagingWriter`).
UPSERT_BATCH_ROWS = 100_000
# Rows of another table (weather: 50 states x 10 years) from which a backfill into an empty table builds
# its indexes after the rows are in, rather than row by row.
DEFER_INDEXES_MIN_ROWS = 50_000


class PostgresSink:
    """The curated tables of the pipeline's database, written on `conn` in one transaction.

    The run's other PostgreSQL writes (reference tables, analytics, the ledger, the run's row) go on
    `cursor` in the same transaction, after `finish`; `commit` makes all of it visible at once.
    """

    def __init__(self, conn: psycopg.Connection) -> None:
        self.conn = conn
        self.cursor = conn.cursor()
        self.backfill = False
        self.writers: dict[str, StagingWriter] = {}
        #: Per table: rows written (inserted or changed) and, of them, inserted; complete after `finish`.
        self.upserted: dict[str, Upserted] = {}
        self.rows_staged = 0

    def begin(self, run: RunStart) -> None:
        self.backfill = run.backfill
        # Room for the hash joins and aggregates of a full load; LOCAL: this transaction only.
        self.cursor.execute("SET LOCAL work_mem = '256MB'")

    def write(self, rows: TableRows) -> None:
        if not rows.rows:
            return
        # Imported with the first rows: a run with nothing new never imports numpy.
        from etl.load import load_rows, write_rows

        self.rows_staged += rows.rows
        if rows.table in BATCHED_TABLES:
            write_rows(self._writer(rows.table), rows.columns)
            return
        defer_indexes = self.backfill and rows.rows >= DEFER_INDEXES_MIN_ROWS
        self.upserted[rows.table] = load_rows(
            self.cursor, rows.table, rows.columns, unique_keys=True, defer_indexes=defer_indexes
        )

    def _writer(self, table: str) -> StagingWriter:
        if table not in self.writers:
            # Each (symbol, day) comes from exactly one batch, once: a run stages each key once.
            self.writers[table] = StagingWriter(
                self.cursor,
                TABLES[table],
                UPSERT_BATCH_ROWS,
                unique_keys=True,
                defer_indexes=self.backfill and table == STOCK_DAILY,
            )
        return self.writers[table]

    def finish(self) -> dict[str, Upserted]:
        """Upsert what is still staged and rebuild any dropped index; return `upserted`."""
        for table, writer in self.writers.items():
            self.upserted[table] = Upserted(writer.finish(), writer.inserted)
        self.writers = {}
        return self.upserted

    def commit(self) -> None:
        self.cursor.close()
        self.conn.commit()

    def abort(self) -> None:
        try:
            self.cursor.close()
            self.conn.rollback()
        except psycopg.Error as error:  # the connection itself may be what failed
            log.debug("rollback failed: %s", error)
