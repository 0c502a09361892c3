"""The names every part of the pipeline shares: sources and tables. Import them; never retype them."""

from __future__ import annotations

# Raw-zone sources (the <source> segment of a raw key).
YAHOO = "yahoo"
OPEN_METEO = "open_meteo"
GDELT = "gdelt"
FRED = "fred"
CONSTITUENTS = "constituents"
MANIFEST = "manifest"

#: The sources `pipeline ingest` fetches when none is named.
DATA_SOURCES: tuple[str, ...] = (YAHOO, OPEN_METEO, GDELT, FRED)
#: Every source `pipeline ingest --source` accepts.
INGEST_SOURCES: tuple[str, ...] = (*DATA_SOURCES, CONSTITUENTS)

# Curated tables (CONTRACT section 4).
COMPANIES = "companies"
STOCK_DAILY = "stock_daily"
INDEX_DAILY = "index_daily"
WEATHER_DAILY = "weather_daily"
NEWS_DAILY = "news_daily"
MACRO_DAILY = "macro_daily"
DIM_DATE = "dim_date"
PIPELINE_RUNS = "pipeline_runs"
RAW_OBJECTS = "raw_objects"

CORE_TABLES: tuple[str, ...] = (
    COMPANIES,
    STOCK_DAILY,
    INDEX_DAILY,
    WEATHER_DAILY,
    NEWS_DAILY,
    MACRO_DAILY,
    DIM_DATE,
    PIPELINE_RUNS,
    RAW_OBJECTS,
)

#: The read-only role the dashboard connects as (created by a migration).
DASHBOARD_ROLE = "dashboard_reader"
#: The SQL explorer's own role: read-only on the analytics data, limits set on the role (a migration).
EXPLORER_ROLE = "dashboard_explorer"
