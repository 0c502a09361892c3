"""The NYSE calendar: weekdays minus the exchange's full-day holidays and unscheduled closures.

Used by the sample generator to place bars where a real exchange would have them, and by the ETL's
freshness metrics to count the sessions a source missed. The holidays are computed by rule, for any
year, as the NYSE applies them (Rule 7.2): fixed dates, nth weekdays, Good Friday from Easter, a
Saturday holiday observed on the Friday before (except New Year's Day, never moved into December) and a
Sunday one on the Monday after. Closures no rule predicts (attacks, storms, national days of mourning)
are listed with their dates: the exchange announces each one days ahead, and a new one is a line here.
The tests hold the rules against a maintained calendar for 2000-2025 and check every year to 2100.
"""

from __future__ import annotations

import datetime as dt
import functools

#: Full-day closures outside the rules, with the reason the exchange gave.
SPECIAL_CLOSURE_REASONS: dict[dt.date, str] = {
    dt.date(2001, 9, 11): "attacks on the World Trade Center",
    dt.date(2001, 9, 12): "attacks on the World Trade Center",
    dt.date(2001, 9, 13): "attacks on the World Trade Center",
    dt.date(2001, 9, 14): "attacks on the World Trade Center",
    dt.date(2004, 6, 11): "national day of mourning for President Ronald Reagan",
    dt.date(2007, 1, 2): "national day of mourning for President Gerald R. Ford",
    dt.date(2012, 10, 29): "hurricane Sandy",
    dt.date(2012, 10, 30): "hurricane Sandy",
    dt.date(2018, 12, 5): "national day of mourning for President George H. W. Bush",
    dt.date(2025, 1, 9): "national day of mourning for President Jimmy Carter",
}
SPECIAL_CLOSURES = frozenset(SPECIAL_CLOSURE_REASONS)


def easter_sunday(year: int) -> dt.date:
    """Gregorian Easter (the anonymous Gregorian algorithm)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = divmod(b, 4)
    g = (8 * b + 13) // 25
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    weekday_offset = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * weekday_offset) // 451
    month, day = divmod(h + weekday_offset - 7 * m + 114, 31)
    return dt.date(year, month, day + 1)


def _nth_weekday(year: int, month: int, weekday: int, nth: int) -> dt.date:
    first = dt.date(year, month, 1)
    return first + dt.timedelta(days=(weekday - first.weekday()) % 7 + 7 * (nth - 1))


def _last_weekday(year: int, month: int, weekday: int) -> dt.date:
    next_month = dt.date(year + month // 12, month % 12 + 1, 1)
    last = next_month - dt.timedelta(days=1)
    return last - dt.timedelta(days=(last.weekday() - weekday) % 7)


def _observed(day: dt.date) -> dt.date:
    """The weekday a holiday falling on `day` is observed: Saturday's on Friday, Sunday's on Monday."""
    if day.weekday() == 5:
        return day - dt.timedelta(days=1)
    if day.weekday() == 6:
        return day + dt.timedelta(days=1)
    return day


@functools.cache
def nyse_holidays(year: int) -> frozenset[dt.date]:
    """The NYSE's rule-based full-day holidays in `year`."""
    monday, thursday = 0, 3
    days = {
        _nth_weekday(year, 2, monday, 3),  # Washington's Birthday
        easter_sunday(year) - dt.timedelta(days=2),  # Good Friday
        _last_weekday(year, 5, monday),  # Memorial Day
        _observed(dt.date(year, 7, 4)),
        _nth_weekday(year, 9, monday, 1),  # Labor Day
        _nth_weekday(year, 11, thursday, 4),  # Thanksgiving
        _observed(dt.date(year, 12, 25)),
    }
    new_year = dt.date(year, 1, 1)
    if new_year.weekday() != 5:  # a Saturday New Year's Day is not moved back into December
        days.add(_observed(new_year))
    if year >= 1998:
        days.add(_nth_weekday(year, 1, monday, 3))  # Martin Luther King Jr. Day
    if year >= 2022:
        days.add(_observed(dt.date(year, 6, 19)))  # Juneteenth
    return frozenset(days)


def is_trading_day(day: dt.date) -> bool:
    """True when the NYSE holds a regular session on `day`."""
    return day.weekday() < 5 and day not in nyse_holidays(day.year) and day not in SPECIAL_CLOSURES


def trading_days(start: dt.date, end: dt.date) -> list[dt.date]:
    """Every trading day from `start` to `end`, inclusive."""
    days = []
    day = start
    while day <= end:
        if is_trading_day(day):
            days.append(day)
        day += dt.timedelta(days=1)
    return days
