"""One ETL run: extract the pending raw objects, transform them (in worker processes for big loads)
while the database ingests the staged rows, load everything and the ledger in one transaction.

Two runs never load at once: a session advisory lock serialises them (the second says it waits, then
finds only what the first left). Any failure rolls the whole load back and is recorded as a failed
`pipeline_runs` row; the next run loads the same objects again.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import multiprocessing
import os
import sys
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import psycopg
from psycopg.types.json import Jsonb

from etl.analytics import refresh_market_daily, refresh_materialized_views, refresh_sector_daily
from etl.derive import read_universe
from etl.extract import (
    PendingObject,
    UnreadableKey,
    find_pending,
    find_pending_keys,
    read_bodies,
    read_ledger,
    recent_listing,
)
from etl.load import (
    TABLES,
    StagingWriter,
    extend_date_dimension,
    load_companies,
    load_frame,
    record_etags,
    record_objects,
    stored_bars,
)
from etl.metrics import publish_run, run_mode
from etl.transform import (
    InstrumentBatch,
    ObjectInput,
    ObjectOutcome,
    TransformResult,
    instrument_table,
    transform_instruments,
    transform_object,
)
from pipeline.calendar import market_today
from pipeline.catalog import (
    COMPANIES,
    DIM_DATE,
    FRED,
    GDELT,
    INDEX_DAILY,
    MANIFEST,
    OPEN_METEO,
    PIPELINE_RUNS,
    STOCK_DAILY,
    UNLOADED_SOURCES,
    YAHOO,
)
from pipeline.db import connect, database_url
from pipeline.rawzone import RawStore, open_raw_store
from pipeline.settings import Settings

log = logging.getLogger(__name__)

# An arbitrary constant that identifies "ETL load" among the pipeline's advisory locks.
ETL_LOCK_ID = 7_202_402
# Below this many bytes of instrument objects, starting worker processes costs more than it saves:
# the vectorised transform handles a day of updates for the whole universe in a fraction of a second.
PARALLEL_THRESHOLD_BYTES = 16 * 1024 * 1024
# Bytes of objects per batch handed to a worker: small enough that the first rows reach the
# database within a fraction of a second, large enough that per-batch costs vanish.
WORKER_BATCH_BYTES = 2 * 1024 * 1024
PROGRESS_THRESHOLD_OBJECTS = 50
# Stock rows staged before they are upserted (see `StagingWriter`).
UPSERT_BATCH_ROWS = 100_000
QUARANTINE_DETAILS_LIMIT = 100

EXIT_OK, EXIT_FAILED, EXIT_QUARANTINED = 0, 1, 3
OBJECT_SOURCES = (OPEN_METEO, GDELT, FRED, MANIFEST)
# Keys of each object-sourced table: rows of later-fetched objects win on the same key.
_DEDUP_KEYS = {spec.name: list(spec.key) for spec in TABLES.values()}


@dataclass
class EtlResult:
    """The outcome of `run_etl`: objects loaded and quarantined, rows written per table, time taken."""

    run_id: str
    seconds: float = 0.0
    loaded: int = 0
    quarantined: list[tuple[str, str]] = field(default_factory=list)
    rows_written: dict[str, int] = field(default_factory=dict)
    rows_staged: int = 0
    error: str | None = None
    views_refreshed: list[str] = field(default_factory=list)
    phase_seconds: dict[str, float] = field(default_factory=dict)
    # Objects whose metadata had to be read (a HEAD request each on S3): new, changed or --full.
    metadata_lookups: int = 0

    @property
    def exit_code(self) -> int:
        """0 success, 1 failure (nothing written), 3 finished with quarantined objects."""
        if self.error:
            return EXIT_FAILED
        return EXIT_QUARANTINED if self.quarantined else EXIT_OK

    @property
    def curated_rows(self) -> int:
        """Rows inserted or changed in the curated tables by this run."""
        return sum(self.rows_written.values())

    def summary(self) -> str:
        """A few lines for the terminal."""
        if self.error:
            return f"etl failed after {self.seconds:.1f} s, nothing was written: {self.error}"
        lines = [
            f"etl: {self.loaded} object(s) loaded, {len(self.quarantined)} quarantined, "
            f"{self.curated_rows:,} row(s) written in {self.seconds:.1f} s"
        ]
        lines += [f"  {table}: {rows:,}" for table, rows in sorted(self.rows_written.items()) if rows]
        lines += [f"  quarantined {key}: {error}" for key, error in self.quarantined[:20]]
        if len(self.quarantined) > 20:
            lines.append(f"  ... and {len(self.quarantined) - 20} more (pipeline status lists them)")
        return "\n".join(lines)


def run_etl(
    settings: Settings,
    *,
    full: bool = False,
    progress: bool = False,
    keys: Sequence[str] | None = None,
    recent_days: int | None = None,
) -> EtlResult:
    """Load every raw object not yet loaded (every object when `full`) and refresh the derived tables.

    With `keys` (new objects named by the ETL queue, see `etl.follow`) only those are considered: no
    listing of the raw zone; with `recent_days` only the date partitions of those last days are
    listed. Either way a run costs what is new, not what the bucket holds.

    Raises `DatabaseUnavailable` when the database cannot be reached at all; any later failure rolls
    the load back and comes back as an `EtlResult` with exit code 1.
    """
    if multiprocessing.parent_process() is not None:
        # Worker processes re-import the main script: unguarded, it would start a run that waits on
        # the lock its own parent holds, forever.
        raise RuntimeError(
            "run_etl called in an ETL worker process: guard the script with if __name__ == '__main__'"
        )
    started = time.perf_counter()
    result = EtlResult(run_id=f"etl-{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}")
    started_at = dt.datetime.now(dt.UTC)
    with connect(database_url(settings)) as conn:
        try:
            _take_lock(conn)
            _load(
                conn,
                settings,
                result,
                full=full,
                progress=progress,
                started_at=started_at,
                keys=keys,
                recent_days=recent_days,
            )
            if result.curated_rows or full:
                result.views_refreshed = refresh_materialized_views(conn)
        except Exception as error:  # any failure: the transaction is rolled back; say why, exit 1
            result.error = " ".join(f"{type(error).__name__}: {error}".split())
            log.debug("ETL run %s failed", result.run_id, exc_info=True)
        finally:
            result.seconds = time.perf_counter() - started
    if result.error:
        _record_failure(settings, result, started_at, full)
    publish_run(settings, result, run_mode(full=full, keys=keys, recent_days=recent_days))
    return result


def _take_lock(conn: psycopg.Connection) -> None:
    with conn.cursor() as cursor:
        # Staging batches stay in memory; settable only before the session's first temporary table.
        cursor.execute("SET temp_buffers = '256MB'")
        cursor.execute("SELECT pg_try_advisory_lock(%s)", (ETL_LOCK_ID,))
        if not cursor.fetchone()[0]:
            print("etl: another ETL run is loading; waiting for it to finish", file=sys.stderr)
            cursor.execute("SELECT pg_advisory_lock(%s)", (ETL_LOCK_ID,))
    conn.commit()


def _load(
    conn: psycopg.Connection,
    settings: Settings,
    result: EtlResult,
    *,
    full: bool,
    progress: bool,
    started_at: dt.datetime,
    keys: Sequence[str] | None = None,
    recent_days: int | None = None,
) -> None:
    store = open_raw_store(settings)
    phase = PhaseTimer(result.phase_seconds)
    if keys is not None:
        scan = find_pending_keys(store, read_ledger(conn, keys), keys)
    elif recent_days is not None:
        listing = recent_listing(store, market_today(), recent_days)
        ledger = read_ledger(conn, [key for key, _ in listing])
        scan = find_pending(store, ledger, full=full, listing=listing)
    else:
        scan = find_pending(store, read_ledger(conn), full=full)
    conn.commit()
    result.metadata_lookups = scan.lookups
    plan = LoadPlan.build(scan.pending, scan.unreadable, settings)
    phase.done("extract")
    with conn.transaction(), conn.cursor() as cursor:
        # Room for the hash joins and aggregates of a full load; LOCAL: this transaction only.
        cursor.execute("SET LOCAL work_mem = '256MB'")
        quality = plan.execute(cursor, store, result, settings, progress=progress, phase=phase)
        result.rows_written[COMPANIES] = load_companies(cursor, read_universe(settings.pipeline_universe))
        result.rows_written[DIM_DATE] = extend_date_dimension(cursor, sorted(plan.dates))
        phase.done("companies_and_dates")
        every_day = bool(result.rows_written[COMPANIES])
        result.rows_written["sector_daily"] = refresh_sector_daily(
            cursor, None if every_day else plan.stock_days
        )
        result.rows_written["market_daily"] = refresh_market_daily(cursor, settings)
        phase.done("analytics")
        record_objects(cursor, plan.ledger_rows)
        record_etags(cursor, scan.new_etags)
        result.loaded = sum(1 for row in plan.ledger_rows if row[3] == "loaded")
        result.quarantined = [(row[0], row[5]) for row in plan.ledger_rows if row[3] == "quarantined"]
        result.seconds = (dt.datetime.now(dt.UTC) - started_at).total_seconds()
        _record_run(cursor, result, started_at, full, quality)


def _record_run(
    cursor: psycopg.Cursor, result: EtlResult, started_at: dt.datetime, full: bool, quality: dict
) -> None:
    status = "partial" if result.quarantined else "success"
    details = {
        "full": full,
        "objects_loaded": result.loaded,
        "objects_quarantined": len(result.quarantined),
        "quarantined": [
            {"key": key, "error": error} for key, error in result.quarantined[:QUARANTINE_DETAILS_LIMIT]
        ],
        "rows_written": result.rows_written,
        "rows_staged": result.rows_staged,
        "data_quality": quality,
        "phase_seconds": result.phase_seconds,
        "metadata_lookups": result.metadata_lookups,
        "seconds": round(result.seconds, 3),
    }
    cursor.execute(
        f"INSERT INTO {PIPELINE_RUNS} (run_id, kind, started_at, finished_at, status, details) "
        "VALUES (%s, 'etl', %s, clock_timestamp(), %s, %s)",
        (result.run_id, started_at, status, Jsonb(details)),
    )


def _record_failure(settings: Settings, result: EtlResult, started_at: dt.datetime, full: bool) -> None:
    """Best effort: the failure itself may be the database, in which case the log is all we have."""
    try:
        with connect(database_url(settings)) as conn:
            conn.execute(
                f"INSERT INTO {PIPELINE_RUNS} (run_id, kind, started_at, finished_at, status, details) "
                "VALUES (%s, 'etl', %s, clock_timestamp(), 'failed', %s)",
                (result.run_id, started_at, Jsonb({"full": full, "error": result.error})),
            )
    except Exception as error:
        log.warning("could not record the failed ETL run %s: %s", result.run_id, error)


class PhaseTimer:
    """Records the seconds each phase of a run took (into the run's details, for tuning)."""

    def __init__(self, into: dict[str, float]) -> None:
        self.into = into
        self.mark = time.perf_counter()

    def done(self, phase: str) -> None:
        now = time.perf_counter()
        self.into[phase] = round(self.into.get(phase, 0.0) + now - self.mark, 3)
        self.mark = now


@dataclass
class LoadPlan:
    """The pending objects sorted into work: Yahoo objects grouped by symbol, the others one by one."""

    yahoo_by_symbol: dict[str, list[PendingObject]]
    objects: list[PendingObject]
    ledger_rows: list[tuple] = field(default_factory=list)
    dates: set[dt.date] = field(default_factory=set)
    stock_days: set[dt.date] = field(default_factory=set)

    @classmethod
    def build(
        cls, pending: list[PendingObject], unreadable: list[UnreadableKey], settings: Settings
    ) -> LoadPlan:
        plan = cls(defaultdict(list), [])
        for key in unreadable:
            plan.ledger_rows.append(
                (
                    key.key,
                    key.key.split("/")[1] if key.key.count("/") else "unknown",
                    "",
                    "quarantined",
                    0,
                    key.error,
                    None,
                    False,
                    None,
                )
            )
        for item in pending:
            if item.source == YAHOO and item.extra.get("symbol"):
                plan.yahoo_by_symbol[item.extra["symbol"]].append(item)
            elif item.source in UNLOADED_SOURCES:
                # Reference snapshots (`companies` comes from the universe file) and shard reports
                # (the run's manifest carries them): recorded, nothing to load.
                plan.record(item, ObjectOutcome(item.key, item.sha256, 0))
            else:
                plan.objects.append(item)
        return plan

    def record(self, item: PendingObject, outcome: ObjectOutcome) -> None:
        status = "quarantined" if outcome.error else "loaded"
        self.ledger_rows.append(
            (
                item.key,
                item.source,
                outcome.sha256,
                status,
                outcome.rows,
                outcome.error,
                item.data_date,
                item.synthetic,
                item.etag,
            )
        )

    def execute(
        self,
        cursor: psycopg.Cursor,
        store: RawStore,
        result: EtlResult,
        settings: Settings,
        *,
        progress: bool,
        phase: PhaseTimer,
    ) -> dict[str, dict[str, int]]:
        """Transform every object and stage and upsert its rows; return the data-quality summary."""
        inputs = self._inputs(store)
        instrument_bytes = sum(len(item.body) for item in inputs.values() if item.source == YAHOO)
        parallel = instrument_bytes >= PARALLEL_THRESHOLD_BYTES
        batches = self._batches(cursor, inputs, settings, WORKER_BATCH_BYTES if parallel else None)
        object_tasks = [inputs[item.key] for item in self.objects if item.key in inputs]
        phase.done("read_and_context")
        by_key = {item.key: item for group in self.yahoo_by_symbol.values() for item in group}
        by_key.update({item.key: item for item in self.objects})
        sink = _ResultSink(self, cursor, by_key, _progress_bar(len(by_key), progress))
        with _transformed(batches, parallel=parallel) as instrument_results:
            # The small objects are parsed and loaded here while the worker processes start and
            # parse the instruments, so the database is busy from the first second.
            for transformed in map(transform_object, object_tasks):
                sink.absorb(transformed)
            for table, parts in sink.frames.items():
                result.rows_written[table] = self._load_objects(cursor, table, parts, sink.quality, result)
            for transformed in instrument_results:
                sink.absorb(transformed)
        sink.bar.close()
        for table, arrays in sink.day_arrays.items():
            days = np.unique(np.concatenate(arrays)).tolist()
            self.dates.update({days[0], days[-1]})
            if table == STOCK_DAILY:
                self.stock_days.update(days)
        phase.done("transform_and_stage")
        for table, writer in sink.writers.items():
            result.rows_written[table] = writer.flush()
            result.rows_staged += writer.rows
        phase.done("upsert")
        quality = sink.quality
        return {name: dict(counts) for name, counts in quality.items()}

    def _load_objects(
        self, cursor: psycopg.Cursor, table: str, parts: list[pd.DataFrame], quality: dict, result: EtlResult
    ) -> int:
        """Upsert the rows of one object-sourced table; the latest fetch wins on a repeated key."""
        merged = pd.concat(parts, ignore_index=True).sort_values("fetched_at", kind="stable")
        merged = merged.drop_duplicates(_DEDUP_KEYS[table], keep="last")
        for column in merged.columns.difference([*_DEDUP_KEYS[table], "fetched_at"]):
            missing = int(merged[column].isna().sum())
            if missing:
                quality[table][f"missing_{column}"] = missing
        result.rows_staged += len(merged)
        return load_frame(cursor, table, merged, unique_keys=True)

    def note_dates(self, frame: pd.DataFrame) -> None:
        for column in ("trade_date", "obs_date", "news_date"):
            if column in frame:
                dates = frame[column].dropna()
                if len(dates):
                    self.dates.update({dates.min().date(), dates.max().date()})

    def _inputs(self, store: RawStore) -> dict[str, ObjectInput]:
        everything = [item for group in self.yahoo_by_symbol.values() for item in group] + self.objects
        return {
            item.key: ObjectInput(item.key, item.source, dict(item.extra), item.metadata.fetched_at, body)
            for item, body in read_bodies(store, everything)
        }

    def _batches(
        self,
        cursor: psycopg.Cursor,
        inputs: dict[str, ObjectInput],
        settings: Settings,
        batch_bytes: int | None,
    ) -> list[InstrumentBatch]:
        """The instruments in batches per table: one batch per table, or of about `batch_bytes` each."""
        batches = []
        for table, groups in _by_table(self.yahoo_by_symbol, settings).items():
            since = {symbol: _earliest_window_start(group) for symbol, group in groups.items()}
            context = stored_bars(cursor, table, since)
            chunks: list[list[tuple[str, list[ObjectInput]]]] = [[]]
            size = 0
            for symbol, group in groups.items():
                objects = [inputs[item.key] for item in group if item.key in inputs]
                if not objects:
                    continue
                if batch_bytes and size >= batch_bytes:
                    chunks.append([])
                    size = 0
                chunks[-1].append((symbol, objects))
                size += sum(len(item.body) for item in objects)
            for chunk in filter(None, chunks):
                symbols = [symbol for symbol, _ in chunk]
                batch_context = context if len(chunks) == 1 else context[context["symbol"].isin(symbols)]
                batches.append(
                    InstrumentBatch(
                        table,
                        symbols,
                        [objects for _, objects in chunk],
                        [since[symbol] for symbol in symbols],
                        batch_context.reset_index(drop=True),
                        TABLES[table].columns,
                    )
                )
        return batches


def _by_table(
    yahoo_by_symbol: dict[str, list[PendingObject]], settings: Settings
) -> dict[str, dict[str, list]]:
    tables: dict[str, dict[str, list]] = defaultdict(dict)
    for symbol, group in yahoo_by_symbol.items():
        tables[instrument_table(symbol, settings.pipeline_indexes)][symbol] = group
    return tables


def _earliest_window_start(group: list[PendingObject]) -> dt.date:
    starts = []
    for item in group:
        try:
            starts.append(dt.date.fromisoformat(item.extra.get("window_start", "")))
        except ValueError:
            continue
    # Objects without a readable window are quarantined by the transform; they need no context.
    return min(starts, default=dt.date.max)


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


def _results_of(launched: Future) -> Iterator[TransformResult]:
    yield from launched.result()


class _ResultSink:
    """Takes transform results as they come: ledger outcomes, COPY of instrument rows, frames to load."""

    def __init__(self, plan: LoadPlan, cursor: psycopg.Cursor, by_key: dict[str, PendingObject], bar) -> None:
        self.plan = plan
        self.by_key = by_key
        self.bar = bar
        self.writers = {
            # Each (symbol, day) comes from exactly one batch, once: a run stages each key once.
            table: StagingWriter(cursor, TABLES[table], UPSERT_BATCH_ROWS, unique_keys=True)
            for table in (STOCK_DAILY, INDEX_DAILY)
        }
        self.frames: dict[str, list[pd.DataFrame]] = defaultdict(list)
        self.day_arrays: dict[str, list[np.ndarray]] = defaultdict(list)
        self.quality: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))

    def absorb(self, transformed: TransformResult) -> None:
        for outcome in transformed.outcomes:
            item = self.by_key[outcome.key]
            self.plan.record(item, outcome)
            self.quality[item.source]["objects"] += 1
            if outcome.error:
                self.quality[item.source]["quarantined"] += 1
            else:
                self.quality[item.source]["rows"] += outcome.rows
            self.bar.update(1)
        encoded = transformed.encoded
        if encoded is not None and encoded.rows:
            self.writers[transformed.table].write_tuples(encoded.copy_tuples, encoded.rows)
            self.quality[transformed.table]["missing_volume"] += encoded.missing_volume
            self.day_arrays[transformed.table].append(encoded.days)
        elif transformed.frame is not None and not transformed.frame.empty:
            self.plan.note_dates(transformed.frame)
            self.frames[transformed.table].append(transformed.frame)


class _NoProgress:
    def update(self, count: int) -> None:
        pass

    def close(self) -> None:
        pass


def _progress_bar(total: int, enabled: bool) -> object:
    if not enabled or total < PROGRESS_THRESHOLD_OBJECTS:
        return _NoProgress()
    from tqdm import tqdm

    return tqdm(total=total, unit="object", desc="etl", file=sys.stderr, leave=False)
