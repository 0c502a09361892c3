"""The lakehouse (``-c lake=true``): Iceberg tables on S3, registered in the Glue Data Catalog, queried by
Athena. Nothing here runs when idle: S3 holds the files, Glue their tables, Athena bills per byte scanned.

- The lake bucket holds the warehouse (``warehouse/``, the tables' data and metadata files, written by
  the ETL on the instance with pyiceberg) and Athena's query results (``athena-results/``, expired
  after `RESULTS_EXPIRY_DAYS` by a lifecycle rule). Encrypted, private, TLS only, access-logged.
- The Glue database names the tables; the ETL creates them (schemas from etl/schema.py).
- The Athena workgroup enforces its results location and encryption (a query cannot send its results
  elsewhere) and cancels any query that would scan more than `lake_query_limit_mb`.
- The instance may read and write the bucket, manage the database's tables and run queries in the
  workgroup. The ingestion Lambdas need nothing: minute bars reach the lake through the raw zone and
  the ETL. In a lab account the grants go to the existing LabRole, which adds no IAM resource.
"""

from __future__ import annotations

from aws_cdk import Aws, Duration, RemovalPolicy
from aws_cdk import aws_athena as athena
from aws_cdk import aws_glue as glue
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct

from stacks.config import PipelineConfig
from stacks.nag import acknowledge, logical_id

WAREHOUSE_PREFIX = "warehouse"
RESULTS_PREFIX = "athena-results/"
RESULTS_EXPIRY_DAYS = 7


class LakeConstruct(Construct):
    """The lake's bucket (`bucket`), Glue database (`database_name`) and Athena workgroup (`workgroup`)."""

    def __init__(
        self, scope: Construct, construct_id: str, *, config: PipelineConfig, log_bucket: s3.IBucket
    ) -> None:
        super().__init__(scope, construct_id)
        self.bucket = s3.Bucket(
            self,
            "LakeBucket",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            minimum_tls_version=1.2,
            removal_policy=RemovalPolicy.DESTROY if config.destroys_data else RemovalPolicy.RETAIN,
            auto_delete_objects=config.destroys_data and not config.lab,
            server_access_logs_bucket=log_bucket,
            server_access_logs_prefix="s3-access/lake-bucket/",
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="ExpireQueryResults",
                    prefix=RESULTS_PREFIX,
                    expiration=Duration.days(RESULTS_EXPIRY_DAYS),
                ),
                s3.LifecycleRule(abort_incomplete_multipart_upload_after=Duration.days(7)),
            ],
        )
        self.database_name = config.lake_database
        self.database = glue.CfnDatabase(
            self,
            "Database",
            catalog_id=Aws.ACCOUNT_ID,
            database_input=glue.CfnDatabase.DatabaseInputProperty(
                name=self.database_name,
                description="The pipeline's lake: curated daily tables and minute bars (Apache Iceberg)",
                location_uri=self.warehouse,
            ),
        )
        self.workgroup = athena.CfnWorkGroup(
            self,
            "Workgroup",
            name=f"pipeline-{config.environment}-lake",
            description="Queries over the pipeline's lake: results kept 7 days, bytes scanned capped",
            recursive_delete_option=config.destroys_data,
            state="ENABLED",
            work_group_configuration=athena.CfnWorkGroup.WorkGroupConfigurationProperty(
                enforce_work_group_configuration=True,
                bytes_scanned_cutoff_per_query=config.lake_query_limit_mb * 1024 * 1024,
                publish_cloud_watch_metrics_enabled=True,
                engine_version=athena.CfnWorkGroup.EngineVersionProperty(
                    selected_engine_version="Athena engine version 3"
                ),
                result_configuration=athena.CfnWorkGroup.ResultConfigurationProperty(
                    output_location=self.bucket.s3_url_for_object(RESULTS_PREFIX),
                    encryption_configuration=athena.CfnWorkGroup.EncryptionConfigurationProperty(
                        encryption_option="SSE_S3"
                    ),
                ),
            ),
        )

    @property
    def warehouse(self) -> str:
        """``s3://<bucket>/warehouse``: LAKE_WAREHOUSE for the instance."""
        return self.bucket.s3_url_for_object(WAREHOUSE_PREFIX)

    @property
    def settings(self) -> dict[str, str]:
        """The runtime settings that point the ETL and the dashboard at the lake."""
        return {"LAKE_WAREHOUSE": self.warehouse, "LAKE_DATABASE": self.database_name}

    def grant_instance(self, role: iam.IRole) -> None:
        """Read and write the lake's files, manage its database's tables, query in the workgroup.

        The objects granted are the warehouse's (the tables) and the query results' (Athena writes and
        reads them with the caller's credentials), nothing else of the bucket."""
        for prefix in (f"{WAREHOUSE_PREFIX}/", RESULTS_PREFIX):
            self.bucket.grant_read_write(role, f"{prefix}*")
        bucket = logical_id(self.bucket)
        for finding, reason in (
            ("Action::s3:DeleteObject*", "pyiceberg deletes the files an overwrite or compaction replaced."),
            ("Action::s3:Abort*", "pyiceberg's multipart uploads of large data files may need aborting."),
            (
                f"Resource::<{bucket}.Arn>/{WAREHOUSE_PREFIX}/*",
                "The warehouse prefix holds the lake's tables, created by the ETL as it first writes them.",
            ),
            (
                f"Resource::<{bucket}.Arn>/{RESULTS_PREFIX}*",
                "Athena writes each query's results under this prefix with the caller's credentials.",
            ),
            (
                f"Resource::arn:<AWS::Partition>:glue:<AWS::Region>:<AWS::AccountId>:table/{self.database_name}/*",
                "The ETL creates the lake's tables in its own database as it first writes them.",
            ),
        ):
            acknowledge(role, f"AwsSolutions-IAM5[{finding}]", reason)
        catalog = f"arn:{Aws.PARTITION}:glue:{Aws.REGION}:{Aws.ACCOUNT_ID}"
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=[
                    "glue:GetDatabase",
                    "glue:GetTable",
                    "glue:GetTables",
                    "glue:CreateTable",
                    "glue:UpdateTable",
                    "glue:DeleteTable",
                    "glue:GetPartitions",
                ],
                resources=[
                    f"{catalog}:catalog",
                    f"{catalog}:database/{self.database_name}",
                    f"{catalog}:table/{self.database_name}/*",
                ],
            )
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=[
                    "athena:StartQueryExecution",
                    "athena:GetQueryExecution",
                    "athena:GetQueryResults",
                    "athena:StopQueryExecution",
                    "athena:GetWorkGroup",
                ],
                resources=[
                    f"arn:{Aws.PARTITION}:athena:{Aws.REGION}:{Aws.ACCOUNT_ID}:workgroup/{self.workgroup.name}"
                ],
            )
        )
