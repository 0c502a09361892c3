"""The analytics layer the dashboard reads: `sector_daily`, `market_daily`, the table statistics and
materialized views.

Both summaries are tables upserted inside the load transaction (only changed rows are written).
Means must not depend on the order PostgreSQL happens to read the rows in (a float sum does), or an
incremental load and a full reload would differ in the last bits: they are exact integer sums of the
values in units of 1e-12 (`numeric` would be exact too, but is three times slower at 1.3M rows).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections.abc import Collection, Mapping
from typing import Any

import psycopg
from psycopg import sql

from etl.schema import (
    COMPANIES,
    DIM_DATE,
    INDEX_DAILY,
    MACRO_DAILY,
    MARKET_DAILY,
    NEWS_DAILY,
    PIPELINE_RUNS,
    RAW_OBJECTS,
    SECTOR_DAILY,
    STOCK_DAILY,
    TABLES,
    WEATHER_DAILY,
)
from pipeline.db import fetch_value
from pipeline.settings import Settings

log = logging.getLogger(__name__)

VIX_SERIES = "VIXCLS"
TREASURY_10Y_SERIES = "DGS10"

_SECTOR = TABLES[SECTOR_DAILY]
_MARKET = TABLES[MARKET_DAILY]
_FRESH_SECTORS = "sector_daily_fresh"

# The tables `market_daily` is computed from: a run that wrote none of their rows (and whose settings
# are those of the last refresh) would recompute exactly the rows already there.
MARKET_DAILY_SOURCES = (INDEX_DAILY, WEATHER_DAILY, NEWS_DAILY, MACRO_DAILY)


# Values are summed as integers in units of 1 / MEAN_SCALE: exact, so independent of row order.
MEAN_SCALE = "1e12"


def _exact_mean(column: str) -> str:
    return (
        f"(sum(round({column} * {MEAN_SCALE})::bigint)::double precision "
        f"/ nullif(count({column}), 0) / {MEAN_SCALE})"
    )


def _columns(names: list[str]) -> str:
    return ", ".join(names)


def refresh_sector_daily(cursor: psycopg.Cursor, days: Collection[dt.date] | None) -> int:
    """Recompute `sector_daily` for `days` (every day when None); return rows inserted, changed or removed.

    None is for a changed universe, which can move a ticker to another sector on any day. The summaries
    are computed first into a temporary table: a statement that writes runs in one process, a query
    that only creates a table runs in PostgreSQL's parallel workers (a first load's 1.3M rows, twice
    as fast on 2 cores).
    """
    if days is not None and not days:
        return 0
    in_days = "" if days is None else "IN (SELECT unnest(%(days)s::date[]))"
    parameters = None if days is None else {"days": sorted(days)}
    cursor.execute(f"DROP TABLE IF EXISTS {_FRESH_SECTORS}")
    cursor.execute(
        f"""
        CREATE TEMP TABLE {_FRESH_SECTORS} ON COMMIT DROP AS
        SELECT c.sector, s.trade_date, count(*)::integer AS tickers,
               {_exact_mean("s.daily_return")} AS mean_return,
               (count(*) FILTER (WHERE s.daily_return > 0))::integer AS advancers,
               (count(*) FILTER (WHERE s.daily_return < 0))::integer AS decliners,
               {_exact_mean("s.volatility_7")} AS mean_volatility_7
        FROM stock_daily AS s JOIN companies AS c USING (ticker)
        {f"WHERE s.trade_date {in_days}" if days is not None else ""}
        GROUP BY c.sector, s.trade_date
        """,
        parameters,
    )
    cursor.execute(
        f"""
        WITH removed AS (
            DELETE FROM {SECTOR_DAILY} AS old
            WHERE {f"old.trade_date {in_days} AND" if days is not None else ""} NOT EXISTS (
                SELECT FROM {_FRESH_SECTORS} AS fresh
                WHERE fresh.sector = old.sector AND fresh.trade_date = old.trade_date
            )
            RETURNING 1
        ),
        written AS (
            INSERT INTO {SECTOR_DAILY} AS {SECTOR_DAILY} ({_columns(_SECTOR.column_names)})
            SELECT {_columns(_SECTOR.column_names)} FROM {_FRESH_SECTORS}
            {_SECTOR.on_conflict_update().as_string(cursor)}
            RETURNING 1
        )
        SELECT (SELECT count(*) FROM removed) + (SELECT count(*) FROM written)
        """,
        parameters,
    )
    written = int(fetch_value(cursor))
    cursor.execute(f"DROP TABLE {_FRESH_SECTORS}")
    return written


def refresh_market_daily(cursor: psycopg.Cursor, settings: Settings, since: dt.date | None = None) -> int:
    """Recompute `market_daily`, one row per trading day of the primary index, for the days from
    `since` on (every day when None); return rows written.

    Weather is the mean precipitation and the mean of the states' maximum and minimum temperatures that
    day; news is the first topic's counts and tone (NULL on a day its counts say had no article); the
    macro values are the last observation on or before the day of each series of
    `PIPELINE_FRED_SERIES` (in `macro`; `vix` and `treasury_10y` when VIXCLS and DGS10 are configured).
    A day's row reads only that day and the macro observations before it: when the run wrote nothing
    dated before `since`, the days before it cannot change.
    """
    parameters = {**_market_daily_parameters(settings), "since": since or dt.date.min}
    cursor.execute(_market_daily_query(cursor), parameters)
    return int(fetch_value(cursor))


def market_daily_inputs(cursor: psycopg.Cursor, settings: Settings) -> dict[str, Any]:
    """What `market_daily` is computed with besides its tables' rows: the settings it reads and a
    digest of its query (so a new version of the query counts as a change too). JSON-ready."""
    digest = hashlib.sha256(_market_daily_query(cursor).encode()).hexdigest()[:16]
    return {**_market_daily_parameters(settings), "query": digest}


def _market_daily_parameters(settings: Settings) -> dict[str, Any]:
    return {
        "symbol": settings.pipeline_indexes[0],
        "topic": settings.pipeline_news_topics[0],
        "series": list(settings.pipeline_fred_series),
        "vix": VIX_SERIES,
        "treasury": TREASURY_10Y_SERIES,
    }


def _market_daily_query(cursor: psycopg.Cursor) -> str:
    return f"""
        WITH weather AS (
            SELECT obs_date, {_exact_mean("precipitation_mm")} AS precipitation_mm,
                   {_exact_mean("temp_max_c")} AS temp_max_c, {_exact_mean("temp_min_c")} AS temp_min_c
            FROM weather_daily WHERE obs_date >= %(since)s GROUP BY obs_date
        ),
        macro AS (
            SELECT i.trade_date,
                   jsonb_object_agg(s.series_id, last.value) FILTER (WHERE last.value IS NOT NULL) AS series,
                   max(last.value) FILTER (WHERE s.series_id = %(vix)s) AS vix,
                   max(last.value) FILTER (WHERE s.series_id = %(treasury)s) AS treasury_10y
            FROM index_daily AS i
            CROSS JOIN unnest(%(series)s::text[]) AS s(series_id)
            LEFT JOIN LATERAL (
                SELECT m.value FROM macro_daily AS m
                WHERE m.series_id = s.series_id AND m.obs_date <= i.trade_date AND m.value IS NOT NULL
                ORDER BY m.obs_date DESC LIMIT 1
            ) AS last ON true
            WHERE i.symbol = %(symbol)s AND i.trade_date >= %(since)s
            GROUP BY i.trade_date
        ),
        fresh AS (
            SELECT i.trade_date, i.symbol AS index_symbol, i.close AS index_close,
                   i.daily_return AS index_return, i.volatility_7 AS index_volatility_7,
                   w.precipitation_mm, %(topic)s::text AS news_topic,
                   n.matching_articles AS news_matching, n.total_articles AS news_total,
                   n.matching_articles::double precision / nullif(n.total_articles, 0) AS news_share,
                   CASE WHEN n.matching_articles = 0 THEN NULL ELSE n.average_tone END AS news_tone,
                   w.temp_max_c, w.temp_min_c,
                   x.vix, x.treasury_10y, coalesce(x.series, '{{}}'::jsonb) AS macro
            FROM index_daily AS i
            LEFT JOIN weather AS w ON w.obs_date = i.trade_date
            LEFT JOIN news_daily AS n ON n.topic = %(topic)s AND n.news_date = i.trade_date
            LEFT JOIN macro AS x ON x.trade_date = i.trade_date
            WHERE i.symbol = %(symbol)s AND i.trade_date >= %(since)s
        ),
        removed AS (
            DELETE FROM {MARKET_DAILY} AS old
            WHERE old.trade_date >= %(since)s AND NOT EXISTS (SELECT FROM fresh WHERE fresh.trade_date = old.trade_date)
            RETURNING 1
        ),
        written AS (
            INSERT INTO {MARKET_DAILY} AS {MARKET_DAILY} ({_columns(_MARKET.column_names)})
            SELECT {_columns(_MARKET.column_names)} FROM fresh
            {_MARKET.on_conflict_update().as_string(cursor)}
            RETURNING 1
        )
        SELECT (SELECT count(*) FROM removed) + (SELECT count(*) FROM written)
        """


TABLE_STATS = "dashboard_table_stats"
# The tables `dashboard_table_stats` describes, each with the column its first and latest dates are of.
TABLE_STATS_DATES = {
    COMPANIES: None,
    STOCK_DAILY: "trade_date",
    INDEX_DAILY: "trade_date",
    WEATHER_DAILY: "obs_date",
    NEWS_DAILY: "news_date",
    MACRO_DAILY: "obs_date",
    DIM_DATE: "date_id",
    PIPELINE_RUNS: "started_at",
    RAW_OBJECTS: "data_date",
}


def update_table_stats(
    cursor: psycopg.Cursor, inserted: Mapping[str, int], recount: Collection[str] | None = None
) -> None:
    """Bring the row counts and date spans of `dashboard_table_stats` up to the rows this transaction wrote.

    A table of `inserted` has its count moved by the rows inserted into it (a count of `stock_daily`
    scans a million rows); those of `recount` (small tables) are counted again; with `recount` None,
    every table is. The dates are the tables' own minimum and maximum, which their date indexes answer
    at once. The ETL is the only writer of these tables, and it never deletes from them.
    """
    tables = [
        table for table in TABLE_STATS_DATES if recount is None or table in recount or inserted.get(table)
    ]
    parts = []
    for table in tables:
        name, column = sql.Identifier(table), TABLE_STATS_DATES[table]
        count = sql.SQL("(SELECT count(*) FROM {})").format(name)
        if recount is not None and table not in recount:
            # A table without its row yet (a database migrated without the view's counts) is counted.
            count = sql.SQL("coalesce((SELECT row_count + {} FROM {} WHERE table_name = {}), {})").format(
                sql.Literal(inserted[table]), sql.Identifier(TABLE_STATS), sql.Literal(table), count
            )
        dates = (
            sql.SQL(
                "(SELECT min({column})::date FROM {table}), (SELECT max({column})::date FROM {table})"
            ).format(column=sql.Identifier(column), table=name)
            if column
            else sql.SQL("NULL::date, NULL::date")
        )
        parts.append(sql.SQL("SELECT {}, {}, {}").format(sql.Literal(table), count, dates))
    if not parts:
        return
    cursor.execute(
        sql.SQL(
            "INSERT INTO {stats} AS stats (table_name, row_count, first_date, latest_date) {rows} "
            "ON CONFLICT (table_name) DO UPDATE SET row_count = excluded.row_count, "
            "first_date = excluded.first_date, latest_date = excluded.latest_date"
        ).format(stats=sql.Identifier(TABLE_STATS), rows=sql.SQL(" UNION ALL ").join(parts))
    )


_MATERIALIZED_VIEWS = """
SELECT c.oid::regclass::text, c.relispopulated,
       EXISTS (SELECT FROM pg_index AS i
               WHERE i.indrelid = c.oid AND i.indisunique AND i.indisvalid
                 AND i.indpred IS NULL AND i.indexprs IS NULL) AS has_unique_index
FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace
WHERE c.relkind = 'm' AND n.nspname = 'public'
ORDER BY c.oid
"""


def refresh_materialized_views(conn: psycopg.Connection) -> list[str]:
    """Refresh every materialized view of schema public, in creation order; return their names.

    A populated view with a plain unique index is refreshed CONCURRENTLY, so readers are never
    blocked; the others (never populated, or without such an index) get a plain refresh.
    """
    with conn.cursor() as cursor:
        cursor.execute(_MATERIALIZED_VIEWS)
        views = cursor.fetchall()
    refreshed = []
    for name, populated, has_unique_index in views:
        concurrently = sql.SQL("CONCURRENTLY ") if populated and has_unique_index else sql.SQL("")
        with conn.transaction(), conn.cursor() as cursor:
            cursor.execute(sql.SQL("REFRESH MATERIALIZED VIEW {}{}").format(concurrently, sql.SQL(name)))
        refreshed.append(name)
    return refreshed
