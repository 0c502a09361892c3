"""A whole day through the AWS path: dispatcher -> shard queue -> worker -> S3 -> EventBridge -> ETL queue
-> `pipeline etl --follow`'s drain -> PostgreSQL, on moto and the local API stand-in.

The stand-in throttles one symbol (BUSY: a 429 with Retry-After once) and fails another for good (ZZZZ:
Yahoo's 404), so the shard holding ZZZZ fails on every receive and ends in the dead-letter queue while
every other shard is written once. Lambda's SQS event source is played by `deliver_shards`: one message
per invocation, a failed message made visible again at once (the queue's visibility timeout, shortened).
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import psycopg
import pytest
from moto import mock_aws

from etl.follow import drain_once
from lambda_src import handler as lambda_handler
from lambda_src.ingestion import runner, shards
from pipeline.rawzone import S3RawStore, make_metadata
from pipeline.settings import get_settings
from tests.conftest import reset_settings_caches
from tests.integration.ingest.conftest import write_universe
from tests.support.fake_apis import FakeApis
from tests.support.telemetry import metric_lines, of_event

DAY = dt.date(2024, 1, 5)
BUCKET = "pipeline-test-raw"
RECEIVES = 3
TICKERS = ("AAPL", "BUSY", "MSFT", "ZZZZ", "NVDA")


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """The bucket with its EventBridge notifications, the rule to the ETL queue, the shard queue and
    its dead-letter queue, as the stack makes them."""
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        sqs = boto3.client("sqs", region_name="us-east-1")
        events = boto3.client("events", region_name="us-east-1")
        s3.create_bucket(Bucket=BUCKET)
        s3.put_bucket_notification_configuration(
            Bucket=BUCKET, NotificationConfiguration={"EventBridgeConfiguration": {}}
        )
        etl_queue = sqs.create_queue(QueueName="etl")["QueueUrl"]
        dead_letters = sqs.create_queue(QueueName="shard-dlq")["QueueUrl"]
        dead_letter_arn = sqs.get_queue_attributes(QueueUrl=dead_letters, AttributeNames=["QueueArn"])
        shard_queue = sqs.create_queue(
            QueueName="shards",
            Attributes={
                "RedrivePolicy": json.dumps(
                    {
                        "deadLetterTargetArn": dead_letter_arn["Attributes"]["QueueArn"],
                        "maxReceiveCount": str(RECEIVES),
                    }
                )
            },
        )["QueueUrl"]
        events.put_rule(
            Name="raw-object-created",
            EventPattern=json.dumps(
                {
                    "source": ["aws.s3"],
                    "detail-type": ["Object Created"],
                    "detail": {"bucket": {"name": [BUCKET]}, "object": {"key": [{"prefix": "raw/"}]}},
                }
            ),
        )
        etl_arn = sqs.get_queue_attributes(QueueUrl=etl_queue, AttributeNames=["QueueArn"])
        events.put_targets(
            Rule="raw-object-created", Targets=[{"Id": "etl", "Arn": etl_arn["Attributes"]["QueueArn"]}]
        )
        monkeypatch.setenv("RAW_BUCKET", BUCKET)
        monkeypatch.setenv("SHARD_QUEUE_URL", shard_queue)
        monkeypatch.setenv("ETL_QUEUE_URL", etl_queue)
        yield {"s3": s3, "sqs": sqs, "shards": shard_queue, "dead_letters": dead_letters, "etl": etl_queue}


def deliver_shards(sqs: Any, queue_url: str, consume: Callable[[dict, object], dict]) -> list[str]:
    """Lambda's SQS event source with batch size 1: invoke, delete what succeeded, retry what failed."""
    outcomes = []
    while messages := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=1).get("Messages"):
        message = messages[0]
        record = {"messageId": message["MessageId"], "body": message["Body"], "eventSource": "aws:sqs"}
        failures = consume({"Records": [record]}, None)["batchItemFailures"]
        shard = json.loads(message["Body"])["number"]
        if failures == [{"itemIdentifier": message["MessageId"]}]:
            outcomes.append(f"{shard} failed")
            sqs.change_message_visibility(
                QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
            )
        else:
            assert failures == []
            outcomes.append(f"{shard} done")
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    return outcomes


def test_a_day_through_shards_and_the_event_path_into_postgresql(
    aws: dict[str, Any],
    fake_apis: FakeApis,
    migrated_database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given a universe of five tickers and the index, with pacing that cuts Yahoo into shards of two.
    monkeypatch.setenv("PIPELINE_UNIVERSE", str(write_universe(tmp_path, *TICKERS)))
    for source in runner.PACING_SECONDS:
        monkeypatch.setitem(runner.PACING_SECONDS, source, 0.001)
    monkeypatch.setattr(shards, "SHARD_BUDGET_SECONDS", 0.0025)
    monkeypatch.setenv("PIPELINE_METRICS_NAMESPACE", "MarketWeatherPipeline/test")
    reset_settings_caches()

    # When the dispatcher plans the day and the worker consumes the shard queue.
    dispatched = lambda_handler.dispatch({"date": DAY.isoformat(), "sources": ["yahoo", "open_meteo"]}, None)
    outcomes = deliver_shards(aws["sqs"], aws["shards"], lambda_handler.handler)
    written_at = time.monotonic()

    # Then: open_meteo (shortest) first, then Yahoo in pairs; the shard with ZZZZ failed on every
    # receive and went to the dead-letter queue; every other shard was done at its first receive.
    assert dispatched["shards"] == 4 and dispatched["planning_failures"] == 0
    failing = next(
        shard.number
        for shard in _queued(aws["sqs"], aws["dead_letters"])
        if any("ZZZZ" in key for key in shard.keys)
    )
    assert sorted(outcomes) == sorted(
        [f"{number} done" for number in range(1, 5) if number != failing] + [f"{failing} failed"] * RECEIVES
    )
    bucket = S3RawStore(BUCKET, aws["s3"])
    manifest = json.loads(bucket.get(dispatched["manifest"] or _manifest_key(bucket)).body)
    assert manifest["status"] == "partial"
    # The report of the shard's last attempt replaced those before: ZZZZ failed once in the manifest.
    assert [item["entity"] for item in manifest["failed"]] == ["ZZZZ"]
    assert [(shard["number"], shard["status"]) for shard in manifest["shards"]] == [
        (number, "partial" if number == failing else "success") for number in range(1, 5)
    ]
    # BUSY was throttled once and retried inside its shard: written like the others.
    assert sum(request.path == "/yahoo/chart/BUSY" for request in fake_apis.state.requests) == 2

    # And the ETL, drained from the queue the bucket's events reach, loads exactly the new objects.
    result = drain_once(get_settings(), aws["sqs"], aws["etl"], wait_seconds=1, quiet_seconds=1.0)
    assert result is not None and result.exit_code == 0, result and result.summary()
    with psycopg.connect(migrated_database_url) as conn:
        tickers = [row[0] for row in conn.execute("SELECT ticker FROM stock_daily ORDER BY ticker")]
        index_days = conn.execute("SELECT trade_date FROM index_daily").fetchall()
        weather_states = conn.execute("SELECT count(DISTINCT state) FROM weather_daily").fetchone()
        runs = conn.execute("SELECT run_id, status FROM pipeline_runs WHERE kind = 'ingest'").fetchall()
    latency = time.monotonic() - written_at
    _assert_structured_lines(capsys.readouterr().out, dispatched, failing, result.run_id)
    assert tickers == ["AAPL", "BUSY", "MSFT", "NVDA"]
    assert index_days == [(DAY,)]
    assert weather_states == (50,)
    assert runs == [(dispatched["run_id"], "partial")]
    assert result.metadata_lookups == result.loaded + len(result.quarantined)
    with capsys.disabled():
        print(f"\nshard path: last object written to rows queryable in {latency:.1f} s (target < 120 s)")
    # Nothing is left in the ETL queue: every message was deleted after the load committed.
    assert not aws["sqs"].receive_message(QueueUrl=aws["etl"]).get("Messages")


def _assert_structured_lines(output: str, dispatched: dict[str, Any], failing: int, etl_run_id: str) -> None:
    """What CloudWatch Logs receives: the dispatch, every shard attempt, the ETL run, as EMF lines."""
    documents = metric_lines(output)
    [dispatch] = of_event(documents, "ingest_dispatch")
    assert dispatch["run_id"] == dispatched["run_id"] and dispatch["ShardsQueued"] == 4
    attempts = of_event(documents, "ingest_shard")
    assert len(attempts) == 3 + RECEIVES
    assert {line["run_id"] for line in attempts} == {dispatched["run_id"]}
    failed = [line for line in attempts if line["shard"] == failing]
    assert [line["Failures"] for line in failed] == [1] * RECEIVES
    assert all(line["Source"] == "yahoo" and line["status"] == "partial" for line in failed)
    throttled = [line for line in attempts if line["Throttles"]]
    assert [(line["Source"], line["Throttles"], line["Retries"]) for line in throttled] == [("yahoo", 1, 1)]
    [etl_run] = of_event(documents, "etl_run")
    assert etl_run["run_id"] == etl_run_id and etl_run["mode"] == "keys" and etl_run["EtlFailed"] == 0


def _queued(sqs: Any, queue_url: str) -> list[shards.Shard]:
    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages") or []
    return [shards.Shard.from_message(message["Body"]) for message in messages]


def _manifest_key(bucket: S3RawStore) -> str:
    [key] = list(bucket.list("raw/manifest/"))
    return key


def test_a_bad_shard_message_is_reported_failed_and_nothing_is_written(aws: dict[str, Any]) -> None:
    reply = lambda_handler.handler({"Records": [{"messageId": "m-1", "body": '{"number": 1}'}]}, None)
    assert reply == {"batchItemFailures": [{"itemIdentifier": "m-1"}]}
    assert "Contents" not in aws["s3"].list_objects_v2(Bucket=BUCKET)


def test_dispatch_without_a_queue_is_one_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SHARD_QUEUE_URL", raising=False)
    reset_settings_caches()
    with pytest.raises(lambda_handler.InvalidEvent, match="SHARD_QUEUE_URL is not set"):
        lambda_handler.dispatch({"date": DAY.isoformat()}, None)


def test_a_failed_etl_run_keeps_its_messages_for_the_next_try(aws: dict[str, Any], database_url: str) -> None:
    # Given an object's event in the ETL queue and a database the ETL cannot load into: its macro
    # table refuses every value (the run brings the schema up to date itself, so a missing schema would
    # not do).
    from pipeline.migrations import migrate

    migrate()
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("ALTER TABLE macro_daily ADD CONSTRAINT refuse_all CHECK (value IS NULL)")
    bucket = S3RawStore(BUCKET, aws["s3"])
    body = b"observation_date,DGS10\n2024-01-05,4.0\n"
    extra = {"series_id": "DGS10", "window_start": "2024-01-05", "window_end": "2024-01-05"}
    key = "raw/fred/2024-01-05/DGS10_2024-01-05.csv"
    bucket.put(
        key,
        body,
        make_metadata(body, source_url="test", http_status=200, content_type="text/csv", extra=extra),
    )
    reset_settings_caches()
    # When the drain loads the burst, the run fails and rolls back ...
    result = drain_once(get_settings(), aws["sqs"], aws["etl"], wait_seconds=1, quiet_seconds=1.0)
    assert result is not None and result.exit_code == 1
    # ... and the message is not deleted: it is in flight, back after the visibility timeout.
    attributes = aws["sqs"].get_queue_attributes(QueueUrl=aws["etl"], AttributeNames=["All"])["Attributes"]
    assert attributes["ApproximateNumberOfMessagesNotVisible"] == "1"
