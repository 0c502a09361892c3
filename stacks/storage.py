"""The raw zone's bucket and the bucket that keeps the logs about it (access logs, VPC flow logs).

The raw bucket sends its object events to EventBridge, where the ETL's event path starts.

Both are encrypted, block every form of public access and refuse plain HTTP (and TLS below 1.2). The raw
bucket is versioned so an overwritten object can be recovered for a while; old versions expire. When the
removal policy is ``destroy``, `cdk destroy` deletes both buckets: in normal accounts CDK empties them first
(``auto_delete_objects``); lab accounts cannot create the role that needs, so `make destroy` empties them
with boto3 beforehand (ops/teardown.py).
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_s3 as s3
from constructs import Construct

from stacks.config import PipelineConfig
from stacks.nag import acknowledge

RAW_PREFIX = "raw/"
NONCURRENT_VERSION_DAYS = 30
LOG_RETENTION_DAYS = 90


class StorageConstruct(Construct):
    """The raw bucket (`raw_bucket`) and the log bucket (`log_bucket`) of one environment."""

    def __init__(self, scope: Construct, construct_id: str, *, config: PipelineConfig) -> None:
        super().__init__(scope, construct_id)
        removal_policy = RemovalPolicy.DESTROY if config.destroys_data else RemovalPolicy.RETAIN
        # The role-creating auto-delete handler is exactly what lab accounts forbid.
        auto_delete = config.destroys_data and not config.lab

        def secure_bucket(bucket_id: str, **props: Any) -> s3.Bucket:
            return s3.Bucket(
                self,
                bucket_id,
                encryption=s3.BucketEncryption.S3_MANAGED,
                block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
                enforce_ssl=True,
                minimum_tls_version=1.2,
                removal_policy=removal_policy,
                auto_delete_objects=auto_delete,
                **props,
            )

        self.log_bucket = secure_bucket(
            "LogBucket",
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            lifecycle_rules=[s3.LifecycleRule(expiration=Duration.days(LOG_RETENTION_DAYS))],
        )
        acknowledge(
            self.log_bucket,
            "AwsSolutions-S1",
            "This bucket is the destination of the access logs; logging it to itself would loop.",
        )
        self.raw_bucket = secure_bucket(
            "RawBucket",
            versioned=True,
            server_access_logs_bucket=self.log_bucket,
            server_access_logs_prefix="s3-access/raw-bucket/",
            lifecycle_rules=[
                s3.LifecycleRule(
                    noncurrent_version_expiration=Duration.days(NONCURRENT_VERSION_DAYS),
                    abort_incomplete_multipart_upload_after=Duration.days(7),
                )
            ],
        )
        # Object events go to EventBridge (stacks/etl_events.py) through the bucket's own notification
        # configuration: CDK's `event_bridge_enabled` would add a custom resource and its IAM role,
        # which lab accounts cannot create.
        raw_cfn = self.raw_bucket.node.default_child
        assert isinstance(raw_cfn, s3.CfnBucket)
        raw_cfn.notification_configuration = s3.CfnBucket.NotificationConfigurationProperty(
            event_bridge_configuration=s3.CfnBucket.EventBridgeConfigurationProperty(
                event_bridge_enabled=True
            )
        )
