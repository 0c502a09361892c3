"""`pipeline sample --intraday`: minute bars in Yahoo's format that agree with the daily sample."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from lambda_src.ingestion import yahoo_intraday
from lambda_src.ingestion.httpclient import HttpResponse
from pipeline.market_time import MARKET_TIME_ZONE
from pipeline.rawzone import LocalRawStore
from pipeline.settings import load_settings
from pipeline.trading_calendar import is_trading_day
from sample_data.generator import write_sample
from sample_data.intraday import MINUTES, write_intraday_sample

END = dt.date(2024, 6, 28)


@pytest.fixture
def store(tmp_path: Path) -> LocalRawStore:
    return LocalRawStore(tmp_path / "raw")


def test_minute_bars_pass_the_real_check_and_agree_with_the_daily_bars(store: LocalRawStore) -> None:
    settings = load_settings()
    write_sample(settings, store, tickers=2, days=30, seed=4, end=END, progress=False)
    line = write_intraday_sample(settings, store, tickers=2, days=30, seed=4, end=END)
    assert line.startswith("sample --intraday 2024-05-31..2024-06-28: 2 tickers, 10 minute-bar objects")
    keys = list(store.list("raw/yahoo_intraday/"))
    assert len(keys) == 10 and list(store.list("raw/manifest/"))
    daily_key = next(key for key in store.list("raw/yahoo/") if "%5E" not in key)
    symbol = store.get(daily_key).metadata.extra["symbol"]
    daily = json.loads(store.get(daily_key).body)["chart"]["result"][0]
    quote = daily["indicators"]["quote"][0]
    by_day = {
        dt.datetime.fromtimestamp(stamp, MARKET_TIME_ZONE).date(): {
            name: quote[name][index] for name in quote
        }
        for index, stamp in enumerate(daily["timestamp"])
    }
    for key in keys:
        stored = store.get(key)
        yahoo_intraday.check_minute_chart(
            HttpResponse(
                stored.metadata.source_url, 200, {"content-type": stored.metadata.content_type}, stored.body
            )
        )
        assert stored.metadata.extra["interval"] == "1m" and stored.metadata.extra["synthetic"] == "true"
        if stored.metadata.extra["symbol"] != symbol:
            continue
        result = json.loads(stored.body)["chart"]["result"][0]
        assert "adjclose" not in result["indicators"]
        minutes = result["indicators"]["quote"][0]
        sessions: dict[dt.date, list[int]] = {}
        for index, stamp in enumerate(result["timestamp"]):
            local = dt.datetime.fromtimestamp(stamp, MARKET_TIME_ZONE)
            assert dt.time(9, 30) <= local.time() < dt.time(16, 0) and is_trading_day(local.date())
            sessions.setdefault(local.date(), []).append(index)
        for day, rows in sessions.items():
            if day > END:  # the next session's live bar, past the window
                assert len(rows) == 1 and key.endswith("_2024-06-28.json")
                continue
            assert MINUTES * 0.98 <= len(rows) <= MINUTES  # a few minutes missing, as Yahoo's are
            highs = [minutes["high"][row] for row in rows if minutes["high"][row] is not None]
            lows = [minutes["low"][row] for row in rows if minutes["low"][row] is not None]
            bar = by_day[day]
            assert max(highs) == pytest.approx(bar["high"], abs=0.011)
            assert min(lows) == pytest.approx(bar["low"], abs=0.011)


def test_a_sample_older_than_yahoos_reach_writes_no_minute_bars(store: LocalRawStore) -> None:
    settings = load_settings()
    line = write_intraday_sample(settings, store, tickers=1, days=1, seed=4, end=END)
    assert "1 minute-bar objects" in line
    assert write_intraday_sample(settings, store, tickers=1, days=60, seed=4, end=END).startswith(
        "sample --intraday 2024-05-31..2024-06-28"
    )
