"""The pipeline's one stack: it wires the constructs of each concern together, and nothing more."""

from __future__ import annotations

from typing import Any

from aws_cdk import Aws, CfnOutput, Fn, Stack
from constructs import Construct

from stacks.cfn_hygiene import drop_provider_role_dependencies, drop_role_dependency
from stacks.compute import AppInstanceConstruct, read_login_command, run_etl_command, tunnel_command
from stacks.config import PipelineConfig
from stacks.dashboard_distribution import DashboardDistribution, public_dns_name
from stacks.dashboard_identity import OIDC_SETTINGS, DashboardIdentity, add_user_command
from stacks.database import DatabaseConstruct
from stacks.deferred import DeferredSettings
from stacks.etl_events import EtlEventsConstruct
from stacks.ingestion import IngestionConstruct
from stacks.lab import LabAccess
from stacks.lake import LakeConstruct
from stacks.log_agent import metrics_namespace
from stacks.monitoring import IngestionAlarms
from stacks.network import NetworkConstruct
from stacks.observability import ObservabilityConstruct
from stacks.storage import StorageConstruct


class PipelineStack(Stack):
    """Network, storage, database, ingestion, the ETL's event path, alarms and the app instance."""

    def __init__(self, scope: Construct, construct_id: str, *, config: PipelineConfig, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        lab = LabAccess(self, "LabAccess", config=config) if config.lab else None
        namespace = metrics_namespace(config.environment)
        pipeline_environment = {**config.pipeline_settings, "PIPELINE_METRICS_NAMESPACE": namespace}

        storage = StorageConstruct(self, "Storage", config=config)
        network = NetworkConstruct(self, "Network", config=config, log_bucket=storage.log_bucket)
        lake = (
            LakeConstruct(self, "Lake", config=config, log_bucket=storage.log_bucket) if config.lake else None
        )
        database = DatabaseConstruct(self, "Database", config=config, vpc=network.vpc)
        ingestion = IngestionConstruct(
            self,
            "Ingestion",
            config=config,
            raw_bucket=storage.raw_bucket,
            # With a lake, the daily run fetches the minute bars too (the Lambdas touch only the raw zone).
            pipeline_environment={**pipeline_environment, **(lake.settings if lake else {})},
            existing_role=lab.role if lab else None,
        )
        etl_events = EtlEventsConstruct(self, "EtlEvents", raw_bucket=storage.raw_bucket)
        alarms = IngestionAlarms(
            self,
            "Alarms",
            config=config,
            functions=(ingestion.function, ingestion.dispatcher),
            dead_letter_queues={
                "DeadLetter": ingestion.dead_letter_queue,
                "ShardDeadLetter": ingestion.shard_dead_letter_queue,
                "EtlDeadLetter": etl_events.dead_letter_queue,
            },
            shard_queue=ingestion.shard_queue,
        )
        # With a Cognito login the instance's user data names CloudFront's domain, and CloudFront's
        # origin is the instance's address: the settings are filled in once the distribution exists.
        oidc_settings = DeferredSettings(OIDC_SETTINGS) if config.dashboard_login == "cognito" else None
        app = AppInstanceConstruct(
            self,
            "App",
            config=config,
            vpc=network.vpc,
            raw_bucket=storage.raw_bucket,
            secrets={
                "DB_SECRET_ARN": database.admin_secret,
                "DASHBOARD_DB_SECRET_ARN": database.dashboard_secret,
                "EXPLORER_DB_SECRET_ARN": database.explorer_secret,
            },
            pipeline_environment={
                **pipeline_environment,
                "ETL_QUEUE_URL": etl_events.queue.queue_url,
                **(lake.settings if lake else {}),
            },
            existing_profile=lab.instance_profile if lab else None,
            oidc_environment=oidc_settings.tokens if oidc_settings else None,
        )
        etl_events.queue.grant_consume_messages(app.instance.role)
        if lake:
            lake.grant_instance(app.instance.role)
        database.allow_from(app.instance)
        observability = ObservabilityConstruct(
            self,
            "Observability",
            config=config,
            namespace=namespace,
            topic=alarms.topic,
            instance_id=app.instance.instance_id,
            database=database.instance,
            functions=(ingestion.function, ingestion.dispatcher),
        )
        observability.grant_instance(app.instance.role)
        alarms.allow_alarms([*alarms.alarms, *observability.alarms.values()])
        dashboard_url = {
            "tls": Fn.join("", ["https://", app.public_ip, f":{config.dashboard_port}"]),
            "private": f"http://localhost:{config.dashboard_port} (after make tunnel)",
        }.get(config.access_mode)
        if config.access_mode == "cloudfront":
            dashboard_url = DashboardDistribution(
                self, "DashboardCdn", config=config, origin_domain=public_dns_name(self, app.public_ip)
            ).url
        login_outputs: dict[str, str] = {}
        if oidc_settings and dashboard_url:
            identity = DashboardIdentity(
                self, "DashboardIdentity", config=config, dashboard_url=dashboard_url
            )
            identity.grant_read_client(app.instance.role)
            oidc_settings.fill(identity.dashboard_environment)
            login_outputs = {
                "DashboardUserPoolId": identity.user_pool.user_pool_id,
                "AddDashboardUserCommand": add_user_command(identity.user_pool.user_pool_id),
            }
        if app.login_secret:
            login_outputs = {"DashboardLoginCommand": read_login_command(app.login_secret.secret_arn)}

        outputs = {
            "DashboardUrl": dashboard_url or "",
            "DashboardAccess": config.access_mode,
            **login_outputs,
            "TunnelCommand": tunnel_command(app.instance.instance_id, config.dashboard_port),
            "RawBucketName": storage.raw_bucket.bucket_name,
            "LogBucketName": storage.log_bucket.bucket_name,
            "DatabaseEndpoint": database.instance.db_instance_endpoint_address,
            "DatabaseSecretArn": database.admin_secret.secret_arn,
            "DashboardSecretArn": database.dashboard_secret.secret_arn,
            "ExplorerSecretArn": database.explorer_secret.secret_arn,
            "InstanceId": app.instance.instance_id,
            "IngestionFunctionName": ingestion.function.function_name,
            "DispatcherFunctionName": ingestion.dispatcher.function_name,
            "ShardQueueUrl": ingestion.shard_queue.queue_url,
            "ShardDeadLetterQueueUrl": ingestion.shard_dead_letter_queue.queue_url,
            "EtlQueueUrl": etl_events.queue.queue_url,
            "AlarmTopicArn": alarms.topic.topic_arn,
            "CloudWatchDashboardName": observability.dashboard.dashboard_name,
            "RunEtlCommand": run_etl_command(app.instance.instance_id),
            "RunIngestionCommand": _invoke_command(ingestion.dispatcher.function_name, "{}"),
            # Edit the dates: a backfill goes through the same shards, queue and retries as a day.
            "RunBackfillCommand": _invoke_command(
                ingestion.dispatcher.function_name, '{"start":"2016-01-01","end":"2025-12-31"}'
            ),
        }
        if lake:
            outputs |= {
                "LakeBucketName": lake.bucket.bucket_name,
                "LakeDatabase": lake.database_name,
                "AthenaWorkgroup": lake.workgroup.name,
            }
        for name, value in outputs.items():
            CfnOutput(self, name, value=value)
        drop_role_dependency(ingestion.function)
        drop_role_dependency(ingestion.dispatcher)
        drop_provider_role_dependencies(self)


def _invoke_command(function_name: str, payload: str) -> str:
    """The AWS CLI line that invokes `function_name` asynchronously with `payload`."""
    return Fn.join(
        "",
        [
            "aws lambda invoke --region ",
            Aws.REGION,
            " --function-name ",
            function_name,
            f" --invocation-type Event --cli-binary-format raw-in-base64-out --payload '{payload}' /dev/null",
        ],
    )
