"""Yahoo Finance one-minute bars (the chart API with ``interval=1m``), the lake's first own dataset.

Yahoo serves minute bars for about the last 30 days only, at most 7 days per request, so they must be
collected every day and kept: the raw zone keeps every fetch, and the ETL writes them to the lake's
`stock_minute` table (never to PostgreSQL). A window is cut into calendar weeks (Monday to Sunday),
one request per symbol and week, so a backfill's keys are the same whatever range was asked for;
days older than Yahoo's horizon are left out with a note, not requested to fail.
"""

from __future__ import annotations

import datetime as dt
from typing import cast

from lambda_src.ingestion import yahoo
from lambda_src.ingestion.httpclient import HttpResponse, InvalidResponse, json_body
from lambda_src.ingestion.plan import PlannedRequest, SourcePlan, Window, window_extras
from pipeline import catalog
from pipeline.rawzone import raw_key
from pipeline.settings import Settings

SOURCE = catalog.YAHOO_INTRADAY
PACING_SECONDS = yahoo.PACING_SECONDS
INTERVAL = "1m"
#: How far back Yahoo serves one-minute bars (days before today, New York).
HORIZON_DAYS = 29
#: The longest window Yahoo answers for one-minute bars.
MAX_REQUEST_DAYS = 7


def weeks(window: Window) -> list[Window]:
    """`window` cut at Mondays: each piece within one calendar week (at most `MAX_REQUEST_DAYS` days)."""
    pieces = []
    start = window.start
    while start <= window.end:
        sunday = start + dt.timedelta(days=6 - start.weekday())
        end = min(sunday, window.end)
        pieces.append(Window(start, end))
        start = end + dt.timedelta(days=1)
    return pieces


def plan_symbol(settings: Settings, symbol: str, window: Window, today: dt.date) -> PlannedRequest:
    """The request for one symbol's minute bars over `window` (at most a week)."""
    period1, period2 = yahoo.period_bounds(window)
    return PlannedRequest(
        source=SOURCE,
        entity=symbol,
        window=window,
        url=yahoo.plan_symbol(settings, symbol, window, today).url,
        params=(
            ("period1", str(period1)),
            ("period2", str(period2)),
            ("interval", INTERVAL),
            ("includePrePost", "false"),
        ),
        key=raw_key(SOURCE, window.start, yahoo.object_name(symbol, window)),
        extras={"symbol": symbol, "interval": INTERVAL, **window_extras(window)},
        check=check_minute_chart,
        revisable=window.end >= today,
    )


def plan(settings: Settings, window: Window, today: dt.date) -> SourcePlan:
    """One request per symbol and calendar week of the part of `window` Yahoo still serves."""
    first_served = today - dt.timedelta(days=HORIZON_DAYS)
    served = window.clip(start=first_served)
    uncovered = []
    if served != window:
        reach = f"{window.start}..{first_served - dt.timedelta(days=1)}" if served else str(window)
        uncovered.append(
            f"{SOURCE}: {reach} is before {first_served}: Yahoo serves minute bars for the last "
            f"{HORIZON_DAYS + 1} days only"
        )
    if served is None:
        return SourcePlan([], uncovered)
    requests = [
        plan_symbol(settings, symbol, week, today)
        for symbol in yahoo.symbols(settings)
        for week in weeks(served)
    ]
    return SourcePlan(requests, uncovered)


def check_minute_chart(response: HttpResponse) -> None:
    """A chart body (`yahoo.check_chart`) whose bars are the minute bars asked for: Yahoo answers a
    coarser interval than asked when a window is out of its reach (``meta.dataGranularity``)."""
    yahoo.check_chart(response)
    payload = cast(dict, json_body(response, yahoo.JSON_TYPES))  # a chart object: checked just above
    granularity = payload["chart"]["result"][0]["meta"].get("dataGranularity")
    if granularity is not None and granularity != INTERVAL:
        raise InvalidResponse(f"Yahoo served {granularity!r} bars, not {INTERVAL!r}", retryable=False)
