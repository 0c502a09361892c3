"""Faults at the queue surface: poison messages among good ones on moto's SQS, drained by the follower.

Each poison message is logged with its message id and deleted alone; the good events of the same
batch are loaded and deleted as usual; nothing reaches the dead-letter queue and the follower goes on.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import boto3
import psycopg
import pytest
from moto import mock_aws

from etl.follow import follow
from etl.run import run_etl
from etl.run_record import EtlResult
from pipeline.settings import get_settings
from tests.integration.etl.conftest import FIRST_DAY, RawZoneWriter, table_checksums, trading_days

POISON = {
    "not json": "not json",
    "a JSON array": "[1, 2]",
    "an object where the key should be": json.dumps({"source": "aws.s3", "detail": {"object": "raw/x"}}),
    "a record that is a string": json.dumps({"Records": ["raw/yahoo/2024-01-05/AAPL.json"]}),
    "a key that is a number": json.dumps(
        {"Records": [{"eventName": "ObjectCreated:Put", "s3": {"object": {"key": 7}}}]}
    ),
}


def eventbridge(key: str) -> str:
    return json.dumps(
        {"source": "aws.s3", "detail-type": "Object Created", "detail": {"object": {"key": key}}}
    )


@pytest.fixture
def queues(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """The ETL queue with its dead-letter queue after two receives (the deployed queue's redrive)."""
    with mock_aws():
        sqs = boto3.client("sqs", region_name="us-east-1")
        dead = sqs.create_queue(QueueName="etl-dlq")["QueueUrl"]
        dead_arn = sqs.get_queue_attributes(QueueUrl=dead, AttributeNames=["QueueArn"])["Attributes"]
        queue = sqs.create_queue(
            QueueName="etl",
            Attributes={
                "VisibilityTimeout": "30",
                "RedrivePolicy": json.dumps(
                    {"deadLetterTargetArn": dead_arn["QueueArn"], "maxReceiveCount": "2"}
                ),
            },
        )["QueueUrl"]
        monkeypatch.setenv("ETL_QUEUE_URL", queue)
        yield {"sqs": sqs, "queue": queue, "dead": dead}


def _count(sqs: Any, url: str) -> int:
    attributes = sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )


def test_poison_messages_are_deleted_alone_and_the_good_events_of_their_batch_load(
    queues: dict[str, Any],
    raw_zone: RawZoneWriter,
    universe,
    migrated_database_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    days = trading_days(FIRST_DAY, 3)
    keys = raw_zone.everything(days)
    sqs, queue = queues["sqs"], queues["queue"]
    # Poison interleaved with the good events, so that every receive of ten mixes both.
    bodies = [eventbridge(key) for key in keys]
    for position, poison in enumerate(POISON.values()):
        bodies.insert(2 * position + 1, poison)
    poison_ids = set()
    for body in bodies:
        sent = sqs.send_message(QueueUrl=queue, MessageBody=body)
        if body in POISON.values():
            poison_ids.add(sent["MessageId"])

    caplog.set_level(logging.WARNING, logger="etl.follow")
    results = list(_follow(bursts=3))  # the follower must outlive every poison message

    # Nothing is lost: every good key was loaded, nothing waits in the queue or its dead-letter queue.
    assert results and all(result.exit_code == 0 for result in results), [r.summary() for r in results]
    with psycopg.connect(migrated_database_url) as conn:
        loaded = {row[0] for row in conn.execute("SELECT key FROM raw_objects WHERE status = 'loaded'")}
    assert set(keys) <= loaded
    assert _count(sqs, queue) == 0 and _count(sqs, queues["dead"]) == 0
    # The user is told: one warning line per poison message, naming its id.
    warned = [record.getMessage() for record in caplog.records if "deleted alone" in record.getMessage()]
    assert len(warned) == len(POISON)
    assert {
        message_id for message_id in poison_ids if any(message_id in line for line in warned)
    } == poison_ids
    assert all("\n" not in line for line in warned)

    # A re-run from scratch over the same raw zone (`--full`) gives the same tables, row for row.
    drained_checksums = table_checksums(migrated_database_url)
    assert run_etl(get_settings(), full=True).exit_code == 0
    assert table_checksums(migrated_database_url) == drained_checksums


def test_a_burst_of_only_poison_loads_nothing_and_the_follower_goes_on(
    queues: dict[str, Any], raw_zone: RawZoneWriter, universe, migrated_database_url: str
) -> None:
    sqs, queue = queues["sqs"], queues["queue"]
    for body in POISON.values():
        sqs.send_message(QueueUrl=queue, MessageBody=body)

    assert list(_follow(bursts=1)) == []
    assert _count(sqs, queue) == 0 and _count(sqs, queues["dead"]) == 0

    key = raw_zone.fred("VIXCLS", trading_days(FIRST_DAY, 2))
    sqs.send_message(QueueUrl=queue, MessageBody=eventbridge(key))
    [result] = _follow(bursts=1)
    assert result.exit_code == 0 and result.loaded == 1
    assert _count(sqs, queue) == 0


def _follow(bursts: int) -> Iterator[EtlResult]:
    """The follower, stopped after `bursts` receives."""
    left = iter(range(bursts))
    return follow(
        get_settings(),
        boto3.client("sqs", region_name="us-east-1"),
        should_stop=lambda: next(left, None) is None,
        wait_seconds=1,
        quiet_seconds=1.0,
    )
