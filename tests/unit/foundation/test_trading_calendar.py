"""The NYSE calendar by rule: the known closures of 2000-2025, and every year ahead to 2100.

`data/nyse_closures_2000_2025.csv` is the NYSE's weekday closures of those years as a maintained
calendar records them (the `holidays` package, 0.109, `financial_holidays("NYSE")`), the reference
the rules here must reproduce: holidays by rule, special closures by their listed dates.
"""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

from hypothesis import assume, given
from hypothesis import strategies as st

from pipeline.trading_calendar import (
    SPECIAL_CLOSURE_REASONS,
    SPECIAL_CLOSURES,
    easter_sunday,
    is_trading_day,
    nyse_holidays,
    trading_days,
)

KNOWN = Path(__file__).parent / "data" / "nyse_closures_2000_2025.csv"


def known_closures() -> dict[dt.date, str]:
    with KNOWN.open(newline="") as rows:
        return {dt.date.fromisoformat(row["date"]): row["name"] for row in csv.DictReader(rows)}


def test_the_rules_and_the_listed_closures_give_the_known_closures_of_2000_to_2025() -> None:
    known = known_closures()
    by_rule = {day for year in range(2000, 2026) for day in nyse_holidays(year) if day.weekday() < 5}
    assert by_rule | SPECIAL_CLOSURES == set(known)
    # The listed closures are exactly the known ones no rule gives, each with its reason.
    assert set(known) - by_rule == SPECIAL_CLOSURES
    assert all(SPECIAL_CLOSURE_REASONS[day] for day in SPECIAL_CLOSURES)
    # And the calendar's sessions are the weekdays without them (252 sessions in 2024).
    assert len(trading_days(dt.date(2024, 1, 1), dt.date(2024, 12, 31))) == 252
    assert not is_trading_day(dt.date(2025, 1, 9)) and is_trading_day(dt.date(2025, 1, 10))


@given(st.integers(2022, 2100))
def test_every_year_ahead_has_nine_or_ten_weekday_holidays(year: int) -> None:
    holidays = nyse_holidays(year)
    assert all(day.weekday() < 5 for day in holidays)
    # Ten (Juneteenth since 2022), nine when New Year's Day is a Saturday (not observed in December).
    expected = 9 if dt.date(year, 1, 1).weekday() == 5 else 10
    assert len(holidays) == expected
    assert all(day.year == year for day in holidays)


@given(st.integers(1900, 2100))
def test_good_friday_is_two_days_before_an_easter_sunday_in_spring(year: int) -> None:
    easter = easter_sunday(year)
    assert easter.weekday() == 6 and dt.date(year, 3, 22) <= easter <= dt.date(year, 4, 25)
    assert easter - dt.timedelta(days=2) in nyse_holidays(year)


@given(st.integers(2000, 2100), st.sampled_from([(7, 4), (12, 25), (6, 19)]))
def test_a_weekend_holiday_is_observed_on_the_nearest_weekday(year: int, month_day: tuple[int, int]) -> None:
    assume(month_day != (6, 19) or year >= 2022)  # Juneteenth is a holiday since 2022
    day = dt.date(year, *month_day)
    observed = {5: day - dt.timedelta(days=1), 6: day + dt.timedelta(days=1)}.get(day.weekday(), day)
    assert observed in nyse_holidays(year)
    assert day not in nyse_holidays(year) or day == observed
