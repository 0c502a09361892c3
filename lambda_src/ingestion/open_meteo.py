"""Open-Meteo: daily precipitation and temperatures for the 50 states, all in one request per window.

Days more than five days old come from the archive endpoint, recent days from the forecast endpoint
(a range spanning both is split). Archive windows are calendar years: a year for 50 locations and
three variables weighs about 390 of the 600 calls a minute the free tier allows, and requests are
spaced by their weight so that a backfill stays under the per-minute limit.
"""

from __future__ import annotations

import datetime as dt

from lambda_src.ingestion.httpclient import HttpResponse, InvalidResponse, json_body
from lambda_src.ingestion.plan import PlannedRequest, SourcePlan, Window, split_by_calendar, window_extras
from pipeline import catalog
from pipeline.rawzone import raw_key
from pipeline.reference import StatePoint, load_states
from pipeline.settings import Settings

SOURCE = catalog.OPEN_METEO
ARCHIVE = "archive"
FORECAST = "forecast"
DAILY_VARIABLES = ("precipitation_sum", "temperature_2m_max", "temperature_2m_min")
TIME_ZONE = "America/New_York"
#: Days newer than this many days before today are not in the archive yet.
ARCHIVE_LAG_DAYS = 5
#: Open-Meteo counts a request as (locations x days x variables) / this many calls (50 x 365 x 3 ~ 390).
CELLS_PER_CALL = 140.0
#: Seconds per weighted call: 500 calls a minute, a margin under the free tier's 600.
SECONDS_PER_CALL = 60.0 / 500.0
JSON_TYPES = frozenset({"application/json"})


def request_weight(locations: int, window: Window) -> float:
    """The number of API calls Open-Meteo charges for one request (at least 1)."""
    return max(1.0, locations * window.days * len(DAILY_VARIABLES) / CELLS_PER_CALL)


def split_endpoints(window: Window, today: dt.date) -> list[tuple[str, Window]]:
    """The archive part (by calendar year) and the forecast part (recent days) of a window."""
    last_archive_day = today - dt.timedelta(days=ARCHIVE_LAG_DAYS + 1)
    parts: list[tuple[str, Window]] = []
    archive = window.clip(end=last_archive_day)
    if archive:
        parts += [(ARCHIVE, piece) for piece in split_by_calendar(archive, 12)]
    forecast = window.clip(start=last_archive_day + dt.timedelta(days=1))
    if forecast:
        parts.append((FORECAST, forecast))
    return parts


def _coordinate(value: float) -> str:
    return f"{value:.4f}".rstrip("0").rstrip(".")


def plan_window(
    settings: Settings, states: list[StatePoint], endpoint: str, window: Window
) -> PlannedRequest:
    """The one request for every state over `window` at `endpoint` (archive or forecast)."""
    setting = "open_meteo_archive_url" if endpoint == ARCHIVE else "open_meteo_forecast_url"
    params = (
        ("latitude", ",".join(_coordinate(state.latitude) for state in states)),
        ("longitude", ",".join(_coordinate(state.longitude) for state in states)),
        ("start_date", window.start.isoformat()),
        ("end_date", window.end.isoformat()),
        ("daily", ",".join(DAILY_VARIABLES)),
        ("timezone", TIME_ZONE),
    )
    return PlannedRequest(
        source=SOURCE,
        entity=endpoint,
        window=window,
        url=settings.url(setting),
        params=params,
        key=raw_key(SOURCE, window.start, f"{endpoint}_{window.end.isoformat()}.json"),
        extras={
            "endpoint": endpoint,
            "locations": ",".join(state.code for state in states),
            **window_extras(window),
        },
        check=lambda response: check_daily(response, len(states)),
        cost=request_weight(len(states), window),
        # Forecast-endpoint days are provisional until the archive has them: always fetch them again.
        revisable=endpoint == FORECAST,
    )


def plan(settings: Settings, window: Window, today: dt.date) -> SourcePlan:
    """Archive windows by calendar year, then at most one forecast window."""
    states = load_states()
    return SourcePlan(
        [plan_window(settings, states, endpoint, part) for endpoint, part in split_endpoints(window, today)]
    )


def check_daily(response: HttpResponse, locations: int) -> None:
    """An object with ``daily`` for one location, an array of `locations` such objects for several."""
    payload = json_body(response, JSON_TYPES)
    if isinstance(payload, dict) and payload.get("error"):
        raise InvalidResponse(f"Open-Meteo error: {payload.get('reason')}", retryable=False)
    items = [payload] if locations == 1 and isinstance(payload, dict) else payload
    if not isinstance(items, list) or len(items) != locations:
        raise InvalidResponse(f"Open-Meteo body is not {locations} location(s)", retryable=False)
    for position, item in enumerate(items):
        daily = item.get("daily") if isinstance(item, dict) else None
        if not isinstance(daily, dict) or not isinstance(daily.get("time"), list):
            raise InvalidResponse(f"Open-Meteo location {position} has no daily.time", retryable=False)
