"""`pipeline etl --follow`: drain the ETL queue of raw-object events and load just those objects.

The raw bucket's object events reach an SQS queue (through EventBridge in AWS, stacks/etl_events.py).
`drain_once` long-polls the queue; once a message arrives it keeps receiving until the queue has been
quiet for `QUIET_SECONDS` (or `BURST_SECONDS` have passed since the first), so a burst of a run's
thousand objects becomes one ETL run of exactly those keys (`run_etl(keys=...)`, no listing). The
messages are deleted only after that run committed; a failed run leaves them to come back after the
queue's visibility timeout (and, after repeated failures, to move to its dead-letter queue).

Both message shapes are understood, each a pydantic model: EventBridge's S3 event
(``detail.object.key``, not URL-encoded) and an S3 event notification (``Records[].s3.object.key``,
URL-encoded with ``+`` for spaces). A message that is neither (not JSON, another shape, a key that is
not a string) is poison: it is logged with its message id and deleted alone, at once, since no retry
can make it loadable. Dead-lettering it instead would bring it back on every receive until SQS gave
up on it, and the DLQ keeps nothing the log line does not. The other messages of its batch are loaded
and deleted as usual; nothing one message holds ends the follower.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol
from urllib.parse import unquote_plus

from pydantic import BaseModel, Field, TypeAdapter, ValidationError

from etl.run import run_etl
from etl.run_record import EXIT_FAILED, EtlResult
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
    #: Receipts of the messages that are not events at all, deleted before the burst is loaded.
    poison: list[str] = field(default_factory=list)


class _S3Object(BaseModel):
    key: str = Field(min_length=1)


class _EventBridgeDetail(BaseModel):
    object: _S3Object


class EventBridgeEvent(BaseModel):
    """EventBridge's "Object Created" event of the raw bucket."""

    source: Literal["aws.s3"]
    detail: _EventBridgeDetail


class _S3Entity(BaseModel):
    object: _S3Object


class _NotificationRecord(BaseModel):
    event_name: str = Field(alias="eventName")
    s3: _S3Entity


class S3Notification(BaseModel):
    """An S3 event notification: one or more records."""

    records: list[_NotificationRecord] = Field(alias="Records")


class S3TestEvent(BaseModel):
    """What S3 sends once when a notification is configured: names no object, and is no fault."""

    event: Literal["s3:TestEvent"] = Field(alias="Event")


_MESSAGE: TypeAdapter[EventBridgeEvent | S3Notification | S3TestEvent] = TypeAdapter(
    EventBridgeEvent | S3Notification | S3TestEvent
)


class PoisonMessage(ValueError):
    """A queue message that is not an event this follower understands; the reason is one line."""


def event_keys(body: str) -> list[str]:
    """The raw-zone keys one queue message names (none for S3's test event or a non-create record);
    raise `PoisonMessage` for a body that is not JSON or not one of the known shapes."""
    try:
        message = _MESSAGE.validate_json(body)
    except ValidationError as error:
        # The deepest error is from the shape the message came closest to: the one worth naming.
        deepest = max(error.errors(), key=lambda item: len(item["loc"]))
        where = ".".join(str(part) for part in deepest["loc"]) or "body"
        raise PoisonMessage(f"{where}: {deepest['msg']}") from None
    if isinstance(message, EventBridgeEvent):
        return [message.detail.object.key]
    if isinstance(message, S3Notification):
        return [
            unquote_plus(record.s3.object.key)
            for record in message.records
            if record.event_name.startswith("ObjectCreated")
        ]
    return []


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
            _take(burst, message)


def _take(burst: Burst, message: Mapping[str, Any]) -> None:
    """Add one message to the burst; a poison one is set aside to be deleted alone, at once."""
    message_id = message.get("MessageId", "(no id)")
    receipt = message.get("ReceiptHandle")
    if not isinstance(receipt, str):
        log.warning("ETL queue message %s has no receipt handle; it cannot be deleted", message_id)
        return
    body = message.get("Body")
    try:
        keys = event_keys(body if isinstance(body, str) else "")
    except PoisonMessage as error:
        burst.poison.append(receipt)
        log.warning(
            "ETL queue message %s is not an S3 object event (%s); deleted alone: %.200r",
            message_id,
            error,
            body,
        )
        return
    burst.receipts.append(receipt)
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
    if burst.poison:  # whatever the load does, these must not come back
        delete_messages(client, queue_url, burst.poison)
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
