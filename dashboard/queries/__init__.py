"""Every SQL statement the dashboard's pages run, parameterised and cached with an explicit time to live.

Each query function returns a small, already filtered and aggregated DataFrame; pages never filter whole
tables in Python. The statements run through `dashboard.connections.fetch` as the read-only role
`dashboard_reader`. Pages import this package (`queries.market_series(...)`); the functions live in
`operations` (overview, pipeline health), `analytics` (the analytics pages) and `weather_news` (the
weather and news pages).
"""

from __future__ import annotations

from dashboard.queries.analytics import (
    MARKET_SERIES,
    MIN_ANNUALISED_DAYS,
    MIN_CORRELATION_DAYS,
    TRADING_DAYS_PER_YEAR,
    company_profile,
    correlation_matrix,
    industry_performance,
    market_series,
    member_performance,
    rolling_correlation,
    sector_growth,
    sector_names,
    sector_performance,
    stock_against_benchmarks,
    stock_series,
    tickers,
)
from dashboard.queries.caching import ANALYTICS_TTL, HEALTH_TTL
from dashboard.queries.operations import (
    DataState,
    data_state,
    latest_market_day,
    market_date_bounds,
    quarantined_objects,
    recent_runs,
    run_failures,
    run_status_counts,
    sector_moves_on,
    source_freshness,
    synthetic_share,
    table_stats,
)
from dashboard.queries.weather_news import (
    EXTREME_SHARES,
    MIN_TONE_DAYS,
    MIN_WEATHER_DAYS,
    WEATHER_MEASURES,
    news_tone_regimes,
    news_volume_regimes,
    weather_by_state,
    weather_market_classes,
    weather_market_sectors,
)
from dashboard.vocabulary import SECTOR_SERIES_PREFIX

__all__ = [
    "ANALYTICS_TTL",
    "EXTREME_SHARES",
    "HEALTH_TTL",
    "MARKET_SERIES",
    "MIN_ANNUALISED_DAYS",
    "MIN_CORRELATION_DAYS",
    "MIN_TONE_DAYS",
    "MIN_WEATHER_DAYS",
    "SECTOR_SERIES_PREFIX",
    "TRADING_DAYS_PER_YEAR",
    "WEATHER_MEASURES",
    "DataState",
    "company_profile",
    "correlation_matrix",
    "data_state",
    "industry_performance",
    "latest_market_day",
    "market_date_bounds",
    "market_series",
    "member_performance",
    "news_tone_regimes",
    "news_volume_regimes",
    "quarantined_objects",
    "recent_runs",
    "rolling_correlation",
    "run_failures",
    "run_status_counts",
    "sector_growth",
    "sector_moves_on",
    "sector_names",
    "sector_performance",
    "source_freshness",
    "stock_against_benchmarks",
    "stock_series",
    "synthetic_share",
    "table_stats",
    "tickers",
    "weather_by_state",
    "weather_market_classes",
    "weather_market_sectors",
]
