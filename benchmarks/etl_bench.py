"""The ETL benchmark: 500 tickers x 10 years of sample data, loaded from empty, then two incremental runs.

Prints, measured in the same run on the same database: the end-to-end rate of the full ETL in curated
rows per second, the rate of a raw COPY of the same stock rows and of `pandas.DataFrame.to_sql(
method="multi")` on a subset (both into scratch tables, dropped afterwards), the time of a run with
nothing new and of a run adding one day, and peak memory. The loaded database is left in place for
the dashboard benchmark.
"""

from __future__ import annotations

import datetime as dt
import resource
import time
from pathlib import Path

import pandas as pd

from etl import EtlResult, run_etl
from lambda_src.ingestion.sample import write_sample
from pipeline.db import connect, database_url, fetch_value
from pipeline.migrations import migrate
from pipeline.rawzone import open_raw_store
from pipeline.settings import Settings, load_settings

TICKERS = 500
DAYS = 2520
# A Thursday, so that the extra day of the incremental run is a Friday session.
LAST_DAY = dt.date(2025, 12, 18)
TO_SQL_ROWS = 50_000
SCRATCH_COPY = "bench_scratch_copy"
SCRATCH_TO_SQL = "bench_scratch_to_sql"
STOCK_COLUMNS = "ticker, trade_date, open, high, low, close, adj_close, volume, daily_return, volatility_7"


def _timed(label: str, action):
    started = time.perf_counter()
    value = action()
    seconds = time.perf_counter() - started
    print(f"{label}: {seconds:.2f} s")
    return value, seconds


def _etl_run(settings: Settings, label: str) -> tuple[EtlResult, float]:
    result, seconds = _timed(label, lambda: run_etl(settings, full=False, progress=False))
    if result.exit_code != 0:
        raise SystemExit(f"{label} failed: {result.summary()}")
    print("  " + result.summary().replace("\n", "\n  "))
    print(f"  phases: {result.phase_seconds}")
    return result, seconds


def _raw_copy_rate(url: str) -> float:
    """Rows per second of a plain COPY of every stock row (bytes already in memory) into a scratch table."""
    with connect(url) as conn:
        with conn.cursor() as cursor, cursor.copy(f"COPY stock_daily ({STOCK_COLUMNS}) TO STDOUT") as copy:
            blocks = list(copy)
        conn.execute(f"DROP TABLE IF EXISTS {SCRATCH_COPY}")
        conn.execute(f"CREATE TABLE {SCRATCH_COPY} AS SELECT {STOCK_COLUMNS} FROM stock_daily WITH NO DATA")
        conn.commit()
        started = time.perf_counter()
        with (
            conn.cursor() as cursor,
            cursor.copy(f"COPY {SCRATCH_COPY} ({STOCK_COLUMNS}) FROM STDIN") as copy,
        ):
            for block in blocks:
                copy.write(block)
        conn.commit()
        seconds = time.perf_counter() - started
        rows = fetch_value(conn.execute(f"SELECT count(*) FROM {SCRATCH_COPY}"))
        conn.execute(f"DROP TABLE {SCRATCH_COPY}")
        conn.commit()
    return rows / seconds


def _to_sql_rate(url: str) -> float:
    """Rows per second of `DataFrame.to_sql(method="multi")` on a subset of the stock rows."""
    import sqlalchemy

    engine = sqlalchemy.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.connect() as connection:
            frame = pd.read_sql(
                sqlalchemy.text(f"SELECT {STOCK_COLUMNS} FROM stock_daily LIMIT {TO_SQL_ROWS}"), connection
            )
        started = time.perf_counter()
        frame.to_sql(SCRATCH_TO_SQL, engine, if_exists="replace", index=False, method="multi", chunksize=1000)
        seconds = time.perf_counter() - started
        with engine.begin() as connection:
            connection.execute(sqlalchemy.text(f"DROP TABLE {SCRATCH_TO_SQL}"))
    finally:
        engine.dispose()
    return len(frame) / seconds


def _peak_memory_mb() -> tuple[float, float]:
    # ru_maxrss is in kilobytes on Linux.
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return own, children


def main(home: Path) -> None:
    """Run the ETL benchmark in `home` (an empty PIPELINE_HOME) and print the figures."""
    settings = load_settings(pipeline_home=home)
    store = open_raw_store(settings)
    print(f"== ETL benchmark: {TICKERS} tickers x {DAYS} trading days, PIPELINE_HOME={home}")
    _timed(
        "write_sample (10 years)",
        lambda: write_sample(
            settings, store, tickers=TICKERS, days=DAYS, seed=7, end=LAST_DAY, progress=False
        ),
    )
    url = database_url(settings)
    migrate(settings)

    full, full_seconds = _etl_run(settings, "full ETL from empty")
    curated_rate = full.curated_rows / full_seconds
    copy_rate = _raw_copy_rate(url)
    to_sql_rate = _to_sql_rate(url)

    _etl_run(settings, "ETL with nothing new")
    _timed(
        "write_sample (one more day)",
        lambda: write_sample(
            settings,
            store,
            tickers=TICKERS,
            days=1,
            seed=7,
            end=LAST_DAY + dt.timedelta(days=1),
            progress=False,
        ),
    )
    _etl_run(settings, "ETL of one new day")

    own, children = _peak_memory_mb()
    print(f"full load, end to end:        {curated_rate:>10,.0f} curated rows/s ({full.curated_rows:,} rows)")
    print(f"raw COPY, same stock rows:    {copy_rate:>10,.0f} rows/s")
    print(f"to_sql(method='multi'), {TO_SQL_ROWS:,}: {to_sql_rate:>8,.0f} rows/s")
    print(f"peak memory: {own:,.0f} MB (this process), {children:,.0f} MB (largest child)")
