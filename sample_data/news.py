"""The synthetic GDELT DOC responses of `pipeline sample`: article counts (``timelinevolraw``) and their
mean tone (``timelinetone``), byte for byte in the API's format.

The two modes of one topic and window agree as the real API's do: the same buckets (days, or hours for
short windows), and a bucket without matching articles has no tone to average, which GDELT writes as
a value of 0. Every value is a function of (seed, topic, bucket) alone (`sample_data.bodies`' hashed
streams), so a window's bodies are the same whatever else the sample holds.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence

import numpy as np

from lambda_src.ingestion.plan import Window
from sample_data.bodies import compact_json, day_ordinals, normals, uniforms

#: Windows shorter than this come back at hourly resolution, like the real API's short spans.
DAILY_RESOLUTION_MIN_DAYS = 8
#: The topic's typical mean tone and its day-to-day spread (GDELT's tone of news on "depression" runs
#: a little below zero; single days swing both ways).
MEAN_TONE, TONE_SPREAD, HOURLY_TONE_SPREAD = -0.8, 1.1, 0.6


def _daily_news(seed: int, topic: str, days: Sequence[dt.date]) -> tuple[np.ndarray, np.ndarray]:
    ordinals = day_ordinals(days)
    weekend = np.array([day.weekday() >= 5 for day in days])
    norm = np.round(
        np.where(weekend, 170_000.0, 250_000.0) * np.exp(0.08 * normals(seed, "gdelt", "norm", ordinals))
    )
    share = 0.004 * np.exp(0.3 * normals(seed, f"topic:{topic}", "share", ordinals))
    return np.round(norm * share), norm


def _split_hours(total: float, weights: np.ndarray) -> list[int]:
    exact = total * weights / weights.sum()
    whole = np.floor(exact)
    remainder = int(total - whole.sum())
    whole[np.argsort(-(exact - whole))[:remainder]] += 1
    return [int(value) for value in whole]


def _buckets(seed: int, topic: str, window: Window) -> Iterator[tuple[str, int, int, float]]:
    """Every bucket of the window as (GDELT date stamp, matching articles, all articles, mean tone)."""
    days = list(window.dates())
    values, norms = _daily_news(seed, topic, days)
    tones = MEAN_TONE + TONE_SPREAD * normals(seed, f"topic:{topic}", "tone", day_ordinals(days))
    if window.days >= DAILY_RESOLUTION_MIN_DAYS:
        for day, value, norm, tone in zip(days, values, norms, tones, strict=True):
            yield f"{day:%Y%m%d}T000000Z", int(value), int(norm), float(tone)
        return
    hours = np.arange(24)
    for day, value, norm, tone in zip(days, values, norms, tones, strict=True):
        ordinal = np.array([day.toordinal() * 24 + hour for hour in hours])
        weights = (
            1.0 + 0.5 * np.sin((hours - 6) / 24 * 2 * np.pi) + 0.2 * uniforms(seed, "gdelt", "hour", ordinal)
        )
        hour_tones = tone + HOURLY_TONE_SPREAD * normals(seed, f"topic:{topic}", "hour tone", ordinal)
        for hour, part_value, part_norm, hour_tone in zip(
            hours, _split_hours(value, weights), _split_hours(norm, weights), hour_tones, strict=True
        ):
            yield f"{day:%Y%m%d}T{hour:02d}0000Z", part_value, part_norm, float(hour_tone)


def _resolution(window: Window) -> str:
    return "day" if window.days >= DAILY_RESOLUTION_MIN_DAYS else "hour"


def gdelt_body(seed: int, topic: str, window: Window) -> bytes:
    """The ``timelinevolraw`` response for a topic and window (daily, or hourly for short windows)."""
    data = [
        {"date": stamp, "value": value, "norm": norm}
        for stamp, value, norm, _ in _buckets(seed, topic, window)
    ]
    return compact_json(
        {
            "query_details": {"title": topic, "date_resolution": _resolution(window)},
            "timeline": [{"series": "Article Count", "data": data}],
        }
    )


def gdelt_tone_body(seed: int, topic: str, window: Window) -> bytes:
    """The ``timelinetone`` response for the same topic and window: the mean tone of each bucket's
    matching articles, 0 where the volume response counts none (no article, no tone to average)."""
    data = [
        {"date": stamp, "value": round(tone, 7) if value else 0}
        for stamp, value, _, tone in _buckets(seed, topic, window)
    ]
    return compact_json(
        {
            "query_details": {"title": topic, "date_resolution": _resolution(window)},
            "timeline": [{"series": "Average Tone", "data": data}],
        }
    )
