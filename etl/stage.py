"""Transform and stage: every planned object parsed, validated and derived, its rows handed to the
sinks (`etl.sinks`) as they come.

Big loads transform the instruments in worker processes while this process loads the small objects,
so the sinks are busy from the first second. What comes out is a `StagedLoad`: the ledger rows, the
dates touched and the data-quality counts (the rows each table took are the PostgreSQL sink's to say).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict, deque
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor

import numpy as np
import psycopg

from etl.columns import Columns, concatenated, last_per_key, missing, row_count, sort_codes, taken
from etl.extract import PendingObject, read_bodies
from etl.ledger import ledger_row
from etl.load import stored_bars, stored_rows
from etl.plan import LoadPlan, StagedLoad, earliest_window_start
from etl.precedence import FETCH_RANK, VALUE_RANKS, merge_newest, stored_value_ranks
from etl.schema import STOCK_DAILY, TABLES, TableSpec
from etl.sinks import Sink, TableRows
from etl.staging import table_is_empty
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
# Instrument objects whose bodies are read together in a backfill (S3 reads them on several threads).
READ_CHUNK_OBJECTS = 128
# A daily run's few objects load in a blink: a bar would only flicker.
PROGRESS_THRESHOLD_OBJECTS = 50
_DATE_COLUMNS = ("trade_date", "obs_date", "news_date")


def transform_and_stage(
    cursor: psycopg.Cursor,
    plan: LoadPlan,
    store: RawStore,
    sinks: Sequence[Sink],
    *,
    pool: ProcessPoolExecutor | None,
    progress: bool,
    on_phase: Callable[[str], None],
) -> StagedLoad:
    """Read and transform every object of `plan`, handing each table's rows to every sink; return what
    was staged. `cursor` reads the stored rows the new ones merge with (in the run's transaction).

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
    # Tables empty when the run began hold no stored bars to re-read (see `instrument_batches`).
    started_empty = {table for table in plan.instruments if table_is_empty(cursor, table)}
    results = _Results(staged, sinks, {item.key: item for item in to_transform}, bar)
    # The small objects are parsed and loaded here while the worker processes start.
    for item, body in read_bodies(store, plan.objects):
        transformed = transform_object(_input(item, body))
        results.absorb(transformed)
    for table, parts in results.objects_rows.items():
        results.hand_on(table, _merged_objects(cursor, table, parts, staged))
    on_phase("objects")
    batches = instrument_batches(
        cursor, plan, store, WORKER_BATCH_BYTES if pool is not None else None, started_empty=started_empty
    )
    for transformed in _transform_all(pool, batches):
        results.absorb(transformed)
    on_phase("transform_and_stage")
    bar.close()
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
    )


def _input(item: PendingObject, body: bytes) -> ObjectInput:
    return ObjectInput(
        item.key, item.source, dict(item.extra), item.metadata.fetched_at, body, item.metadata.sha256
    )


def _merged_objects(
    cursor: psycopg.Cursor, table: str, parts: list[tuple[dt.datetime, Columns]], staged: StagedLoad
) -> Columns:
    """The rows of one object-sourced table, one per key: of a fact table's repeated keys (in the run,
    or stored) the values merged by rank (`etl.precedence`); of `pipeline_runs` the latest fetch's row.
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
    return merged


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


class _Results:
    """Takes transform results as they come: ledger outcomes and quality counts; instrument rows handed
    on to the sinks at once, other objects' rows kept until every object is read (they merge by key)."""

    def __init__(
        self, staged: StagedLoad, sinks: Sequence[Sink], by_key: dict[str, PendingObject], bar: Progress
    ) -> None:
        self.staged = staged
        self.sinks = sinks
        self.by_key = by_key
        self.bar = bar
        self.objects_rows: dict[str, list[tuple[dt.datetime, Columns]]] = defaultdict(list)

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
        rows = transformed.columns
        if transformed.table is None or rows is None or not row_count(rows):
            return  # objects without rows (all quarantined, or empty windows)
        if transformed.fetched_at is None:  # an instrument batch: merged already, final
            quality[transformed.table]["missing_volume"] += int(np.isnan(rows["volume"]).sum())
            self.hand_on(transformed.table, rows)
        else:
            self.objects_rows[transformed.table].append((transformed.fetched_at, rows))

    def hand_on(self, table: str, rows: Columns) -> None:
        """Hand one table's final rows to every sink, noting the days they cover."""
        spec = TABLES[table]
        days = _days(rows, spec)
        first, last = (days[0], days[-1]) if days else (None, None)
        table_rows = TableRows(table, rows, spec.key, row_count(rows), first, last)
        self.staged.rows_staged += table_rows.rows
        if days:
            self.staged.dates.update({days[0], days[-1]})
        if table == STOCK_DAILY:
            self.staged.stock_days.update(days)
        for sink in self.sinks:
            sink.write(table_rows)


def _days(rows: Columns, spec: TableSpec) -> list[dt.date]:
    """The distinct days of the rows' date column, in order (none for a table not keyed by a day)."""
    column = next((name for name in spec.key if name in _DATE_COLUMNS), None)
    if column is None:
        return []
    days = np.asarray(rows[column])
    days = days[~np.isnat(days)].astype("datetime64[D]")
    return np.unique(days).tolist()
