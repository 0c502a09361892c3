"""The pipeline's one stack: it wires the constructs of each concern together, and nothing more."""

from __future__ import annotations

from typing import Any

from aws_cdk import Aws, CfnOutput, Fn, Stack
from constructs import Construct

from stacks.cfn_hygiene import drop_provider_role_dependencies, drop_role_dependency
from stacks.compute import AppInstanceConstruct, read_login_command, run_etl_command, tunnel_command
from stacks.config import PipelineConfig
from stacks.dashboard_distribution import DashboardDistribution, public_dns_name
from stacks.database import DatabaseConstruct
from stacks.ingestion import IngestionConstruct
from stacks.lab import LabAccess
from stacks.monitoring import IngestionAlarms
from stacks.network import NetworkConstruct
from stacks.storage import StorageConstruct


class PipelineStack(Stack):
    """Network, storage, database, ingestion, alarms and the app instance of one environment."""

    def __init__(self, scope: Construct, construct_id: str, *, config: PipelineConfig, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        lab = LabAccess(self, "LabAccess", config=config) if config.lab else None
        pipeline_environment = dict(config.pipeline_settings)

        storage = StorageConstruct(self, "Storage", config=config)
        network = NetworkConstruct(self, "Network", config=config, log_bucket=storage.log_bucket)
        database = DatabaseConstruct(self, "Database", config=config, vpc=network.vpc)
        ingestion = IngestionConstruct(
            self,
            "Ingestion",
            config=config,
            raw_bucket=storage.raw_bucket,
            pipeline_environment=pipeline_environment,
            existing_role=lab.role if lab else None,
        )
        alarms = IngestionAlarms(
            self,
            "Alarms",
            config=config,
            function=ingestion.function,
            dead_letter_queue=ingestion.dead_letter_queue,
        )
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
            pipeline_environment=pipeline_environment,
            existing_profile=lab.instance_profile if lab else None,
        )
        database.allow_from(app.instance)
        dashboard_url = {
            "tls": Fn.join("", ["https://", app.public_ip, f":{config.dashboard_port}"]),
            "private": f"http://localhost:{config.dashboard_port} (after make tunnel)",
        }.get(config.access_mode)
        if config.access_mode == "cloudfront":
            dashboard_url = DashboardDistribution(
                self, "DashboardCdn", config=config, origin_domain=public_dns_name(self, app.public_ip)
            ).url

        outputs = {
            "DashboardUrl": dashboard_url or "",
            "DashboardAccess": config.access_mode,
            "DashboardLoginCommand": read_login_command(app.login_secret.secret_arn),
            "TunnelCommand": tunnel_command(app.instance.instance_id, config.dashboard_port),
            "RawBucketName": storage.raw_bucket.bucket_name,
            "LogBucketName": storage.log_bucket.bucket_name,
            "DatabaseEndpoint": database.instance.db_instance_endpoint_address,
            "DatabaseSecretArn": database.admin_secret.secret_arn,
            "DashboardSecretArn": database.dashboard_secret.secret_arn,
            "ExplorerSecretArn": database.explorer_secret.secret_arn,
            "InstanceId": app.instance.instance_id,
            "IngestionFunctionName": ingestion.function.function_name,
            "AlarmTopicArn": alarms.topic.topic_arn,
            "RunEtlCommand": run_etl_command(app.instance.instance_id),
            "RunIngestionCommand": Fn.join(
                "",
                [
                    "aws lambda invoke --region ",
                    Aws.REGION,
                    " --function-name ",
                    ingestion.function.function_name,
                    " --invocation-type Event --cli-binary-format raw-in-base64-out --payload '{}' /dev/null",
                ],
            ),
        }
        for name, value in outputs.items():
            CfnOutput(self, name, value=value)
        drop_role_dependency(ingestion.function)
        drop_provider_role_dependencies(self)
