"""The queries of the overview and of the pipeline's health: what is loaded, how fresh, what failed."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd
import streamlit as st

from dashboard.connections import fetch
from dashboard.queries.caching import ANALYTICS_TTL, HEALTH_TTL


@dataclass(frozen=True)
class DataState:
    """Whether the dashboard has anything to show: the analytics layer exists and holds trading days."""

    analytics_built: bool
    trading_days: int
    core_rows: int

    @property
    def ready(self) -> bool:
        return self.analytics_built and self.trading_days > 0


# --- State and overview ---------------------------------------------------------------------------


@st.cache_data(ttl=HEALTH_TTL, show_spinner=False)
def data_state() -> DataState:
    """Whether the analytics layer exists and how much it and the core tables hold."""
    built = fetch(
        "analytics_built",
        "SELECT to_regclass('public.market_daily') IS NOT NULL AND "
        "to_regclass('public.sector_daily') IS NOT NULL AS built, "
        "(SELECT count(*) FROM (SELECT 1 FROM stock_daily LIMIT 1) AS s) + "
        "(SELECT count(*) FROM (SELECT 1 FROM index_daily LIMIT 1) AS i) AS core_rows",
    ).iloc[0]
    trading_days = 0
    if built["built"]:
        trading_days = int(fetch("trading_days", "SELECT count(*) AS days FROM market_daily").iloc[0]["days"])
    return DataState(bool(built["built"]), trading_days, int(built["core_rows"]))


@st.cache_data(ttl=ANALYTICS_TTL, show_spinner=False)
def market_date_bounds() -> tuple[dt.date, dt.date]:
    """The first and last trading day of the analytics layer."""
    row = fetch(
        "market_date_bounds",
        "SELECT min(trade_date) AS first_day, max(trade_date) AS last_day FROM market_daily",
    ).iloc[0]
    return row["first_day"], row["last_day"]


@st.cache_data(ttl=ANALYTICS_TTL, show_spinner=False)
def latest_market_day() -> pd.Series:
    """The primary index on the last trading day: level, return, 7-day volatility, VIX, yield."""
    return fetch(
        "latest_market_day",
        """
        SELECT trade_date, index_symbol, index_close, index_return, index_volatility_7, vix, treasury_10y
        FROM market_daily
        ORDER BY trade_date DESC
        LIMIT 1
        """,
    ).iloc[0]


@st.cache_data(ttl=ANALYTICS_TTL, show_spinner=False)
def sector_moves_on(day: dt.date) -> pd.DataFrame:
    """Every sector's mean return, breadth and volatility on `day`, best first."""
    return fetch(
        "sector_moves_on",
        """
        SELECT sector, mean_return, advancers, decliners, tickers, mean_volatility_7
        FROM sector_daily
        WHERE trade_date = %(day)s AND mean_return IS NOT NULL
        ORDER BY mean_return DESC, sector
        """,
        {"day": day},
    )


@st.cache_data(ttl=HEALTH_TTL, show_spinner=False)
def synthetic_share() -> pd.Series:
    """How many loaded raw objects there are and how many of them are synthetic sample data."""
    return fetch(
        "synthetic_share",
        """
        SELECT count(*) AS loaded_objects, count(*) FILTER (WHERE synthetic) AS synthetic_objects
        FROM raw_objects
        WHERE status = 'loaded'
        """,
    ).iloc[0]


@st.cache_data(ttl=HEALTH_TTL, show_spinner=False)
def source_freshness() -> pd.DataFrame:
    """Per raw-zone source: the newest data day loaded, when it was loaded, objects loaded and quarantined."""
    return fetch(
        "source_freshness",
        """
        SELECT source,
               max(data_date) FILTER (WHERE status = 'loaded') AS latest_data_date,
               max(loaded_at) AS last_loaded_at,
               count(*) FILTER (WHERE status = 'loaded') AS loaded_objects,
               count(*) FILTER (WHERE status = 'quarantined') AS quarantined_objects
        FROM raw_objects
        GROUP BY source
        ORDER BY source
        """,
    )


@st.cache_data(ttl=HEALTH_TTL, show_spinner=False)
def recent_runs(limit: int) -> pd.DataFrame:
    """The last `limit` pipeline runs, newest first, with their duration in seconds."""
    return fetch(
        "recent_runs",
        """
        SELECT run_id, kind, status, started_at, finished_at,
               extract(epoch FROM finished_at - started_at)::double precision AS duration_s
        FROM pipeline_runs
        ORDER BY started_at DESC
        LIMIT %(limit)s
        """,
        {"limit": limit},
    )


# --- Pipeline health -------------------------------------------------------------------------------


@st.cache_data(ttl=HEALTH_TTL, show_spinner=False)
def run_status_counts() -> pd.DataFrame:
    """Runs per kind and status, with the last start of each."""
    return fetch(
        "run_status_counts",
        """
        SELECT kind, status, count(*) AS runs, max(started_at) AS last_started_at
        FROM pipeline_runs
        GROUP BY kind, status
        ORDER BY kind, status
        """,
    )


@st.cache_data(ttl=HEALTH_TTL, show_spinner=False)
def run_failures(limit: int) -> pd.DataFrame:
    """What failed in the runs that did not fully succeed, newest first, one row per failure.

    Ingest runs list their failures in ``details.failed`` (source, entity, reason); a run without that
    list contributes one row with ``details.error`` or, failing that, the whole details document.
    """
    return fetch(
        "run_failures",
        """
        SELECT r.run_id, r.kind, r.status, r.started_at,
               failure ->> 'source' AS source,
               failure ->> 'entity' AS entity,
               coalesce(failure ->> 'reason', r.details ->> 'error', r.details::text) AS reason
        FROM pipeline_runs AS r
        LEFT JOIN LATERAL jsonb_array_elements(
            CASE WHEN jsonb_typeof(r.details -> 'failed') = 'array' THEN r.details -> 'failed' END
        ) AS failure ON true
        WHERE r.status <> 'success'
        ORDER BY r.started_at DESC
        LIMIT %(limit)s
        """,
        {"limit": limit},
    )


@st.cache_data(ttl=HEALTH_TTL, show_spinner=False)
def quarantined_objects(limit: int) -> pd.DataFrame:
    """Raw objects the ETL could not parse, newest first, with the reason."""
    return fetch(
        "quarantined_objects",
        """
        SELECT key, source, data_date, loaded_at, error
        FROM raw_objects
        WHERE status = 'quarantined'
        ORDER BY loaded_at DESC, key
        LIMIT %(limit)s
        """,
        {"limit": limit},
    )


@st.cache_data(ttl=HEALTH_TTL, show_spinner=False)
def table_stats() -> pd.DataFrame:
    """Exact row counts and date spans of the core tables, as of the last ETL run."""
    return fetch(
        "table_stats",
        "SELECT table_name, row_count, first_date, latest_date FROM dashboard_table_stats ORDER BY table_name",
    )
