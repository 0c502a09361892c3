"""The app instance: Amazon Linux 2023 in a public subnet, running the dashboard and the ETL.

No SSH: no key pair and no port 22; operators use Session Manager. The security group admits only the
dashboard port, only from ``allowed_cidr``. IMDSv2 is required and the root volume is encrypted. The
project is installed from an S3 asset of this repository; the asset's key is part of the user data, so
a deploy with changed code replaces the instance (its Elastic IP, and so the dashboard URL, stays).
"""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Annotations, Aws, DefaultStackSynthesizer, Fn
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_assets as s3_assets
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from stacks.config import PipelineConfig
from stacks.instance_bootstrap import (
    PIPELINE_HOME,
    BootstrapSettings,
    etl_times_after,
    render_bootstrap_script,
)
from stacks.lambda_bundling import REPO_ROOT
from stacks.nag import acknowledge, logical_id
from stacks.storage import RAW_PREFIX

ROOT_VOLUME_GB = 16
# What the instance does not need from the repository (local state, build output, tooling, tests).
SOURCE_EXCLUDES: tuple[str, ...] = (
    ".venv",
    "node_modules",
    "cdk.out",
    ".pipeline*",
    ".build",
    ".git",
    "tests",
    "artifacts",
    "**/__pycache__",
    "*.egg-info",
    ".pytest_cache",
    ".ruff_cache",
    "benchmarks",
    "docs",
)


class AppInstanceConstruct(Construct):
    """The EC2 instance (`instance`), its security group and its public address (`public_ip`)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: PipelineConfig,
        vpc: ec2.IVpc,
        raw_bucket: s3.IBucket,
        secrets: Mapping[str, secretsmanager.ISecret],
        pipeline_environment: Mapping[str, str],
        existing_profile: iam.IInstanceProfile | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.security_group = ec2.SecurityGroup(
            self,
            "SecurityGroup",
            vpc=vpc,
            description="App instance: the dashboard port from allowed_cidr only",
        )
        self.security_group.add_ingress_rule(
            ec2.Peer.ipv4(config.allowed_cidr), ec2.Port.tcp(config.dashboard_port), "Dashboard"
        )
        self._acknowledge_open_dashboard(config)
        source = s3_assets.Asset(self, "Source", path=str(REPO_ROOT), exclude=list(SOURCE_EXCLUDES))
        environment = {
            **pipeline_environment,
            **{name: secret.secret_arn for name, secret in secrets.items()},
            "RAW_BUCKET": raw_bucket.bucket_name,
            "AWS_REGION": Aws.REGION,
            "PIPELINE_HOME": PIPELINE_HOME,
        }
        script = render_bootstrap_script(
            BootstrapSettings(
                source_url=source.s3_object_url,
                region=Aws.REGION,
                environment=environment,
                dashboard_port=config.dashboard_port,
                etl_times=etl_times_after(config.schedule_clock, config.etl_delay_minutes),
                time_zone=config.schedule_time_zone,
            )
        )
        instance_type = ec2.InstanceType(config.instance_type)
        self.instance = ec2.Instance(
            self,
            "Instance",
            vpc=vpc,
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PUBLIC),
            instance_type=instance_type,
            machine_image=ec2.MachineImage.latest_amazon_linux2023(cpu_type=_cpu_type(instance_type)),
            security_group=self.security_group,
            role=None if existing_profile else self._create_role(),
            instance_profile=existing_profile,
            user_data=ec2.UserData.custom(script),
            user_data_causes_replacement=True,
            require_imdsv2=True,
            associate_public_ip_address=True,
            block_devices=[
                ec2.BlockDevice(
                    device_name="/dev/xvda",
                    volume=ec2.BlockDeviceVolume.ebs(
                        ROOT_VOLUME_GB, encrypted=True, volume_type=ec2.EbsDeviceVolumeType.GP3
                    ),
                )
            ],
        )
        role = self.instance.role
        raw_bucket.grant_read(role, f"{RAW_PREFIX}*")
        source.grant_read(role)
        for secret in secrets.values():
            secret.grant_read(role)
        address = ec2.CfnEIP(self, "PublicAddress", domain="vpc", instance_id=self.instance.instance_id)
        self.public_ip: str = address.attr_public_ip
        self._acknowledge_instance_findings(existing_profile is None, raw_bucket)

    def _create_role(self) -> iam.Role:
        return iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("ec2.amazonaws.com"),
            description="App instance: Session Manager, read raw/ and the database secrets",
            managed_policies=[iam.ManagedPolicy.from_aws_managed_policy_name("AmazonSSMManagedInstanceCore")],
        )

    def _acknowledge_open_dashboard(self, config: PipelineConfig) -> None:
        if not config.open_to_the_internet:
            return
        Annotations.of(self).add_warning_v2(
            "pipeline:open-dashboard",
            "allowed_cidr is 0.0.0.0/0: the dashboard is reachable from anywhere; set -c allowed_cidr=<your IP>/32",
        )
        acknowledge(
            self.security_group,
            "AwsSolutions-EC23",
            "The operator set allowed_cidr to 0.0.0.0/0 in the context; only the dashboard port is open "
            "and the dashboard reads through a read-only database role.",
        )

    def _acknowledge_instance_findings(self, owns_role: bool, raw_bucket: s3.IBucket) -> None:
        acknowledge(
            self.instance,
            "AwsSolutions-EC28",
            "Basic (5-minute) monitoring suffices for one dashboard instance; detailed monitoring costs extra.",
        )
        acknowledge(
            self.instance,
            "AwsSolutions-EC29",
            "No termination protection: the instance is stateless (data lives in RDS and S3) and is "
            "replaced on each code change.",
        )
        if not owns_role:
            return
        # The role is a sibling of the instance, so the acknowledgements go on this construct.
        reason = "Read-only access scoped to the raw/ prefix, the source asset and the two database secrets."
        findings = [
            "Action::s3:GetObject*",
            "Action::s3:GetBucket*",
            "Action::s3:List*",
            f"Resource::<{logical_id(raw_bucket)}.Arn>/{RAW_PREFIX}*",
            f"Resource::{_default_assets_arn()}/*",
        ]
        for finding in findings:
            acknowledge(self, f"AwsSolutions-IAM5[{finding}]", reason)
        acknowledge(
            self,
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/AmazonSSMManagedInstanceCore]",
            "The AWS-managed Session Manager policy is what replaces SSH on the instance.",
        )


def _default_assets_arn() -> str:
    """The standard bootstrap's assets bucket, as cdk-nag prints it (the lab synthesizer's has no role)."""
    qualifier = DefaultStackSynthesizer.DEFAULT_QUALIFIER
    return f"arn:<AWS::Partition>:s3:::cdk-{qualifier}-assets-<AWS::AccountId>-<AWS::Region>"


def _cpu_type(instance_type: ec2.InstanceType) -> ec2.AmazonLinuxCpuType:
    if instance_type.architecture == ec2.InstanceArchitecture.ARM_64:
        return ec2.AmazonLinuxCpuType.ARM_64
    return ec2.AmazonLinuxCpuType.X86_64


def run_etl_command(instance_id: str) -> str:
    """The AWS CLI command that runs the ETL on the instance now, through SSM Run Command."""
    return Fn.join(
        "",
        [
            "aws ssm send-command --region ",
            Aws.REGION,
            " --instance-ids ",
            instance_id,
            " --document-name AWS-RunShellScript --comment 'pipeline etl'"
            ' --parameters \'commands=["systemctl start pipeline-etl.service",'
            '"journalctl -u pipeline-etl.service -n 30 --no-pager"]\'',
        ],
    )
