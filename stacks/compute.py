"""The app instance: Amazon Linux 2023 in a public subnet, running the dashboard and the ETL.

No SSH: no key pair and no port 22; operators use Session Manager. The security group admits only the
dashboard port, from whom the access mode says: CloudFront's origin-facing addresses (``cloudfront``),
``allowed_cidr`` (``tls``, Streamlit serving HTTPS itself), or nobody (``private``, a Session Manager
port forward). The dashboard's login password is generated into a secret of its own, unless visitors
sign in through Cognito (``dashboard_login=cognito``, `stacks.dashboard_identity`). IMDSv2 is
required and the root volume is encrypted. The project is installed from an S3 asset of this
repository; the asset's key is part of the user data, so a deploy with changed code replaces the
instance (its Elastic IP, and so the dashboard URL, stays). The instance role may read that one object
of the assets bucket, nothing else of it. A CreationPolicy makes CloudFormation wait for the first
boot's signal (`stacks.instance_bootstrap`): a failed install fails the deploy, naming the step, instead
of leaving a dead instance behind CREATE_COMPLETE.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from aws_cdk import (
    Annotations,
    Aws,
    CfnCreationPolicy,
    CfnResourceSignal,
    Duration,
    Fn,
)
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_assets as s3_assets
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from stacks.config import PipelineConfig
from stacks.dashboard_distribution import cloudfront_prefix_list
from stacks.instance_bootstrap import (
    DASHBOARD_HOME,
    PIPELINE_HOME,
    READY_ATTEMPTS,
    READY_INTERVAL_SECONDS,
    BootstrapSettings,
    CreationSignal,
    etl_times_after,
    render_bootstrap_script,
)
from stacks.lambda_bundling import REPO_ROOT
from stacks.nag import acknowledge, logical_id
from stacks.storage import RAW_PREFIX

ROOT_VOLUME_GB = 16
# The first boot's install takes about 5 minutes, then pipeline-ready waits for healthy services.
FIRST_BOOT_INSTALL = Duration.minutes(15)
SIGNAL_TIMEOUT = FIRST_BOOT_INSTALL.plus(Duration.seconds(READY_ATTEMPTS * READY_INTERVAL_SECONDS))
LOGIN_USERNAME = "admin"
# The secrets the dashboard itself reads: its database roles', never the owner's (DB_SECRET_ARN).
DASHBOARD_SECRETS: tuple[str, ...] = ("DASHBOARD_DB_SECRET_ARN", "EXPLORER_DB_SECRET_ARN")
_SECURITY_GROUP_DESCRIPTIONS = {
    "cloudfront": "App instance: the dashboard port from the CloudFront origin-facing prefix list only",
    "tls": "App instance: the dashboard port (HTTPS) from allowed_cidr only",
    "private": "App instance: no inbound rule; the dashboard is reached through Session Manager",
}
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
        oidc_environment: Mapping[str, str] | None = None,
    ) -> None:
        """`oidc_environment`: the DASHBOARD_OIDC_* settings of a Cognito login (with dashboard_login=cognito)."""
        super().__init__(scope, construct_id)
        self.security_group = ec2.SecurityGroup(
            self,
            "SecurityGroup",
            vpc=vpc,
            description=_SECURITY_GROUP_DESCRIPTIONS[config.access_mode],
        )
        self._admit_visitors(config)
        oidc = config.dashboard_login == "cognito"
        self.login_secret = None if oidc else self._login_secret()
        source = s3_assets.Asset(self, "Source", path=str(REPO_ROOT), exclude=list(SOURCE_EXCLUDES))
        region = {"AWS_REGION": Aws.REGION}
        environment = {
            **pipeline_environment,
            **{name: secret.secret_arn for name, secret in secrets.items()},
            **region,
            "RAW_BUCKET": raw_bucket.bucket_name,
            "PIPELINE_HOME": PIPELINE_HOME,
        }
        # The dashboard writes into a home of its own: Streamlit's secrets file (st.login's settings) with a
        # Cognito login, the sign-in gate's nginx files with a password login.
        login_environment = {
            **(
                oidc_environment or {}
                if self.login_secret is None
                else {"DASHBOARD_LOGIN_SECRET_ARN": self.login_secret.secret_arn}
            ),
            "PIPELINE_HOME": DASHBOARD_HOME,
        }
        dashboard_environment = {
            **{name: secrets[name].secret_arn for name in DASHBOARD_SECRETS if name in secrets},
            **region,
            **login_environment,
            # The Intraday page reads the lake (lake mode) with the instance's credentials.
            **{
                name: pipeline_environment[name]
                for name in ("LAKE_WAREHOUSE", "LAKE_DATABASE")
                if name in pipeline_environment
            },
        }
        user_data = ec2.UserData.custom("")
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
            user_data=user_data,
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
        cfn_instance = self.instance.instance
        # CloudFormation waits for one signal: pipeline-ready's SUCCESS, or a failed step's FAILURE.
        cfn_instance.cfn_options.creation_policy = CfnCreationPolicy(
            resource_signal=CfnResourceSignal(count=1, timeout=SIGNAL_TIMEOUT.to_iso_string())
        )
        # The address exists before the instance boots, so the TLS mode's certificate can name it.
        tls = config.access_mode == "tls"
        self.public_ip: str = self._public_address(associated_separately=oidc or tls)
        user_data.add_commands(
            render_bootstrap_script(
                BootstrapSettings(
                    source_url=source.s3_object_url,
                    region=Aws.REGION,
                    environment=environment,
                    dashboard_port=config.dashboard_port,
                    etl_times=etl_times_after(config.schedule_clock, config.etl_delay_minutes),
                    time_zone=config.schedule_time_zone,
                    dashboard_environment=dashboard_environment,
                    tls=tls,
                    # The address of the dashboard's URL (https://<address>:<port>).
                    tls_public_names=[f"IP:{self.public_ip}"] if tls else [],
                    private=config.access_mode == "private",
                    dashboard_home=True,
                    # The logical id resolves with the user data's hash (user_data_causes_replacement).
                    signal=CreationSignal(Aws.STACK_NAME, cfn_instance.logical_id, Aws.REGION),
                )
            )
        )
        role = self.instance.role
        raw_bucket.grant_read(role, f"{RAW_PREFIX}*")
        # Its own source object only: Asset.grant_read would open the whole assets bucket.
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["s3:GetObject"],
                resources=[
                    Fn.join(
                        "",
                        ["arn:", Aws.PARTITION, ":s3:::", source.s3_bucket_name, "/", source.s3_object_key],
                    )
                ],
            )
        )
        for secret in (*secrets.values(), *([self.login_secret] if self.login_secret else [])):
            secret.grant_read(role)
        self._acknowledge_instance_findings(existing_profile is None, raw_bucket)

    def _login_secret(self) -> secretsmanager.Secret:
        secret = secretsmanager.Secret(
            self,
            "LoginSecret",
            description="Dashboard login (user name and generated password)",
            generate_secret_string=secretsmanager.SecretStringGenerator(
                secret_string_template=json.dumps({"username": LOGIN_USERNAME}),
                generate_string_key="password",
                exclude_punctuation=True,
                password_length=24,
            ),
        )
        acknowledge(
            secret,
            "AwsSolutions-SMG4",
            "The login password is rotated by the operator (a new secret version, then a dashboard restart); "
            "automatic rotation would need a rotation Lambda for one password.",
        )
        return secret

    def _public_address(self, *, associated_separately: bool) -> str:
        """The Elastic IP of the instance (the dashboard's URL, or CloudFront's origin), as a token.

        With a Cognito login the user data names CloudFront's domain, and CloudFront's origin is this
        address; in the TLS mode the user data names the address in the certificate. The address is
        then attached by an association of its own, so that it does not wait for the instance (which
        would close a dependency cycle).
        """
        if not associated_separately:
            address = ec2.CfnEIP(self, "PublicAddress", domain="vpc", instance_id=self.instance.instance_id)
            return address.attr_public_ip
        address = ec2.CfnEIP(self, "PublicAddress", domain="vpc")
        ec2.CfnEIPAssociation(
            self,
            "PublicAddressAssociation",
            allocation_id=address.attr_allocation_id,
            instance_id=self.instance.instance_id,
        )
        return address.attr_public_ip

    def _create_role(self) -> iam.Role:
        return iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("ec2.amazonaws.com"),
            description="App instance: Session Manager, read raw/ and the database secrets",
            managed_policies=[iam.ManagedPolicy.from_aws_managed_policy_name("AmazonSSMManagedInstanceCore")],
        )

    def _admit_visitors(self, config: PipelineConfig) -> None:
        """The one inbound rule of the access mode: CloudFront's addresses, allowed_cidr, or none at all."""
        port = ec2.Port.tcp(config.dashboard_port)
        if config.access_mode == "cloudfront":
            prefix_list = cloudfront_prefix_list(self, config)
            self.security_group.add_ingress_rule(
                ec2.Peer.prefix_list(prefix_list), port, "Dashboard from CloudFront"
            )
            return
        if config.access_mode == "private":
            return
        self.security_group.add_ingress_rule(ec2.Peer.ipv4(config.allowed_cidr), port, "Dashboard over TLS")
        if config.open_to_the_internet:
            Annotations.of(self).add_warning_v2(
                "pipeline:open-dashboard",
                "allowed_cidr is 0.0.0.0/0: the dashboard's login page is reachable from anywhere; "
                "set -c allowed_cidr=<your IP>/32",
            )
            acknowledge(
                self.security_group,
                "AwsSolutions-EC23",
                "The operator set allowed_cidr to 0.0.0.0/0 in the context; only the dashboard port is open, "
                "over TLS, behind the dashboard's login.",
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
        reason = "Read-only access scoped to the raw/ prefix and the stack's own secrets."
        findings = [
            "Action::s3:GetObject*",
            "Action::s3:GetBucket*",
            "Action::s3:List*",
            f"Resource::<{logical_id(raw_bucket)}.Arn>/{RAW_PREFIX}*",
        ]
        for finding in findings:
            acknowledge(self, f"AwsSolutions-IAM5[{finding}]", reason)
        acknowledge(
            self,
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/AmazonSSMManagedInstanceCore]",
            "The AWS-managed Session Manager policy is what replaces SSH on the instance.",
        )


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


def read_login_command(secret_arn: str) -> str:
    """The AWS CLI command that prints the dashboard's user name and password."""
    return Fn.join(
        "",
        [
            "aws secretsmanager get-secret-value --region ",
            Aws.REGION,
            " --secret-id ",
            secret_arn,
            " --query SecretString --output text",
        ],
    )


def tunnel_command(instance_id: str, port: int) -> str:
    """The AWS CLI command that forwards localhost:`port` to the dashboard through Session Manager."""
    return Fn.join(
        "",
        [
            "aws ssm start-session --region ",
            Aws.REGION,
            " --target ",
            instance_id,
            " --document-name AWS-StartPortForwardingSession"
            f' --parameters \'{{"portNumber":["{port}"],"localPortNumber":["{port}"]}}\'',
        ],
    )
