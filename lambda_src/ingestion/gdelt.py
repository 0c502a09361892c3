"""GDELT DOC 2.0: raw article counts (``timelinevolraw``) per topic, in calendar-quarter windows.

A quarter is long enough for GDELT to answer at daily resolution (spans under about a week come back
in hourly or 15-minute buckets, which the ETL sums per day) and short enough to stay at it. The API
covers 1 January 2017 onwards and allows one request every 5 seconds.
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


def topic_slug(topic: str) -> str:
    """A file-name form of a query; a short hash keeps distinct queries apart when the slug changed it."""
    slug = re.sub(r"[^a-z0-9]+", "-", topic.lower()).strip("-")[:60]
    if slug == topic:
        return slug
    return f"{slug or 'topic'}-{hashlib.sha256(topic.encode()).hexdigest()[:8]}"


def plan_topic(settings: Settings, topic: str, window: Window, today: dt.date) -> PlannedRequest:
    """The request for one topic over one window (whole days, UTC)."""
    params = (
        ("query", topic),
        ("mode", "timelinevolraw"),
        ("format", "json"),
        ("startdatetime", window.start.strftime("%Y%m%d") + "000000"),
        ("enddatetime", window.end.strftime("%Y%m%d") + "235959"),
    )
    return PlannedRequest(
        source=SOURCE,
        entity=topic,
        window=window,
        url=settings.url("gdelt_doc_url"),
        params=params,
        key=raw_key(SOURCE, window.start, f"{topic_slug(topic)}_{window.end.isoformat()}.json"),
        extras={"topic": topic, **window_extras(window)},
        check=check_timeline,
        revisable=window.end >= today,
    )


def plan(settings: Settings, window: Window, today: dt.date) -> SourcePlan:
    """Quarter windows from 2017 on, for every topic; days before GDELT's history are noted, not fetched."""
    covered = window.clip(start=FIRST_DAY)
    uncovered = []
    if covered != window:
        uncovered.append(f"days before {FIRST_DAY} are outside GDELT DOC's history")
    pieces = split_by_calendar(covered, 3) if covered else []
    requests = [
        plan_topic(settings, topic, piece, today)
        for piece in pieces
        for topic in settings.pipeline_news_topics
    ]
    return SourcePlan(requests, uncovered)


def check_timeline(response: HttpResponse) -> None:
    """A JSON object (``{}`` means no match); GDELT's errors are plain text, often with HTTP 200.

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
    if "timeline" in payload and not isinstance(payload["timeline"], list):
        raise InvalidResponse("GDELT timeline is not a list", retryable=False)
