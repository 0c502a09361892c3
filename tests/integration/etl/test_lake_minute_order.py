"""`stock_minute`'s invariant, proven on generated fetches: whatever order minute-chart objects load in
and however they are grouped into runs, the lake holds what one full load of them all holds, and
that is, for each (ticker, day), the bars of the newest fetch that has bars of it (of two fetches of
one time, the one whose bars have the greater `day_digest`).

Each example generates a few fetches of overlapping days of two tickers (re-fetches with other
prices, minutes without trades, gaps, a stamp sent twice, fetch times that tie), writes them into a
raw zone as the ingestion does, and loads them through `etl.intraday` into a real Iceberg lake (SQL
catalog in a temporary folder): once all in one run, and once shuffled, cut into runs, each staged in
chunks of a few bars; a run that fails before its commit leaves nothing.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from etl import intraday
from etl.extract import find_pending_keys
from etl.intraday import day_digest, load_minute_bars
from etl.lake_sink import LakeSink
from pipeline import catalog
from pipeline.rawzone import LocalRawStore, keep_fetch, make_metadata, raw_key
from pipeline.settings import Settings, get_settings
from tests.conftest import reset_settings_caches
from tests.support.examples import examples

DAYS = (dt.date(2024, 6, 25), dt.date(2024, 6, 26), dt.date(2024, 6, 27))
TICKERS = ("AAPL", "MSFT")
BARS = 5  # minutes per day from 09:30 New York (13:30 UTC in June)
FETCHED = dt.datetime(2024, 6, 28, 21, 30, tzinfo=dt.UTC)


@dataclass(frozen=True)
class MinuteFetch:
    """One generated response: whose, which days, when, its price level, and its holes."""

    ticker: str
    first: int
    length: int
    minute: int
    seed: int
    nulls: frozenset[int]  # bar positions without trades (close null: no bar)
    gaps: frozenset[int]  # bar positions Yahoo left out
    partial: frozenset[int]  # bar positions with a close but no open and no volume
    repeat: bool  # the day's first stamp sent again at the end, with other prices (the last one counts)

    @property
    def days(self) -> tuple[dt.date, ...]:
        return DAYS[self.first : self.first + self.length]

    @property
    def fetched_at(self) -> dt.datetime:
        return FETCHED + dt.timedelta(minutes=self.minute)

    def sent(self) -> list[tuple[int, dict[str, float | int | None]]]:
        """The (stamp, quote) pairs the body carries, in the order sent."""
        sent = []
        for day_index, day in enumerate(self.days):
            opening = int(dt.datetime.combine(day, dt.time(13, 30), dt.UTC).timestamp())
            day_bars = []
            for position in range(BARS):
                if position in self.gaps:
                    continue
                slot = day_index * BARS + position
                price = round(100 + 3 * self.seed + 0.25 * slot, 2)
                close = None if position in self.nulls else price
                quote = {
                    "open": None if position in self.partial else price - 0.5,
                    "high": price + 1,
                    "low": price - 1,
                    "close": close,
                    "volume": None if position in self.partial else 1000 * (self.seed + 1) + slot,
                }
                day_bars.append((opening + 60 * position, quote))
            if self.repeat and day_bars:
                stamp, quote = day_bars[0]
                day_bars.append((stamp, {**quote, "close": quote["high"], "low": quote["low"] - 1}))
            sent += day_bars
        return sent

    def body(self) -> bytes:
        sent = self.sent()
        quote = {
            name: [values[name] for _, values in sent] for name in ("open", "high", "low", "close", "volume")
        }
        meta = {"symbol": self.ticker, "exchangeTimezoneName": "America/New_York", "dataGranularity": "1m"}
        result = {"meta": meta, "timestamp": [stamp for stamp, _ in sent], "indicators": {"quote": [quote]}}
        return json.dumps({"chart": {"result": [result], "error": None}}).encode()

    def expected_days(self) -> dict[dt.date, list[tuple]]:
        """Its bars per day as the format says they load: a close, the last of a repeated stamp."""
        bars: dict[int, dict] = {}
        for stamp, quote in self.sent():
            if quote["close"] is not None:
                bars[stamp] = quote
        days: dict[dt.date, list[tuple]] = {}
        for stamp in sorted(bars):
            quote = bars[stamp]
            day = dt.datetime.fromtimestamp(stamp, dt.UTC).date()
            row = (stamp, *(quote[name] for name in ("open", "high", "low", "close", "volume")))
            days.setdefault(day, []).append(row)
        return days


minute_fetches = st.builds(
    MinuteFetch,
    ticker=st.sampled_from(TICKERS),
    first=st.integers(0, len(DAYS) - 1),
    length=st.integers(1, 2),
    minute=st.integers(0, 2),  # few distinct fetch times: ties happen
    seed=st.integers(0, 3),
    nulls=st.frozensets(st.integers(0, BARS - 1), max_size=BARS),
    gaps=st.frozensets(st.integers(0, BARS - 1), max_size=2),
    partial=st.frozensets(st.integers(0, BARS - 1), max_size=2),
    repeat=st.booleans(),
)


def digest_of(rows: list[tuple]) -> bytes:
    columns = list(zip(*rows, strict=True))
    prices = {
        name: np.array([np.nan if value is None else value for value in values], dtype=float)
        for name, values in zip(("open", "high", "low", "close", "volume"), columns[1:], strict=True)
    }
    return day_digest(np.array(columns[0], dtype=np.int64), prices)


def newest_bars(history: list[MinuteFetch]) -> list[tuple]:
    """The definition: per (ticker, day), the bars of the fetch ranked highest by (fetched_at, digest)."""
    best: dict[tuple[str, dt.date], tuple[tuple[dt.datetime, bytes], MinuteFetch, list[tuple]]] = {}
    for fetch in history:
        for day, rows in fetch.expected_days().items():
            rank = (fetch.fetched_at, digest_of(rows))
            if (fetch.ticker, day) not in best or rank > best[(fetch.ticker, day)][0]:
                best[(fetch.ticker, day)] = (rank, fetch, rows)
    return sorted(
        (ticker, day, *row, fetch.fetched_at)
        for (ticker, day), (_, fetch, rows) in best.items()
        for row in rows
    )


def write_fetches(store: LocalRawStore, history: list[MinuteFetch]) -> dict[str, MinuteFetch]:
    """Store the fetches as the ingestion does (`keep_fetch`); each object's key and its fetch (the
    same bytes fetched again under a key that holds them already are not stored again)."""
    stored: dict[str, MinuteFetch] = {}
    for fetch in history:
        body = fetch.body()
        metadata = make_metadata(
            body,
            source_url=f"https://yahoo.test/v8/finance/chart/{fetch.ticker}",
            http_status=200,
            content_type="application/json",
            fetched_at=fetch.fetched_at,
            extra={
                "symbol": fetch.ticker,
                "window_start": fetch.days[0].isoformat(),
                "window_end": fetch.days[-1].isoformat(),
            },
        )
        name = f"{fetch.ticker}_{fetch.days[-1]}.json"
        key = keep_fetch(store, raw_key(catalog.YAHOO_INTRADAY, fetch.days[0], name), body, metadata)
        stored.setdefault(key, fetch)
    return stored


def load(settings: Settings, store: LocalRawStore, keys: list[str], *, fail: bool = False) -> None:
    """One ETL run's minute-bar load of `keys`, in that order, committed to the lake (or, when the run
    `fail`s after staging, aborted)."""
    sink = LakeSink(settings)
    ledger = load_minute_bars(store, find_pending_keys(store, {}, keys).pending, sink)
    assert [row.error for row in ledger if row.error] == []
    if fail:
        sink.abort()
    else:
        sink.commit()


def lake_minute_rows(settings: Settings) -> list[tuple]:
    table = LakeSink(settings).minute_table()
    if table.current_snapshot() is None:
        return []
    rows = table.scan().to_arrow()
    stamps = (rows.column("bar_time").cast("int64").to_numpy() // 1_000_000).tolist()
    columns = [
        rows.column(name).to_pylist() for name in ("open", "high", "low", "close", "volume", "fetched_at")
    ]
    return sorted(
        (ticker, day, stamp, *values)
        for ticker, day, stamp, *values in zip(
            rows.column("ticker").to_pylist(),
            rows.column("trade_date").to_pylist(),
            stamps,
            *columns,
            strict=True,
        )
    )


def lake_at(folder: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("LAKE_WAREHOUSE", str(folder))
    reset_settings_caches()
    return get_settings()


@settings(
    max_examples=examples(12),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    history=st.lists(minute_fetches, min_size=2, max_size=6),
    order=st.randoms(use_true_random=False),
    cuts=st.lists(st.integers(1, 5), min_size=1, max_size=4),
    chunk=st.sampled_from([1, 6, intraday.CHUNK_BARS]),
)
def test_minute_loads_in_any_order_and_runs_equal_one_full_load_and_the_newest_fetch(
    monkeypatch, history, order, cuts, chunk
):
    home = Path(tempfile.mkdtemp(prefix="minute-order-"))
    try:
        monkeypatch.setenv("PIPELINE_HOME", str(home))
        store = LocalRawStore(home)
        stored = write_fetches(store, history)
        keys = list(stored)
        # Given one full load of every object into an empty lake,
        full = lake_at(home / "full", monkeypatch)
        load(full, store, keys)
        # when the same objects load shuffled, run after run, into another,
        shuffled = list(keys)
        order.shuffle(shuffled)
        bounds = sorted({0, len(shuffled), *(min(cut, len(shuffled)) for cut in cuts)})
        # in chunks of a few bars (each staged before the next is read, one commit per run),
        incremental = lake_at(home / "incremental", monkeypatch)
        monkeypatch.setattr(intraday, "CHUNK_BARS", chunk)
        for start, end in itertools.pairwise(bounds):
            load(incremental, store, shuffled[start:end])
        # then both hold the same rows, and they are each (ticker, day)'s newest fetch's bars,
        expected = newest_bars(list(stored.values()))
        assert lake_minute_rows(full) == expected
        assert lake_minute_rows(incremental) == expected
        # a run that staged everything into an empty lake and failed before its commit leaves no row,
        failed = lake_at(home / "failed", monkeypatch)
        load(failed, store, shuffled, fail=True)
        assert lake_minute_rows(failed) == []
        # and loading everything again (an older fetch among them) changes nothing.
        load(incremental, store, list(reversed(keys)))
        assert lake_minute_rows(incremental) == expected
    finally:
        shutil.rmtree(home, ignore_errors=True)
