"""The lake benchmark (`make bench`; alone: ``python -m benchmarks.lake_bench``).

1. The daily path with and without the lake sink: 500 tickers x 10 years sampled, loaded from empty by
   `pipeline etl` into two fresh homes, one with LAKE_WAREHOUSE; then one more day into each. Wall time
   and peak memory of each `pipeline etl` process.
2. Minute bars: 500 tickers x the 20 sessions Yahoo serves (~3.9 M bars) sampled and loaded by the ETL
   into `stock_minute`; then `REWRITES` more commits re-writing a share of the tickers each (as later
   fetches do), `pipeline lake compact` on the crowded partitions, and the files before and after.
3. Queries through DuckDB: the Intraday page's two queries (one ticker, three days) and a scan of every
   minute bar (count and VWAP per ticker), median of `QUERY_ROUNDS`.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
import os
import shutil
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from benchmarks.etl_bench import pipeline
from pipeline.db import stop_embedded
from pipeline.settings import DEFAULT_UNIVERSE, load_settings

TICKERS = 500
DAYS = 2520
MINUTE_DAYS = 20
LAST_DAY = dt.date(2025, 12, 18)
QUERY_ROUNDS = 5
# Commits that each re-write a share of the tickers' minute bars, crowding every day's partition.
REWRITES = 6


def _prepared(home: Path, *, lake: bool) -> dict[str, str]:
    if home.exists():
        shutil.rmtree(home)
    home.mkdir(parents=True)
    shutil.copyfile(DEFAULT_UNIVERSE, home / "universe.csv")
    if lake:
        os.environ["LAKE_WAREHOUSE"] = str(home / "lake")
    else:
        os.environ.pop("LAKE_WAREHOUSE", None)
    return dict(os.environ)


def daily_path(home: Path) -> None:
    print(f"lake: the daily path, {TICKERS} tickers x {DAYS} days, without and with the lake sink")
    for lake in (False, True):
        where = home / ("with-lake" if lake else "without-lake")
        _prepared(where, lake=lake)
        pipeline(where, "sample", "--tickers", str(TICKERS), "--days", str(DAYS), "--end", str(LAST_DAY))
        os.sync()
        pipeline(where, "db", "migrate")
        first = pipeline(where, "etl")
        next_day = LAST_DAY + dt.timedelta(days=1)
        pipeline(where, "sample", "--tickers", str(TICKERS), "--days", "1", "--end", str(next_day))
        day = pipeline(where, "etl")
        stop_embedded(load_settings(pipeline_home=where))
        label = "with the lake   " if lake else "without the lake"
        print(
            f"  {label}: full load {first.seconds:5.1f} s, peak {first.peak_mb:,.0f} MB; "
            f"one more day {day.seconds:4.1f} s, peak {day.peak_mb:,.0f} MB"
        )
    os.environ.pop("LAKE_WAREHOUSE", None)


def minute_bars(home: Path) -> None:
    print(f"lake: minute bars, {TICKERS} tickers x {MINUTE_DAYS} sessions")
    where = home / "minutes"
    _prepared(where, lake=True)
    sample = pipeline(
        where,
        "sample",
        "--tickers",
        str(TICKERS),
        "--days",
        str(MINUTE_DAYS),
        "--end",
        str(LAST_DAY),
        "--intraday",
    )
    os.sync()
    pipeline(where, "db", "migrate")
    load = pipeline(where, "etl")
    print(
        f"  sample written in {sample.seconds:.1f} s; `pipeline etl` (daily and minute bars) {load.seconds:.1f} s, peak {load.peak_mb:,.0f} MB"
    )

    settings = load_settings(pipeline_home=where, lake_warehouse=str(where / "lake"))
    # In a process of its own: the bars it reads would stay in this one, and the next child, forked
    # from it, would report them as its own peak memory.
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as child:
        bars, files, seconds, rewritten, tickers = child.submit(_fragment, settings).result()
    print(f"  stock_minute: {bars:,} bars in {files} files")
    print(
        f"  {REWRITES} commits re-writing 1/{REWRITES} of the tickers each: {seconds:.1f} s, {rewritten} files"
    )
    compaction = pipeline(where, "lake", "compact")
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as child:
        files_after = child.submit(_files, settings).result()
    print(
        f"  pipeline lake compact: {compaction.seconds:.1f} s, peak {compaction.peak_mb:,.0f} MB, "
        f"{files_after} files after"
    )
    stop_embedded(load_settings(pipeline_home=where))
    queries(settings, tickers[0])


def _files(settings) -> int:
    from etl.lake import open_catalog, table_identifier

    return (
        open_catalog(settings).load_table(table_identifier(settings, "stock_minute")).inspect.files().num_rows
    )


def _fragment(settings) -> tuple[int, int, float, int, list[str]]:
    """What later fetches do to a table: `REWRITES` commits, each re-writing some tickers' bars."""
    from pyiceberg.expressions import In

    from etl.lake import open_catalog, replace_rows, table_identifier

    table = open_catalog(settings).load_table(table_identifier(settings, "stock_minute"))
    tickers = sorted(set(table.scan(selected_fields=("ticker",)).to_arrow()["ticker"].to_pylist()))
    bars, files = table.scan(selected_fields=("ticker",)).to_arrow().num_rows, table.inspect.files().num_rows
    started = time.perf_counter()
    for part in range(REWRITES):
        chosen = tickers[part::REWRITES]
        replace_rows(table, table.scan(row_filter=In("ticker", chosen)).to_arrow(), In("ticker", chosen))
    seconds = time.perf_counter() - started
    return bars, files, seconds, table.refresh().inspect.files().num_rows, tickers


def queries(settings, ticker: str) -> None:
    import logging

    logging.getLogger("streamlit").setLevel(logging.ERROR)  # its caches warn outside a server
    from dashboard.queries.lake import _DAYS, _MINUTES
    from etl.lake_duckdb import lake_connection

    with lake_connection(settings, ["stock_minute"]) as connection:
        days = [
            row[0]
            for row in connection.execute(
                "SELECT DISTINCT trade_date FROM stock_minute WHERE ticker = ? ORDER BY 1 DESC LIMIT 3",
                [ticker],
            ).fetchall()
        ]
    timings: dict[str, list[float]] = {"Intraday page (two queries)": [], "scan of every bar": []}
    for _ in range(QUERY_ROUNDS):
        started = time.perf_counter()
        with lake_connection(settings, ["stock_minute"]) as connection:
            parameters = {"ticker": ticker, "days": days}
            connection.execute(_DAYS, parameters).df()
            connection.execute(_MINUTES, parameters).df()
        timings["Intraday page (two queries)"].append(time.perf_counter() - started)
        started = time.perf_counter()
        with lake_connection(settings, ["stock_minute"]) as connection:
            connection.execute(
                "SELECT ticker, count(*), sum(close * volume) / sum(volume) FROM stock_minute GROUP BY ticker"
            ).fetchall()
        timings["scan of every bar"].append(time.perf_counter() - started)
    for name, values in timings.items():
        print(
            f"  DuckDB {name}: median {statistics.median(values) * 1000:,.0f} ms (connection and catalog included)"
        )


def main(home: Path) -> None:
    home.mkdir(parents=True, exist_ok=True)
    daily_path(home)
    minute_bars(home)


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else ".pipeline-bench/lake").resolve())
