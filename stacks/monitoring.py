"""Alarms on the ingestion: Lambda errors and messages waiting in the dead-letter queue, sent to SNS.

The topic gets an e-mail subscription when ``alarm_email`` is configured (AWS sends a confirmation mail
first). Either alarm means a day's data may be missing: see docs/deploy.md for how to re-run a day.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from stacks.config import PipelineConfig
from stacks.nag import acknowledge

ALARM_PERIOD = Duration.minutes(5)


class IngestionAlarms(Construct):
    """The alarm topic (`topic`) and the two alarms that watch `function` and `dead_letter_queue`."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: PipelineConfig,
        function: lambda_.IFunction,
        dead_letter_queue: sqs.IQueue,
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
        errors = function.metric_errors(period=ALARM_PERIOD, statistic=cloudwatch.Stats.SUM)
        waiting = dead_letter_queue.metric_approximate_number_of_messages_visible(
            period=ALARM_PERIOD, statistic=cloudwatch.Stats.MAXIMUM
        )
        self.alarms = [
            self._alarm("ErrorsAlarm", errors, "The ingestion Lambda failed (see its log group)."),
            self._alarm("DeadLetterAlarm", waiting, "An ingestion run was given up after its retries."),
        ]

    def _alarm(self, construct_id: str, metric: cloudwatch.IMetric, description: str) -> cloudwatch.Alarm:
        alarm = cloudwatch.Alarm(
            self,
            construct_id,
            metric=metric,
            threshold=1,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            alarm_description=description,
        )
        alarm.add_alarm_action(cloudwatch_actions.SnsAction(self.topic))
        return alarm
