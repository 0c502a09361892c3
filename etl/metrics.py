"""What an ETL run tells CloudWatch: one structured line per run, per table written, per source.

`publish_run` is called once at the end of every run (success or failure). Its lines (see
`pipeline.telemetry`) carry the run's counts and duration, the rows written per table and, per data
source, how fresh the newest loaded day is: the age in hours of the end of that day (New York), and
how many days the source should have delivered since (trading days for Yahoo, calendar days for the
others, up to yesterday in New York, the day a morning run fetches). The freshness alarms watch the
latter, since a weekend makes the age of Yahoo's data jump by two days without anything being wrong.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, TextIO

import psycopg
from psycopg import sql

from etl.schema import MACRO_DAILY, NEWS_DAILY, STOCK_DAILY, TABLES, WEATHER_DAILY
from pipeline import catalog
from pipeline.market_time import MARKET_TIME_ZONE, default_ingest_day
from pipeline.settings import Settings
from pipeline.telemetry import NO_UNIT, SECONDS, Metric, TelemetryEvent, emit
from pipeline.trading_calendar import trading_days

if TYPE_CHECKING:
    from etl.run_record import EtlResult

log = logging.getLogger(__name__)

#: The curated table whose newest date says how fresh each data source is.
FRESHNESS_TABLES: Mapping[str, str] = {
    catalog.YAHOO: STOCK_DAILY,
    catalog.OPEN_METEO: WEATHER_DAILY,
    catalog.GDELT: NEWS_DAILY,
    catalog.FRED: MACRO_DAILY,
}


def days_behind(source: str, newest: dt.date, expected: dt.date) -> int:
    """The days `source` should have delivered after `newest` up to `expected`: trading days for Yahoo
    (weekends and NYSE holidays have no bars), every calendar day for the others."""
    if newest >= expected:
        return 0
    if source == catalog.YAHOO:
        return len(trading_days(newest + dt.timedelta(days=1), expected))
    return (expected - newest).days


def age_hours(newest: dt.date, now: dt.datetime) -> float:
    """Hours since the end (New York midnight) of the newest day of data."""
    end_of_day = dt.datetime.combine(newest + dt.timedelta(days=1), dt.time(), MARKET_TIME_ZONE)
    return round((now - end_of_day).total_seconds() / 3600, 2)


def freshness_events(newest_days: Mapping[str, dt.date | None], now: dt.datetime) -> list[TelemetryEvent]:
    """One event per source with data: its newest day, the age of it, the days missed since."""
    expected = default_ingest_day(now)
    return [
        TelemetryEvent(
            "source_freshness",
            {
                "FreshnessAgeHours": Metric(age_hours(newest, now), NO_UNIT),
                "DaysBehind": Metric(days_behind(source, newest, expected)),
            },
            dimensions={"Source": source},
            fields={"newest_day": newest.isoformat(), "expected_day": expected.isoformat()},
        )
        for source, newest in newest_days.items()
        if newest is not None
    ]


def run_events(result: EtlResult, mode: str) -> list[TelemetryEvent]:
    """The run's own event and one per table it wrote rows to (none after a failure: it rolled back)."""
    written = {} if result.error else result.rows_written
    run = TelemetryEvent(
        "etl_run",
        {
            "EtlRuns": Metric(1),
            "EtlFailed": Metric(1 if result.error else 0),
            "ObjectsLoaded": Metric(result.loaded),
            "ObjectsQuarantined": Metric(len(result.quarantined)),
            "RowsWritten": Metric(sum(written.values())),
            "DurationSeconds": Metric(round(result.seconds, 3), SECONDS),
        },
        fields={
            "run_id": result.run_id,
            "mode": mode,
            "status": "failed" if result.error else ("partial" if result.quarantined else "success"),
            "error": result.error,
            "rows_written": written,
            "quarantined_keys": [key for key, _ in result.quarantined[:20]],
        },
    )
    tables = [
        TelemetryEvent(
            "etl_table",
            {"TableRowsWritten": Metric(rows)},
            dimensions={"Table": table},
            fields={"run_id": result.run_id},
        )
        for table, rows in sorted(written.items())
    ]
    return [run, *tables]


def newest_days(conn: psycopg.Connection) -> dict[str, dt.date | None]:
    """The newest date in each source's curated table (each read through its date index)."""
    days: dict[str, dt.date | None] = {}
    with conn.cursor() as cursor:
        for source, table in FRESHNESS_TABLES.items():
            column = TABLES[table].key[-1]
            cursor.execute(
                sql.SQL("SELECT max({}) FROM {}").format(sql.Identifier(column), sql.Identifier(table))
            )
            row = cursor.fetchone()
            days[source] = row[0] if row else None
    return days


def run_mode(*, full: bool, keys: object | None, recent_days: int | None) -> str:
    """How the run chose its objects: ``keys`` (the ETL queue), ``recent`` (the timer), ``full``, ``pending``."""
    if keys is not None:
        return "keys"
    if recent_days is not None:
        return "recent"
    return "full" if full else "pending"


def publish_run(
    settings: Settings,
    result: EtlResult,
    mode: str,
    conn: psycopg.Connection,
    *,
    stream: TextIO | None = None,
    now: dt.datetime | None = None,
) -> int:
    """Emit the run's lines and, after a run that did not fail, the freshness of every source (read on
    `conn`, the run's connection).

    Never raises: telemetry that cannot read the database must not turn a finished load into a
    failure (the run's own line still says how it went).
    """
    if not settings.pipeline_metrics_namespace:
        return 0
    moment = now or dt.datetime.now(dt.UTC)
    events = run_events(result, mode)
    if not result.error:
        try:
            events += freshness_events(newest_days(conn), moment)
        except Exception as error:  # the load is committed; report what we can
            log.warning("etl %s: freshness not published: %s", result.run_id, error)
    return emit(settings, events, stream=stream, now=moment)
