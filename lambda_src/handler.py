"""The ingestion Lambdas: `dispatch` plans a run into shards and queues them; `handler` runs them.

`dispatch` (the daily schedule, and backfills started by hand) takes the run event below, plans the
run into shards (`lambda_src.ingestion.shards`), stores the dispatch report and sends one SQS message
per shard to SHARD_QUEUE_URL. `handler` consumes that queue: each record is one shard, fetched,
reported and, when it is the run's last, followed by the run's manifest; a shard with any failure is
returned in ``batchItemFailures``, so SQS retries that shard alone and, after its last receive, moves
it to the dead-letter queue. Invoked directly with a run event instead, `handler` runs the whole run
in-process as `pipeline ingest` does.

Run event keys (all optional): ``sources`` (list of source names), ``date`` or ``start``/``end``
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
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError

from lambda_src.ingestion import run_ingest
from lambda_src.ingestion.metrics import publish_dispatch
from lambda_src.ingestion.runner import dispatch_run, run_shard, shard_requests
from lambda_src.ingestion.shards import InvalidShard, Shard, complete_run, send_shards, store_report
from pipeline import catalog
from pipeline.market_time import WindowOptionsError, requested_window
from pipeline.rawzone import open_raw_store
from pipeline.settings import get_settings

logger = logging.getLogger(__name__)
logger.setLevel(logging.INFO)

#: Seconds kept back from the function's timeout to write the manifest and return.
FINISH_SECONDS = 20.0


class InvalidEvent(ValueError):
    """The event cannot be understood; the message is one line naming the key."""


class IngestionFailed(RuntimeError):
    """One or more requests failed after retries; the message is the run's summary."""


@dataclass(frozen=True)
class IngestEvent:
    """A run event resolved: the sources, the inclusive window and whether to fetch again."""

    sources: tuple[str, ...]
    start: dt.date
    end: dt.date
    force: bool


def _iso_date(value: Any) -> dt.date | None:
    if value is None:
        return None
    try:
        if not isinstance(value, str) or len(value) != 10:
            raise ValueError
        return dt.date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"must be a YYYY-MM-DD date, got {value!r}") from None


def _source_names(value: Any) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, str) or not isinstance(value, list) or not value:
        raise ValueError(f"must be a non-empty list of names, got {value!r}")
    unknown = [name for name in value if name not in catalog.INGEST_SOURCES]
    if unknown:
        raise ValueError(
            f"names unknown source(s) {unknown!r}; choose from {', '.join(catalog.INGEST_SOURCES)}"
        )
    return tuple(dict.fromkeys(value))


def _flag(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"must be true or false, got {value!r}")
    return value


IsoDate = Annotated[dt.date | None, BeforeValidator(_iso_date)]


class RunEvent(BaseModel):
    """A run event as sent (every key optional): ``sources``, ``date`` or ``start``/``end``, ``force``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    sources: Annotated[tuple[str, ...] | None, BeforeValidator(_source_names)] = None
    date: IsoDate = None
    start: IsoDate = None
    end: IsoDate = None
    force: Annotated[bool, BeforeValidator(_flag)] = False


EVENT_KEYS = frozenset(RunEvent.model_fields)


def parse_event(event: Mapping[str, Any] | None) -> IngestEvent:
    """Validate the event; raise `InvalidEvent` for unknown keys, bad dates or sources, or a bad `force`."""
    event = event or {}
    if not isinstance(event, Mapping):
        raise InvalidEvent(f"the event must be a JSON object, got {type(event).__name__}")
    unknown = sorted(set(event) - EVENT_KEYS)
    if unknown:
        raise InvalidEvent(f"unknown event key(s) {unknown}; allowed: {', '.join(sorted(EVENT_KEYS))}")
    try:
        run = RunEvent.model_validate(dict(event))
    except ValidationError as error:
        first = error.errors(include_url=False)[0]
        reason = first.get("ctx", {}).get("error") or first["msg"]
        raise InvalidEvent(" ".join(f"event key {first['loc'][0]!r} {reason}".split())) from None
    try:
        first_day, last_day = requested_window(
            run.date, run.start, run.end, names=("'date'", "'start'", "'end'")
        )
    except WindowOptionsError as error:
        raise InvalidEvent(str(error)) from None
    # The daily schedule's empty event: every source, the lake's own too when there is a lake.
    default = catalog.default_sources(lake=bool(get_settings().lake_warehouse))
    return IngestEvent(run.sources or default, first_day, last_day, run.force)


def run_deadline(context: object) -> float | None:
    """The monotonic time by which the run's requests must end, from a Lambda context (None without one)."""
    remaining_millis = getattr(context, "get_remaining_time_in_millis", None)
    if remaining_millis is None:
        return None
    return time.monotonic() + remaining_millis() / 1000 - FINISH_SECONDS


def dispatch(event: Mapping[str, Any] | None, context: object) -> dict[str, Any]:
    """The dispatcher's entry point: plan the run, store its dispatch report, queue one message per shard."""
    request = parse_event(event)
    settings = get_settings()
    if settings.shard_queue_url is None:
        raise InvalidEvent("SHARD_QUEUE_URL is not set: the dispatcher has no queue to send shards to")
    plan = dispatch_run(
        settings, sources=request.sources, start=request.start, end=request.end, force=request.force
    )
    store = open_raw_store(settings)
    store_report(store, plan.dispatch_report(dt.datetime.now(dt.UTC)), plan.today)
    import boto3

    sent = send_shards(boto3.client("sqs"), str(settings.shard_queue_url), plan.shards)
    # A run with nothing to fetch (every source failed planning) is complete at once.
    manifest = complete_run(store, plan.run_id, plan.today, len(plan.shards))
    publish_dispatch(settings, plan, sent)
    logger.info("run %s: %d shard(s) queued for %d request(s)", plan.run_id, sent, plan.request_count)
    return {
        "run_id": plan.run_id,
        "window": {"start": request.start.isoformat(), "end": request.end.isoformat()},
        "shards": sent,
        "requests": plan.request_count,
        "planning_failures": len(plan.failed),
        "manifest": manifest,
    }


def handler(event: Mapping[str, Any] | None, context: object) -> dict[str, Any]:
    """The worker's entry point: shards from SQS (``Records``), or a whole run from a direct invocation."""
    if isinstance(event, Mapping) and "Records" in event:
        return run_shard_records(event["Records"], context)
    return run_whole(event, context)


def run_shard_records(records: Any, context: object) -> dict[str, Any]:
    """Run each SQS record's shard; the partial batch response names the shards that failed."""
    settings = get_settings()
    store = open_raw_store(settings)
    failures: list[dict[str, str]] = []
    for record in records if isinstance(records, list) else []:
        if not isinstance(record, Mapping):
            logger.error("not an SQS record: %.200r", record)
            continue
        message_id = str(record.get("messageId", ""))
        try:
            shard = Shard.from_message(str(record.get("body", "")))
        except InvalidShard as error:
            logger.error("message %s: %s", message_id, error)
            failures.append({"itemIdentifier": message_id})
            continue
        requests, missing = shard_requests(settings, shard)
        report = run_shard(settings, store, shard, requests, deadline=run_deadline(context), failed=missing)
        store_report(store, report, shard.today)
        manifest = complete_run(store, shard.run_id, shard.today, shard.count)
        logger.info(
            "%s of run %s: %s, %d written, %d skipped, %d failed%s",
            shard.label,
            shard.run_id,
            report.status,
            len(report.written),
            len(report.skipped),
            len(report.failed),
            f"; manifest {manifest}" if manifest else "",
        )
        for item in report.failed:
            logger.warning("%s %s failed: %s", item.source, item.entity, item.reason)
        if report.failed:
            failures.append({"itemIdentifier": message_id})
    return {"batchItemFailures": failures}


def run_whole(event: Mapping[str, Any] | None, context: object) -> dict[str, Any]:
    """A whole run in this invocation: returns the run's counts and manifest key, or raises on any failure."""
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
