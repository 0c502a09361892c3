"""PostgreSQL 16 on RDS in the isolated subnets, with three generated secrets in Secrets Manager.

`admin_secret` holds the owner's credentials (DB_SECRET_ARN for the ETL and migrations); `dashboard_secret`
holds those of the read-only role ``dashboard_reader`` (DASHBOARD_DB_SECRET_ARN): `pipeline db migrate`
sets that role's password from it; `explorer_secret` likewise for the SQL explorer's role
``dashboard_explorer`` (EXPLORER_DB_SECRET_ARN). All are in the RDS format (username, password, host,
port, dbname), host and port filled in by attaching them to the instance. The database's security group admits
nothing until the stack opens 5432 to the app instance with `allow_from`.
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_rds as rds
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from stacks.config import PipelineConfig
from stacks.nag import acknowledge

DATABASE_NAME = "pipeline"
ADMIN_USER = "pipeline_admin"
DASHBOARD_ROLE = "dashboard_reader"
EXPLORER_ROLE = "dashboard_explorer"
ENHANCED_MONITORING_INTERVAL = Duration.seconds(60)


class DatabaseConstruct(Construct):
    """The RDS instance (`instance`) and its secrets (`admin_secret`, `dashboard_secret`)."""

    def __init__(self, scope: Construct, construct_id: str, *, config: PipelineConfig, vpc: ec2.IVpc) -> None:
        super().__init__(scope, construct_id)
        generated_admin = rds.DatabaseSecret(self, "AdminSecret", username=ADMIN_USER, dbname=DATABASE_NAME)
        self.security_group = ec2.SecurityGroup(
            self,
            "SecurityGroup",
            vpc=vpc,
            description="PostgreSQL: 5432 from the app instance only",
            allow_all_outbound=False,
        )
        keeps_data = not config.destroys_data
        self.instance = rds.DatabaseInstance(
            self,
            "Instance",
            engine=rds.DatabaseInstanceEngine.postgres(version=rds.PostgresEngineVersion.VER_16_13),
            instance_type=ec2.InstanceType(config.database_instance_type),
            vpc=vpc,
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED),
            security_groups=[self.security_group],
            credentials=rds.Credentials.from_secret(generated_admin),
            database_name=DATABASE_NAME,
            publicly_accessible=False,
            storage_encrypted=True,
            storage_type=rds.StorageType(config.database_storage_type.upper()),
            allocated_storage=config.database_storage_gb,
            backup_retention=Duration.days(config.backup_retention_days),
            delete_automated_backups=not keeps_data,
            deletion_protection=config.removal_policy == "retain",
            removal_policy=config.cdk_removal_policy,
            multi_az=False,
            # A pinned minor version (a bare "16" is deprecated for new instances); RDS applies newer minors.
            auto_minor_version_upgrade=True,
            # Enhanced Monitoring needs a monitoring role, which lab accounts cannot create.
            monitoring_interval=None if config.lab else ENHANCED_MONITORING_INTERVAL,
        )
        # Attaching fills in host, port and engine; the attached secret's ARN also orders deployment
        # after the database, so whoever reads it finds a database to connect to.
        if self.instance.secret is None:  # set whenever the credentials come from a secret, as here
            raise ValueError("the database instance has no attached admin secret")
        self.admin_secret: secretsmanager.ISecret = self.instance.secret
        generated_dashboard = rds.DatabaseSecret(
            self,
            "DashboardSecret",
            username=DASHBOARD_ROLE,
            dbname=DATABASE_NAME,
            master_secret=generated_admin,
        )
        self.dashboard_secret: secretsmanager.ISecret = generated_dashboard.attach(self.instance)
        generated_explorer = rds.DatabaseSecret(
            self,
            "ExplorerSecret",
            username=EXPLORER_ROLE,
            dbname=DATABASE_NAME,
            master_secret=generated_admin,
        )
        self.explorer_secret: secretsmanager.ISecret = generated_explorer.attach(self.instance)
        for secret in (generated_admin, generated_dashboard, generated_explorer):
            secret.apply_removal_policy(
                RemovalPolicy.DESTROY if config.destroys_data else RemovalPolicy.RETAIN
            )
        self._acknowledge_findings(config, (generated_admin, generated_dashboard, generated_explorer))

    def allow_from(self, peer: ec2.IConnectable) -> None:
        """Open PostgreSQL's port to `peer` (the app instance) and to nothing else."""
        self.instance.connections.allow_default_port_from(peer, "PostgreSQL from the app instance")

    def _acknowledge_findings(self, config: PipelineConfig, secrets: tuple[rds.DatabaseSecret, ...]) -> None:
        acknowledge(
            self.instance,
            "AwsSolutions-RDS3",
            "Single-AZ on purpose: a daily batch pipeline tolerates an AZ outage; Multi-AZ doubles the cost.",
        )
        acknowledge(
            self.instance,
            "AwsSolutions-RDS11",
            "The default port is kept: the database is reachable only from the app instance's security group.",
        )
        acknowledge(
            self.instance,
            "AwsSolutions-RDS6",
            "The pipeline authenticates with passwords from Secrets Manager (psycopg, no IAM token refresh).",
        )
        if config.removal_policy != "retain":
            acknowledge(
                self.instance,
                "AwsSolutions-RDS10",
                "Deletion protection is on only with removal_policy=retain; dev and lab must tear down fully.",
            )
        if not config.lab:
            acknowledge(
                self.instance,
                "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole]",
                "The AWS-managed policy is the one Enhanced Monitoring documents for its monitoring role.",
            )
        for secret in secrets:
            acknowledge(
                secret,
                "AwsSolutions-SMG4",
                "No rotation: rotation needs a Lambda in the VPC and a role (not possible in lab accounts); "
                "the password never leaves Secrets Manager and the instance's memory.",
            )
