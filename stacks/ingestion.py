"""The ingestion Lambda, its daily schedule and its dead-letter queue.

One function fetches every source (the schedule's event is empty, so the handler takes its defaults:
all sources, yesterday in New York; docs/internals.md describes the event). It runs outside the VPC, so
it reaches the public APIs without a NAT gateway. It may read and write only under ``raw/``: an IAM grant
limited to that prefix where the stack owns the role, plus a bucket-policy deny on every other key, which
holds even for a lab account's shared role. EventBridge Scheduler invokes it asynchronously; Lambda
retries twice, then the event goes to the encrypted dead-letter queue that an alarm watches.
"""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Duration, RemovalPolicy, Stack, TimeZone
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
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
TIMEOUT = Duration.minutes(15)
MEMORY_MB = 1024
RETRY_ATTEMPTS = 2
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
        self.dead_letter_queue = sqs.Queue(
            self,
            "DeadLetterQueue",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.days(14),
        )
        acknowledge(
            self.dead_letter_queue, "AwsSolutions-SQS3", "This queue is itself the dead-letter queue."
        )
        log_group = logs.LogGroup(
            self, "LogGroup", retention=logs.RetentionDays.ONE_MONTH, removal_policy=RemovalPolicy.DESTROY
        )
        self.function = lambda_.Function(
            self,
            "Function",
            description="Fetches the day's market, weather, news and macro data into the raw zone",
            runtime=RUNTIME,
            architecture=lambda_.Architecture.ARM_64,
            handler=HANDLER,
            code=ingestion_code(),
            timeout=TIMEOUT,
            memory_size=MEMORY_MB,
            environment={
                **pipeline_environment,
                "RAW_BUCKET": raw_bucket.bucket_name,
                "PIPELINE_HOME": LAMBDA_HOME,
            },
            role=existing_role,
            log_group=log_group,
            retry_attempts=RETRY_ATTEMPTS,
            max_event_age=Duration.hours(2),
            dead_letter_queue=self.dead_letter_queue,
        )
        self._limit_to_raw_prefix(raw_bucket)
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
                self.function,
                input=scheduler.ScheduleTargetInput.from_object({}),
                role=existing_role,
                dead_letter_queue=self.dead_letter_queue,
                retry_attempts=RETRY_ATTEMPTS,
                max_event_age=Duration.hours(1),
            ),
        )
        acknowledge(
            self.function,
            "AwsSolutions-L1",
            f"{RUNTIME.name} on purpose: the bundle's wheels are built for it and its import is tested on an "
            "aarch64 build of the same CPython (stacks/lambda_bundling.py).",
        )

    def _limit_to_raw_prefix(self, raw_bucket: s3.Bucket) -> None:
        role = self.function.role
        raw_objects = f"{RAW_PREFIX}*"
        raw_bucket.grant_read(role, raw_objects)
        raw_bucket.grant_put(role, raw_objects)
        raw_bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid="IngestionWritesOnlyRawPrefix",
                effect=iam.Effect.DENY,
                principals=[iam.ArnPrincipal(role.role_arn)],
                actions=["s3:PutObject", "s3:DeleteObject"],
                not_resources=[raw_bucket.arn_for_objects(raw_objects)],
            )
        )
        if role.node.scope is self.function:
            self._acknowledge_role_findings(raw_bucket)

    def _acknowledge_role_findings(self, raw_bucket: s3.Bucket) -> None:
        reason = "Read and write are scoped to the raw/ prefix of the raw bucket (grant_read/grant_put)."
        for finding in (
            "Action::s3:GetObject*",
            "Action::s3:GetBucket*",
            "Action::s3:List*",
            "Action::s3:Abort*",
        ):
            acknowledge(self.function, f"AwsSolutions-IAM5[{finding}]", reason)
        acknowledge(
            self.function,
            f"AwsSolutions-IAM5[Resource::<{logical_id(raw_bucket)}.Arn>/{RAW_PREFIX}*]",
            reason,
        )
        # The scheduler target's role is created at stack level, so its finding is acknowledged there.
        acknowledge(
            Stack.of(self),
            f"AwsSolutions-IAM5[Resource::<{logical_id(self.function)}.Arn>:*]",
            "The scheduler may invoke every version and alias of the ingestion function, and nothing else.",
        )
        acknowledge(
            self.function,
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]",
            "The AWS-managed basic execution policy only lets the function write its own logs.",
        )
