"""Transform and stage: every planned object parsed, validated and derived, its rows sent to the
database as they come.

Big loads transform the instruments in worker processes while this process loads the small objects,
so PostgreSQL is busy from the first second; the instrument rows arrive as binary COPY tuples and are
upserted in batches (`StagingWriter`). What comes out is a `StagedLoad`: the ledger rows, the dates
touched, the rows written per table and the data-quality counts.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import multiprocessing
import os
from collections import defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import psycopg

from etl.extract import PendingObject, read_bodies
from etl.ledger import LedgerRow
from etl.load import StagingWriter, load_frame
from etl.plan import LoadPlan, instrument_batches, ledger_row
from etl.schema import INDEX_DAILY, STOCK_DAILY, TABLES
from etl.transform import (
    InstrumentBatch,
    ObjectInput,
    TransformResult,
    transform_instruments,
    transform_object,
)
from pipeline.catalog import YAHOO
from pipeline.progress import Progress
from pipeline.rawzone import RawStore

# Below this many bytes of instrument objects, starting worker processes costs more than it saves:
# the vectorised transform handles a day of updates for the whole universe in a fraction of a second.
PARALLEL_THRESHOLD_BYTES = 16 * 1024 * 1024
# Bytes of objects per batch handed to a worker: small enough that the first rows reach the
# database within a fraction of a second, large enough that per-batch costs vanish.
WORKER_BATCH_BYTES = 2 * 1024 * 1024
# Stock rows staged before they are upserted (see `StagingWriter`).
UPSERT_BATCH_ROWS = 100_000
# A daily run's few objects load in a blink: a bar would only flicker.
PROGRESS_THRESHOLD_OBJECTS = 50
_DATE_COLUMNS = ("trade_date", "obs_date", "news_date")


@dataclass
class StagedLoad:
    """What the transform-and-stage step did: ledger rows, dates touched, rows per table, quality."""

    ledger_rows: list[LedgerRow] = field(default_factory=list)
    dates: set[dt.date] = field(default_factory=set)
    stock_days: set[dt.date] = field(default_factory=set)
    rows_written: dict[str, int] = field(default_factory=dict)
    rows_staged: int = 0
    quality: dict[str, dict[str, int]] = field(default_factory=lambda: defaultdict(lambda: defaultdict(int)))

    def quality_summary(self) -> dict[str, dict[str, int]]:
        return {name: dict(counts) for name, counts in self.quality.items()}


def transform_and_stage(
    cursor: psycopg.Cursor,
    plan: LoadPlan,
    store: RawStore,
    *,
    progress: bool,
    on_phase: Callable[[str], None],
) -> StagedLoad:
    """Read, transform and load every object of `plan`; return what was staged and written."""
    staged = StagedLoad(ledger_rows=list(plan.settled))
    to_read = plan.to_transform
    inputs = {
        item.key: ObjectInput(item.key, item.source, dict(item.extra), item.metadata.fetched_at, body)
        for item, body in read_bodies(store, to_read)
    }
    instrument_bytes = sum(len(item.body) for item in inputs.values() if item.source == YAHOO)
    parallel = instrument_bytes >= PARALLEL_THRESHOLD_BYTES
    batches = instrument_batches(cursor, plan, inputs, WORKER_BATCH_BYTES if parallel else None)
    object_inputs = [inputs[item.key] for item in plan.objects if item.key in inputs]
    on_phase("read_and_context")
    bar = Progress(
        len(to_read),
        enabled=progress and len(to_read) >= PROGRESS_THRESHOLD_OBJECTS,
        label="etl",
        unit="object",
        every=0,
    )
    sink = _ResultSink(staged, cursor, {item.key: item for item in to_read}, bar)
    with _transformed(batches, parallel=parallel) as instrument_results:
        # The small objects are parsed and loaded here while the worker processes start and parse the
        # instruments.
        for transformed in map(transform_object, object_inputs):
            sink.absorb(transformed)
        for table, parts in sink.frames.items():
            staged.rows_written[table] = _load_objects(cursor, table, parts, staged)
        for transformed in instrument_results:
            sink.absorb(transformed)
    sink.bar.close()
    for table, arrays in sink.day_arrays.items():
        days = np.unique(np.concatenate(arrays)).tolist()
        staged.dates.update({days[0], days[-1]})
        if table == STOCK_DAILY:
            staged.stock_days.update(days)
    on_phase("transform_and_stage")
    for table, writer in sink.writers.items():
        staged.rows_written[table] = writer.flush()
        staged.rows_staged += writer.rows
    on_phase("upsert")
    return staged


def _load_objects(cursor: psycopg.Cursor, table: str, parts: list[pd.DataFrame], staged: StagedLoad) -> int:
    """Upsert the rows of one object-sourced table; the latest fetch wins on a repeated key."""
    key = list(TABLES[table].key)
    merged = pd.concat(parts, ignore_index=True).sort_values("fetched_at", kind="stable")
    merged = merged.drop_duplicates(key, keep="last")
    for column in merged.columns.difference([*key, "fetched_at"]):
        missing = int(merged[column].isna().sum())
        if missing:
            staged.quality[table][f"missing_{column}"] = missing
    staged.rows_staged += len(merged)
    return load_frame(cursor, table, merged, unique_keys=True)


@contextlib.contextmanager
def _transformed(batches: list[InstrumentBatch], *, parallel: bool) -> Iterator[Iterator[TransformResult]]:
    """Transform results in batch order; with `parallel`, every batch is handed to worker processes
    at once, so they parse ahead while the caller loads what is already done."""
    if not parallel:
        yield map(transform_instruments, batches)
        return
    # forkserver: a worker forked from this process would inherit its open database connection.
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["etl.transform"])
    with (
        ProcessPoolExecutor(max_workers=os.cpu_count() or 2, mp_context=context) as pool,
        ThreadPoolExecutor(1) as starter,
    ):
        # Launching the workers waits for the fork server to import the transform (about a second);
        # a helper thread does the waiting, and the caller loads the small objects meanwhile.
        yield _results_of(starter.submit(pool.map, transform_instruments, batches))


def _results_of(launched: Future[Iterator[TransformResult]]) -> Iterator[TransformResult]:
    yield from launched.result()


class _ResultSink:
    """Takes transform results as they come: ledger outcomes, COPY of instrument rows, frames to load."""

    def __init__(
        self, staged: StagedLoad, cursor: psycopg.Cursor, by_key: dict[str, PendingObject], bar: Progress
    ) -> None:
        self.staged = staged
        self.by_key = by_key
        self.bar = bar
        self.writers = {
            # Each (symbol, day) comes from exactly one batch, once: a run stages each key once.
            table: StagingWriter(cursor, TABLES[table], UPSERT_BATCH_ROWS, unique_keys=True)
            for table in (STOCK_DAILY, INDEX_DAILY)
        }
        self.frames: dict[str, list[pd.DataFrame]] = defaultdict(list)
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
            self.day_arrays[transformed.table].append(encoded.days)
        elif transformed.frame is not None and not transformed.frame.empty:
            self._note_dates(transformed.frame)
            self.frames[transformed.table].append(transformed.frame)

    def _note_dates(self, frame: pd.DataFrame) -> None:
        for column in _DATE_COLUMNS:
            if column in frame:
                dates = frame[column].dropna()
                if len(dates):
                    self.staged.dates.update({dates.min().date(), dates.max().date()})
