"""Yahoo Finance chart API: daily bars for every universe ticker and index symbol, one request each.

Yahoo serves any range of daily bars in one response, so a run's whole window is one request per
symbol (no splitting); the limit that matters is the request rate (about one per second).
"""

from __future__ import annotations

import datetime as dt
from urllib.parse import quote

from lambda_src.ingestion.httpclient import HttpResponse, InvalidResponse, json_body
from lambda_src.ingestion.plan import PlannedRequest, SourcePlan, Window, window_extras
from pipeline import catalog
from pipeline.market_time import window_period_bounds
from pipeline.rawzone import raw_key
from pipeline.reference import load_universe
from pipeline.settings import Settings

SOURCE = catalog.YAHOO
PACING_SECONDS = 1.0
JSON_TYPES = frozenset({"application/json"})


def symbols(settings: Settings) -> list[str]:
    """Every ticker of the universe, then every index symbol (duplicates dropped, order kept)."""
    tickers = [company.ticker for company in load_universe(settings.pipeline_universe)]
    return list(dict.fromkeys([*tickers, *settings.pipeline_indexes]))


def object_name(symbol: str, window: Window) -> str:
    return f"{quote(symbol, safe='')}_{window.end.isoformat()}.json"


def period_bounds(window: Window) -> tuple[int, int]:
    """``period1``/``period2`` of a window (`window_period_bounds`, which the ETL also drops bars by)."""
    return window_period_bounds(window.start, window.end)


def plan_symbol(settings: Settings, symbol: str, window: Window, today: dt.date) -> PlannedRequest:
    """The request for one symbol's daily bars over `window`."""
    period1, period2 = period_bounds(window)
    return PlannedRequest(
        source=SOURCE,
        entity=symbol,
        window=window,
        url=f"{settings.url('yahoo_chart_url')}/{quote(symbol, safe='')}",
        params=(("period1", str(period1)), ("period2", str(period2)), ("interval", "1d")),
        key=raw_key(SOURCE, window.start, object_name(symbol, window)),
        extras={"symbol": symbol, **window_extras(window)},
        check=check_chart,
        revisable=window.end >= today,
    )


def plan(settings: Settings, window: Window, today: dt.date) -> SourcePlan:
    """One request per symbol for the whole window."""
    return SourcePlan([plan_symbol(settings, symbol, window, today) for symbol in symbols(settings)])


def check_chart(response: HttpResponse) -> None:
    """A chart body: ``chart.result[0].meta`` present and ``chart.error`` null (an empty window is fine)."""
    payload = json_body(response, JSON_TYPES)
    chart = payload.get("chart") if isinstance(payload, dict) else None
    if not isinstance(chart, dict):
        raise InvalidResponse("Yahoo body has no 'chart' object", retryable=False)
    error = chart.get("error")
    if error:
        detail = error if not isinstance(error, dict) else f"{error.get('code')}: {error.get('description')}"
        raise InvalidResponse(f"Yahoo error: {detail}", retryable=False)
    result = chart.get("result")
    if not isinstance(result, list) or not result or not isinstance(result[0], dict):
        raise InvalidResponse("Yahoo chart has no result", retryable=False)
    first = result[0]
    if not isinstance(first.get("meta"), dict):
        raise InvalidResponse("Yahoo chart result has no meta", retryable=False)
    if "timestamp" in first and not isinstance(first["timestamp"], list):
        raise InvalidResponse("Yahoo chart timestamp is not a list", retryable=False)
