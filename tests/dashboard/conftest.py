"""A small, fully known market in the embedded PostgreSQL, for the dashboard's tests.

The core tables are seeded with INSERTs (3 sectors, 6 tickers, 60 trading days, 6 states, news, VIX and
the 10-year yield, raw objects and runs); the analytics tables `market_daily` and `sector_daily` are
then filled by SQL from them following docs/internals.md, creating them first when no ETL migration
has. Every test starts with the dashboard's caches and connection forgotten.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from dashboard import connections
from etl.analytics import update_table_stats

APP_PATH = Path(__file__).resolve().parents[2] / "dashboard" / "app.py"
TRADING_DAYS = 60
FIRST_DAY = dt.date(2024, 1, 2)
COMPANIES = [
    ("AAA", "Alpha Apps Inc.", "Technology", "Software"),
    ("BBB", "Beta Bits Corp.", "Technology", "Semiconductors"),
    ("CCC", "Gamma Care plc", "Health Care", "Pharmaceuticals"),
    ("DDD", "Delta Devices Ltd", "Health Care", "Medical Devices"),
    ("EEE", "Epsilon Energy Co.", "Energy", "Oil & Gas"),
    ("FFF", "Phi Fuels Inc.", "Energy", "Oil & Gas"),
]
STATES = ("CA", "NY", "TX", "WA", "FL", "IL")
INDEX_SYMBOL = "^GSPC"
#: How the dashboard names the seeded index (dashboard.vocabulary.INDEXES).
INDEX_NAME = "S&P 500"
NEWS_TOPIC = "depression"

_ANALYTICS_TABLES = """
CREATE TABLE IF NOT EXISTS sector_daily (
    sector text NOT NULL, trade_date date NOT NULL, tickers integer, mean_return double precision,
    advancers integer, decliners integer, mean_volatility_7 double precision,
    UNIQUE (sector, trade_date)
);
CREATE TABLE IF NOT EXISTS market_daily (
    trade_date date PRIMARY KEY, index_symbol text, index_close double precision,
    index_return double precision, index_volatility_7 double precision, precipitation_mm double precision,
    news_topic text, news_matching bigint, news_total bigint, news_share double precision,
    vix double precision, treasury_10y double precision, news_tone double precision,
    temp_max_c double precision, temp_min_c double precision
);
GRANT SELECT ON sector_daily, market_daily TO dashboard_reader;
"""

_DERIVE_RETURNS = """
UPDATE {table} AS t SET daily_return = d.daily_return, volatility_7 = d.volatility_7
FROM (
    SELECT {key}, trade_date, r AS daily_return,
           CASE WHEN count(r) OVER w = 7 THEN stddev_samp(r) OVER w END AS volatility_7
    FROM (
        SELECT {key}, trade_date,
               coalesce(adj_close, close) / lag(coalesce(adj_close, close)) OVER (PARTITION BY {key}
                   ORDER BY trade_date) - 1 AS r
        FROM {table}
    ) AS returns
    WINDOW w AS (PARTITION BY {key} ORDER BY trade_date ROWS BETWEEN 6 PRECEDING AND CURRENT ROW)
) AS d
WHERE t.{key} = d.{key} AND t.trade_date = d.trade_date
"""

_FILL_SECTOR_DAILY = """
INSERT INTO sector_daily (sector, trade_date, tickers, mean_return, advancers, decliners, mean_volatility_7)
SELECT c.sector, s.trade_date, count(*), avg(s.daily_return),
       count(*) FILTER (WHERE s.daily_return > 0), count(*) FILTER (WHERE s.daily_return < 0),
       avg(s.volatility_7)
FROM stock_daily AS s JOIN companies AS c USING (ticker)
GROUP BY c.sector, s.trade_date
"""

_FILL_MARKET_DAILY = """
INSERT INTO market_daily (trade_date, index_symbol, index_close, index_return, index_volatility_7,
                          precipitation_mm, temp_max_c, temp_min_c, news_topic, news_matching, news_total,
                          news_share, news_tone, vix, treasury_10y)
SELECT i.trade_date, i.symbol, i.close, i.daily_return, i.volatility_7,
       (SELECT avg(precipitation_mm) FROM weather_daily AS w WHERE w.obs_date = i.trade_date),
       (SELECT avg(temp_max_c) FROM weather_daily AS w WHERE w.obs_date = i.trade_date),
       (SELECT avg(temp_min_c) FROM weather_daily AS w WHERE w.obs_date = i.trade_date),
       %(topic)s, n.matching_articles, n.total_articles,
       n.matching_articles::double precision / nullif(n.total_articles, 0),
       CASE WHEN n.matching_articles = 0 THEN NULL ELSE n.average_tone END,
       (SELECT value FROM macro_daily WHERE series_id = 'VIXCLS' AND obs_date <= i.trade_date
        ORDER BY obs_date DESC LIMIT 1),
       (SELECT value FROM macro_daily WHERE series_id = 'DGS10' AND obs_date <= i.trade_date
        ORDER BY obs_date DESC LIMIT 1)
FROM index_daily AS i
LEFT JOIN news_daily AS n ON n.topic = %(topic)s AND n.news_date = i.trade_date
WHERE i.symbol = %(symbol)s
"""


def trading_days() -> list[dt.date]:
    """The seeded trading days: weekdays from FIRST_DAY on."""
    days, day = [], FIRST_DAY
    while len(days) < TRADING_DAYS:
        if day.isoweekday() <= 5:
            days.append(day)
        day += dt.timedelta(days=1)
    return days


def _random_walk(generator: random.Random, start: float, scale: float) -> list[float]:
    values, value = [], start
    for _ in range(TRADING_DAYS):
        value *= math.exp(generator.gauss(0.0005, scale))
        values.append(round(value, 4))
    return values


def seed_core_tables(conn: psycopg.Connection) -> None:
    """Insert the known market into the core tables, with returns and volatility as docs/etl.md defines them."""
    generator = random.Random(20240102)
    days = trading_days()
    with conn.cursor() as cursor:
        cursor.executemany("INSERT INTO companies VALUES (%s, %s, %s, %s)", COMPANIES)
        for ticker, *_ in COMPANIES:
            closes = _random_walk(generator, generator.uniform(20, 300), 0.02)
            cursor.executemany(
                "INSERT INTO stock_daily (ticker, trade_date, open, high, low, close, adj_close, volume) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                [
                    (ticker, day, close * 0.995, close * 1.01, close * 0.985, close, close, 1_000_000 + index)
                    for index, (day, close) in enumerate(zip(days, closes, strict=True))
                ],
            )
        index_closes = _random_walk(generator, 4700.0, 0.01)
        cursor.executemany(
            "INSERT INTO index_daily (symbol, trade_date, open, high, low, close, volume) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s)",
            [
                (INDEX_SYMBOL, day, close, close * 1.005, close * 0.995, close, 3_000_000_000)
                for day, close in zip(days, index_closes, strict=True)
            ],
        )
        for table, key in (("stock_daily", "ticker"), ("index_daily", "symbol")):
            cursor.execute(_DERIVE_RETURNS.format(table=table, key=key))
        calendar = [
            FIRST_DAY + dt.timedelta(days=offset) for offset in range((days[-1] - FIRST_DAY).days + 1)
        ]
        # Temperatures and tone from a generator of their own: the other seeded values stay as they were.
        weather_and_tone = random.Random(7)
        highs = {day: 15.0 + 8.0 * math.sin(day.toordinal() / 9) for day in calendar}
        cursor.executemany(
            "INSERT INTO weather_daily VALUES (%s, %s, %s, %s, %s)",
            [
                (state, day, round(generator.expovariate(0.4), 1), high, high - 10.0)
                for state in STATES
                for day in calendar
                for high in [round(highs[day] + weather_and_tone.gauss(0, 2), 1)]
            ],
        )
        cursor.executemany(
            "INSERT INTO news_daily (topic, news_date, matching_articles, total_articles, average_tone) "
            "VALUES (%s, %s, %s, %s, %s)",
            [
                (
                    NEWS_TOPIC,
                    day,
                    generator.randint(50, 400),
                    100_000,
                    # Every 13th day without a tone (not fetched), the others either side of neutral.
                    None if number % 13 == 0 else round(weather_and_tone.gauss(0, 2), 3),
                )
                for number, day in enumerate(calendar)
            ],
        )
        cursor.executemany(
            "INSERT INTO macro_daily VALUES (%s, %s, %s)",
            [
                (series, day, round(base + generator.uniform(-1, 1), 2))
                for day in days
                for series, base in (("VIXCLS", 15.0), ("DGS10", 4.0))
            ],
        )
        cursor.executemany(
            "INSERT INTO raw_objects (key, source, sha256, status, rows, data_date, synthetic, error) "
            "VALUES (%s, %s, %s, %s, %s, %s, true, %s)",
            [
                ("raw/yahoo/2024-01-02/AAA_2024-03-25.json", "yahoo", "a" * 64, "loaded", 60, days[-1], None),
                ("raw/fred/2024-01-02/VIXCLS_2024-03-25.csv", "fred", "b" * 64, "loaded", 60, days[-1], None),
                (
                    "raw/gdelt/2024-01-02/depression_2024-03-25.json",
                    "gdelt",
                    "c" * 64,
                    "quarantined",
                    0,
                    days[-1],
                    "truncated JSON at byte 512",
                ),
            ],
        )
        cursor.executemany(
            "INSERT INTO pipeline_runs (run_id, kind, started_at, finished_at, status, details) "
            "VALUES (%s, %s, %s, %s, %s, %s)",
            [
                (
                    "ingest-1",
                    "ingest",
                    "2024-03-26 06:00Z",
                    "2024-03-26 06:02Z",
                    "partial",
                    psycopg.types.json.Jsonb(
                        {
                            "failed": [
                                {
                                    "source": "gdelt",
                                    "entity": NEWS_TOPIC,
                                    "url": "https://api.gdeltproject.org/api/v2/doc/doc",
                                    "reason": "HTTP 429 after 4 attempts",
                                }
                            ]
                        }
                    ),
                ),
                (
                    "etl-1",
                    "etl",
                    "2024-03-26 06:03Z",
                    "2024-03-26 06:04Z",
                    "success",
                    psycopg.types.json.Jsonb({}),
                ),
            ],
        )


def build_analytics(conn: psycopg.Connection) -> None:
    """Fill `sector_daily` and `market_daily` from the core tables (creating them if no migration did)."""
    with conn.cursor() as cursor:
        cursor.execute(_ANALYTICS_TABLES)
        cursor.execute(_FILL_SECTOR_DAILY)
        cursor.execute(_FILL_MARKET_DAILY, {"topic": NEWS_TOPIC, "symbol": INDEX_SYMBOL})
        update_table_stats(cursor, {})


@pytest.fixture(autouse=True)
def forget_dashboard_caches() -> Iterator[None]:
    """Cached results and the cached connection belong to one test's database only."""
    connections.forget_connection()
    yield
    connections.forget_connection()


@pytest.fixture
def seeded_database_url(migrated_database_url: str) -> str:
    """A migrated database holding the known market, its analytics and some pipeline history."""
    with psycopg.connect(migrated_database_url) as conn:
        seed_core_tables(conn)
        build_analytics(conn)
    return migrated_database_url


@pytest.fixture
def owner_query(migrated_database_url: str):
    """Run SQL as the database owner and return all rows: how tests compute the expected figures."""

    def run(sql: str, params: dict | tuple | None = None) -> list[tuple]:
        with psycopg.connect(migrated_database_url) as conn:
            return conn.execute(sql, params).fetchall()

    return run
