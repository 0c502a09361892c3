"""The queries of the analytics pages: market, sectors and industries, stocks, correlations (weather and
news: `dashboard.queries.weather_news`)."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import streamlit as st

from dashboard.connections import fetch
from dashboard.queries.caching import ANALYTICS_TTL

TRADING_DAYS_PER_YEAR = 252
#: Fewer trading days than this give no annualised figure: a quarter's return raised to a yearly one
#: says more about the quarter's noise than about a year.
MIN_ANNUALISED_DAYS = 60
#: Fewer common days than this give a correlation that is not ranked: a 3-day -0.99 means nothing.
MIN_CORRELATION_DAYS = 30

# Compounded annualisation of a period's return over n trading days, (1 + r)^(252 / n) - 1, and the
# daily volatility scaled by sqrt(252); both NULL below MIN_ANNUALISED_DAYS. Used as a format string.
_ANNUALISED = """
    CASE WHEN {days} >= %(min_days)s
         THEN power(1 + {period_return}, %(year)s::double precision / {days}) - 1 END AS annualised_return,
    CASE WHEN {days} >= %(min_days)s
         THEN {daily_volatility} * sqrt(%(year)s) END AS annualised_volatility
"""

#: The market series of `market_daily` that charts and correlations offer (named in `dashboard.vocabulary`).
MARKET_SERIES: tuple[str, ...] = (
    "index_return",
    "index_volatility_7",
    "precipitation_mm",
    "news_share",
    "vix",
    "treasury_10y",
)


# --- Market ----------------------------------------------------------------------------------------


@st.cache_data(ttl=ANALYTICS_TTL, show_spinner=False)
def market_series(start: dt.date, end: dt.date) -> pd.DataFrame:
    """One row per trading day between `start` and `end`: the index and the series aligned with it."""
    return fetch(
        "market_series",
        """
        SELECT trade_date, index_symbol, index_close, index_return, index_volatility_7,
               precipitation_mm, news_topic, news_share, news_matching, news_tone, vix, treasury_10y
        FROM market_daily
        WHERE trade_date BETWEEN %(start)s AND %(end)s
        ORDER BY trade_date
        """,
        {"start": start, "end": end},
    )


# --- Sectors and industries ------------------------------------------------------------------------


@st.cache_data(ttl=ANALYTICS_TTL, show_spinner=False)
def sector_names() -> list[str]:
    """Every sector of the universe, sorted."""
    return fetch("sector_names", "SELECT DISTINCT sector FROM companies ORDER BY sector")["sector"].tolist()


@st.cache_data(ttl=ANALYTICS_TTL, show_spinner=False)
def sector_performance(start: dt.date, end: dt.date) -> pd.DataFrame:
    """Per sector over the period: compounded return, annualised return and volatility, breadth."""
    return fetch(
        "sector_performance",
        """
        WITH per_sector AS (
            SELECT sector,
                   exp(sum(ln(greatest(1 + mean_return, 1e-9)))) - 1 AS period_return,
                   stddev_samp(mean_return) AS daily_volatility,
                   count(*) AS trading_days,
                   sum(advancers) AS advancers,
                   sum(decliners) AS decliners
            FROM sector_daily
            WHERE trade_date BETWEEN %(start)s AND %(end)s AND mean_return IS NOT NULL
            GROUP BY sector
        )
        SELECT sector, period_return,
        """
        + _ANNUALISED.format(
            days="trading_days", period_return="period_return", daily_volatility="daily_volatility"
        )
        + """,
               trading_days, advancers, decliners
        FROM per_sector
        ORDER BY period_return DESC, sector
        """,
        {"start": start, "end": end, "year": TRADING_DAYS_PER_YEAR, "min_days": MIN_ANNUALISED_DAYS},
    )


@st.cache_data(ttl=ANALYTICS_TTL, show_spinner=False)
def sector_growth(start: dt.date, end: dt.date) -> pd.DataFrame:
    """Each sector's cumulative return through the period, one row per sector and trading day."""
    return fetch(
        "sector_growth",
        """
        SELECT sector, trade_date,
               exp(sum(ln(greatest(1 + coalesce(mean_return, 0), 1e-9)))
                   OVER (PARTITION BY sector ORDER BY trade_date)) - 1 AS cumulative_return
        FROM sector_daily
        WHERE trade_date BETWEEN %(start)s AND %(end)s
        ORDER BY sector, trade_date
        """,
        {"start": start, "end": end},
    )


_MEMBER_PERFORMANCE = """
    WITH member_returns AS (
        SELECT c.industry, c.ticker, c.name,
               exp(sum(ln(greatest(1 + s.daily_return, 1e-9)))) - 1 AS period_return,
               stddev_samp(s.daily_return) AS daily_volatility,
               count(s.daily_return) AS trading_days
        FROM companies AS c
        JOIN stock_daily AS s ON s.ticker = c.ticker
        WHERE c.sector = %(sector)s
          AND s.trade_date BETWEEN %(start)s AND %(end)s
          AND s.daily_return IS NOT NULL
        GROUP BY c.industry, c.ticker, c.name
    ), member_figures AS (
        SELECT industry, ticker, name, period_return, trading_days,
"""
_MEMBER_PERFORMANCE += _ANNUALISED.format(
    days="trading_days", period_return="period_return", daily_volatility="daily_volatility"
)
_MEMBER_PERFORMANCE += """
        FROM member_returns
    )
"""


def _member_params(sector: str, start: dt.date, end: dt.date) -> dict[str, object]:
    return {
        "sector": sector,
        "start": start,
        "end": end,
        "year": TRADING_DAYS_PER_YEAR,
        "min_days": MIN_ANNUALISED_DAYS,
    }


@st.cache_data(ttl=ANALYTICS_TTL, show_spinner=False)
def industry_performance(sector: str, start: dt.date, end: dt.date) -> pd.DataFrame:
    """Per industry of `sector` over the period: members and their mean return and volatility."""
    return fetch(
        "industry_performance",
        _MEMBER_PERFORMANCE
        + """
        SELECT industry, count(*) AS members,
               avg(period_return) AS mean_period_return,
               avg(annualised_volatility) AS mean_annualised_volatility,
               max(period_return) AS best_period_return,
               min(period_return) AS worst_period_return
        FROM member_figures
        GROUP BY industry
        ORDER BY mean_period_return DESC, industry
        """,
        _member_params(sector, start, end),
    )


@st.cache_data(ttl=ANALYTICS_TTL, show_spinner=False)
def member_performance(sector: str, start: dt.date, end: dt.date) -> pd.DataFrame:
    """Per member stock of `sector` over the period: compounded return, annualised return, volatility."""
    return fetch(
        "member_performance",
        _MEMBER_PERFORMANCE
        + """
        SELECT industry, ticker, name, period_return, annualised_return, annualised_volatility,
               trading_days
        FROM member_figures
        ORDER BY period_return DESC, ticker
        """,
        _member_params(sector, start, end),
    )


# --- Stock -----------------------------------------------------------------------------------------


@st.cache_data(ttl=ANALYTICS_TTL, show_spinner=False)
def tickers() -> pd.DataFrame:
    """The companies with prices: ticker, name, sector, industry and the last day's traded value.

    Companies of the universe without a single bar are left out: a picker offering them leads nowhere.
    """
    return fetch(
        "tickers",
        """
        SELECT c.ticker, c.name, c.sector, c.industry, last_bar.close * last_bar.volume AS traded_value
        FROM companies AS c
        JOIN LATERAL (
            SELECT close, volume FROM stock_daily
            WHERE ticker = c.ticker ORDER BY trade_date DESC LIMIT 1
        ) AS last_bar ON true
        ORDER BY c.ticker
        """,
    )


@st.cache_data(ttl=ANALYTICS_TTL, show_spinner=False)
def company_profile(ticker: str) -> pd.Series | None:
    """A company's reference data with its last close, first and last trading day and 52-week range."""
    frame = fetch(
        "company_profile",
        """
        SELECT c.ticker, c.name, c.sector, c.industry, last_bar.trade_date AS last_trade_date,
               last_bar.close AS last_close, last_bar.daily_return AS last_return,
               year_range.low_52w, year_range.high_52w, first_bar.trade_date AS first_trade_date
        FROM companies AS c
        LEFT JOIN LATERAL (
            SELECT trade_date, close, daily_return FROM stock_daily
            WHERE ticker = c.ticker ORDER BY trade_date DESC LIMIT 1
        ) AS last_bar ON true
        LEFT JOIN LATERAL (
            SELECT trade_date FROM stock_daily WHERE ticker = c.ticker ORDER BY trade_date LIMIT 1
        ) AS first_bar ON true
        LEFT JOIN LATERAL (
            SELECT min(low) AS low_52w, max(high) AS high_52w FROM stock_daily
            WHERE ticker = c.ticker AND trade_date > last_bar.trade_date - 365
        ) AS year_range ON true
        WHERE c.ticker = %(ticker)s
        """,
        {"ticker": ticker},
    )
    return None if frame.empty else frame.iloc[0]


@st.cache_data(ttl=ANALYTICS_TTL, show_spinner=False)
def stock_series(ticker: str, start: dt.date, end: dt.date) -> pd.DataFrame:
    """A ticker's daily bars in the period with its return and the 7-day volatility the ETL stored."""
    return fetch(
        "stock_series",
        """
        SELECT trade_date, open, high, low, close, adj_close, volume, daily_return, volatility_7
        FROM stock_daily
        WHERE ticker = %(ticker)s AND trade_date BETWEEN %(start)s AND %(end)s
        ORDER BY trade_date
        """,
        {"ticker": ticker, "start": start, "end": end},
    )


@st.cache_data(ttl=ANALYTICS_TTL, show_spinner=False)
def stock_against_benchmarks(ticker: str, start: dt.date, end: dt.date) -> pd.DataFrame:
    """Cumulative return of the ticker, the mean of its sector and the index, on the index's days."""
    return fetch(
        "stock_against_benchmarks",
        """
        WITH stock AS (
            SELECT trade_date, daily_return FROM stock_daily
            WHERE ticker = %(ticker)s AND trade_date BETWEEN %(start)s AND %(end)s
        ), sector AS (
            SELECT trade_date, mean_return FROM sector_daily
            WHERE sector = (SELECT sector FROM companies WHERE ticker = %(ticker)s)
              AND trade_date BETWEEN %(start)s AND %(end)s
        )
        SELECT m.trade_date,
               exp(sum(ln(greatest(1 + coalesce(stock.daily_return, 0), 1e-9)))
                   OVER by_day) - 1 AS stock_return,
               exp(sum(ln(greatest(1 + coalesce(sector.mean_return, 0), 1e-9)))
                   OVER by_day) - 1 AS sector_return,
               exp(sum(ln(greatest(1 + coalesce(m.index_return, 0), 1e-9)))
                   OVER by_day) - 1 AS index_return
        FROM market_daily AS m
        LEFT JOIN stock ON stock.trade_date = m.trade_date
        LEFT JOIN sector ON sector.trade_date = m.trade_date
        WHERE m.trade_date BETWEEN %(start)s AND %(end)s
        WINDOW by_day AS (ORDER BY m.trade_date)
        ORDER BY m.trade_date
        """,
        {"ticker": ticker, "start": start, "end": end},
    )


# --- Correlations ----------------------------------------------------------------------------------

# Every correlation series in long form (series, trade_date, value): the market series of market_daily
# and each sector's mean return, restricted to the chosen series and period.
_CHOSEN_SERIES = """
    WITH chosen AS (
        SELECT m.trade_date, series.name AS series, series.value
        FROM market_daily AS m
        CROSS JOIN LATERAL (VALUES
            ('index_return', m.index_return),
            ('index_volatility_7', m.index_volatility_7),
            ('precipitation_mm', m.precipitation_mm),
            ('news_share', m.news_share),
            ('vix', m.vix),
            ('treasury_10y', m.treasury_10y)
        ) AS series (name, value)
        WHERE m.trade_date BETWEEN %(start)s AND %(end)s
          AND series.name = ANY(%(series)s) AND series.value IS NOT NULL
        UNION ALL
        SELECT trade_date, 'sector:' || sector, mean_return
        FROM sector_daily
        WHERE trade_date BETWEEN %(start)s AND %(end)s
          AND 'sector:' || sector = ANY(%(series)s) AND mean_return IS NOT NULL
    )
"""


@st.cache_data(ttl=ANALYTICS_TTL, show_spinner=False)
def correlation_matrix(series: tuple[str, ...], start: dt.date, end: dt.date) -> pd.DataFrame:
    """Pearson correlation of every pair of the chosen series over the period (long form, both orders)."""
    return fetch(
        "correlation_matrix",
        _CHOSEN_SERIES
        + """
        SELECT a.series AS series_a, b.series AS series_b,
               corr(a.value, b.value) AS correlation, count(*) AS days
        FROM chosen AS a
        JOIN chosen AS b ON b.trade_date = a.trade_date
        GROUP BY a.series, b.series
        ORDER BY a.series, b.series
        """,
        {"series": list(series), "start": start, "end": end},
    )


@st.cache_data(ttl=ANALYTICS_TTL, show_spinner=False)
def rolling_correlation(
    first: str, second: str, window_days: int, start: dt.date, end: dt.date
) -> pd.DataFrame:
    """Correlation of two series over the last `window_days` trading days, for each day of the period."""
    return fetch(
        "rolling_correlation",
        _CHOSEN_SERIES
        + """
        , paired AS (
            SELECT trade_date,
                   max(value) FILTER (WHERE series = %(first)s) AS first_value,
                   max(value) FILTER (WHERE series = %(second)s) AS second_value
            FROM chosen
            GROUP BY trade_date
        )
        SELECT trade_date,
               CASE WHEN count(first_value + second_value) OVER last_days = %(window)s
                    THEN corr(first_value, second_value) OVER last_days END AS correlation
        FROM paired
        WINDOW last_days AS (ORDER BY trade_date ROWS BETWEEN %(preceding)s PRECEDING AND CURRENT ROW)
        ORDER BY trade_date
        """,
        {
            "series": [first, second],
            "first": first,
            "second": second,
            "window": window_days,
            "preceding": window_days - 1,
            "start": start,
            "end": end,
        },
    )
