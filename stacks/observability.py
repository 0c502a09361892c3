"""The pipeline seen from CloudWatch: the instance's log groups, alarms on the ETL, on each source's
freshness and on the instance, and one dashboard of the whole path.

The metrics come from lines the code writes in the embedded metric format (`pipeline.telemetry`:
the ETL's runs and freshness, the ingestion's requests per source), from the CloudWatch agent on the
instance (memory, disk, and the dashboard's health check; `stacks.log_agent`) and from AWS itself
(Lambda, RDS, EC2). Nothing here creates an IAM resource: the log groups and alarms need none, and the
instance's existing role gets its grants through `grant_instance`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_rds as rds
from aws_cdk import aws_sns as sns
from constructs import Construct

from stacks.config import PipelineConfig
from stacks.log_agent import LOGGED_UNITS, log_group_name
from stacks.nag import acknowledge

#: Days a source may be behind before its alarm fires, in its own cadence (trading days for Yahoo).
#: FRED publishes a business day's value the next business day, so after a weekend it is 3 behind.
#: Keyed by the runtime's data-source names (stacks import no runtime code; a test checks they match).
ALLOWED_DAYS_BEHIND: Mapping[str, int] = {
    "yahoo": 1,
    "open_meteo": 1,
    "gdelt": 1,
    "fred": 3,
}
MEMORY_LIMIT_PERCENT = 90
DISK_LIMIT_PERCENT = 85
HOUR = Duration.hours(1)
DAY = Duration.days(1)
FIVE_MINUTES = Duration.minutes(5)
INGESTION_METRICS = ("Requests", "Retries", "Throttles", "Failures")


class ObservabilityConstruct(Construct):
    """Log groups (`log_groups`, by unit), alarms (`alarms`, to `topic`) and the `dashboard`."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: PipelineConfig,
        namespace: str,
        topic: sns.ITopic,
        instance_id: str,
        database: rds.IDatabaseInstance,
        functions: Sequence[lambda_.IFunction],
    ) -> None:
        super().__init__(scope, construct_id)
        self.namespace = namespace
        self.instance_id = instance_id
        self.topic = topic
        self.log_groups = {unit: self._log_group(unit, config.log_retention_days) for unit in LOGGED_UNITS}
        self.alarms: dict[str, cloudwatch.Alarm] = {}
        self._pipeline_alarms()
        self._instance_alarms()
        self.dashboard = self._dashboard(config, database, functions)

    def _log_group(self, unit: str, retention_days: int) -> logs.LogGroup:
        group = logs.LogGroup(
            self,
            f"{unit.title().replace('-', '')}Logs",
            log_group_name=log_group_name(self.namespace, unit),
            removal_policy=RemovalPolicy.DESTROY,
        )
        # The configuration validates the days against CloudWatch's list; the enum has names only.
        cfn_group = group.node.default_child
        assert isinstance(cfn_group, logs.CfnLogGroup)
        cfn_group.retention_in_days = retention_days
        return group

    def metric(
        self, name: str, statistic: str, period: Duration, dimensions: Mapping[str, str] | None = None
    ) -> cloudwatch.Metric:
        """One of the deployment's own metrics (EMF lines, the CloudWatch agent)."""
        return cloudwatch.Metric(
            namespace=self.namespace,
            metric_name=name,
            statistic=statistic,
            period=period,
            dimensions_map=dict(dimensions or {}),
        )

    def grant_instance(self, role: iam.IRole) -> None:
        """What the CloudWatch agent on the instance needs: write its log groups, put its metrics."""
        for group in self.log_groups.values():
            group.grant_write(role)
        cloudwatch.Metric.grant_put_metric_data(role)
        acknowledge(
            role,
            "AwsSolutions-IAM5[Resource::*]",
            "cloudwatch:PutMetricData has no resource-level permissions; it is granted on '*' by design.",
        )

    def _alarm(
        self,
        construct_id: str,
        metric: cloudwatch.IMetric,
        description: str,
        *,
        threshold: float,
        comparison: cloudwatch.ComparisonOperator,
        missing: cloudwatch.TreatMissingData = cloudwatch.TreatMissingData.NOT_BREACHING,
        periods: int = 1,
    ) -> None:
        alarm = cloudwatch.Alarm(
            self,
            construct_id,
            metric=metric,
            threshold=threshold,
            evaluation_periods=periods,
            comparison_operator=comparison,
            treat_missing_data=missing,
            alarm_description=description,
        )
        alarm.add_alarm_action(cloudwatch_actions.SnsAction(self.topic))
        self.alarms[construct_id] = alarm

    def _pipeline_alarms(self) -> None:
        at_least = cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD
        self._alarm(
            "EtlFailedAlarm",
            self.metric("EtlFailed", "Sum", HOUR),
            "An ETL run failed and rolled back (see the pipeline-etl / pipeline-etl-follow log groups).",
            threshold=1,
            comparison=at_least,
        )
        self._alarm(
            "EtlNotRunAlarm",
            self.metric("EtlRuns", "Sum", DAY),
            "No ETL run reported for a day: the instance, its timer or its log shipping is down.",
            threshold=1,
            comparison=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
            missing=cloudwatch.TreatMissingData.BREACHING,
        )
        self._alarm(
            "QuarantineAlarm",
            self.metric("ObjectsQuarantined", "Sum", HOUR),
            "The ETL quarantined raw objects (pipeline status lists them with their errors).",
            threshold=1,
            comparison=at_least,
        )
        for source, allowed in ALLOWED_DAYS_BEHIND.items():
            # Minimum over a day: the freshest the source looked all day was still too old.
            self._alarm(
                f"Freshness{source.title().replace('_', '')}Alarm",
                self.metric("DaysBehind", "Minimum", DAY, {"Source": source}),
                f"{source}: the newest loaded day is more than {allowed} expected day(s) old all day.",
                threshold=allowed,
                comparison=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            )

    def _instance_alarms(self) -> None:
        instance = {"InstanceId": self.instance_id}
        self._alarm(
            "DashboardHealthAlarm",
            self.metric("DashboardHealthy", "Minimum", FIVE_MINUTES),
            "The dashboard's health check has failed (or not reported) for 15 minutes.",
            threshold=1,
            comparison=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
            missing=cloudwatch.TreatMissingData.BREACHING,
            periods=3,
        )
        self._alarm(
            "MemoryAlarm",
            self.metric("mem_used_percent", "Average", FIVE_MINUTES, instance),
            f"The app instance has used over {MEMORY_LIMIT_PERCENT} % of its memory for 15 minutes.",
            threshold=MEMORY_LIMIT_PERCENT,
            comparison=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            periods=3,
        )
        self._alarm(
            "DiskAlarm",
            self.metric("disk_used_percent", "Maximum", FIVE_MINUTES, instance),
            f"The app instance's root volume is over {DISK_LIMIT_PERCENT} % full.",
            threshold=DISK_LIMIT_PERCENT,
            comparison=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        )

    def _per_source(self, name: str, statistic: str, period: Duration) -> list[cloudwatch.IMetric]:
        return [
            self.metric(name, statistic, period, {"Source": source}).with_(label=source)
            for source in ALLOWED_DAYS_BEHIND
        ]

    def _dashboard(
        self, config: PipelineConfig, database: rds.IDatabaseInstance, functions: Sequence[lambda_.IFunction]
    ) -> cloudwatch.Dashboard:
        def graph(
            title: str, metrics: Sequence[cloudwatch.IMetric], width: int = 8
        ) -> cloudwatch.GraphWidget:
            return cloudwatch.GraphWidget(title=title, left=list(metrics), width=width, height=6)

        ec2_cpu = cloudwatch.Metric(
            namespace="AWS/EC2",
            metric_name="CPUUtilization",
            dimensions_map={"InstanceId": self.instance_id},
            statistic="Average",
            period=FIVE_MINUTES,
        )
        instance = {"InstanceId": self.instance_id}
        dashboard = cloudwatch.Dashboard(
            self,
            "Dashboard",
            dashboard_name=f"MarketWeatherPipeline-{config.environment}",
            default_interval=Duration.days(7),
        )
        dashboard.add_widgets(
            *(
                graph(f"Ingestion: {name.lower()} per source", self._per_source(name, "Sum", DAY), 6)
                for name in INGESTION_METRICS
            ),
        )
        dashboard.add_widgets(
            graph(
                "Ingestion Lambdas: errors", [function.metric_errors(period=HOUR) for function in functions]
            ),
            graph(
                "ETL: runs, failures, objects",
                [
                    self.metric(name, "Sum", HOUR)
                    for name in ("EtlRuns", "EtlFailed", "ObjectsLoaded", "ObjectsQuarantined")
                ],
            ),
            graph("ETL: duration (s)", [self.metric("DurationSeconds", "Maximum", HOUR)]),
        )
        dashboard.add_widgets(
            graph(
                "Freshness: age of the newest day (h)",
                self._per_source("FreshnessAgeHours", "Minimum", HOUR),
                12,
            ),
            graph("Freshness: expected days missing", self._per_source("DaysBehind", "Minimum", HOUR), 12),
        )
        dashboard.add_widgets(
            graph(
                "Database: connections and CPU %",
                [
                    database.metric_database_connections(period=FIVE_MINUTES),
                    database.metric_cpu_utilization(period=FIVE_MINUTES),
                ],
                6,
            ),
            graph("Instance: CPU %", [ec2_cpu], 6),
            graph(
                "Instance: memory and disk used %",
                [
                    self.metric("mem_used_percent", "Average", FIVE_MINUTES, instance),
                    self.metric("disk_used_percent", "Maximum", FIVE_MINUTES, instance),
                ],
                6,
            ),
            graph(
                "Dashboard health (1 = answering)",
                [self.metric("DashboardHealthy", "Minimum", FIVE_MINUTES)],
                6,
            ),
        )
        return dashboard
