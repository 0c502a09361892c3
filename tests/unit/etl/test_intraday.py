"""Minute bars (etl.intraday): what loads from a one-minute chart, what quarantines it, which fetch wins."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from etl.intraday import MinuteBars, newest_per_day, parse_minute_bars
from etl.parse import ParseError
from etl.transform import MetadataError, ObjectInput
from tests.support.examples import examples
from tests.support.fake_apis import fixture

FETCHED = dt.datetime(2024, 7, 1, 14, 0, tzinfo=dt.UTC)
DAY = dt.date(2024, 6, 28)
OPEN = 1719581400  # 2024-06-28 09:30 New York


def minute_object(body: bytes, **extra: str) -> ObjectInput:
    extras = {"symbol": "AAPL", "window_start": "2024-06-28", "window_end": "2024-06-28", **extra}
    return ObjectInput(
        "raw/yahoo_intraday/2024-06-28/AAPL_2024-06-28.json", "yahoo_intraday", extras, FETCHED, body
    )


def chart(stamps: list[int], **columns: list) -> bytes:
    quote = {name: columns.get(name, [100.0] * len(stamps)) for name in ("open", "high", "low", "close")}
    quote["volume"] = columns.get("volume", [10] * len(stamps))
    meta = {"symbol": "AAPL", "exchangeTimezoneName": "America/New_York", "dataGranularity": "1m"}
    result = {"meta": meta, "timestamp": stamps, "indicators": {"quote": [quote]}}
    return json.dumps({"chart": {"result": [result], "error": None}}).encode()


def test_nulls_gaps_and_the_live_bar_of_a_real_body() -> None:
    bars = parse_minute_bars(minute_object(fixture("yahoo/chart_aapl_1m.json")))
    # 09:32 carries nulls (no trades), 09:33 is missing, the next session's live bar is past period2
    assert bars.stamps.tolist() == [OPEN, OPEN + 60, OPEN + 240, OPEN + 389 * 60]
    assert set(bars.trade_dates.tolist()) == {DAY}
    assert bars.prices["close"].tolist() == [
        215.8000030517578,
        215.61000061035156,
        215.6199951171875,
        210.6199951171875,
    ]
    assert bars.prices["volume"].tolist() == [2105093, 391271, 285662, 3451203]
    assert bars.days == [DAY]


def test_a_bar_with_a_close_but_no_volume_keeps_a_missing_volume() -> None:
    bars = parse_minute_bars(minute_object(chart([OPEN, OPEN + 60], volume=[None, 5])))
    assert np.isnan(bars.prices["volume"][0]) and bars.prices["volume"][1] == 5


def test_of_two_bars_with_one_stamp_the_last_sent_is_kept() -> None:
    bars = parse_minute_bars(minute_object(chart([OPEN, OPEN + 60, OPEN], close=[100.0, 101.0, 102.0])))
    assert bars.stamps.tolist() == [OPEN, OPEN + 60]
    assert bars.prices["close"].tolist() == [102.0, 101.0]


def test_bars_outside_the_window_are_not_loaded() -> None:
    day_before = OPEN - 86_400
    bars = parse_minute_bars(minute_object(chart([day_before, OPEN])))
    assert bars.stamps.tolist() == [OPEN]


@pytest.mark.parametrize(
    ("columns", "message"),
    [
        ({"high": [99.0], "low": [100.0]}, "bar at 2024-06-28 13:30Z: high is below low (1 bar(s))"),
        ({"open": [0.0]}, "bar at 2024-06-28 13:30Z: a price is not above 0 (1 bar(s))"),
        ({"volume": [-1]}, "bar at 2024-06-28 13:30Z: volume is below 0 (1 bar(s))"),
    ],
)
def test_a_bar_that_breaks_a_price_rule_quarantines_the_object(columns: dict, message: str) -> None:
    with pytest.raises(ParseError) as raised:
        parse_minute_bars(minute_object(chart([OPEN], **columns)))
    assert str(raised.value) == message


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"<!DOCTYPE html><html>", "not JSON"),
        (fixture("yahoo/chart_aapl_1m.json")[:-25], "invalid JSON"),
        (fixture("yahoo/chart_not_found.json"), "Yahoo error: Not Found"),
        (chart([OPEN, OPEN + 60], close=[1.0]), "does not line up with the timestamps"),
    ],
)
def test_bad_bodies_are_one_parse_error(body: bytes, message: str) -> None:
    with pytest.raises(ParseError, match=message):
        parse_minute_bars(minute_object(body))


def test_missing_or_mismatched_metadata_is_a_metadata_error() -> None:
    with pytest.raises(MetadataError, match="'symbol' is missing"):
        parse_minute_bars(minute_object(chart([OPEN]), symbol=""))
    body = chart([OPEN])
    cut = ObjectInput("k", "yahoo_intraday", minute_object(body).extra, FETCHED, body[:-3], "0" * 64)
    with pytest.raises(MetadataError, match="does not match its metadata"):
        parse_minute_bars(cut)


@settings(max_examples=examples(60), deadline=None)
@given(cut=st.integers(0, 2000), flip=st.integers(0, 2000), byte=st.integers(0, 255))
def test_a_mutated_body_loads_or_quarantines_never_anything_else(cut: int, flip: int, byte: int) -> None:
    body = bytearray(fixture("yahoo/chart_aapl_1m.json"))
    if flip < len(body):
        body[flip] = byte
    try:
        bars = parse_minute_bars(minute_object(bytes(body[: len(body) - cut % 50])))
    except (ParseError, MetadataError):
        return
    assert len(bars.stamps) == len(bars.trade_dates) <= 6


def bars(ticker: str, days: list[dt.date], marker: float, fetched_at: dt.datetime = FETCHED) -> MinuteBars:
    stamps = np.array([OPEN + 86_400 * (day - DAY).days for day in days], dtype=np.int64)
    trade_dates = np.array(days, dtype="datetime64[D]")
    prices = {name: np.full(len(days), marker) for name in ("open", "high", "low", "close", "volume")}
    return MinuteBars(ticker, days, stamps, trade_dates, prices, fetched_at)


def test_each_ticker_day_comes_from_the_newest_fetch_that_covers_it() -> None:
    monday, tuesday, wednesday = dt.date(2024, 7, 1), dt.date(2024, 7, 2), dt.date(2024, 7, 3)
    older = bars("AAPL", [monday, tuesday, wednesday], 1.0)
    newer = bars("AAPL", [tuesday], 2.0, FETCHED + dt.timedelta(hours=1))
    other = bars("MSFT", [tuesday], 3.0)
    for parsed in ([older, newer, other], [newer, other, older]):
        kept = newest_per_day(parsed)
        by_day = {
            (item.ticker, day.item()): price
            for item in kept
            for day, price in zip(item.trade_dates, item.prices["close"], strict=True)
        }
        assert by_day == {
            ("AAPL", monday): 1.0,
            ("AAPL", tuesday): 2.0,
            ("AAPL", wednesday): 1.0,
            ("MSFT", tuesday): 3.0,
        }


def test_of_two_fetches_of_one_time_the_greater_digest_wins_whatever_the_order() -> None:
    monday = dt.date(2024, 7, 1)
    one, two = bars("AAPL", [monday], 1.0), bars("AAPL", [monday], 2.0)
    winner = max((one, two), key=lambda item: item.day_rank(monday))
    for parsed in ([one, two], [two, one]):
        (kept,) = newest_per_day(parsed)
        assert kept.prices["close"].tolist() == winner.prices["close"].tolist()
