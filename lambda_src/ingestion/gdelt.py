"""GDELT DOC 2.0: raw article counts (``timelinevolraw``) and their mean tone (``timelinetone``) per
topic, in calendar-quarter windows.

Each topic and window is two requests of the same query, one per mode, kept as two raw objects: the
volume under ``<topic slug>_<window end>.json``, the tone under ``<topic slug>_tone_<window end>.json``
(a slug has no underscore, so the names never meet), each with the metadata extra ``mode``; a failure
of the tone names its entity "<topic> (tone)". A quarter is long enough for GDELT to answer at daily
resolution (spans under about a week come back in hourly or 15-minute buckets, which the ETL sums per
day) and short enough to stay at it. The API covers 1 January 2017 onwards and allows one request
every 5 seconds.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re

from lambda_src.ingestion.httpclient import HttpResponse, InvalidResponse, describe_body
from lambda_src.ingestion.plan import PlannedRequest, SourcePlan, Window, split_by_calendar, window_extras
from pipeline import catalog
from pipeline.rawzone import raw_key
from pipeline.settings import Settings

SOURCE = catalog.GDELT
PACING_SECONDS = 5.0
FIRST_DAY = dt.date(2017, 1, 1)
THROTTLE_TEXT = "please limit requests"
#: The timeline modes fetched for every topic and window, volume first, and the part each adds to an
#: object's name (the volume's objects keep the name they had before tone was fetched).
VOLUME_MODE = catalog.GDELT_VOLUME_MODE
TONE_MODE = catalog.GDELT_TONE_MODE
MODES = catalog.GDELT_MODES
_NAME_PARTS = {VOLUME_MODE: "", TONE_MODE: "_tone"}


def topic_slug(topic: str) -> str:
    """A file-name form of a query; a short hash keeps distinct queries apart when the slug changed it."""
    slug = re.sub(r"[^a-z0-9]+", "-", topic.lower()).strip("-")[:60]
    if slug == topic:
        return slug
    return f"{slug or 'topic'}-{hashlib.sha256(topic.encode()).hexdigest()[:8]}"


def plan_topic(
    settings: Settings, topic: str, window: Window, today: dt.date, mode: str = VOLUME_MODE
) -> PlannedRequest:
    """The request for one topic over one window (whole days, UTC) in one timeline `mode`."""
    if mode not in MODES:
        raise ValueError(f"GDELT timeline mode {mode!r} is not one of {', '.join(MODES)}")
    name = f"{topic_slug(topic)}{_NAME_PARTS[mode]}_{window.end.isoformat()}.json"
    params = (
        ("query", topic),
        ("mode", mode),
        ("format", "json"),
        ("startdatetime", window.start.strftime("%Y%m%d") + "000000"),
        ("enddatetime", window.end.strftime("%Y%m%d") + "235959"),
    )
    return PlannedRequest(
        source=SOURCE,
        entity=topic if mode == VOLUME_MODE else f"{topic} (tone)",
        window=window,
        url=settings.url("gdelt_doc_url"),
        params=params,
        key=raw_key(SOURCE, window.start, name),
        extras={"topic": topic, "mode": mode, **window_extras(window)},
        check=check_timeline,
        revisable=window.end >= today,
    )


def plan(settings: Settings, window: Window, today: dt.date) -> SourcePlan:
    """Quarter windows from 2017 on, for every topic, volume then tone; days before GDELT's history are
    noted, not fetched."""
    covered = window.clip(start=FIRST_DAY)
    uncovered = []
    if covered != window:
        uncovered.append(f"days before {FIRST_DAY} are outside GDELT DOC's history")
    pieces = split_by_calendar(covered, 3) if covered else []
    requests = [
        plan_topic(settings, topic, piece, today, mode)
        for piece in pieces
        for topic in settings.pipeline_news_topics
        for mode in MODES
    ]
    return SourcePlan(requests, uncovered)


def check_timeline(response: HttpResponse) -> None:
    """A JSON object (``{}`` means no match); GDELT's errors are plain text, often with HTTP 200. The
    same check serves both modes: volume and tone answer the same shape.

    GDELT's content type is not a reliable signal (its errors come as text/html with status 200), so
    the body decides: it must start with ``{`` and parse.
    """
    text = response.body.lstrip()
    if not text.startswith(b"{"):
        excerpt = describe_body(response.body)
        throttled = THROTTLE_TEXT in excerpt.lower()
        raise InvalidResponse(
            f"GDELT {'throttled' if throttled else 'error'}: {excerpt}",
            retryable=throttled,
            throttled=throttled,
        )
    try:
        payload = json.loads(text)
    except ValueError as error:
        raise InvalidResponse(f"GDELT body is not valid JSON ({error})", retryable=True) from None
    if not isinstance(payload, dict):
        raise InvalidResponse("GDELT body is not a JSON object", retryable=False)
    timeline = payload.get("timeline", [])
    if not isinstance(timeline, list):
        raise InvalidResponse("GDELT timeline is not a list", retryable=False)
    if timeline and not (isinstance(timeline[0], dict) and isinstance(timeline[0].get("data", []), list)):
        raise InvalidResponse("GDELT timeline holds no series with a list of data points", retryable=False)
