"""ETL cost against ten years of daily objects in S3 (moto, in process): a run with nothing new, by
each way of finding what is new, and the time from a new object written to its rows queryable.

The bucket holds ten years of a small daily raw zone (a few objects per day and source, every one
recorded as loaded in the ledger, as after ten years of daily runs). Printed, for a run with nothing new:
list and HEAD requests and seconds of the full listing (`pipeline etl`, what every run did before), of
the recent date partitions (`pipeline etl --recent-days 7`, the safety-net timer) and of the ETL queue
(`pipeline etl --follow`, one receive). Then one new object goes through the event path (S3 ->
EventBridge -> SQS, moto's own routing) into PostgreSQL, with the drain's production timings.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from unittest import mock

import boto3
import psycopg
from moto import mock_aws

from etl import run_etl
from etl.follow import drain_once
from etl.ledger import LedgerRow, record_objects
from pipeline import catalog
from pipeline.db import connect, database_url, stop_embedded
from pipeline.market_time import market_today
from pipeline.migrations import migrate
from pipeline.outcomes import OBJECT_LOADED
from pipeline.rawzone import S3RawStore, make_metadata, parse_raw_key, raw_key
from pipeline.settings import load_settings

YEARS = 10
BUCKET = "pipeline-history-raw"
# One small object per source and day stands for a day's objects: the listing cost grows with the
# count of keys, which this keeps at ten years of days times sources.
DAILY_SOURCES = (catalog.YAHOO, catalog.OPEN_METEO, catalog.GDELT, catalog.FRED, catalog.MANIFEST)


class RequestCounter:
    """Counts the S3 and SQS requests boto3 sends, by operation."""

    def __init__(self, session: Any) -> None:
        self.counts: dict[str, int] = {}
        session.events.register("before-call.*.*", self._count)

    def _count(self, model: Any, **_: Any) -> None:
        self.counts[model.name] = self.counts.get(model.name, 0) + 1

    def take(self) -> dict[str, int]:
        counts, self.counts = self.counts, {}
        return counts


def _fill_history(store: S3RawStore, client: Any, last_day: dt.date) -> list[LedgerRow]:
    """Ten years of daily objects in the bucket, and their ledger rows (all loaded)."""
    days = [last_day - dt.timedelta(days=offset) for offset in range(365 * YEARS)]
    body = b"{}"
    metadata = make_metadata(
        body, source_url="bench:history", http_status=200, content_type="application/json"
    )
    for day in days:
        for source in DAILY_SOURCES:
            store.put(raw_key(source, day, "history.json"), body, metadata)
    return [
        LedgerRow(
            key=key,
            source=parse_raw_key(key).source,
            sha256=metadata.sha256,
            status=OBJECT_LOADED,
            rows=0,
            error=None,
            data_date=None,
            synthetic=False,
            etag=etag,
        )
        for key, etag in store.list_versions()
    ]


def _timed(run: Callable[[], Any], counter: RequestCounter) -> tuple[Any, float, dict[str, int]]:
    counter.take()
    started = time.perf_counter()
    outcome = run()
    return outcome, time.perf_counter() - started, counter.take()


def _event_path(client: Any, sqs: Any, events: Any) -> str:
    client.put_bucket_notification_configuration(
        Bucket=BUCKET, NotificationConfiguration={"EventBridgeConfiguration": {}}
    )
    queue = sqs.create_queue(QueueName="etl")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    pattern = {
        "source": ["aws.s3"],
        "detail-type": ["Object Created"],
        "detail": {"bucket": {"name": [BUCKET]}},
    }
    events.put_rule(Name="raw", EventPattern=json.dumps(pattern))
    events.put_targets(Rule="raw", Targets=[{"Id": "etl", "Arn": arn}])
    return queue


def main(home: Path) -> None:
    """Run in `home` (an empty folder of its own) and print the figures."""
    home.mkdir(parents=True, exist_ok=True)
    settings = load_settings(pipeline_home=home, raw_bucket=BUCKET, aws_region="us-east-1")
    credentials = {
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    try:
        with mock.patch.dict(os.environ, credentials), mock_aws():
            boto3.setup_default_session(region_name="us-east-1")
            counter = RequestCounter(boto3.DEFAULT_SESSION)
            client, sqs, events = (boto3.client(name) for name in ("s3", "sqs", "events"))
            client.create_bucket(Bucket=BUCKET)
            store = S3RawStore(BUCKET, client)
            today = market_today()
            started = time.perf_counter()
            ledger = _fill_history(store, client, today - dt.timedelta(days=1))
            migrate(settings)
            with connect(database_url(settings)) as conn, conn.transaction(), conn.cursor() as cursor:
                record_objects(cursor, ledger)
            print(
                f"== ETL against {YEARS} years of daily objects in S3 (moto): {len(ledger):,} objects, "
                f"all in the ledger (set up in {time.perf_counter() - started:.0f} s)"
            )
            queue = _event_path(client, sqs, events)
            runs = {
                "full listing (before)": lambda: run_etl(settings),
                "recent 7 days (timer)": lambda: run_etl(settings, recent_days=7),
                "ETL queue (follow)": lambda: drain_once(settings, sqs, queue, wait_seconds=0),
            }
            for label, run in runs.items():
                outcome, seconds, counts = _timed(run, counter)
                loaded = getattr(outcome, "loaded", 0)
                print(
                    f"nothing new, {label + ':':23} {counts.get('ListObjectsV2', 0):>4} list, "
                    f"{counts.get('HeadObject', 0):>3} HEAD, {counts.get('ReceiveMessage', 0)} receive "
                    f"request(s), {loaded} loaded, {seconds:.2f} s"
                )
            _new_object_latency(settings, store, sqs, queue, counter)
            boto3.setup_default_session()
    finally:
        stop_embedded(settings)


def _new_object_latency(
    settings: Any, store: S3RawStore, sqs: Any, queue: str, counter: RequestCounter
) -> None:
    """One FRED observation written, then drained with the production timings until it is queryable."""
    day = market_today() - dt.timedelta(days=1)
    body = f"observation_date,DGS10\n{day.isoformat()},4.25\n".encode()
    extra = {"series_id": "DGS10", "window_start": day.isoformat(), "window_end": day.isoformat()}
    key = raw_key(catalog.FRED, day, "DGS10_latency.csv")
    written = time.perf_counter()
    store.put(
        key,
        body,
        make_metadata(
            body, source_url="bench:latency", http_status=200, content_type="text/csv", extra=extra
        ),
    )
    result, _, counts = _timed(lambda: drain_once(settings, sqs, queue), counter)
    with psycopg.connect(database_url(settings)) as conn:
        value = conn.execute(
            "SELECT value FROM macro_daily WHERE series_id = 'DGS10' AND obs_date = %s", (day,)
        ).fetchone()
    latency = time.perf_counter() - written
    if value != (4.25,) or result is None:
        raise SystemExit(f"the new object did not reach macro_daily: {result and result.summary()}")
    print(
        f"new object written -> rows queryable through S3 -> EventBridge -> SQS -> etl --follow: "
        f"{latency:.1f} s (target < 120 s; {counts.get('ListObjectsV2', 0)} list requests)"
    )
