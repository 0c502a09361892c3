"""Transform and stage: every planned object parsed, validated and derived, its rows sent to the
database as they come.

Big loads transform the instruments in worker processes while this process loads the small objects,
so PostgreSQL is busy from the first second; the instrument rows arrive as binary COPY tuples and are
upserted in batches (`StagingWriter`). What comes out is a `StagedLoad`: the ledger rows, the dates
touched, the rows written per table and the data-quality counts.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict, deque
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from concurrent.futures import Future, ProcessPoolExecutor

import numpy as np
import psycopg

from etl.columns import Columns, concatenated, last_per_key, missing, row_count, sort_codes, taken
from etl.extract import PendingObject, read_bodies
from etl.load import load_rows, stored_bars, stored_rows
from etl.plan import LoadPlan, StagedLoad, earliest_window_start, ledger_row
from etl.precedence import FETCH_RANK, VALUE_RANKS, merge_newest, stored_value_ranks
from etl.schema import INDEX_DAILY, STOCK_DAILY, TABLES, TableSpec
from etl.staging import StagingWriter, Upserted
from etl.transform import (
    InstrumentBatch,
    ObjectInput,
    TransformResult,
    transform_instruments,
    transform_object,
)
from etl.workers import WORKERS
from pipeline.progress import Progress
from pipeline.rawzone import RawStore

# Batches submitted ahead per worker: enough to keep every worker busy, few enough that memory stays
# flat (each batch holds about WORKER_BATCH_BYTES of bodies, and its result about as much).
IN_FLIGHT_PER_WORKER = 2
# Bytes of objects per batch handed to a worker: small enough that the first rows reach the
# database within a fraction of a second, large enough that per-batch costs vanish.
WORKER_BATCH_BYTES = 2 * 1024 * 1024
# Stock rows staged before they are upserted (see `StagingWriter`).
UPSERT_BATCH_ROWS = 100_000
# Rows of a small-object table (weather: 50 states x 10 years) from which a backfill into an empty table
# builds its indexes after the rows are in, rather than row by row.
DEFER_INDEXES_MIN_ROWS = 50_000
# Instrument objects whose bodies are read together in a backfill (S3 reads them on several threads).
READ_CHUNK_OBJECTS = 128
# A daily run's few objects load in a blink: a bar would only flicker.
PROGRESS_THRESHOLD_OBJECTS = 50
_DATE_COLUMNS = ("trade_date", "obs_date", "news_date")


def transform_and_stage(
    cursor: psycopg.Cursor,
    plan: LoadPlan,
    store: RawStore,
    *,
    pool: ProcessPoolExecutor | None,
    progress: bool,
    on_phase: Callable[[str], None],
) -> StagedLoad:
    """Read, transform and load every object of `plan`; return what was staged and written.

    `pool` (`etl.workers.instrument_pool`, None for a small run) transforms the instruments.

    Instrument objects are read a batch at a time and at most `IN_FLIGHT_PER_WORKER` batches per
    worker are in flight, so memory stays flat however many objects a backfill holds.
    """
    staged = StagedLoad(ledger_rows=list(plan.settled))
    to_transform = plan.to_transform
    bar = Progress(
        len(to_transform),
        enabled=progress and len(to_transform) >= PROGRESS_THRESHOLD_OBJECTS,
        label="etl",
        unit="object",
        every=0,
    )
    parallel = pool is not None
    sink = _ResultSink(staged, cursor, {item.key: item for item in to_transform}, bar, backfill=parallel)
    # The small objects are parsed and loaded here while the worker processes start.
    for item, body in read_bodies(store, plan.objects):
        sink.absorb(transform_object(_input(item, body)))
    for table, parts in sink.objects_rows.items():
        upserted = _load_objects(cursor, table, parts, staged, backfill=parallel)
        staged.rows_written[table], staged.rows_inserted[table] = upserted
    on_phase("objects")
    started_empty = {table for table, writer in sink.writers.items() if writer.into_empty}
    batches = instrument_batches(
        cursor, plan, store, WORKER_BATCH_BYTES if parallel else None, started_empty=started_empty
    )
    for transformed in _transform_all(pool, batches):
        sink.absorb(transformed)
    on_phase("transform_and_stage")
    for table, writer in sink.writers.items():
        staged.rows_written[table] = writer.finish()
        staged.rows_inserted[table] = writer.inserted
        staged.rows_staged += writer.rows
    on_phase("upsert")
    bar.close()
    for table, arrays in sink.day_arrays.items():
        days = np.unique(np.concatenate(arrays)).tolist()
        staged.dates.update({days[0], days[-1]})
        if table == STOCK_DAILY:
            staged.stock_days.update(days)
    return staged


def instrument_batches(
    cursor: psycopg.Cursor,
    plan: LoadPlan,
    store: RawStore,
    batch_bytes: int | None,
    *,
    started_empty: Collection[str] = (),
) -> Iterator[InstrumentBatch]:
    """The instruments in batches, each with the stored bars it must re-read, made as they are asked
    for: without `batch_bytes` one batch per table (a small run); with it, batches of about
    `batch_bytes` of objects, whose bodies are read `READ_CHUNK_OBJECTS` objects at a time.

    A table of `started_empty` (empty when the run began) has no stored bars to re-read: each symbol
    is in one batch only, so the rows of earlier batches are other symbols'."""
    for table, groups in plan.instruments.items():
        # In key order: a first load's rows then lie in the table in primary-key order, and the key's
        # index is built from presorted rows, in about half the time.
        symbols = sorted(groups)
        step = len(symbols) if batch_bytes is None else max(1, READ_CHUNK_OBJECTS)
        for first in range(0, len(symbols), step):
            chunk = _read_chunk(store, {symbol: groups[symbol] for symbol in symbols[first : first + step]})
            batch: list[tuple[str, list[ObjectInput]]] = []
            size = 0
            for symbol, objects in chunk:
                batch.append((symbol, objects))
                size += sum(len(item.body) for item in objects)
                if batch_bytes is not None and size >= batch_bytes:
                    yield _batch(cursor, table, groups, batch, stored=table not in started_empty)
                    batch, size = [], 0
            if batch:
                yield _batch(cursor, table, groups, batch, stored=table not in started_empty)


def _read_chunk(
    store: RawStore, groups: Mapping[str, list[PendingObject]]
) -> list[tuple[str, list[ObjectInput]]]:
    """The bodies of the objects of `groups`, read together (in threads on S3), by symbol."""
    by_symbol: dict[str, list[ObjectInput]] = defaultdict(list)
    owners = {item.key: symbol for symbol, group in groups.items() for item in group}
    for item, body in read_bodies(store, [item for group in groups.values() for item in group]):
        by_symbol[owners[item.key]].append(_input(item, body))
    return [(symbol, by_symbol[symbol]) for symbol in groups if by_symbol[symbol]]


def _batch(
    cursor: psycopg.Cursor,
    table: str,
    groups: Mapping[str, list[PendingObject]],
    batch: list[tuple[str, list[ObjectInput]]],
    *,
    stored: bool,
) -> InstrumentBatch:
    since = {symbol: earliest_window_start(groups[symbol]) for symbol, _ in batch}
    return InstrumentBatch(
        table,
        list(since),
        [objects for _, objects in batch],
        list(since.values()),
        stored_bars(cursor, table, since if stored else {}),
        TABLES[table].columns,
    )


def _input(item: PendingObject, body: bytes) -> ObjectInput:
    return ObjectInput(
        item.key, item.source, dict(item.extra), item.metadata.fetched_at, body, item.metadata.sha256
    )


def _load_objects(
    cursor: psycopg.Cursor,
    table: str,
    parts: list[tuple[dt.datetime, Columns]],
    staged: StagedLoad,
    *,
    backfill: bool,
) -> Upserted:
    """Upsert the rows of one object-sourced table: of a fact table's repeated keys (in the run, or
    stored) the values merged by rank (`etl.precedence`); of `pipeline_runs` the latest fetch's row.

    In key order: into an empty table in a backfill, its indexes are built afterwards, from presorted rows.
    """
    spec = TABLES[table]
    # In fetch order (objects fetched at the same time in the order they came).
    merged = concatenated([rows for _, rows in sorted(parts, key=lambda part: part[0])])
    if FETCH_RANK in spec.column_names:
        merged = _merged_with_stored(cursor, spec, merged)
    else:
        merged = taken(merged, last_per_key([sort_codes(merged[name]) for name in spec.key]))
    for column in spec.merged_names:
        count = int(missing(merged[column]).sum())
        if count:
            staged.quality[table][f"missing_{column}"] = count
    rows = row_count(merged)
    staged.rows_staged += rows
    defer_indexes = backfill and rows >= DEFER_INDEXES_MIN_ROWS
    return load_rows(cursor, table, merged, unique_keys=True, defer_indexes=defer_indexes)


def _merged_with_stored(cursor: psycopg.Cursor, spec: TableSpec, rows: Columns) -> Columns:
    """`rows` (each with the `fetch_rank` of its object) merged with the stored rows of their keys."""
    values = spec.merged_names
    stored = stored_rows(cursor, spec, rows)
    row_rank = np.concatenate([stored[FETCH_RANK], rows[FETCH_RANK]])
    stored_ranks = stored_value_ranks(stored[FETCH_RANK], stored[VALUE_RANKS], values)
    both = {
        name: np.concatenate([np.asarray(stored[name], dtype=float), np.asarray(rows[name], dtype=float)])
        for name in values
    }
    ranks = {name: np.concatenate([stored_ranks[name], rows[FETCH_RANK]]) for name in values}
    keys = [np.concatenate([stored[name], rows[name]]) for name in spec.key]
    firsts, merged, merged_rank, value_ranks = merge_newest(keys, both, ranks, row_rank)
    result: Columns = {name: key[firsts] for name, key in zip(spec.key, keys, strict=True)}
    result.update(merged)
    result.update({FETCH_RANK: merged_rank, VALUE_RANKS: value_ranks})
    return result


def _transform_all(
    pool: ProcessPoolExecutor | None, batches: Iterable[InstrumentBatch]
) -> Iterator[TransformResult]:
    """Transform results in batch order, with at most `IN_FLIGHT_PER_WORKER` batches per worker
    submitted ahead: the workers parse the next batches while the caller loads the done ones."""
    if pool is None:
        yield from map(transform_instruments, batches)
        return
    in_flight: deque[Future[TransformResult]] = deque()
    for batch in batches:
        in_flight.append(pool.submit(transform_instruments, batch))
        if len(in_flight) >= WORKERS * IN_FLIGHT_PER_WORKER:
            yield in_flight.popleft().result()
    while in_flight:
        yield in_flight.popleft().result()


class _ResultSink:
    """Takes transform results as they come: ledger outcomes, COPY of instrument rows, rows to load."""

    def __init__(
        self,
        staged: StagedLoad,
        cursor: psycopg.Cursor,
        by_key: dict[str, PendingObject],
        bar: Progress,
        *,
        backfill: bool,
    ) -> None:
        self.staged = staged
        self.by_key = by_key
        self.bar = bar
        self.writers = {
            # Each (symbol, day) comes from exactly one batch, once: a run stages each key once.
            table: StagingWriter(
                cursor,
                TABLES[table],
                UPSERT_BATCH_ROWS,
                unique_keys=True,
                defer_indexes=backfill and table == STOCK_DAILY,
            )
            for table in (STOCK_DAILY, INDEX_DAILY)
        }
        self.objects_rows: dict[str, list[tuple[dt.datetime, Columns]]] = defaultdict(list)
        self.day_arrays: dict[str, list[np.ndarray]] = defaultdict(list)

    def absorb(self, transformed: TransformResult) -> None:
        quality = self.staged.quality
        for outcome in transformed.outcomes:
            item = self.by_key[outcome.key]
            self.staged.ledger_rows.append(
                ledger_row(item, outcome.sha256, rows=outcome.rows, error=outcome.error)
            )
            quality[item.source]["objects"] += 1
            if outcome.error:
                quality[item.source]["quarantined"] += 1
            else:
                quality[item.source]["rows"] += outcome.rows
            self.bar.step()
        if transformed.table is None:  # objects without rows (all quarantined, or empty windows)
            return
        encoded = transformed.encoded
        if encoded is not None and encoded.rows:
            self.writers[transformed.table].write_tuples(encoded.copy_tuples, encoded.rows)
            quality[transformed.table]["missing_volume"] += encoded.missing_volume
            # Only the distinct days: a backfill's rows would otherwise pile up here, one date each.
            self.day_arrays[transformed.table].append(np.unique(encoded.days))
        elif transformed.columns is not None and row_count(transformed.columns):
            assert transformed.fetched_at is not None, "an object's rows come with its fetch time"
            self._note_dates(transformed.columns)
            self.objects_rows[transformed.table].append((transformed.fetched_at, transformed.columns))

    def _note_dates(self, rows: Columns) -> None:
        for column in _DATE_COLUMNS:
            if column in rows:
                dates = rows[column][~np.isnat(rows[column])].astype("datetime64[D]")
                if len(dates):
                    self.staged.dates.update({dates.min().item(), dates.max().item()})
