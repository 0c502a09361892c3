"""FRED's keyless CSV (fredgraph.csv): every series, one request per run window (``cosd``/``coed``)."""

from __future__ import annotations

import datetime as dt

from lambda_src.ingestion.httpclient import HttpResponse, InvalidResponse, describe_body, looks_like_html
from lambda_src.ingestion.plan import PlannedRequest, SourcePlan, Window, window_extras
from pipeline import catalog
from pipeline.rawzone import raw_key
from pipeline.settings import Settings

SOURCE = catalog.FRED
PACING_SECONDS = 1.0
CSV_TYPES = frozenset({"text/csv", "application/csv", "text/plain", "application/octet-stream"})
DATE_HEADERS = frozenset({"observation_date", "date"})


def plan_series(settings: Settings, series_id: str, window: Window, today: dt.date) -> PlannedRequest:
    """The request for one series over `window`."""
    params = (("id", series_id), ("cosd", window.start.isoformat()), ("coed", window.end.isoformat()))
    return PlannedRequest(
        source=SOURCE,
        entity=series_id,
        window=window,
        url=settings.url("fred_graph_url"),
        params=params,
        key=raw_key(SOURCE, window.start, f"{series_id}_{window.end.isoformat()}.csv"),
        extras={"series_id": series_id, **window_extras(window)},
        check=lambda response: check_csv(response, series_id),
        revisable=window.end >= today,
    )


def plan(settings: Settings, window: Window, today: dt.date) -> SourcePlan:
    """One request per series for the whole window."""
    return SourcePlan(
        [plan_series(settings, series, window, today) for series in settings.pipeline_fred_series]
    )


def check_csv(response: HttpResponse, series_id: str) -> None:
    """A two-column CSV: a date header (``observation_date`` or ``DATE``) and the series id, then dated
    rows, each ending with a newline (as FRED's always does): a body cut mid-line (``2025-06-30,1``
    from ``2025-06-30,13.84``) is incomplete, not a smaller number, and is fetched again."""
    if looks_like_html(response.body) or response.media_type not in CSV_TYPES:
        raise InvalidResponse(
            f"FRED sent {response.content_type or 'no content type'}, not CSV: {describe_body(response.body)}",
            retryable=True,
        )
    try:
        lines = response.body.decode("utf-8-sig").splitlines()
    except UnicodeDecodeError:
        raise InvalidResponse("FRED body is not UTF-8 text", retryable=True) from None
    if not response.body.endswith(b"\n"):
        last = lines[-1] if lines else ""
        raise InvalidResponse(
            f"FRED CSV ends mid-line (no final newline; last line {last[:80]!r}): the body is incomplete",
            retryable=True,
        )
    header = lines[0].split(",") if lines else []
    if len(header) != 2 or header[0].strip().lower() not in DATE_HEADERS or header[1].strip() != series_id:
        raise InvalidResponse(
            f"FRED CSV header is not date,{series_id}: {describe_body(response.body)}", retryable=False
        )
    for number, line in enumerate(lines[1:], start=2):
        if not line:
            continue
        fields = line.split(",")
        try:
            dt.date.fromisoformat(fields[0])
        except ValueError:
            fields = []
        if len(fields) != 2 or not _is_value(fields[1]):
            raise InvalidResponse(
                f"FRED CSV line {number} is not 'date,value': {line[:80]!r}", retryable=True
            )


def _is_value(text: str) -> bool:
    """A number, or FRED's missing value (``.`` in older files, empty in newer ones)."""
    if text.strip() in ("", "."):
        return True
    try:
        float(text)
    except ValueError:
        return False
    return True
