"""The ingestion Lambda: parse the event, run `run_ingest`, raise on any failure.

Event keys (all optional): ``sources`` (list of source names), ``date`` or ``start``/``end``
(``YYYY-MM-DD``), ``force`` (bool). Without a date the day is yesterday in New York, as for
`pipeline ingest`. A run with a failure raises `IngestionFailed` after writing everything else and
the manifest, so Lambda's retries, the dead-letter queue and the error alarm all see it.

The run stops starting requests in time to end before the function's timeout (the context's remaining
time, less `FINISH_SECONDS` to write the manifest): what it had no time for is recorded as failed, so
the run raises and Lambda's retry fetches only that.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lambda_src.ingestion import run_ingest
from pipeline import catalog
from pipeline.market_time import WindowOptionsError, requested_window
from pipeline.rawzone import open_raw_store
from pipeline.settings import get_settings

logger = logging.getLogger(__name__)
logger.setLevel(logging.INFO)

EVENT_KEYS = frozenset({"sources", "date", "start", "end", "force"})
#: Seconds kept back from the function's timeout to write the manifest and return.
FINISH_SECONDS = 20.0


class InvalidEvent(ValueError):
    """The event cannot be understood; the message is one line naming the key."""


class IngestionFailed(RuntimeError):
    """One or more requests failed after retries; the message is the run's summary."""


@dataclass(frozen=True)
class IngestEvent:
    sources: tuple[str, ...]
    start: dt.date
    end: dt.date
    force: bool


def _date(event: Mapping[str, Any], key: str) -> dt.date | None:
    value = event.get(key)
    if value is None:
        return None
    try:
        if not isinstance(value, str) or len(value) != 10:
            raise ValueError
        return dt.date.fromisoformat(value)
    except ValueError:
        raise InvalidEvent(f"event key {key!r} must be a YYYY-MM-DD date, got {value!r}") from None


def _sources(event: Mapping[str, Any]) -> tuple[str, ...]:
    value = event.get("sources")
    if value is None:
        return catalog.DATA_SOURCES
    if isinstance(value, str) or not isinstance(value, list) or not value:
        raise InvalidEvent(f"event key 'sources' must be a non-empty list of names, got {value!r}")
    unknown = [name for name in value if name not in catalog.INGEST_SOURCES]
    if unknown:
        raise InvalidEvent(f"unknown source(s) {unknown!r}; choose from {', '.join(catalog.INGEST_SOURCES)}")
    return tuple(dict.fromkeys(value))


def parse_event(event: Mapping[str, Any] | None) -> IngestEvent:
    """Validate the event; raise `InvalidEvent` for unknown keys, bad dates or sources, or a bad `force`."""
    event = event or {}
    if not isinstance(event, Mapping):
        raise InvalidEvent(f"the event must be a JSON object, got {type(event).__name__}")
    unknown = sorted(set(event) - EVENT_KEYS)
    if unknown:
        raise InvalidEvent(f"unknown event key(s) {unknown}; allowed: {', '.join(sorted(EVENT_KEYS))}")
    day, start, end = _date(event, "date"), _date(event, "start"), _date(event, "end")
    try:
        first, last = requested_window(day, start, end, names=("'date'", "'start'", "'end'"))
    except WindowOptionsError as error:
        raise InvalidEvent(str(error)) from None
    force = event.get("force", False)
    if not isinstance(force, bool):
        raise InvalidEvent(f"event key 'force' must be true or false, got {force!r}")
    return IngestEvent(_sources(event), first, last, force)


def run_deadline(context: object) -> float | None:
    """The monotonic time by which the run's requests must end, from a Lambda context (None without one)."""
    remaining_millis = getattr(context, "get_remaining_time_in_millis", None)
    if remaining_millis is None:
        return None
    return time.monotonic() + remaining_millis() / 1000 - FINISH_SECONDS


def handler(event: Mapping[str, Any] | None, context: object) -> dict[str, Any]:
    """The Lambda entry point: returns the run's counts and manifest key, or raises on any failure."""
    request = parse_event(event)
    settings = get_settings()
    result = run_ingest(
        settings,
        open_raw_store(settings),
        sources=request.sources,
        start=request.start,
        end=request.end,
        force=request.force,
        progress=False,
        deadline=run_deadline(context),
    )
    logger.info(result.summary())
    if result.exit_code != 0:
        raise IngestionFailed(result.summary())
    return {
        "run_id": result.run_id,
        "status": result.status,
        "window": {"start": request.start.isoformat(), "end": request.end.isoformat()},
        "written": len(result.written),
        "skipped": len(result.skipped),
        "manifest": result.manifest_key,
    }
