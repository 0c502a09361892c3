"""Reference implementations the batched ETL is checked against: one symbol, one object, the plain way.

The production transform parses, validates and derives many symbols' arrays at once; these
functions do the same for a single response with nothing clever, so a test can assert the batched
result is bit-identical to them. They live here because nothing in production calls them.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from etl.derive import returns_and_volatility
from etl.parse import BAR_COLUMNS, local_trade_days, read_yahoo_chart, select_bars
from etl.validate import ValidationError, bar_violations
from pipeline.market_time import window_period_bounds


def empty_bars() -> pd.DataFrame:
    """A bar frame with no rows and the right column types."""
    frame = pd.DataFrame({name: np.array([], dtype=float) for name in BAR_COLUMNS[1:]})
    frame.insert(0, "trade_date", np.array([], dtype="datetime64[ns]"))
    return frame


def bars_frame(days: np.ndarray, prices: dict[str, np.ndarray], rows: np.ndarray) -> pd.DataFrame:
    """A frame of `BAR_COLUMNS` from dates, price arrays and the row positions to take."""
    columns = {"trade_date": days[rows].astype("datetime64[ns]")}
    columns.update({name: prices[name][rows] for name in BAR_COLUMNS[1:]})
    return pd.DataFrame(columns)


def parse_yahoo_chart(body: bytes, window_end: dt.date) -> pd.DataFrame:
    """Daily bars of one Yahoo chart response, dated in the exchange's own time zone.

    Bars with a null close and bars at or after the requested end (the live partial bar Yahoo
    appends, even when it falls on `window_end` itself) are dropped; a window without bars gives an
    empty frame. Columns: `BAR_COLUMNS`, sorted by date.
    """
    chart = read_yahoo_chart(body)
    if not len(chart):
        return empty_bars()
    days = local_trade_days(chart.stamps, chart.time_zone)
    _, period_end = window_period_bounds(window_end, window_end)
    rows = select_bars(
        days, chart.prices["close"], chart.stamps, np.datetime64(window_end, "ns"), np.int64(period_end)
    )
    return bars_frame(days, chart.prices, rows)


def validate_bars(bars: pd.DataFrame, start: dt.date, end: dt.date) -> None:
    """Prices positive, high not below low, volume not negative, dates inside the window."""
    columns = {name: bars[name].to_numpy() for name in bars.columns}
    errors = bar_violations(columns, np.zeros(len(bars), dtype=np.int64), [(start, end)])
    if errors:
        raise ValidationError(errors[0])


def add_returns_and_volatility(bars: pd.DataFrame) -> pd.DataFrame:
    """`bars` of one instrument (sorted by date) with `daily_return` and `volatility_7` added.

    The price is the adjusted close, or the close where no adjusted close is given.
    """
    prices = bars["adj_close"].fillna(bars["close"]).to_numpy(dtype=float)
    first = np.zeros(len(prices), dtype=bool)
    first[:1] = True
    returns, volatility = returns_and_volatility(prices, first)
    return bars.assign(daily_return=returns, volatility_7=volatility)
