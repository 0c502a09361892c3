"""Freshness arithmetic of the ETL's metrics: days behind by each source's cadence, age in hours."""

from __future__ import annotations

import datetime as dt

from etl.metrics import age_hours, days_behind, freshness_events

# Tuesday 2024-07-09, 15:00 New York: "yesterday" is Monday the 8th.
TUESDAY_AFTERNOON = dt.datetime(2024, 7, 9, 19, 0, tzinfo=dt.UTC)


def test_yahoo_counts_trading_days_so_a_weekend_and_a_holiday_are_not_missed_days() -> None:
    # Friday 2024-07-05 is after the July 4th holiday; the 6th and 7th are a weekend.
    assert days_behind("yahoo", dt.date(2024, 7, 5), dt.date(2024, 7, 8)) == 1  # Monday only
    assert days_behind("yahoo", dt.date(2024, 7, 3), dt.date(2024, 7, 7)) == 1  # the 5th only
    assert days_behind("yahoo", dt.date(2024, 7, 8), dt.date(2024, 7, 8)) == 0
    assert days_behind("yahoo", dt.date(2024, 7, 9), dt.date(2024, 7, 8)) == 0


def test_other_sources_count_every_calendar_day() -> None:
    assert days_behind("gdelt", dt.date(2024, 7, 5), dt.date(2024, 7, 8)) == 3
    assert days_behind("fred", dt.date(2024, 7, 8), dt.date(2024, 7, 8)) == 0


def test_age_is_hours_since_the_new_york_midnight_ending_the_newest_day() -> None:
    # The 8th ends at 2024-07-09 04:00 UTC (EDT); 15 hours before 19:00 UTC.
    assert age_hours(dt.date(2024, 7, 8), TUESDAY_AFTERNOON) == 15.0


def test_a_source_with_no_data_yet_has_no_freshness_line() -> None:
    events = freshness_events({"yahoo": dt.date(2024, 7, 5), "fred": None}, TUESDAY_AFTERNOON)
    assert [event.dimensions for event in events] == [{"Source": "yahoo"}]
    assert events[0].metrics["DaysBehind"].value == 1
    assert events[0].fields == {"newest_day": "2024-07-05", "expected_day": "2024-07-08"}
