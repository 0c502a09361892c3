"""`pipeline etl --follow`: drain the ETL queue of raw-object events and load just those objects.

The raw bucket's object events reach an SQS queue (through EventBridge in AWS, stacks/etl_events.py).
`drain_once` long-polls the queue; once a message arrives it keeps receiving until the queue has been
quiet for `QUIET_SECONDS` (or `BURST_SECONDS` have passed since the first), so a burst of a run's
thousand objects becomes one ETL run of exactly those keys (`run_etl(keys=...)`, no listing). The
messages are deleted only after that run committed; a failed run leaves them to come back after the
queue's visibility timeout (and, after repeated failures, to move to its dead-letter queue).

Both message shapes are understood: EventBridge's S3 event (``detail.object.key``, not URL-encoded) and
an S3 event notification (``Records[].s3.object.key``, URL-encoded with ``+`` for spaces). A message
that is neither names no object: it is logged and deleted, since no retry can make it loadable.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import unquote_plus

from etl.run import EXIT_FAILED, EtlResult, run_etl
from pipeline.settings import Settings

log = logging.getLogger(__name__)

WAIT_SECONDS = 20  # SQS's longest long poll: an idle queue costs three requests a minute
QUIET_SECONDS = 10.0
BURST_SECONDS = 60.0
SQS_BATCH = 10


class EtlQueueClient(Protocol):
    """The part of boto3's SQS client that the drain uses."""

    def receive_message(self, **kwargs: Any) -> Mapping[str, Any]: ...

    def delete_message_batch(self, **kwargs: Any) -> Mapping[str, Any]: ...


@dataclass
class Burst:
    """The messages of one burst: the keys they name, and every receipt handle to delete afterwards."""

    keys: list[str] = field(default_factory=list)
    receipts: list[str] = field(default_factory=list)
    unreadable: int = 0


def event_keys(body: str) -> list[str]:
    """The raw-zone keys one queue message names (none for a message of another kind)."""
    try:
        document = json.loads(body)
    except ValueError:
        return []
    if not isinstance(document, dict):
        return []
    detail = document.get("detail")
    if document.get("source") == "aws.s3" and isinstance(detail, dict):
        key = (detail.get("object") or {}).get("key")
        return [key] if isinstance(key, str) and key else []
    keys = []
    for record in document.get("Records") or []:
        key = ((record or {}).get("s3") or {}).get("object", {}).get("key")
        if isinstance(key, str) and key and str(record.get("eventName", "")).startswith("ObjectCreated"):
            keys.append(unquote_plus(key))
    return keys


def receive_burst(
    client: EtlQueueClient,
    queue_url: str,
    *,
    wait_seconds: int = WAIT_SECONDS,
    quiet_seconds: float = QUIET_SECONDS,
    burst_seconds: float = BURST_SECONDS,
    monotonic: Callable[[], float] = time.monotonic,
) -> Burst:
    """Wait up to `wait_seconds` for a first message, then gather the burst that follows it."""
    burst = Burst()
    first_at: float | None = None
    last_at = 0.0
    while True:
        if first_at is None:
            wait = wait_seconds
        else:
            now = monotonic()
            if now - last_at >= quiet_seconds or now - first_at >= burst_seconds:
                return burst
            wait = max(1, min(wait_seconds, round(quiet_seconds - (now - last_at))))
        response = client.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=SQS_BATCH, WaitTimeSeconds=wait
        )
        messages = response.get("Messages") or []
        if not messages:
            if first_at is None:
                return burst
            continue
        last_at = monotonic()
        first_at = last_at if first_at is None else first_at
        for message in messages:
            burst.receipts.append(message["ReceiptHandle"])
            keys = event_keys(message.get("Body", ""))
            if not keys:
                burst.unreadable += 1
                log.warning("ETL queue message names no raw object; deleted: %.200s", message.get("Body"))
            burst.keys += keys


def delete_messages(client: EtlQueueClient, queue_url: str, receipts: Sequence[str]) -> None:
    """Delete the burst's messages, ten per request; a message SQS could not delete simply comes back."""
    for start in range(0, len(receipts), SQS_BATCH):
        entries = [
            {"Id": str(number), "ReceiptHandle": receipt}
            for number, receipt in enumerate(receipts[start : start + SQS_BATCH])
        ]
        response = client.delete_message_batch(QueueUrl=queue_url, Entries=entries)
        for failed in response.get("Failed") or []:
            log.warning("could not delete ETL queue message %s: %s", failed.get("Id"), failed.get("Message"))


def drain_once(settings: Settings, client: EtlQueueClient, queue_url: str, **timing: Any) -> EtlResult | None:
    """One burst: receive it, load its keys, delete its messages once loaded. None when the queue was idle."""
    burst = receive_burst(client, queue_url, **timing)
    if not burst.receipts:
        return None
    keys = list(dict.fromkeys(burst.keys))
    result = run_etl(settings, keys=keys) if keys else None
    if result is not None and result.exit_code == EXIT_FAILED:
        log.warning(
            "ETL of %d queued object(s) failed; their messages come back: %s", len(keys), result.error
        )
        return result
    delete_messages(client, queue_url, burst.receipts)
    return result


def follow(
    settings: Settings,
    client: EtlQueueClient,
    *,
    should_stop: Callable[[], bool] = lambda: False,
    **timing: Any,
) -> Iterator[EtlResult]:
    """Drain the queue until `should_stop`, yielding the result of each ETL run it made."""
    queue_url = str(settings.etl_queue_url)
    while not should_stop():
        result = drain_once(settings, client, queue_url, **timing)
        if result is not None:
            yield result
