"""Pure parsers of GDELT DOC timelines: article counts (``timelinevolraw``) and mean tone
(``timelinetone``) per topic and UTC day, as rows of `news_daily`.

Both give every column of `NEWS_COLUMNS`, the other mode's missing (NaN), so the rows of a window's
two objects merge by rank like any two fetches (`etl.precedence`): a missing value never wins.

GDELT answers at daily resolution for the planner's quarter windows and in hourly or 15-minute buckets
for windows under about a week; finer buckets are aggregated to days. Counts are summed. A tone
response carries no counts, so its buckets are averaged with equal weights: GDELT's daily value is
already its mean over the day's articles, and a finer day's buckets each average a similar share of it.
A bucket without articles has no tone, which GDELT writes as 0: a tone of exactly 0 is read as such an
empty bucket, never as a mean, and a day with no other bucket has no tone (NULL). docs/ingestion.md
says the same.
"""

from __future__ import annotations

import datetime as dt

import numpy as np

from etl.columns import Columns
from etl.parse import ParseError, first_object, load_json, no_rows

NEWS_COLUMNS = ("topic", "news_date", "matching_articles", "total_articles", "average_tone")
#: The series name each mode's timeline carries; a body of the other mode is refused, not misread.
VOLUME_SERIES, TONE_SERIES = "Article Count", "Average Tone"


def parse_gdelt_timeline(body: bytes, topic: str) -> Columns:
    """Daily article counts of one GDELT `timelinevolraw` response, summed per UTC day when finer.

    `{}` and an empty timeline mean no match (no rows); a body that is not JSON (GDELT's plain-text
    errors) is a `ParseError`. Columns: `NEWS_COLUMNS` (`average_tone` missing).
    """
    points = _points(body, VOLUME_SERIES)
    if not points:
        return no_rows(NEWS_COLUMNS)
    for point in points:
        if not all(
            isinstance(point.get(name), int) and not isinstance(point.get(name), bool)
            for name in ("value", "norm")
        ):
            raise ParseError(f"malformed timeline point: {str(point)[:80]}")
    try:
        matching = np.array([point["value"] for point in points], dtype=np.int64)
        total = np.array([point["norm"] for point in points], dtype=np.int64)
    except OverflowError as error:
        raise ParseError(f"malformed timeline point: {error}") from None
    news_days, day_of_point = _days(points)
    return {
        "topic": np.full(len(news_days), topic, dtype=object),
        "news_date": news_days.astype("datetime64[ns]"),
        "matching_articles": _sums(day_of_point, matching, len(news_days)),
        "total_articles": _sums(day_of_point, total, len(news_days)),
        "average_tone": np.full(len(news_days), np.nan),
    }


def parse_gdelt_tone(body: bytes, topic: str) -> Columns:
    """Daily mean tone of one GDELT `timelinetone` response: the mean of each UTC day's non-empty
    buckets (a bucket's 0, or null, is empty), NaN for a day with none.

    `{}` and an empty timeline mean no match (no rows). Columns: `NEWS_COLUMNS` (the counts missing).
    """
    points = _points(body, TONE_SERIES)
    if not points:
        return no_rows(NEWS_COLUMNS)
    for point in points:
        value = point.get("value")
        if "value" not in point or (
            value is not None and (not isinstance(value, int | float) or isinstance(value, bool))
        ):
            raise ParseError(f"malformed tone point: {str(point)[:80]}")
    tones = np.array([point.get("value") or np.nan for point in points], dtype=float)
    if np.isinf(tones).any():
        raise ParseError("a tone is a number out of range")
    news_days, day_of_point = _days(points)
    present = ~np.isnan(tones)
    sums = np.zeros(len(news_days))
    np.add.at(sums, day_of_point[present], tones[present])
    counts = np.bincount(day_of_point[present], minlength=len(news_days))
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(counts > 0, sums / counts, np.nan)
    missing = np.full(len(news_days), np.nan)
    return {
        "topic": np.full(len(news_days), topic, dtype=object),
        "news_date": news_days.astype("datetime64[ns]"),
        "matching_articles": missing,
        "total_articles": missing.copy(),
        "average_tone": mean,
    }


def _points(body: bytes, series_name: str) -> list[dict]:
    """The data points of a timeline body of the series `series_name` (none for no match)."""
    document = load_json(body)
    if not isinstance(document, dict):
        raise ParseError("expected a JSON object")
    series = first_object(document.get("timeline") or [], "timeline")
    name = series.get("series", series_name)
    if name != series_name:
        raise ParseError(f"the timeline's series is {str(name)[:40]!r}, expected {series_name!r}")
    points = series.get("data") or []
    if not isinstance(points, list) or not all(isinstance(point, dict) for point in points):
        raise ParseError("the timeline's data is not an array of points")
    return points


def _days(points: list[dict]) -> tuple[np.ndarray, np.ndarray]:
    """The distinct UTC days of the points (datetime64[D], sorted) and each point's day number."""
    try:
        days = np.array(
            [dt.datetime.strptime(point["date"], "%Y%m%dT%H%M%SZ").date() for point in points],
            dtype="datetime64[D]",
        )
    except (KeyError, TypeError, ValueError, OverflowError) as error:
        raise ParseError(f"malformed timeline point: {error}") from None
    news_days, day_of_point = np.unique(days, return_inverse=True)
    return news_days, day_of_point.ravel()


def _sums(group: np.ndarray, values: np.ndarray, groups: int) -> np.ndarray:
    """The exact int64 sum of `values` per group number."""
    sums = np.zeros(groups, dtype=np.int64)
    np.add.at(sums, group, values)
    return sums
