"""The ETL benchmark: sample data of 60, 500 and 2,000 tickers x 10 years, each loaded from empty by
`pipeline etl` in a process of its own, then a run with nothing new and a run adding one day.

Prints, measured in the same run: the full load's rate in curated rows per second and its share of a
raw binary COPY of the same stock rows into the same server (into a table of `stock_daily`'s
definition, and into a bare one): the best of `FULL_LOAD_ROUNDS` loads against the best of the COPYs
run right after each of them, and each load against its own COPY; every timed step after a checkpoint
and a sync of the sample's files. Then `pandas.DataFrame.to_sql(method="multi")` on a subset, the
no-op and one-day times as whole processes (start-up and imports included), the peak memory of the
largest ETL process (workers included) and how the full load scales with the tickers. The 500-ticker database is left in `home` for the dashboard benchmark.
"""

from __future__ import annotations

import compileall
import datetime as dt
import multiprocessing
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from etl.schema import TABLES
from pipeline.db import connect, database_url, fetch_value, stop_embedded
from pipeline.settings import DEFAULT_UNIVERSE, load_settings

TICKER_COUNTS = (60, 500, 2000)
MAIN_TICKERS = 500
DAYS = 2520
# A Thursday, so that the extra day of the incremental run is a Friday session.
LAST_DAY = dt.date(2025, 12, 18)
TO_SQL_ROWS = 50_000
NO_OP_ROUNDS = 5
# The 500-ticker full load and the raw COPY baseline it is compared with: this many loads, each followed
# by one raw COPY of the rows it loaded (into each kind of table), so that every load is compared with
# a COPY run on the machine as it was then (the shared 2-core machine's speed drifts by 20-50% over
# minutes); every step after a checkpoint.
FULL_LOAD_ROUNDS = 3
# The project's packages, byte-compiled before anything is timed (see `_compile_project`).
PROJECT_PACKAGES = ("cli", "etl", "pipeline")
SCRATCH_COPY = "bench_scratch_copy"
SCRATCH_TO_SQL = "bench_scratch_to_sql"
STOCK_COLUMNS = "ticker, trade_date, open, high, low, close, adj_close, volume, daily_return, volatility_7"
_WRITTEN = re.compile(r"([\d,]+) row\(s\) written")


@dataclass(frozen=True)
class Process:
    """One `pipeline` command run to completion: wall seconds, peak memory, what it printed."""

    seconds: float
    peak_mb: float
    output: str

    @property
    def rows_written(self) -> int:
        match = _WRITTEN.search(self.output)
        return int(match.group(1).replace(",", "")) if match else 0

    @property
    def rate(self) -> float:
        """Rows written per second."""
        return self.rows_written / self.seconds


def pipeline(home: Path, *arguments: str) -> Process:
    """Run `pipeline ARGUMENTS` with PIPELINE_HOME=`home` and its universe; raise if it fails."""
    environment = {**os.environ, "PIPELINE_HOME": str(home), "PIPELINE_UNIVERSE": str(home / "universe.csv")}
    with tempfile.TemporaryFile() as stdout, tempfile.TemporaryFile() as stderr:
        started = time.perf_counter()
        child = subprocess.Popen(
            [sys.executable, "-m", "cli", *arguments], env=environment, stdout=stdout, stderr=stderr
        )
        # wait4 reports the child's peak memory, and its reaped children's (the ETL's workers): the largest.
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)
        stdout.seek(0)
        stderr.seek(0)
        output, errors = stdout.read().decode(), stderr.read().decode()
    if child.returncode not in (0, 3):
        raise SystemExit(f"pipeline {' '.join(arguments)} failed: {errors[-2000:]}")
    return Process(seconds, usage.ru_maxrss / 1024, output)


@dataclass(frozen=True)
class RawCopy:
    """Rows per second of a plain binary COPY of every stock row (bytes already in memory, in key
    order, as the raw zone holds them: ticker by ticker, day by day, the order in which the index is
    cheapest to maintain), into a table of `stock_daily`'s definition (its primary key and index: what
    the ETL must build too), and into a bare table (no key, no index: the server's bound)."""

    into_table: float
    into_bare_table: float


@dataclass(frozen=True)
class FullLoad:
    """The best of a ticker count's loads; with the rate of each load and the raw COPY after each."""

    tickers: int
    seconds: float
    rows: int
    peak_mb: float
    rates: list[float] = field(default_factory=list)
    copies: list[RawCopy] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.rows / self.seconds

    @property
    def best_copy(self) -> RawCopy:
        """The fastest raw COPY into each kind of table, over the loads."""
        return RawCopy(
            max(copy.into_table for copy in self.copies), max(copy.into_bare_table for copy in self.copies)
        )


def full_load(home: Path, tickers: int, rounds: int = 1, *, with_raw_copy: bool = False) -> FullLoad:
    """Sample `tickers` x 10 years into an empty `home`, then time `pipeline etl` loading it: the best
    of `rounds` loads, each into emptied tables after a checkpoint (the peak memory is the largest).

    `with_raw_copy`: each load is followed by a raw COPY of its stock rows (`_raw_copy_rate`)."""
    home.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(DEFAULT_UNIVERSE, home / "universe.csv")
    sample = pipeline(home, "sample", "--tickers", str(tickers), "--days", str(DAYS), "--end", str(LAST_DAY))
    # The sample's files reach the disk now, not while the load is timed.
    os.sync()
    print(f"  {tickers:>5} tickers: sample written in {sample.seconds:.1f} s")
    pipeline(home, "db", "migrate")
    url = database_url(load_settings(pipeline_home=home))
    loads, copies = [], []
    for round_ in range(rounds):
        with connect(url) as conn:
            if round_:
                conn.execute(f"TRUNCATE {', '.join(TABLES)}")
            _checkpoint(conn)
        loads.append(pipeline(home, "etl"))
        line = (
            f"  {tickers:>5} tickers: full load {loads[-1].seconds:.1f} s, {loads[-1].rows_written:,} rows, "
            f"peak {loads[-1].peak_mb:,.0f} MB"
        )
        if with_raw_copy:
            # In a process of its own: the rows it holds would otherwise stay in this one, and the
            # next load's child, forked from it, would report them as its own peak memory.
            with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as child:
                copies.append(child.submit(_raw_copy_rate, url).result())
            line += (
                f"; raw COPY right after: {copies[-1].into_table:,.0f} rows/s (load at "
                f"{loads[-1].rate / copies[-1].into_table:.0%} of it), bare {copies[-1].into_bare_table:,.0f} rows/s"
            )
        print(line)
    best = min(loads, key=lambda load: load.seconds)
    return FullLoad(
        tickers,
        best.seconds,
        best.rows_written,
        max(load.peak_mb for load in loads),
        [load.rate for load in loads],
        copies,
    )


def _raw_copy_rate(url: str) -> RawCopy:
    with connect(url) as conn:
        with (
            conn.cursor() as cursor,
            cursor.copy(
                f"COPY (SELECT {STOCK_COLUMNS} FROM stock_daily ORDER BY ticker, trade_date) TO STDOUT (FORMAT BINARY)"
            ) as copy,
        ):
            blocks = list(copy)
        rates = []
        for definition in ("INCLUDING ALL", "INCLUDING DEFAULTS"):
            conn.execute(f"DROP TABLE IF EXISTS {SCRATCH_COPY}")
            conn.execute(f"CREATE TABLE {SCRATCH_COPY} (LIKE stock_daily {definition})")
            conn.commit()
            _checkpoint(conn)
            started = time.perf_counter()
            with (
                conn.cursor() as cursor,
                cursor.copy(f"COPY {SCRATCH_COPY} ({STOCK_COLUMNS}) FROM STDIN (FORMAT BINARY)") as copy,
            ):
                for block in blocks:
                    copy.write(block)
            conn.commit()
            seconds = time.perf_counter() - started
            rates.append(fetch_value(conn.execute(f"SELECT count(*) FROM {SCRATCH_COPY}")) / seconds)
            conn.execute(f"DROP TABLE {SCRATCH_COPY}")
            conn.commit()
    return RawCopy(*rates)


def _checkpoint(conn) -> None:
    """Write out the dirty pages of what ran before, so that a timed step does not pay for them."""
    conn.execute("CHECKPOINT")
    conn.commit()


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


def _compile_project() -> None:
    """Byte-compile the project, as an installed copy is: where PYTHONDONTWRITEBYTECODE is set (this
    sandbox sets it) every timed process would otherwise compile its ~60 modules from source again,
    about 25 ms of each no-op run that no user's second run pays."""
    root = Path(__file__).resolve().parent.parent
    for package in PROJECT_PACKAGES:
        compileall.compile_dir(root / package, quiet=1)


def main(home: Path) -> None:
    """Run the ETL benchmark under `home` (empty); print the figures."""
    print(f"== ETL benchmark: {', '.join(map(str, TICKER_COUNTS))} tickers x {DAYS} trading days")
    _compile_project()
    loads = {}
    for tickers in TICKER_COUNTS:
        target = home if tickers == MAIN_TICKERS else home / f"tickers-{tickers}"
        paired = tickers == MAIN_TICKERS
        loads[tickers] = full_load(target, tickers, FULL_LOAD_ROUNDS if paired else 1, with_raw_copy=paired)
        if target != home:
            stop_embedded(load_settings(pipeline_home=target))
            shutil.rmtree(target)
    url = database_url(load_settings(pipeline_home=home))
    copy_rate = loads[MAIN_TICKERS].best_copy
    to_sql_rate = _to_sql_rate(url)
    no_op = min(pipeline(home, "etl").seconds for _ in range(NO_OP_ROUNDS))
    pipeline(
        home,
        "sample",
        "--tickers",
        str(MAIN_TICKERS),
        "--days",
        "1",
        "--end",
        str(LAST_DAY + dt.timedelta(days=1)),
    )
    os.sync()
    with connect(url) as conn:
        _checkpoint(conn)
    one_day = pipeline(home, "etl")

    main_load = loads[MAIN_TICKERS]
    print(
        f"full load, {MAIN_TICKERS} tickers:       {main_load.rate:>10,.0f} curated rows/s ({main_load.rows:,} rows)"
    )
    print(
        f"raw COPY, same stock rows:    {copy_rate.into_table:>10,.0f} rows/s, binary, into a table of stock_daily's "
        f"definition (full load at {main_load.rate / copy_rate.into_table:.0%} of it)"
    )
    print(
        f"raw COPY into a bare table:   {copy_rate.into_bare_table:>10,.0f} rows/s, no key or index "
        f"(full load at {main_load.rate / copy_rate.into_bare_table:.0%} of it)"
    )
    shares = [rate / copy.into_table for rate, copy in zip(main_load.rates, main_load.copies, strict=True)]
    print(
        f"each load against the COPY right after it: {', '.join(f'{share:.0%}' for share in shares)} "
        f"(median {statistics.median(shares):.0%})"
    )
    print(f"to_sql(method='multi'), {TO_SQL_ROWS:,}: {to_sql_rate:>8,.0f} rows/s")
    print(f"no-op run, whole process:     {no_op:>10.2f} s (best of {NO_OP_ROUNDS})")
    print(f"one new day, whole process:   {one_day.seconds:>10.2f} s ({one_day.rows_written:,} rows)")
    for tickers, load in loads.items():
        print(
            f"full load, {tickers:>5} tickers:     {load.seconds:>7.1f} s, {load.rate:>10,.0f} rows/s, "
            f"peak memory {load.peak_mb:>6,.0f} MB"
        )
    smallest, largest = loads[TICKER_COUNTS[0]], loads[TICKER_COUNTS[-1]]
    print(
        f"scaling {smallest.tickers} -> {largest.tickers} tickers: {largest.seconds / smallest.seconds:.1f}x the time "
        f"for {largest.rows / smallest.rows:.1f}x the rows; peak memory {largest.peak_mb / loads[MAIN_TICKERS].peak_mb:.2f}x "
        f"the {MAIN_TICKERS}-ticker peak"
    )
