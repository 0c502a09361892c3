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
from typing import Any

import psycopg

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
from etl.run_record import (
    MARKET_DAILY_INPUTS,
    UNIVERSE_SHA256,
    EtlResult,
    PhaseTimer,
    last_recorded_inputs,
    record_failure,
    record_run,
)
from etl.schema import COMPANIES, DIM_DATE, MARKET_DAILY, PIPELINE_RUNS, RAW_OBJECTS, SECTOR_DAILY
from etl.sinks import RunStart, Sink
from etl.staging import load_companies
from etl.workers import instrument_pool, is_backfill
from pipeline.db import connect, database_url, fetch_value
from pipeline.market_time import market_today
from pipeline.migrations import upgrade_schema
from pipeline.outcomes import new_run_id
from pipeline.rawzone import RawStore, open_raw_store
from pipeline.reference import load_universe
from pipeline.settings import Settings

log = logging.getLogger(__name__)

# An arbitrary constant that identifies "ETL load" among the pipeline's advisory locks.
ETL_LOCK_ID = 7_202_402
# Tables that stay small (the universe, the calendar, a row per run), counted again after each run that
# changed something: `pipeline_runs` has rows written outside a load (failed runs) too.
SMALL_TABLES = frozenset({COMPANIES, DIM_DATE, PIPELINE_RUNS})


def run_etl(
    settings: Settings,
    *,
    full: bool = False,
    progress: bool = False,
    keys: Sequence[str] | None = None,
    recent_days: int | None = None,
    sinks: Sequence[Sink] = (),
) -> EtlResult:
    """Load every raw object not yet loaded (every object when `full`) and refresh the derived tables.

    `sinks` take the transform's rows besides PostgreSQL (`etl.sinks`), each committed before it.

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
                other_sinks=sinks,
            )
            if result.curated_rows or full:
                result.views_refreshed = refresh_materialized_views(conn)
        except Exception as error:  # any failure: the transaction is rolled back; say why, exit 1
            result.error = " ".join(f"{type(error).__name__}: {error}".split())
            log.debug("ETL run %s failed", result.run_id, exc_info=True)
        finally:
            result.seconds = time.perf_counter() - started
        if result.error:
            record_failure(url, result, started_at, full)
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
        last_inputs = last_recorded_inputs(cursor)
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
        if lake:  # the tables PostgreSQL computed, final now (etl.lake_sink)
            lake.take_from_postgres(cursor, result.rows_written)
            result.lake_rows = lake.pending_rows
        record_run(cursor, result, started_at, full, staged.quality_summary())
        # In this transaction: the dashboard's counts are never those of a load that did not commit.
        # A run that changed no curated row still wrote its own `pipeline_runs` row (and maybe ledger
        # rows): those two stay exact too.
        recount = None if full else SMALL_TABLES if result.curated_rows else {PIPELINE_RUNS}
        update_table_stats(cursor, staged.rows_inserted, recount)
        for sink in sinks:
            sink.commit()
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
