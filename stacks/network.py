"""The VPC: two AZs, public subnets for the app instance, isolated subnets for the database.

There is no NAT gateway (about 33 USD a month each): the instance sits in a public subnet behind its
security group, the database needs no internet, and the Lambdas run outside the VPC. S3 traffic from the
instance goes through a free gateway endpoint. Flow logs go to the log bucket, a destination that needs
no IAM role (which lab accounts could not create).
"""

from __future__ import annotations

from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_s3 as s3
from constructs import Construct

from stacks.config import PipelineConfig

AVAILABILITY_ZONES = 2
FLOW_LOG_PREFIX = "vpc-flow-logs/"


class NetworkConstruct(Construct):
    """The VPC (`vpc`), with an S3 gateway endpoint and flow logs to `log_bucket`."""

    def __init__(
        self, scope: Construct, construct_id: str, *, config: PipelineConfig, log_bucket: s3.IBucket
    ) -> None:
        super().__init__(scope, construct_id)
        self.vpc = ec2.Vpc(
            self,
            "Vpc",
            ip_addresses=ec2.IpAddresses.cidr("10.20.0.0/16"),
            max_azs=AVAILABILITY_ZONES,
            nat_gateways=0,
            subnet_configuration=[
                ec2.SubnetConfiguration(name="public", subnet_type=ec2.SubnetType.PUBLIC, cidr_mask=24),
                ec2.SubnetConfiguration(
                    name="isolated", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED, cidr_mask=24
                ),
            ],
            gateway_endpoints={
                "S3": ec2.GatewayVpcEndpointOptions(service=ec2.GatewayVpcEndpointAwsService.S3)
            },
            # Restricting the default security group takes a custom resource with its own IAM role.
            restrict_default_security_group=not config.lab,
        )
        self.vpc.add_flow_log(
            "FlowLogs",
            destination=ec2.FlowLogDestination.to_s3(log_bucket, FLOW_LOG_PREFIX),
            traffic_type=ec2.FlowLogTrafficType.ALL,
        )
