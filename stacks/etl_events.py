"""The event path from the raw bucket to the ETL: S3 -> EventBridge -> an SQS queue the instance drains.

The raw bucket sends its events to EventBridge (its own notification configuration, set in
stacks/storage.py: no custom resource, so no IAM role). A rule here matches every object created under
``raw/`` and sends the event to the ETL queue; EventBridge is allowed to by the queue's resource policy,
again without a role. The instance's ``pipeline etl --follow`` service drains the queue, coalesces a
burst of events (a day's thousand objects) into one load of just those keys, and deletes the messages
once loaded. Whatever wrote the object (the daily run, a shard's retry, a backfill, an operator's
copy), its rows follow within minutes. Messages that keep failing move to a dead-letter queue; the
timer's full ETL run stays as the safety net.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from stacks.nag import acknowledge
from stacks.storage import RAW_PREFIX

# Longer than a coalesced load of a large backfill takes: a message in flight is not delivered twice.
ETL_VISIBILITY = Duration.minutes(30)
ETL_RECEIVES = 5


class EtlEventsConstruct(Construct):
    """The rule (`rule`), the ETL queue (`queue`) and its dead-letter queue (`dead_letter_queue`)."""

    def __init__(self, scope: Construct, construct_id: str, *, raw_bucket: s3.IBucket) -> None:
        super().__init__(scope, construct_id)
        self.dead_letter_queue = sqs.Queue(
            self,
            "DeadLetterQueue",
            retention_period=Duration.days(14),
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
        )
        acknowledge(self.dead_letter_queue, "AwsSolutions-SQS3", "This queue is itself a dead-letter queue.")
        self.queue = sqs.Queue(
            self,
            "Queue",
            visibility_timeout=ETL_VISIBILITY,
            retention_period=Duration.days(4),
            dead_letter_queue=sqs.DeadLetterQueue(
                max_receive_count=ETL_RECEIVES, queue=self.dead_letter_queue
            ),
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
        )
        self.rule = events.Rule(
            self,
            "RawObjectCreated",
            description="New raw-zone objects, for the ETL on the app instance",
            event_pattern=events.EventPattern(
                source=["aws.s3"],
                detail_type=["Object Created"],
                detail={
                    "bucket": {"name": [raw_bucket.bucket_name]},
                    "object": {"key": [{"prefix": RAW_PREFIX}]},
                },
            ),
            targets=[targets.SqsQueue(self.queue, retry_attempts=8, max_event_age=Duration.hours(24))],
        )
