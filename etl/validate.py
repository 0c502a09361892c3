"""Validation of parsed frames: types, ranges and the requested window.

Each check raises `ValidationError` naming what is wrong, how many rows and one example; the caller
quarantines the whole object, because a response with one impossible value cannot be trusted.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

PRICE_COLUMNS = ("open", "high", "low", "close", "adj_close")
# Plausible surface air temperatures in the United States, in degrees Celsius.
TEMPERATURE_RANGE_C = (-70.0, 60.0)


class ValidationError(ValueError):
    """A parsed object breaks a rule; the message is one line."""


def _fail_if(mask: pd.Series, frame: pd.DataFrame, rule: str, date_column: str) -> None:
    count = int(mask.sum())
    if count:
        first = frame.loc[mask.idxmax(), date_column]
        raise ValidationError(f"{rule}: {count} row(s), first on {pd.Timestamp(first).date()}")


def check_window(frame: pd.DataFrame, date_column: str, start: dt.date, end: dt.date) -> None:
    """Every row's date lies inside the requested inclusive window."""
    dates = frame[date_column]
    outside = (dates < pd.Timestamp(start)) | (dates > pd.Timestamp(end))
    _fail_if(outside, frame, f"date outside the window {start}..{end}", date_column)


def validate_bars(bars: pd.DataFrame, start: dt.date, end: dt.date) -> None:
    """Prices positive, high not below low, volume not negative, dates inside the window."""
    check_window(bars, "trade_date", start, end)
    for column in PRICE_COLUMNS:
        _fail_if(bars[column] <= 0, bars, f"{column} not positive", "trade_date")
    _fail_if(bars["high"] < bars["low"], bars, "high below low", "trade_date")
    _fail_if(bars["volume"] < 0, bars, "negative volume", "trade_date")


def validate_weather(weather: pd.DataFrame, start: dt.date, end: dt.date) -> None:
    """Precipitation not negative, temperatures plausible, max not below min, dates inside the window."""
    check_window(weather, "obs_date", start, end)
    _fail_if(weather["precipitation_mm"] < 0, weather, "negative precipitation", "obs_date")
    low, high = TEMPERATURE_RANGE_C
    for column in ("temp_max_c", "temp_min_c"):
        implausible = (weather[column] < low) | (weather[column] > high)
        _fail_if(implausible, weather, f"{column} outside {low}..{high} °C", "obs_date")
    _fail_if(
        weather["temp_max_c"] < weather["temp_min_c"], weather, "temp_max_c below temp_min_c", "obs_date"
    )


def validate_news(news: pd.DataFrame, start: dt.date, end: dt.date) -> None:
    """Counts not negative, matching articles not above the total, dates inside the window."""
    check_window(news, "news_date", start, end)
    _fail_if(news["matching_articles"] < 0, news, "negative matching_articles", "news_date")
    _fail_if(
        news["matching_articles"] > news["total_articles"], news, "matching above total articles", "news_date"
    )


def validate_macro(macro: pd.DataFrame, start: dt.date, end: dt.date) -> None:
    """Observation dates inside the window (values may be anything finite, or missing)."""
    check_window(macro, "obs_date", start, end)
