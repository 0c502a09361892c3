"""The ingestion Lambdas (dispatcher and shard worker), the shard queue, the daily schedule, the
dead-letter queues.

EventBridge Scheduler invokes the dispatcher daily with an empty event (all sources, yesterday in New
York; docs/ingestion.md describes the event); a backfill is the same invocation with a range. The
dispatcher plans the run into shards of a few minutes each and sends one message per shard to the
shard queue. The worker consumes it one message per invocation, at most `ingest_concurrency` at once
(the event source mapping's cap: it counts against a lab account's 10 concurrent executions, and each
shard's pacing is multiplied by it so the APIs' rates hold), and reports failed shards back (partial
batch responses): SQS makes such a shard visible again after the visibility timeout, and after
`SHARD_RECEIVES` receives moves it to the shard dead-letter queue. Failed dispatcher invocations are
retried twice by Lambda, then land in the other dead-letter queue; alarms watch both.

Both functions run outside the VPC, so they reach the public APIs without a NAT gateway. They may read
and write only under ``raw/``: an IAM grant limited to that prefix where the stack owns the roles, plus a
bucket-policy deny on every other key, which holds even for a lab account's shared role.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from aws_cdk import Duration, RemovalPolicy, Stack, TimeZone
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as lambda_event_sources
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_scheduler_targets as scheduler_targets
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from stacks.config import PipelineConfig
from stacks.lambda_bundling import RUNTIME, ingestion_code
from stacks.nag import acknowledge, logical_id
from stacks.storage import RAW_PREFIX

HANDLER = "lambda_src.handler.handler"
DISPATCH_HANDLER = "lambda_src.handler.dispatch"
# A shard's requests are paced to about 3 minutes (SHARD_BUDGET_SECONDS); the rest is room for
# retries with backoff. A direct whole-run invocation (docs/ingestion.md) may use all 15 minutes.
TIMEOUT = Duration.minutes(15)
DISPATCH_TIMEOUT = Duration.minutes(2)
MEMORY_MB = 1024
DISPATCH_MEMORY_MB = 512
RETRY_ATTEMPTS = 2
# AWS advises a visibility timeout of six times the function's timeout for an SQS event source; it is
# also the wait before a failed shard is tried again (a throttled hour has passed by then).
SHARD_VISIBILITY = Duration.minutes(90)
SHARD_RECEIVES = 3
LAMBDA_HOME = "/tmp/pipeline"  # the only writable folder in Lambda


class IngestionConstruct(Construct):
    """The ingestion function (`function`), its schedule (`schedule`) and `dead_letter_queue`."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: PipelineConfig,
        raw_bucket: s3.Bucket,
        pipeline_environment: Mapping[str, str],
        existing_role: iam.IRole | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.dead_letter_queue = self._queue("DeadLetterQueue", retention_period=Duration.days(14))
        self.shard_dead_letter_queue = self._queue("ShardDeadLetterQueue", retention_period=Duration.days(14))
        for queue in (self.dead_letter_queue, self.shard_dead_letter_queue):
            acknowledge(queue, "AwsSolutions-SQS3", "This queue is itself a dead-letter queue.")
        self.shard_queue = self._queue(
            "ShardQueue",
            visibility_timeout=SHARD_VISIBILITY,
            retention_period=Duration.days(4),
            dead_letter_queue=sqs.DeadLetterQueue(
                max_receive_count=SHARD_RECEIVES, queue=self.shard_dead_letter_queue
            ),
        )
        environment = {
            **pipeline_environment,
            "RAW_BUCKET": raw_bucket.bucket_name,
            "PIPELINE_HOME": LAMBDA_HOME,
            "INGEST_CONCURRENCY": str(config.ingest_concurrency),
        }
        self.function = self._function(
            "Function",
            "Fetches one shard of a run (market, weather, news, macro data) into the raw zone",
            HANDLER,
            TIMEOUT,
            MEMORY_MB,
            environment,
            existing_role,
        )
        self.function.add_event_source(
            lambda_event_sources.SqsEventSource(
                self.shard_queue,
                batch_size=1,
                report_batch_item_failures=True,
                max_concurrency=config.ingest_concurrency,
            )
        )
        self.dispatcher = self._function(
            "Dispatcher",
            "Plans a day's or a backfill's ingestion into shards and queues them",
            DISPATCH_HANDLER,
            DISPATCH_TIMEOUT,
            DISPATCH_MEMORY_MB,
            {**environment, "SHARD_QUEUE_URL": self.shard_queue.queue_url},
            existing_role,
        )
        self.shard_queue.grant_send_messages(self.dispatcher)
        self._limit_to_raw_prefix((self.function, self.dispatcher), raw_bucket)
        self.schedule = scheduler.Schedule(
            self,
            "DailySchedule",
            description=f"Daily ingestion at {config.schedule_time} {config.schedule_time_zone}",
            schedule=scheduler.ScheduleExpression.cron(
                minute=str(config.schedule_clock.minute),
                hour=str(config.schedule_clock.hour),
                time_zone=TimeZone.of(config.schedule_time_zone),
            ),
            target=scheduler_targets.LambdaInvoke(
                self.dispatcher,
                input=scheduler.ScheduleTargetInput.from_object({}),
                role=existing_role,
                dead_letter_queue=self.dead_letter_queue,
                retry_attempts=RETRY_ATTEMPTS,
                max_event_age=Duration.hours(1),
            ),
        )

    def _queue(self, construct_id: str, **options: Any) -> sqs.Queue:
        return sqs.Queue(
            self, construct_id, encryption=sqs.QueueEncryption.SQS_MANAGED, enforce_ssl=True, **options
        )

    def _function(
        self,
        construct_id: str,
        description: str,
        handler: str,
        timeout: Duration,
        memory_mb: int,
        environment: Mapping[str, str],
        existing_role: iam.IRole | None,
    ) -> lambda_.Function:
        log_group = logs.LogGroup(
            self,
            f"{construct_id}LogGroup",
            retention=logs.RetentionDays.ONE_MONTH,
            removal_policy=RemovalPolicy.DESTROY,
        )
        function = lambda_.Function(
            self,
            construct_id,
            description=description,
            runtime=RUNTIME,
            architecture=lambda_.Architecture.ARM_64,
            handler=handler,
            code=ingestion_code(),
            timeout=timeout,
            memory_size=memory_mb,
            environment=dict(environment),
            role=existing_role,
            log_group=log_group,
            retry_attempts=RETRY_ATTEMPTS,
            max_event_age=Duration.hours(2),
            dead_letter_queue=self.dead_letter_queue,
        )
        acknowledge(
            function,
            "AwsSolutions-L1",
            f"{RUNTIME.name} on purpose: the bundle's wheels are built for it and its import is tested on an "
            "aarch64 build of the same CPython (stacks/lambda_bundling.py).",
        )
        return function

    def _limit_to_raw_prefix(self, functions: Sequence[lambda_.Function], raw_bucket: s3.Bucket) -> None:
        raw_objects = f"{RAW_PREFIX}*"
        roles: dict[str, iam.IRole] = {}
        for function in functions:
            role = function.role
            assert role is not None  # a Function always has a role, its own or the one given
            if role.node.path not in roles:  # a lab account's one shared role is granted once
                roles[role.node.path] = role
                raw_bucket.grant_read(role, raw_objects)
                raw_bucket.grant_put(role, raw_objects)
            if role.node.scope is function:
                self._acknowledge_role_findings(function, raw_bucket)
        raw_bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid="IngestionWritesOnlyRawPrefix",
                effect=iam.Effect.DENY,
                principals=[iam.ArnPrincipal(role.role_arn) for role in roles.values()],
                actions=["s3:PutObject", "s3:DeleteObject"],
                not_resources=[raw_bucket.arn_for_objects(raw_objects)],
            )
        )

    def _acknowledge_role_findings(self, function: lambda_.Function, raw_bucket: s3.Bucket) -> None:
        reason = "Read and write are scoped to the raw/ prefix of the raw bucket (grant_read/grant_put)."
        for finding in (
            "Action::s3:GetObject*",
            "Action::s3:GetBucket*",
            "Action::s3:List*",
            "Action::s3:Abort*",
        ):
            acknowledge(function, f"AwsSolutions-IAM5[{finding}]", reason)
        acknowledge(
            function,
            f"AwsSolutions-IAM5[Resource::<{logical_id(raw_bucket)}.Arn>/{RAW_PREFIX}*]",
            reason,
        )
        acknowledge(
            function,
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]",
            "The AWS-managed basic execution policy only lets the function write its own logs.",
        )
        if function is self.dispatcher:
            # The scheduler target's role is created at stack level, so its finding is acknowledged there.
            acknowledge(
                Stack.of(self),
                f"AwsSolutions-IAM5[Resource::<{logical_id(function)}.Arn>:*]",
                "The scheduler may invoke every version and alias of the dispatcher, and nothing else.",
            )
