"""Alarms on the ingestion, sent to SNS: Lambda errors, messages waiting in a dead-letter queue (a run
the dispatcher gave up on, or a shard given up after its receives), and shards waiting too long.

The topic gets an e-mail subscription when ``alarm_email`` is configured (AWS sends a confirmation mail
first). Either alarm means a day's data may be missing: see docs/deploy.md for how to re-run a day.

A topic policy replaces SNS's default one, and ``enforce_ssl`` writes a policy whose only statement is a
Deny: without an Allow, CloudWatch may not publish and no alarm ever reaches the mailbox (AWS Knowledge
Center, "cloudwatch-receive-sns-for-alarm-trigger"). `allow_alarms` adds that Allow for
``cloudwatch.amazonaws.com``, limited to this account and to the stack's own alarms.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aws_cdk import Aws, Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from stacks.config import PipelineConfig
from stacks.nag import acknowledge

ALARM_PERIOD = Duration.minutes(5)
# A shard not picked up within this many seconds means the worker is not consuming (throttled account,
# disabled event source): the day's data would wait. Retries wait 90 minutes, so allow for two.
SHARD_AGE_LIMIT_SECONDS = 4 * 3600


class IngestionAlarms(Construct):
    """The alarm topic (`topic`) and the alarms on `functions`, `dead_letter_queues` and `shard_queue`."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: PipelineConfig,
        functions: Sequence[lambda_.IFunction],
        dead_letter_queues: Mapping[str, sqs.IQueue],
        shard_queue: sqs.IQueue,
    ) -> None:
        super().__init__(scope, construct_id)
        self.topic = sns.Topic(self, "Topic", display_name="Market weather pipeline alarms", enforce_ssl=True)
        acknowledge(
            self.topic,
            "AwsSolutions-SNS2",
            "Alarm notifications carry no data; CloudWatch cannot publish to a topic under the AWS-managed "
            "SNS key, and a customer key costs 1 USD a month per environment.",
        )
        if config.alarm_email:
            self.topic.add_subscription(subscriptions.EmailSubscription(config.alarm_email))
        self.alarms = [
            self._alarm(
                "ErrorsAlarm" if number == 0 else f"ErrorsAlarm{number + 1}",
                function.metric_errors(period=ALARM_PERIOD, statistic=cloudwatch.Stats.SUM),
                "An ingestion Lambda failed (see its log group).",
            )
            for number, function in enumerate(functions)
        ]
        for name, queue in dead_letter_queues.items():
            waiting = queue.metric_approximate_number_of_messages_visible(
                period=ALARM_PERIOD, statistic=cloudwatch.Stats.MAXIMUM
            )
            self.alarms.append(
                self._alarm(f"{name}Alarm", waiting, "Ingestion work was given up after its retries.")
            )
        oldest = shard_queue.metric_approximate_age_of_oldest_message(
            period=ALARM_PERIOD, statistic=cloudwatch.Stats.MAXIMUM
        )
        self.alarms.append(
            self._alarm(
                "ShardAgeAlarm",
                oldest,
                "Ingestion shards have waited hours in the shard queue.",
                threshold=SHARD_AGE_LIMIT_SECONDS,
            )
        )

    def allow_alarms(self, alarms: Sequence[cloudwatch.IAlarm]) -> None:
        """Let CloudWatch publish to the topic for `alarms` (every alarm of the stack), and nothing else."""
        self.topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchAlarmsPublish",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["sns:Publish"],
                resources=[self.topic.topic_arn],
                conditions={
                    "StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID},
                    "ArnEquals": {"aws:SourceArn": [alarm.alarm_arn for alarm in alarms]},
                },
            )
        )

    def _alarm(
        self, construct_id: str, metric: cloudwatch.IMetric, description: str, threshold: float = 1
    ) -> cloudwatch.Alarm:
        alarm = cloudwatch.Alarm(
            self,
            construct_id,
            metric=metric,
            threshold=threshold,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            alarm_description=description,
        )
        alarm.add_alarm_action(cloudwatch_actions.SnsAction(self.topic))
        return alarm
