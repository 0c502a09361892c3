"""Derived values (defined in docs/etl.md), as pure functions on numpy arrays.

`daily_return` and `volatility_7` are computed so that each value depends only on the bars it is
defined from: the volatility of a day is the sample standard deviation of exactly its seven returns,
computed on that window alone (never with a running sum), so an incremental load that recomputes a
trailing window gives bit-for-bit the values of a full reload.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from etl.columns import Columns

VOLATILITY_WINDOW = 7
#: Bars before the first new one that an incremental load must re-read to recompute its window:
#: one price for the first return, and the prices behind the six returns before it.
CONTEXT_BARS = VOLATILITY_WINDOW + 1


def daily_returns(prices: np.ndarray) -> np.ndarray:
    """Each price divided by the previous one, minus 1; NaN for the first."""
    returns = np.full(len(prices), np.nan)
    if len(prices) > 1:
        returns[1:] = prices[1:] / prices[:-1] - 1.0
    return returns


def rolling_volatility(returns: np.ndarray, window: int = VOLATILITY_WINDOW) -> np.ndarray:
    """Sample standard deviation (n - 1) of the last `window` returns; NaN until `window` exist."""
    volatility = np.full(len(returns), np.nan)
    if len(returns) >= window:
        windows = sliding_window_view(returns, window)
        with np.errstate(invalid="ignore"):
            volatility[window - 1 :] = windows.std(axis=1, ddof=1)
    return volatility


def returns_and_volatility(prices: np.ndarray, first_bar: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`daily_return` and `volatility_7` of several instruments' prices laid end to end.

    Each instrument's prices are sorted by date and `first_bar` marks where each one begins. Its
    first return is NaN, so every seven-return window that reaches back into the instrument before
    it is NaN too: each value is exactly what the instrument alone would give.
    """
    returns = daily_returns(prices)
    returns[first_bar] = np.nan
    return returns, rolling_volatility(returns)


def date_dimension(first: dt.date, last: dt.date) -> Columns:
    """One `dim_date` row per calendar day from `first` to `last` inclusive (ISO weekday and week)."""
    days = np.arange(np.datetime64(first, "D"), np.datetime64(last, "D") + 1)
    months = days.astype("datetime64[M]")
    month = months.astype(np.int64) % 12 + 1
    weeks = [day.isocalendar() for day in days.tolist()]
    return {
        "date_id": days.astype("datetime64[ns]"),
        "year": days.astype("datetime64[Y]").astype(np.int64) + 1970,
        "quarter": (month - 1) // 3 + 1,
        "month": month,
        "day": (days - months).astype(np.int64) + 1,
        "dow": np.array([week.weekday for week in weeks], dtype=np.int64),
        "iso_week": np.array([week.week for week in weeks], dtype=np.int64),
    }
