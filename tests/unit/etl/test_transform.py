"""The batched instrument transform against the one-symbol-at-a-time definition, bit for bit."""

from __future__ import annotations

import datetime as dt
import json
import random

import numpy as np
import pandas as pd
import pytest

from etl.columns import decoded
from etl.parse import BAR_COLUMNS, ParseError
from etl.precedence import FETCH_RANK, fetch_rank
from etl.schema import STOCK_DAILY
from etl.transform import InstrumentBatch, ObjectInput, transform_instruments
from etl.validate import ValidationError
from tests.support.oracles import add_returns_and_volatility, parse_yahoo_chart, validate_bars

WINTER_OPEN = 1704205800  # 2024-01-02 09:30 New York
DAY = 86400
FIRST = dt.date(2024, 1, 2)
FETCHED = dt.datetime(2024, 6, 1, tzinfo=dt.UTC)
DERIVED = ("daily_return", "volatility_7")


def chart(symbol: str, first: int, count: int, *, seed: int = 0, live: bool = True) -> bytes:
    """A Yahoo chart of `count` daily bars from day number `first`, with a null close and a live bar."""
    generator = random.Random(f"{symbol}{seed}")
    price, closes = 100.0, []
    for _ in range(count + int(live)):
        price *= 1 + generator.gauss(0, 0.02)
        closes.append(round(price, 4))
    if count > 3:
        closes[2] = None
    quote = {
        "open": closes,
        "high": [None if close is None else close * 1.01 for close in closes],
        "low": [None if close is None else close * 0.99 for close in closes],
        "close": closes,
        "volume": [generator.randint(1, 10**6) for _ in closes],
    }
    result = {
        "meta": {"symbol": symbol, "exchangeTimezoneName": "America/New_York"},
        "timestamp": [WINTER_OPEN + (first + index) * DAY for index in range(len(closes))],
        "indicators": {"quote": [quote], "adjclose": [{"adjclose": [c and c * 0.98 for c in closes]}]},
    }
    return json.dumps({"chart": {"result": [result], "error": None}}).encode()


def window_of(first: int, count: int) -> dict[str, str]:
    start = FIRST + dt.timedelta(days=first)
    return {"window_start": str(start), "window_end": str(start + dt.timedelta(days=count - 1))}


def item(symbol: str, first: int, count: int, *, seed: int = 0, minute: int = 0, body=None) -> ObjectInput:
    body = body if body is not None else chart(symbol, first, count, seed=seed)
    fetched_at = FETCHED + dt.timedelta(minutes=minute)
    return ObjectInput(
        f"raw/yahoo/{symbol}/{first}-{seed}", "yahoo", window_of(first, count), fetched_at, body
    )


def one_symbol(objects, context: pd.DataFrame, since: dt.date) -> tuple[pd.DataFrame, list]:
    """The definition: each object parsed and validated alone, merged over the stored bars, derived."""
    frames, outcomes = [context[list(BAR_COLUMNS)]], []
    for obj in sorted(objects, key=lambda obj: obj.fetched_at):
        start, end = obj.window()
        try:
            bars = parse_yahoo_chart(obj.body, end)
            validate_bars(bars, start, end)
        except (ParseError, ValidationError) as error:
            outcomes.append((obj.key, 0, str(error)))
            continue
        frames.append(bars)
        outcomes.append((obj.key, len(bars), None))
    merged = pd.concat([frame for frame in frames if len(frame)] or frames, ignore_index=True)
    # Of each day, each value from the newest fetch that has one (a missing value never wins).
    merged = merged.groupby("trade_date", sort=True, as_index=False).last()
    derived = add_returns_and_volatility(merged.reset_index(drop=True))
    return derived[derived["trade_date"] >= pd.Timestamp(since)].reset_index(drop=True), outcomes


def no_context() -> pd.DataFrame:
    frame = pd.DataFrame({name: np.array([], dtype=float) for name in BAR_COLUMNS[1:]})
    frame.insert(0, "trade_date", np.array([], dtype="datetime64[ns]"))
    return frame


def batch_of(groups: dict, contexts: dict, since: dict) -> InstrumentBatch:
    """A batch of `groups`, with each symbol's stored bars from `contexts` (as `stored_bars` gives them)."""
    frames = [
        contexts.get(symbol, no_context()).assign(symbol=number) for number, symbol in enumerate(groups)
    ]
    context = pd.concat(frames, ignore_index=True)
    return InstrumentBatch(
        STOCK_DAILY,
        list(groups),
        list(groups.values()),
        [since[symbol] for symbol in groups],
        {
            **{name: context[name].to_numpy() for name in ("symbol", *BAR_COLUMNS)},
            # The stored bars came from a fetch older than every object of the tests.
            **{
                name: np.full(len(context), fetch_rank(FETCHED - dt.timedelta(days=1)), dtype=np.int64)
                for name in (FETCH_RANK, *(f"rank_{column}" for column in BAR_COLUMNS[1:]))
            },
        },
    )


def frame_of(result) -> pd.DataFrame:
    return pd.DataFrame(decoded(result.columns))


def assert_identical(batch_rows: pd.DataFrame, expected: pd.DataFrame) -> None:
    assert batch_rows["trade_date"].tolist() == expected["trade_date"].tolist()
    for column in (*BAR_COLUMNS[1:], *DERIVED):
        # Bit for bit, NaN where NaN: the batch must not round differently from one symbol alone.
        assert np.array_equal(
            batch_rows[column].to_numpy(dtype=float), expected[column].to_numpy(dtype=float), equal_nan=True
        ), column


def test_a_batch_gives_each_symbol_exactly_what_it_gives_alone():
    # Given symbols of different lengths, a re-fetched overlapping window (the later fetch wins),
    # an object breaking a rule, a corrupt one and a symbol whose only object is corrupt.
    bad_prices = json.loads(chart("MSFT", 40, 5))
    bad_prices["chart"]["result"][0]["indicators"]["quote"][0]["low"][1] = 10_000.0
    groups = {
        "AAPL": [item("AAPL", 0, 30), item("AAPL", 20, 15, seed=1, minute=5)],
        "MSFT": [item("MSFT", 0, 12), item("MSFT", 40, 5, body=json.dumps(bad_prices).encode(), minute=1)],
        "XOM": [item("XOM", 3, 1), item("XOM", 4, 9, body=b"Too Many Requests", minute=2)],
        "IBM": [item("IBM", 0, 5, body=b'{"chart":{"result":null,"error":{"code":"Not Found"}}}')],
    }
    since = {symbol: FIRST for symbol in groups}
    result = transform_instruments(batch_of(groups, {}, since))
    outcomes = {outcome.key: (outcome.key, outcome.rows, outcome.error) for outcome in result.outcomes}
    for symbol, objects in groups.items():
        expected, expected_outcomes = one_symbol(objects, no_context(), FIRST)
        assert_identical(
            frame_of(result)[frame_of(result)["ticker"] == symbol].reset_index(drop=True), expected
        )
        assert [outcomes[key] for key, _, _ in expected_outcomes] == expected_outcomes
    assert outcomes["raw/yahoo/MSFT/40-0"][2].startswith("high below low: 1 row(s), first on 2024-02-12")


def test_a_live_bar_after_period2_on_the_last_trade_date_is_dropped_in_a_batch():
    # Given a 5-day window whose response ends with Yahoo's live bar stamped at 19:15 New York time
    # on the window's last day: after period2 (midnight UTC), but on the last trade date.
    document = json.loads(chart("AAPL", 0, 5, live=False))
    result = document["chart"]["result"][0]
    last_stamp = result["timestamp"][-1]
    result["timestamp"].append(last_stamp + 9 * 3600 + 45 * 60)
    for name, values in result["indicators"]["quote"][0].items():
        values.append(1.0 if name != "volume" else 5)
    result["indicators"]["adjclose"][0]["adjclose"].append(1.0)
    live = item("AAPL", 0, 5, body=json.dumps(document).encode())
    rows = frame_of(transform_instruments(batch_of({"AAPL": [live]}, {}, {"AAPL": FIRST})))
    # Then the last day keeps its real close, and the batch agrees with the one-symbol parser.
    last_close = result["indicators"]["quote"][0]["close"][-2]
    assert rows["close"].iloc[-1] == last_close
    assert rows["trade_date"].iloc[-1].date() == FIRST + dt.timedelta(days=4)
    expected, _ = one_symbol([live], no_context(), FIRST)
    assert_identical(rows.reset_index(drop=True), expected)


def test_an_incremental_batch_equals_the_full_history_from_its_first_new_day():
    # Given 40 stored days per symbol, then a window of 6 new days (one of them a stored day).
    symbols = ("AAPL", "MSFT", "^GSPC")
    full_objects = {
        symbol: [item(symbol, 0, 40), item(symbol, 39, 7, seed=2, minute=9)] for symbol in symbols
    }
    stored = {symbol: one_symbol(full_objects[symbol][:1], no_context(), FIRST)[0] for symbol in symbols}
    since_day = FIRST + dt.timedelta(days=39)
    contexts = {
        symbol: pd.concat(
            [
                stored[symbol][stored[symbol]["trade_date"] < pd.Timestamp(since_day)].tail(8),
                stored[symbol][stored[symbol]["trade_date"] >= pd.Timestamp(since_day)],
            ]
        )[list(BAR_COLUMNS)]
        for symbol in symbols
    }
    groups = {symbol: full_objects[symbol][1:] for symbol in symbols}
    result = transform_instruments(batch_of(groups, contexts, dict.fromkeys(symbols, since_day)))
    frame = frame_of(result)
    for symbol in symbols:
        whole, _ = one_symbol(full_objects[symbol], no_context(), FIRST)
        expected = whole[whole["trade_date"] >= pd.Timestamp(since_day)].reset_index(drop=True)
        assert_identical(frame[frame["ticker"] == symbol].reset_index(drop=True), expected)
    assert len(frame) == 3 * 6
    assert frame["trade_date"].min() == np.datetime64(since_day)


@pytest.mark.parametrize("zone", ["Mars/Olympus_Mons", 17.5])
def test_an_unknown_exchange_time_zone_quarantines_the_object(zone):
    document = json.loads(chart("AAPL", 0, 5))
    document["chart"]["result"][0]["meta"]["exchangeTimezoneName"] = zone
    groups = {"AAPL": [item("AAPL", 0, 5, body=json.dumps(document).encode())], "MSFT": [item("MSFT", 0, 5)]}
    result = transform_instruments(batch_of(groups, {}, dict.fromkeys(groups, FIRST)))
    errors = {outcome.key: outcome.error for outcome in result.outcomes}
    assert errors["raw/yahoo/AAPL/0-0"].startswith("bad timestamps or time zone")
    assert errors["raw/yahoo/MSFT/0-0"] is None
    assert set(decoded(result.columns)["ticker"]) == {"MSFT"}
