"""Derived values against hand-computed expectations (docs/etl.md)."""

from __future__ import annotations

import datetime as dt
import json
import math
import statistics

import pandas as pd
import pytest

from etl.derive import date_dimension
from etl.validate import ValidationError
from tests.support.oracles import add_returns_and_volatility, parse_yahoo_chart, validate_bars

WINTER_OPEN = 1704205800  # 2024-01-02 09:30 New York


def bars(closes, adjusted=None):
    days = pd.date_range("2024-01-02", periods=len(closes), freq="D")
    return pd.DataFrame(
        {
            "trade_date": days,
            "open": closes,
            "high": closes,
            "low": closes,
            "close": closes,
            "adj_close": adjusted if adjusted is not None else [float("nan")] * len(closes),
            "volume": [1.0] * len(closes),
        }
    )


def test_return_spans_a_dropped_null_bar():
    # Given three days whose middle close is null: the third day's return is against the first.
    body = json.dumps(
        {
            "chart": {
                "result": [
                    {
                        "meta": {"exchangeTimezoneName": "America/New_York"},
                        "timestamp": [WINTER_OPEN, WINTER_OPEN + 86400, WINTER_OPEN + 2 * 86400],
                        "indicators": {
                            "quote": [
                                {
                                    "open": [100, None, 110],
                                    "high": [100, None, 110],
                                    "low": [100, None, 110],
                                    "close": [100.0, None, 110.0],
                                    "volume": [1, None, 1],
                                }
                            ],
                            "adjclose": [{"adjclose": [50.0, None, 60.0]}],
                        },
                    }
                ],
                "error": None,
            }
        }
    ).encode()
    derived = add_returns_and_volatility(parse_yahoo_chart(body, dt.date(2024, 1, 31)))
    assert math.isnan(derived["daily_return"].iloc[0])
    assert derived["daily_return"].iloc[1] == pytest.approx(60.0 / 50.0 - 1)  # adjusted close, not close


def test_close_is_used_where_no_adjusted_close_is_given():
    derived = add_returns_and_volatility(bars([100.0, 105.0]))
    assert derived["daily_return"].iloc[1] == pytest.approx(0.05)


def test_first_volatility_is_on_the_seventh_return():
    closes = [100.0, 101.0, 99.0, 102.0, 104.0, 103.0, 105.0, 107.0, 106.0]
    derived = add_returns_and_volatility(bars(closes))
    returns = [closes[i] / closes[i - 1] - 1 for i in range(1, len(closes))]
    volatility = derived["volatility_7"]
    # Bar 8 (index 7) carries the 7th return: the first volatility; none before it.
    assert volatility.iloc[:7].isna().all()
    assert volatility.iloc[7] == pytest.approx(statistics.stdev(returns[0:7]))
    assert volatility.iloc[8] == pytest.approx(statistics.stdev(returns[1:8]))


def test_volatility_of_a_window_does_not_depend_on_earlier_history():
    closes = [100.0 * (1.01 + 0.003 * (i % 5)) ** i for i in range(30)]
    whole = add_returns_and_volatility(bars(closes))
    tail = add_returns_and_volatility(bars(closes[-9:]))
    assert whole["volatility_7"].iloc[-1] == tail["volatility_7"].iloc[-1]  # bit for bit


def test_date_dimension_uses_iso_weekday_and_week():
    dimension = date_dimension(dt.date(2023, 12, 31), dt.date(2024, 1, 1))
    assert dimension["dow"].tolist() == [7, 1]  # Sunday, Monday
    assert dimension["iso_week"].tolist() == [52, 1]
    assert dimension["quarter"].tolist() == [4, 1]


def test_bars_with_high_below_low_or_outside_the_window_fail_validation():
    frame = bars([100.0, 101.0])
    frame.loc[1, "low"] = 102.0
    with pytest.raises(ValidationError, match="high below low"):
        validate_bars(frame, dt.date(2024, 1, 2), dt.date(2024, 1, 3))
    with pytest.raises(ValidationError, match="outside the window"):
        validate_bars(bars([100.0, 101.0]), dt.date(2024, 1, 3), dt.date(2024, 1, 3))
    negative = bars([100.0, -1.0])
    with pytest.raises(ValidationError, match="not positive"):
        validate_bars(negative, dt.date(2024, 1, 2), dt.date(2024, 1, 3))
