"""The queries of the pages that read the lake (`etl.lake_duckdb`): minute bars, through DuckDB.

Each runs on a fresh in-process DuckDB whose views point at the tables' current snapshots, with
parameters (never string-built), and is cached like the other pages' queries. Results are small:
one ticker's days, at most `MAX_COMPARED_DAYS` of them at a time (390 rows a day).
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import streamlit as st

from dashboard.queries.caching import ANALYTICS_TTL
from etl.lake import LakeError
from etl.lake_duckdb import lake_connection
from etl.schema import COMPANIES, STOCK_MINUTE
from pipeline.settings import get_settings

#: The most days the Intraday page compares at once.
MAX_COMPARED_DAYS = 5

# One row per minute: New York time of day (on a common day, so that days overlay), the close, the
# volume, and the VWAP so far that day (typical price (high + low + close) / 3 weighted by volume).
_MINUTES = """
SELECT trade_date,
       TIMESTAMP '2000-01-03' + (timezone('America/New_York', bar_time)
           - date_trunc('day', timezone('America/New_York', bar_time))) AS time_of_day,
       close, volume,
       sum((high + low + close) / 3 * volume) OVER day_so_far / nullif(sum(volume) OVER day_so_far, 0) AS vwap
FROM stock_minute
WHERE ticker = $ticker AND list_contains($days, trade_date)
WINDOW day_so_far AS (PARTITION BY trade_date ORDER BY bar_time)
ORDER BY trade_date, bar_time
"""

# One row per day: open, high, low, close, volume, VWAP; the range as a share of the open; the
# volatility as the standard deviation of one-minute log returns scaled to the session's bars.
_DAYS = """
WITH bars AS (
    SELECT trade_date, bar_time, open, high, low, close, volume,
           ln(close / lag(close) OVER (PARTITION BY trade_date ORDER BY bar_time)) AS minute_return
    FROM stock_minute
    WHERE ticker = $ticker AND list_contains($days, trade_date)
)
SELECT trade_date,
       arg_min(open, bar_time) AS open, max(high) AS high, min(low) AS low,
       arg_max(close, bar_time) AS close, sum(volume) AS volume,
       sum((high + low + close) / 3 * volume) / nullif(sum(volume), 0) AS vwap,
       (max(high) - min(low)) / arg_min(open, bar_time) AS intraday_range,
       stddev_samp(minute_return) * sqrt(count(*)) AS intraday_volatility,
       arg_max(close, bar_time) / arg_min(open, bar_time) - 1 AS session_return,
       count(*) AS bars
FROM bars
GROUP BY trade_date
ORDER BY trade_date DESC
"""


def lake_configured() -> bool:
    """True when LAKE_WAREHOUSE is set (the Intraday page is offered)."""
    return bool(get_settings().lake_warehouse)


def _query(sql: str, parameters: dict[str, object] | None = None, *, tables: tuple[str, ...]) -> pd.DataFrame:
    with lake_connection(get_settings(), tables) as connection:
        frame = connection.execute(sql, parameters or {}).df()
    for column in ("trade_date", "last_trade_date"):
        if column in frame:
            # Days, as the other pages' queries return them (DuckDB's DataFrames carry timestamps).
            frame[column] = pd.to_datetime(frame[column]).dt.date
    return frame


@st.cache_data(ttl=ANALYTICS_TTL, show_spinner=False)
def intraday_tickers() -> pd.DataFrame:
    """Every ticker with minute bars: name and sector (from the lake's `companies`), days, last day.
    Empty when the lake has no minute bars yet."""
    try:
        return _query(
            """
            SELECT m.ticker, coalesce(c.name, m.ticker) AS name, coalesce(c.sector, '') AS sector,
                   count(DISTINCT m.trade_date) AS days, max(m.trade_date) AS last_trade_date
            FROM stock_minute AS m LEFT JOIN companies AS c USING (ticker)
            GROUP BY ALL ORDER BY m.ticker
            """,
            tables=(STOCK_MINUTE, COMPANIES),
        )
    except LakeError:
        return pd.DataFrame(columns=["ticker", "name", "sector", "days", "last_trade_date"])


@st.cache_data(ttl=ANALYTICS_TTL, show_spinner=False)
def intraday_days(ticker: str) -> list[dt.date]:
    """The days `ticker` has minute bars for, newest first."""
    frame = _query(
        "SELECT DISTINCT trade_date FROM stock_minute WHERE ticker = $ticker ORDER BY trade_date DESC",
        {"ticker": ticker},
        tables=(STOCK_MINUTE,),
    )
    return list(frame["trade_date"])


@st.cache_data(ttl=ANALYTICS_TTL, show_spinner=False)
def intraday_minutes(ticker: str, days: tuple[dt.date, ...]) -> pd.DataFrame:
    """`ticker`'s minute bars on `days` with the VWAP so far (see `_MINUTES`)."""
    return _query(_MINUTES, {"ticker": ticker, "days": list(days)}, tables=(STOCK_MINUTE,))


@st.cache_data(ttl=ANALYTICS_TTL, show_spinner=False)
def intraday_summary(ticker: str, days: tuple[dt.date, ...]) -> pd.DataFrame:
    """One row per day of `days`: open, high, low, close, volume, VWAP, range, volatility (`_DAYS`)."""
    return _query(_DAYS, {"ticker": ticker, "days": list(days)}, tables=(STOCK_MINUTE,))
