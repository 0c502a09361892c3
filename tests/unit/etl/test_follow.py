"""The ETL queue drain: which keys a message names, and how a burst is gathered (no real waiting)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from etl.follow import Burst, PoisonMessage, delete_messages, event_keys, receive_burst

KEY = "raw/yahoo/2024-01-05/%5EGSPC_2024-01-05.json"


def eventbridge(key: str) -> str:
    return json.dumps(
        {
            "version": "0",
            "detail-type": "Object Created",
            "source": "aws.s3",
            "detail": {"bucket": {"name": "b"}, "object": {"key": key, "size": 10, "etag": "x"}},
        }
    )


def test_eventbridge_keys_are_taken_as_they_are_and_notification_keys_are_url_decoded() -> None:
    # EventBridge sends the key itself; a key may hold "%" (URL-encoded symbols in object names).
    assert event_keys(eventbridge(KEY)) == [KEY]
    notification = {
        "Records": [
            {
                "eventName": "ObjectCreated:Put",
                "s3": {"object": {"key": "raw/yahoo/2024-01-05/%255EGSPC+x.json"}},
            },
            {"eventName": "ObjectRemoved:Delete", "s3": {"object": {"key": "raw/gone.json"}}},
        ]
    }
    assert event_keys(json.dumps(notification)) == ["raw/yahoo/2024-01-05/%5EGSPC x.json"]
    # S3's test event names nothing; other JSON, and text, are poison, each with a one-line reason.
    assert event_keys(json.dumps({"Service": "Amazon S3", "Event": "s3:TestEvent"})) == []
    for poison in (
        "[1, 2]",
        "not json",
        '{"source": "aws.s3", "detail": {"object": "raw/a/2024-01-05/1"}}',
        '{"Records": ["raw/a/2024-01-05/1"]}',
        '{"Records": [{"eventName": "ObjectCreated:Put", "s3": {"object": {"key": 7}}}]}',
    ):
        with pytest.raises(PoisonMessage) as refused:
            event_keys(poison)
        assert "\n" not in str(refused.value)


class FakeQueue:
    """Answers receive_message from a script of (seconds to advance, messages) steps."""

    def __init__(self, script: list[tuple[float, list[str]]]) -> None:
        self.script = script
        self.now = 0.0
        self.waits: list[int] = []
        self.deleted: list[list[str]] = []

    def monotonic(self) -> float:
        return self.now

    def receive_message(self, **kwargs: Any) -> dict[str, Any]:
        self.waits.append(kwargs["WaitTimeSeconds"])
        advance, bodies = self.script.pop(0) if self.script else (kwargs["WaitTimeSeconds"], [])
        self.now += advance
        return {"Messages": [{"ReceiptHandle": f"r-{body}", "Body": body} for body in bodies]}

    def delete_message_batch(self, **kwargs: Any) -> dict[str, Any]:
        self.deleted.append([entry["ReceiptHandle"] for entry in kwargs["Entries"]])
        return {"Failed": []}


def test_a_burst_is_gathered_until_the_queue_is_quiet() -> None:
    # Given three messages arriving a few seconds apart, then silence.
    queue = FakeQueue(
        [
            (5, [eventbridge("raw/a/2024-01-05/1")]),
            (3, [eventbridge("raw/a/2024-01-05/2")]),
            (4, [eventbridge("raw/a/2024-01-05/3"), "junk"]),
        ]
    )
    burst = receive_burst(queue, "q", quiet_seconds=10, burst_seconds=60, monotonic=queue.monotonic)
    # Then one burst holds all three keys and their receipts; the junk one is set aside, to be deleted alone.
    assert burst.keys == ["raw/a/2024-01-05/1", "raw/a/2024-01-05/2", "raw/a/2024-01-05/3"]
    assert len(burst.receipts) == 3 and burst.poison == ["r-junk"]
    # It stopped once 10 quiet seconds had passed after the last message.
    assert queue.now - 12 >= 10


def test_a_steady_stream_is_cut_after_the_burst_limit_and_an_idle_queue_gives_nothing() -> None:
    steady = FakeQueue([(2, [eventbridge(f"raw/a/2024-01-05/{n}")]) for n in range(100)])
    burst = receive_burst(steady, "q", quiet_seconds=10, burst_seconds=30, monotonic=steady.monotonic)
    assert 14 <= len(burst.keys) <= 17
    idle = FakeQueue([])
    assert receive_burst(idle, "q", wait_seconds=20, monotonic=idle.monotonic) == Burst()
    assert idle.waits == [20]


def test_messages_are_deleted_ten_per_request() -> None:
    queue = FakeQueue([])
    delete_messages(queue, "q", [f"r{n}" for n in range(23)])
    assert [len(batch) for batch in queue.deleted] == [10, 10, 3]
