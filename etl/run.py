"""One ETL run, as a short sequence of steps in one transaction:

scan the raw zone against the ledger -> plan the work -> transform, handing each table's rows to the
sinks (`etl.sinks`; in worker processes for big loads, while the database ingests the rows) -> load
the reference tables -> refresh the analytics -> record the ledger and the run -> commit every sink,
PostgreSQL (the ledger) last.

Two runs never load at once: a session advisory lock serialises them (the second says it waits, then
finds only what the first left). Any failure rolls the whole load back and is recorded as a failed
`pipeline_runs` row; the next run loads the same objects again.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from etl.analytics import (
    MARKET_DAILY_SOURCES,
    market_daily_inputs,
    refresh_market_daily,
    refresh_materialized_views,
    refresh_sector_daily,
    update_table_stats,
)
from etl.extract import Scan, find_pending, find_pending_keys, recent_listing
from etl.lake_sink import LakeSink
from etl.ledger import read_ledger, record_etags, record_objects
from etl.plan import LoadPlan, StagedLoad, plan_load
from etl.postgres_sink import PostgresSink
from etl.schema import COMPANIES, DIM_DATE, MARKET_DAILY, PIPELINE_RUNS, RAW_OBJECTS, SECTOR_DAILY
from etl.sinks import RunStart, Sink
from etl.staging import load_companies
from etl.workers import instrument_pool, is_backfill
from pipeline.db import connect, database_url, fetch_value
from pipeline.market_time import market_today
from pipeline.migrations import upgrade_schema
from pipeline.outcomes import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_QUARANTINED,
    RUN_FAILED,
    RUN_PARTIAL,
    RUN_SUCCESS,
    new_run_id,
)
from pipeline.rawzone import RawStore, open_raw_store
from pipeline.reference import load_universe
from pipeline.settings import Settings

log = logging.getLogger(__name__)

# An arbitrary constant that identifies "ETL load" among the pipeline's advisory locks.
ETL_LOCK_ID = 7_202_402
QUARANTINE_DETAILS_LIMIT = 100
# Keys of an ETL run's `details`: what its `companies` and `market_daily` were made from (the universe
# file's sha256; the settings and query version), so the next run redoes neither if those are the same.
UNIVERSE_SHA256 = "universe_sha256"
MARKET_DAILY_INPUTS = "market_daily_inputs"
# Tables that stay small (the universe, the calendar, a row per run), counted again after each run that
# changed something: `pipeline_runs` has rows written outside a load (failed runs) too.
SMALL_TABLES = frozenset({COMPANIES, DIM_DATE, PIPELINE_RUNS})


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
    # The settings and query version `market_daily` now reflects (recorded in the run's details), and
    # whether this run recomputed it.
    market_daily_inputs: dict[str, Any] = field(default_factory=dict)
    market_daily_refreshed: bool = False
    # The sha256 of the universe file `companies` now reflects, and whether this run loaded it.
    universe_sha256: str = ""
    companies_loaded: bool = False
    # Rows written to each lake table (`etl.lake_sink`; empty without LAKE_WAREHOUSE).
    lake_rows: dict[str, int] = field(default_factory=dict)

    @property
    def exit_code(self) -> int:
        """0 success, 1 failure (nothing written), 3 finished with quarantined objects."""
        if self.error:
            return EXIT_FAILED
        return EXIT_QUARANTINED if self.quarantined else EXIT_OK

    def take(self, staged: StagedLoad) -> None:
        """Count what the transform-and-stage step loaded and quarantined."""
        self.loaded = sum(1 for row in staged.ledger_rows if row.loaded)
        self.quarantined = [(row.key, row.error or "") for row in staged.ledger_rows if row.quarantined]
        self.rows_written.update(staged.rows_written)
        self.rows_staged = staged.rows_staged

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
    # A worker process has multiprocessing imported; any other process need not import it (4 ms).
    multiprocessing = sys.modules.get("multiprocessing")
    if multiprocessing is not None and multiprocessing.parent_process() is not None:
        # Worker processes re-import the main script: unguarded, it would start a run that waits on
        # the lock its own parent holds, forever.
        raise RuntimeError(
            "run_etl called in an ETL worker process: guard the script with if __name__ == '__main__'"
        )
    started = time.perf_counter()
    result = EtlResult(run_id=new_run_id(kind="etl"))
    started_at = dt.datetime.now(dt.UTC)
    # Resolved once (a Secrets Manager read on AWS), one connection for the whole run: the schema
    # check, the load, the views, the metrics.
    url = database_url(settings)
    with connect(url) as conn:
        upgrade_schema(conn)
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
            _record_failure(url, result, started_at, full)
        if settings.pipeline_metrics_namespace:
            # The metric modules (calendar, telemetry) only where metrics are published (AWS).
            from etl.metrics import publish_run, run_mode

            mode = run_mode(full=full, keys=keys, recent_days=recent_days)
            publish_run(settings, result, mode, conn)
    return result


def _take_lock(conn: psycopg.Connection) -> None:
    with conn.cursor() as cursor:
        # Staging batches stay in memory; settable only before the session's first temporary table.
        cursor.execute("SET temp_buffers = '256MB'")
        cursor.execute("SELECT pg_try_advisory_lock(%s)", (ETL_LOCK_ID,))
        if not fetch_value(cursor):
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
    other_sinks: Sequence[Sink] = (),
) -> None:
    store = open_raw_store(settings)
    phase = PhaseTimer(result.phase_seconds)
    scan = _scan(conn, store, full=full, keys=keys, recent_days=recent_days)
    result.metadata_lookups = scan.lookups
    plan = plan_load(scan, settings, market_today())
    phase.done("extract")
    backfill = is_backfill(plan.instrument_window_days)
    postgres = PostgresSink(conn)
    lake = LakeSink(settings) if settings.lake_warehouse else None
    # PostgreSQL last: it holds the ledger, so an object counts as loaded only once every sink has it.
    sinks: list[Sink] = [*other_sinks, *([lake] if lake else []), postgres]
    run = RunStart(result.run_id, full=full, backfill=backfill)
    try:
        for sink in sinks:
            sink.begin(run)
        cursor = postgres.cursor
        last_inputs = _last_recorded_inputs(cursor)
        staged = _transform_and_stage(
            cursor, plan, store, sinks, progress=progress, phase=phase, backfill=backfill
        )
        for table, upserted in postgres.finish().items():
            staged.rows_written[table], staged.rows_inserted[table] = upserted
        if lake and plan.minute_bars:  # to the lake only (etl.intraday), recorded with the other objects
            from etl.intraday import load_minute_bars

            staged.ledger_rows += load_minute_bars(store, plan.minute_bars, lake)
        phase.done("upsert")
        result.take(staged)
        _load_reference_tables(cursor, settings, staged, result, full=full, last_inputs=last_inputs)
        phase.done("companies_and_dates")
        _refresh_analytics(cursor, settings, staged, result, full=full, last_inputs=last_inputs)
        phase.done("analytics")
        staged.rows_inserted[RAW_OBJECTS] = record_objects(cursor, staged.ledger_rows).inserted
        record_etags(cursor, scan.new_etags)
        result.seconds = (dt.datetime.now(dt.UTC) - started_at).total_seconds()
        _record_run(cursor, result, started_at, full, staged.quality_summary())
        # In this transaction: the dashboard's counts are never those of a load that did not commit.
        # A run that changed no curated row still wrote its own `pipeline_runs` row (and maybe ledger
        # rows): those two stay exact too.
        recount = None if full else SMALL_TABLES if result.curated_rows else {PIPELINE_RUNS}
        update_table_stats(cursor, staged.rows_inserted, recount)
        if lake:  # the tables PostgreSQL computed, final now (etl.lake_sink)
            lake.take_from_postgres(cursor, result.rows_written)
        for sink in sinks:
            sink.commit()
        result.lake_rows = lake.rows if lake else {}
    except BaseException:
        for sink in sinks:
            sink.abort()
        raise


def _scan(
    conn: psycopg.Connection,
    store: RawStore,
    *,
    full: bool,
    keys: Sequence[str] | None,
    recent_days: int | None,
) -> Scan:
    """The raw objects to load, compared with the ledger (read outside the load's transaction): the
    named `keys`, the last `recent_days` days' partitions, or else the whole raw zone."""
    if keys is not None:
        scan = find_pending_keys(store, read_ledger(conn, keys), keys)
    elif recent_days is not None:
        listing = recent_listing(store, market_today(), recent_days)
        scan = find_pending(store, read_ledger(conn, [key for key, _ in listing]), full=full, listing=listing)
    else:
        scan = find_pending(store, read_ledger(conn), full=full)
    conn.commit()
    return scan


def _transform_and_stage(
    cursor: psycopg.Cursor,
    plan: LoadPlan,
    store: RawStore,
    sinks: Sequence[Sink],
    *,
    progress: bool,
    phase: PhaseTimer,
    backfill: bool,
) -> StagedLoad:
    if not plan.to_transform:
        # Nothing to parse: the transform's modules (numpy) are never imported, so a run with
        # nothing new costs what its queries cost.
        return StagedLoad(ledger_rows=list(plan.settled))
    # A backfill's workers first: the fork server imports the transform while this process does.
    with instrument_pool(backfill) as pool:
        from etl.stage import transform_and_stage

        return transform_and_stage(
            cursor, plan, store, sinks, pool=pool, progress=progress, on_phase=phase.done
        )


def _last_recorded_inputs(cursor: psycopg.Cursor) -> dict[str, Any]:
    """What the last committed ETL run recorded under `UNIVERSE_SHA256` and `MARKET_DAILY_INPUTS`
    (empty before any did). Runs commit one at a time under the ETL lock, each stamping `finished_at`
    while it holds it, so the latest `finished_at` is the last commit's; failed runs record neither."""
    cursor.execute(
        f"SELECT details -> %(universe)s, details -> %(market)s FROM {PIPELINE_RUNS} "
        "WHERE kind = 'etl' AND details ? %(market)s ORDER BY finished_at DESC LIMIT 1",
        {"universe": UNIVERSE_SHA256, "market": MARKET_DAILY_INPUTS},
    )
    row = cursor.fetchone()
    return {UNIVERSE_SHA256: row[0], MARKET_DAILY_INPUTS: row[1]} if row else {}


def _load_reference_tables(
    cursor: psycopg.Cursor,
    settings: Settings,
    staged: StagedLoad,
    result: EtlResult,
    *,
    full: bool,
    last_inputs: dict[str, Any],
) -> None:
    """`companies` from the universe file (when its bytes differ from the last load's, or `--full`),
    and `dim_date` over every day the run touched."""
    result.universe_sha256 = hashlib.sha256(settings.pipeline_universe.read_bytes()).hexdigest()
    result.companies_loaded = full or last_inputs.get(UNIVERSE_SHA256) != result.universe_sha256
    result.rows_written[COMPANIES] = 0
    if result.companies_loaded:
        # Read again after the digest: a file changed in between has another digest next run.
        result.rows_written[COMPANIES] = load_companies(cursor, load_universe(settings.pipeline_universe))
    result.rows_written[DIM_DATE] = 0
    if staged.dates:
        from etl.load import extend_date_dimension  # builds the days with numpy: only with new rows

        result.rows_written[DIM_DATE] = extend_date_dimension(cursor, sorted(staged.dates))


def _refresh_analytics(
    cursor: psycopg.Cursor,
    settings: Settings,
    staged: StagedLoad,
    result: EtlResult,
    *,
    full: bool,
    last_inputs: dict[str, Any],
) -> None:
    """The summaries of the days the run changed; every day when the universe (sectors) changed.

    `market_daily` is recomputed only when it could come out different: rows written to a table it
    reads (then from the earliest day the run staged on), other settings than the last refresh used
    (`PIPELINE_INDEXES` and the others change without a row changing), a new version of its query, or
    `--full` (then every day).
    """
    every_day = bool(result.rows_written[COMPANIES])
    result.rows_written[SECTOR_DAILY] = refresh_sector_daily(cursor, None if every_day else staged.stock_days)
    result.market_daily_inputs = market_daily_inputs(cursor, settings)
    every_market_day = full or last_inputs.get(MARKET_DAILY_INPUTS) != result.market_daily_inputs
    result.market_daily_refreshed = every_market_day or any(
        result.rows_written.get(table) for table in MARKET_DAILY_SOURCES
    )
    # Only the days from the earliest one the run staged, unless every day may have changed.
    since = None if every_market_day or not staged.dates else min(staged.dates)
    result.rows_written[MARKET_DAILY] = (
        refresh_market_daily(cursor, settings, since) if result.market_daily_refreshed else 0
    )


def _record_run(
    cursor: psycopg.Cursor, result: EtlResult, started_at: dt.datetime, full: bool, quality: dict[str, Any]
) -> None:
    status = RUN_PARTIAL if result.quarantined else RUN_SUCCESS
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
        "lake_rows_written": result.lake_rows,
        "companies_loaded": result.companies_loaded,
        UNIVERSE_SHA256: result.universe_sha256,
        "market_daily_refreshed": result.market_daily_refreshed,
        MARKET_DAILY_INPUTS: result.market_daily_inputs,
        "seconds": round(result.seconds, 3),
    }
    cursor.execute(
        f"INSERT INTO {PIPELINE_RUNS} (run_id, kind, started_at, finished_at, status, details) "
        "VALUES (%s, 'etl', %s, clock_timestamp(), %s, %s)",
        (result.run_id, started_at, status, Jsonb(details)),
    )


def _record_failure(url: str, result: EtlResult, started_at: dt.datetime, full: bool) -> None:
    """Best effort, on a connection of its own (the run's may be what failed): if the failure is the
    database itself, the log is all we have."""
    try:
        with connect(url) as conn:
            conn.execute(
                f"INSERT INTO {PIPELINE_RUNS} (run_id, kind, started_at, finished_at, status, details) "
                "VALUES (%s, 'etl', %s, clock_timestamp(), %s, %s)",
                (result.run_id, started_at, RUN_FAILED, Jsonb({"full": full, "error": result.error})),
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
