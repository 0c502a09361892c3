"""`dim_date` against a real PostgreSQL: every day from its first to its last, each ISO field right."""

from __future__ import annotations

import datetime as dt

import psycopg

from etl.load import extend_date_dimension


def stored_days(conn: psycopg.Connection) -> list[dt.date]:
    return [row[0] for row in conn.execute("SELECT date_id FROM dim_date ORDER BY date_id")]


def span(first: dt.date, last: dt.date) -> list[dt.date]:
    return [first + dt.timedelta(days=offset) for offset in range((last - first).days + 1)]


def test_the_dimension_grows_by_the_days_it_lacks_and_fills_a_gap(migrated_database_url):
    with psycopg.connect(migrated_database_url) as conn, conn.cursor() as cursor:
        # Given the dimension of one window of days
        assert extend_date_dimension(cursor, [dt.date(2024, 1, 10), dt.date(2024, 1, 20)]) == 11
        # When later and earlier days come, then only the days it lacked are written, and it has no gap
        assert extend_date_dimension(cursor, [dt.date(2024, 1, 25)]) == 5
        assert extend_date_dimension(cursor, [dt.date(2024, 1, 8), dt.date(2024, 1, 15)]) == 2
        assert extend_date_dimension(cursor, [dt.date(2024, 1, 12)]) == 0
        assert stored_days(conn) == span(dt.date(2024, 1, 8), dt.date(2024, 1, 25))
        # and a day deleted behind the ETL's back is written again by the next run that adds days
        cursor.execute("DELETE FROM dim_date WHERE date_id = '2024-01-16'")
        assert extend_date_dimension(cursor, [dt.date(2024, 1, 26)]) == 2
        assert stored_days(conn) == span(dt.date(2024, 1, 8), dt.date(2024, 1, 26))
        # and each row's fields are the calendar's (2024-01-08 is a Monday of ISO week 2)
        row = conn.execute(
            "SELECT year, quarter, month, day, dow, iso_week FROM dim_date WHERE date_id = '2024-01-08'"
        ).fetchone()
        assert row == (2024, 1, 1, 8, 1, 2)
