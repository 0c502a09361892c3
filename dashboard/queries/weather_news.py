"""The queries of the weather and news pages: weather by state, the market in high and low news volume
and on negative- and positive-tone days, and the market on days of extreme weather.

Each aggregates in SQL over `market_daily` (one row per trading day) and `sector_daily`, so a page gets
a handful of rows whatever the period, and is cached like the other analytics queries.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import streamlit as st

from dashboard.connections import fetch
from dashboard.queries.caching import ANALYTICS_TTL

#: Fewer days than this on either side give no comparison: a mean return over a handful of days says
#: more about those days' noise than about the tone or the weather.
MIN_TONE_DAYS = 20
MIN_WEATHER_DAYS = 10
#: The weather measures of `market_daily` that days can be placed by (named in `dashboard.vocabulary`).
WEATHER_MEASURES: tuple[str, ...] = ("temp_max_c", "precipitation_mm")
#: The shares of the period's days that count as extreme, at each end (10: the top and bottom deciles).
EXTREME_SHARES: tuple[int, ...] = (10, 20, 25)


@st.cache_data(ttl=ANALYTICS_TTL, show_spinner=False)
def weather_by_state(start: dt.date, end: dt.date) -> pd.DataFrame:
    """Per state over the period: precipitation (mean daily, total), temperature (mean, highest, lowest).

    The mean temperature is the mean of each day's midpoint between its maximum and its minimum.
    """
    return fetch(
        "weather_by_state",
        """
        SELECT state, avg(precipitation_mm) AS mean_precipitation_mm,
               sum(precipitation_mm) AS total_precipitation_mm,
               avg((temp_max_c + temp_min_c) / 2) AS mean_temp_c,
               max(temp_max_c) AS max_temp_c, min(temp_min_c) AS min_temp_c,
               count(*) AS days
        FROM weather_daily
        WHERE obs_date BETWEEN %(start)s AND %(end)s
        GROUP BY state
        ORDER BY state
        """,
        {"start": start, "end": end},
    )


@st.cache_data(ttl=ANALYTICS_TTL, show_spinner=False)
def news_volume_regimes(start: dt.date, end: dt.date) -> pd.DataFrame:
    """Index return and volatility on days above versus at or below the period's median news volume."""
    return fetch(
        "news_volume_regimes",
        """
        WITH period AS (
            SELECT news_matching, index_return, index_volatility_7
            FROM market_daily
            WHERE trade_date BETWEEN %(start)s AND %(end)s AND news_matching IS NOT NULL
        ), threshold AS (
            SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY news_matching) AS median_matching
            FROM period
        )
        SELECT CASE WHEN news_matching > median_matching THEN 'high' ELSE 'low' END AS regime,
               count(*) AS days,
               min(median_matching) AS median_matching,
               avg(news_matching) AS mean_matching,
               avg(index_return) AS mean_return,
               stddev_samp(index_return) AS return_volatility,
               avg(index_volatility_7) AS mean_volatility_7
        FROM period CROSS JOIN threshold
        GROUP BY 1
        ORDER BY 1
        """,
        {"start": start, "end": end},
    )


@st.cache_data(ttl=ANALYTICS_TTL, show_spinner=False)
def news_tone_regimes(start: dt.date, end: dt.date) -> pd.DataFrame:
    """Index return and volatility on trading days whose news tone was negative versus positive.

    Days without a tone (no article on the topic, or no tone fetched) and without an index return (the
    first bar) are left out; both regimes are always listed, with 0 days when there were none.
    """
    return fetch(
        "news_tone_regimes",
        """
        WITH period AS (
            SELECT CASE WHEN news_tone < 0 THEN 'negative' ELSE 'positive' END AS tone_regime,
                   news_tone, index_return, index_volatility_7
            FROM market_daily
            WHERE trade_date BETWEEN %(start)s AND %(end)s
              AND news_tone IS NOT NULL AND news_tone <> 0 AND index_return IS NOT NULL
        )
        SELECT r.tone_regime, count(p.tone_regime) AS days,
               avg(p.news_tone) AS mean_tone,
               avg(p.index_return) AS mean_return,
               stddev_samp(p.index_return) AS return_volatility,
               avg(p.index_volatility_7) AS mean_volatility_7
        FROM (VALUES ('negative'), ('positive')) AS r(tone_regime)
        LEFT JOIN period AS p USING (tone_regime)
        GROUP BY r.tone_regime
        ORDER BY r.tone_regime
        """,
        {"start": start, "end": end},
    )


# Trading days placed by a weather measure of market_daily: the top `share` of the period's days
# ('high'), the bottom `share` ('low') and the rest ('middle'), by the measure's percentiles over the
# days that have both the measure and an index return. Used as the head of both weather queries.
_WEATHER_CLASSES = """
    WITH days AS (
        SELECT trade_date, index_return,
               CASE %(measure)s WHEN 'temp_max_c' THEN temp_max_c
                                WHEN 'precipitation_mm' THEN precipitation_mm END AS measure
        FROM market_daily
        WHERE trade_date BETWEEN %(start)s AND %(end)s AND index_return IS NOT NULL
    ), bounds AS (
        SELECT percentile_cont(%(share)s) WITHIN GROUP (ORDER BY measure) AS low_bound,
               percentile_cont(1 - %(share)s) WITHIN GROUP (ORDER BY measure) AS high_bound
        FROM days WHERE measure IS NOT NULL
    ), classed AS (
        SELECT d.trade_date, d.index_return, d.measure,
               CASE WHEN d.measure >= b.high_bound THEN 'high'
                    WHEN d.measure <= b.low_bound THEN 'low' ELSE 'middle' END AS weather_class
        FROM days AS d CROSS JOIN bounds AS b
        WHERE d.measure IS NOT NULL
    )
"""


def _weather_params(measure: str, start: dt.date, end: dt.date, share: int) -> dict[str, object]:
    if measure not in WEATHER_MEASURES:
        raise ValueError(f"unknown weather measure {measure!r}")
    if share not in EXTREME_SHARES:
        raise ValueError(f"extreme share {share} is not one of {EXTREME_SHARES}")
    return {"measure": measure, "start": start, "end": end, "share": share / 100}


@st.cache_data(ttl=ANALYTICS_TTL, show_spinner=False)
def weather_market_classes(measure: str, start: dt.date, end: dt.date, share: int) -> pd.DataFrame:
    """Per weather class ('high', 'middle', 'low' by `measure`, `share` percent at each end): its days,
    the measure's range and mean, and the index's mean daily return and the volatility of its returns."""
    return fetch(
        "weather_market_classes",
        _WEATHER_CLASSES
        + """
        SELECT weather_class, count(*) AS days,
               min(measure) AS lowest_measure, max(measure) AS highest_measure, avg(measure) AS mean_measure,
               avg(index_return) AS mean_return, stddev_samp(index_return) AS return_volatility
        FROM classed
        GROUP BY weather_class
        ORDER BY weather_class
        """,
        _weather_params(measure, start, end, share),
    )


@st.cache_data(ttl=ANALYTICS_TTL, show_spinner=False)
def weather_market_sectors(measure: str, start: dt.date, end: dt.date, share: int) -> pd.DataFrame:
    """Per sector and weather class (as `weather_market_classes` places the days): the days and the
    sector's mean daily return (the mean of its stocks' returns, `sector_daily`)."""
    return fetch(
        "weather_market_sectors",
        _WEATHER_CLASSES
        + """
        SELECT s.sector, c.weather_class, count(s.mean_return) AS days, avg(s.mean_return) AS mean_return
        FROM classed AS c
        JOIN sector_daily AS s ON s.trade_date = c.trade_date
        GROUP BY s.sector, c.weather_class
        ORDER BY s.sector, c.weather_class
        """,
        _weather_params(measure, start, end, share),
    )
