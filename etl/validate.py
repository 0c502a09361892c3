"""Validation of parsed rows (columns, see `etl.columns`): types, ranges and the requested window.

Each check raises `ValidationError` naming what is wrong, how many rows and one example; the caller
quarantines the whole object, because a response with one impossible value cannot be trusted.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence

import numpy as np

from etl.schema import MACRO_DAILY, NEWS_DAILY, WEATHER_DAILY

PRICE_COLUMNS = ("open", "high", "low", "close", "adj_close")
# Plausible surface air temperatures in the United States, in degrees Celsius.
TEMPERATURE_RANGE_C = (-70.0, 60.0)
# GDELT's tone: the share of positive minus the share of negative words, in percent of an article's words.
TONE_RANGE = (-100.0, 100.0)


class ValidationError(ValueError):
    """A parsed object breaks a rule; the message is one line."""


Rows = Mapping[str, np.ndarray]  # parsed rows, as `etl.columns` has them


def _fail_if(mask: np.ndarray, rows: Rows, rule: str, date_column: str) -> None:
    mask = np.asarray(mask)
    count = int(mask.sum())
    if count:
        first = np.asarray(rows[date_column])[int(np.argmax(mask))]
        raise ValidationError(f"{rule}: {count} row(s), first on {np.datetime64(first, 'D')}")


def check_dates_in_window(rows: Rows, date_column: str, start: dt.date, end: dt.date) -> None:
    """Every row's date lies inside the requested inclusive window."""
    dates = np.asarray(rows[date_column], dtype="datetime64[ns]")
    outside = (dates < np.datetime64(start, "ns")) | (dates > np.datetime64(end, "ns"))
    _fail_if(outside, rows, f"date outside the window {start}..{end}", date_column)


def bar_violations(
    bars: Mapping[str, np.ndarray], owner: np.ndarray, windows: Sequence[tuple[dt.date, dt.date]]
) -> dict[int, str]:
    """The first rule each object breaks, as `tests.support.oracles.validate_bars` words it, for the bars of many objects.

    `bars` holds the columns of the objects' bars one after the other (each object's sorted by
    date), `owner` the object (an index into `windows`) of each row. Objects breaking no rule are
    absent from the answer.
    """
    days = bars["trade_date"]
    bounds = np.array(windows, dtype="datetime64[ns]").reshape(-1, 2)
    rules: list[tuple[str | None, np.ndarray]] = [
        (None, (days < bounds[owner, 0]) | (days > bounds[owner, 1]))
    ]
    rules += [(f"{column} not positive", bars[column] <= 0) for column in PRICE_COLUMNS]
    rules += [("high below low", bars["high"] < bars["low"]), ("negative volume", bars["volume"] < 0)]
    errors: dict[int, str] = {}
    for rule, mask in rules:
        rows = np.flatnonzero(mask)
        if not len(rows):
            continue
        owners, first = np.unique(owner[rows], return_index=True)
        counts = np.bincount(owner[rows])
        for number, row in zip(owners.tolist(), rows[first].tolist(), strict=True):
            if number not in errors:
                start, end = windows[number]
                name = rule or f"date outside the window {start}..{end}"
                day = np.datetime64(days[row], "D")
                errors[number] = f"{name}: {counts[number]} row(s), first on {day}"
    return errors


def validate_weather(weather: Rows, start: dt.date, end: dt.date) -> None:
    """Precipitation not negative, temperatures plausible, max not below min, dates inside the window."""
    check_dates_in_window(weather, "obs_date", start, end)
    _fail_if(weather["precipitation_mm"] < 0, weather, "negative precipitation", "obs_date")
    low, high = TEMPERATURE_RANGE_C
    for column in ("temp_max_c", "temp_min_c"):
        implausible = (weather[column] < low) | (weather[column] > high)
        _fail_if(implausible, weather, f"{column} outside {low}..{high} °C", "obs_date")
    _fail_if(
        weather["temp_max_c"] < weather["temp_min_c"], weather, "temp_max_c below temp_min_c", "obs_date"
    )


def validate_news(news: Rows, start: dt.date, end: dt.date) -> None:
    """Counts not negative, matching articles not above the total, tone on GDELT's scale, dates inside
    the window."""
    check_dates_in_window(news, "news_date", start, end)
    low, high = TONE_RANGE
    _fail_if(
        (news["average_tone"] < low) | (news["average_tone"] > high),
        news,
        f"average_tone outside {low}..{high}",
        "news_date",
    )
    _fail_if(news["matching_articles"] < 0, news, "negative matching_articles", "news_date")
    _fail_if(
        news["matching_articles"] > news["total_articles"], news, "matching above total articles", "news_date"
    )


def validate_macro(macro: Rows, start: dt.date, end: dt.date) -> None:
    """Observation dates inside the window (values may be anything finite, or missing)."""
    check_dates_in_window(macro, "obs_date", start, end)


def validate_rows(table: str, rows: Rows, start: dt.date, end: dt.date) -> None:
    """The rules of `table` (weather, news or macro) over rows parsed from one object of the window
    `start`..`end`; `ValidationError` naming the first rule broken."""
    _VALIDATORS[table](rows, start, end)


_VALIDATORS = {WEATHER_DAILY: validate_weather, NEWS_DAILY: validate_news, MACRO_DAILY: validate_macro}
