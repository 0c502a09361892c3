"""Minute bars through the ETL into the lake's `stock_minute` (never PostgreSQL): the sample's bars
all arrive, a newer fetch of a day replaces it, a bad body is quarantined alone, without a lake
the objects wait, unrecorded, for the run that has one, and a lake written before `fetched_at`
existed takes the column.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import psycopg
import pyarrow as pa
import pytest

from etl import run_etl
from etl.lake import iceberg_schema, open_catalog, partition_spec, table_identifier
from etl.lake_duckdb import lake_connection
from etl.schema import LAKE_ONLY_TABLES, TableSpec
from pipeline.market_time import window_period_bounds
from pipeline.rawzone import LocalRawStore, keep_fetch, make_metadata, open_raw_store
from pipeline.settings import Settings, get_settings
from sample_data.generator import write_sample
from sample_data.intraday import write_intraday_sample
from tests.conftest import reset_settings_caches

END = dt.date(2024, 6, 28)
TICKERS = 3


def write_samples(settings: Settings) -> None:
    store = open_raw_store(settings)
    write_sample(settings, store, tickers=TICKERS, days=8, seed=2, end=END, progress=False)
    write_intraday_sample(settings, store, tickers=TICKERS, days=8, seed=2, end=END)


def expected_bars(store: LocalRawStore) -> dict[tuple[str, dt.date], int]:
    """Bars per ticker and day, counted from the bodies as the format says (a close, before period2)."""
    counts: dict[tuple[str, dt.date], int] = {}
    for key in store.list("raw/yahoo_intraday/"):
        stored = store.get(key)
        extra = stored.metadata.extra
        start, end = dt.date.fromisoformat(extra["window_start"]), dt.date.fromisoformat(extra["window_end"])
        _, period2 = window_period_bounds(start, end)
        result = json.loads(stored.body)["chart"]["result"][0]
        closes = result["indicators"]["quote"][0].get("close", [])
        for stamp, close in zip(result.get("timestamp", []), closes, strict=True):
            if close is not None and stamp < period2:
                day = (dt.datetime.fromtimestamp(stamp, dt.UTC) - dt.timedelta(hours=4)).date()
                counts[(extra["symbol"], day)] = counts.get((extra["symbol"], day), 0) + 1
    return counts


def lake_bars(settings: Settings) -> dict[tuple[str, dt.date], int]:
    with lake_connection(settings, ["stock_minute"]) as connection:
        rows = connection.execute(
            "SELECT ticker, trade_date, count(*) FROM stock_minute GROUP BY ALL"
        ).fetchall()
    return {(ticker, day): count for ticker, day, count in rows}


@pytest.fixture
def lake_settings(migrated_database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("LAKE_WAREHOUSE", str(tmp_path / "lake"))
    reset_settings_caches()
    return get_settings()


def test_the_samples_minute_bars_all_reach_the_lake_and_a_rerun_changes_nothing(
    lake_settings, migrated_database_url
):
    write_samples(lake_settings)
    result = run_etl(lake_settings)
    assert result.exit_code == 0, result.summary()
    expected = expected_bars(open_raw_store(lake_settings))
    assert lake_bars(lake_settings) == expected
    assert result.lake_rows["stock_minute"] == sum(expected.values())
    # The objects are in the ledger with their bar counts; PostgreSQL has no minute table
    with psycopg.connect(migrated_database_url) as conn:
        recorded = conn.execute(
            "SELECT count(*), sum(rows) FROM raw_objects WHERE source = 'yahoo_intraday' AND status = 'loaded'"
        ).fetchone()
        assert conn.execute("SELECT to_regclass('stock_minute')").fetchone() == (None,)
    assert recorded == (TICKERS * 2, sum(expected.values()))  # two calendar weeks per ticker
    again = run_etl(lake_settings)
    assert again.exit_code == 0 and "stock_minute" not in again.lake_rows
    assert lake_bars(lake_settings) == expected


def test_a_newer_fetch_of_a_week_replaces_its_bars_and_a_bad_body_is_quarantined_alone(lake_settings):
    write_samples(lake_settings)
    assert run_etl(lake_settings).exit_code == 0
    store = open_raw_store(lake_settings)
    expected_bars_before = lake_bars(lake_settings)
    key = next(key for key in store.list("raw/yahoo_intraday/") if "2024-06-24" in key)
    stored = store.get(key)
    symbol = stored.metadata.extra["symbol"]
    # A re-fetch an hour later: Friday's bars only, every close moved up by one
    document = json.loads(stored.body)
    result = document["chart"]["result"][0]
    friday = int(dt.datetime(2024, 6, 28, 13, 30, tzinfo=dt.UTC).timestamp())
    keep = [index for index, stamp in enumerate(result["timestamp"]) if friday <= stamp < friday + 86_400]
    result["timestamp"] = [result["timestamp"][index] for index in keep]
    quote = result["indicators"]["quote"][0]
    for name in quote:
        quote[name] = [quote[name][index] for index in keep]
    quote["close"] = [None if value is None else value + 1 for value in quote["close"]]
    quote["high"] = [None if value is None else value + 1 for value in quote["high"]]
    body = json.dumps(document).encode()
    later = stored.metadata.fetched_at + dt.timedelta(hours=1)
    metadata = make_metadata(
        body,
        source_url=stored.metadata.source_url,
        http_status=200,
        content_type="application/json",
        fetched_at=later,
        extra=dict(stored.metadata.extra),
    )
    keep_fetch(store, key, body, metadata)
    bad_key = key.replace(symbol, "ZZZZ")
    html = b"<!DOCTYPE html><html><body>Will be right back</body></html>"
    bad = make_metadata(
        html,
        source_url="https://yahoo.test/ZZZZ",
        http_status=200,
        content_type="text/html",
        fetched_at=later,
        extra={**stored.metadata.extra, "symbol": "ZZZZ"},
    )
    store.put(bad_key, html, bad)

    rerun = run_etl(lake_settings)
    assert rerun.exit_code == 3 and [key for key, _ in rerun.quarantined] == [bad_key]
    assert "not JSON" in rerun.quarantined[0][1]
    # Friday's bars are the newer fetch's; the week's other days, which it lacks, stay as they were
    friday_bars = {
        stamp: close
        for stamp, close in zip(result["timestamp"], quote["close"], strict=True)
        if close is not None
    }
    expected = {day: count for (ticker, day), count in expected_bars_before.items() if ticker == symbol}
    expected[dt.date(2024, 6, 28)] = len(friday_bars)
    with lake_connection(lake_settings, ["stock_minute"]) as connection:
        days = dict(
            connection.execute(
                "SELECT trade_date, count(*) FROM stock_minute WHERE ticker = ? GROUP BY ALL", [symbol]
            ).fetchall()
        )
        closes = connection.execute(
            "SELECT epoch(bar_time)::bigint, close FROM stock_minute WHERE ticker = ? AND trade_date = ?",
            [symbol, dt.date(2024, 6, 28)],
        ).fetchall()
    assert days == expected
    assert dict(closes) == friday_bars


def test_without_a_lake_minute_bars_wait_unrecorded_for_the_run_that_has_one(
    migrated_database_url, tmp_path, monkeypatch
):
    settings = get_settings()
    write_samples(settings)
    assert run_etl(settings).exit_code == 0
    with psycopg.connect(migrated_database_url) as conn:
        assert conn.execute(
            "SELECT count(*) FROM raw_objects WHERE source = 'yahoo_intraday'"
        ).fetchone() == (0,)
    monkeypatch.setenv("LAKE_WAREHOUSE", str(tmp_path / "lake"))
    reset_settings_caches()
    settings = get_settings()
    result = run_etl(settings)
    assert result.exit_code == 0, result.summary()
    assert lake_bars(settings) == expected_bars(open_raw_store(settings))


def test_a_lake_written_before_fetched_at_existed_takes_the_column_and_newer_fetches_replace_it(
    lake_settings,
):
    # Given a stock_minute made by the code before `fetched_at` (no such column), holding two days
    spec = LAKE_ONLY_TABLES["stock_minute"]
    old_spec = TableSpec(spec.name, spec.key, tuple(c for c in spec.columns if c[0] != "fetched_at"))
    schema = iceberg_schema(old_spec)
    catalog = open_catalog(lake_settings)
    old = catalog.create_table(
        table_identifier(lake_settings, "stock_minute"),
        schema=schema,
        partition_spec=partition_spec(spec, schema),
    )
    write_samples(lake_settings)
    symbol = sorted(ticker for ticker, _ in expected_bars(open_raw_store(lake_settings)))[0]
    covered, untouched = dt.date(2024, 6, 28), dt.date(2024, 5, 1)  # one the sample has, one it has not
    stamps = [
        dt.datetime(day.year, day.month, day.day, 13, 30, tzinfo=dt.UTC) for day in (covered, untouched)
    ]
    old.append(
        pa.table(
            {
                "ticker": [symbol, symbol],
                "bar_time": pa.array(stamps, type=pa.timestamp("us", tz="UTC")),
                "trade_date": [covered, untouched],
                **{name: [1.0, 1.0] for name in ("open", "high", "low", "close")},
                "volume": pa.array([1, 1], type=pa.int64()),
            },
            schema=schema.as_arrow(),
        )
    )
    # When the ETL loads the sample's minute bars
    result = run_etl(lake_settings)
    assert result.exit_code == 0, result.summary()
    # Then the table has the column, the old rows read it as NULL (older than any fetch): the covered
    # day is the sample's, the untouched day stays as it was
    table = catalog.load_table(table_identifier(lake_settings, "stock_minute"))
    assert table.schema().column_names == spec.column_names
    expected = expected_bars(open_raw_store(lake_settings))
    assert lake_bars(lake_settings) == {**expected, (symbol, untouched): 1}
    with lake_connection(lake_settings, ["stock_minute"]) as connection:
        stamped = connection.execute(
            "SELECT trade_date = ?, count(*), count(fetched_at) FROM stock_minute GROUP BY ALL ORDER BY 1",
            [untouched],
        ).fetchall()
    assert stamped == [(False, sum(expected.values()), sum(expected.values())), (True, 1, 0)]
