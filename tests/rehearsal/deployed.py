"""Checks on what the emulator really created for a deployed stack (describe calls, not the template).

Resources are discovered from the stack (`list_stack_resources`, outputs and describe calls), never from a
hard-coded list, so a stack that gains a Lambda, a bucket or a queue is checked without touching this
file. Each check is small and named; a change in the stack touches the one check it concerns.
"""

from __future__ import annotations

import base64
import json
import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import boto3

from stacks.config import PipelineConfig
from stacks.dashboard_distribution import CLOUDFRONT_ORIGIN_FACING_PREFIX_LISTS
from stacks.lambda_bundling import RUNTIME
from tests.rehearsal.report import Report, expect

UNRESOLVED = re.compile(r"\$\{Token\[|\{\"(Ref|Fn::[A-Za-z]+)\"|\bAWS::(Region|AccountId|Partition)\b")


@dataclass
class DeployedStack:
    """A deployed stack: its outputs, its resources by type, and boto3 clients for the emulator."""

    name: str
    config: PipelineConfig
    outputs: dict[str, str] = field(default_factory=dict)
    resources: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    logical_ids: dict[str, str] = field(default_factory=dict)
    template: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def load(cls, config: PipelineConfig) -> DeployedStack:
        cloudformation = boto3.client("cloudformation")
        stack = cloudformation.describe_stacks(StackName=config.stack_name)["Stacks"][0]
        deployed = cls(config.stack_name, config)
        deployed.outputs = {item["OutputKey"]: item["OutputValue"] for item in stack.get("Outputs", [])}
        for page in cloudformation.get_paginator("list_stack_resources").paginate(
            StackName=config.stack_name
        ):
            for summary in page["StackResourceSummaries"]:
                deployed.resources[summary["ResourceType"]].append(summary["PhysicalResourceId"])
                deployed.logical_ids[summary["PhysicalResourceId"]] = summary["LogicalResourceId"]
        deployed.template = json.loads(
            json.dumps(cloudformation.get_template(StackName=config.stack_name)["TemplateBody"])
        )
        return deployed

    def logical_id(self, physical_id: str) -> str:
        return self.logical_ids[physical_id]

    def status(self) -> str:
        return str(
            boto3.client("cloudformation").describe_stacks(StackName=self.name)["Stacks"][0]["StackStatus"]
        )

    def instance(self) -> dict[str, Any]:
        reservations = boto3.client("ec2").describe_instances(InstanceIds=[self.outputs["InstanceId"]])
        return dict(reservations["Reservations"][0]["Instances"][0])

    def user_data(self) -> str:
        attribute = boto3.client("ec2").describe_instance_attribute(
            InstanceId=self.outputs["InstanceId"], Attribute="userData"
        )
        return base64.b64decode(attribute["UserData"]["Value"]).decode("utf-8")

    def database(self) -> dict[str, Any]:
        endpoint = self.outputs["DatabaseEndpoint"]
        for database in boto3.client("rds").describe_db_instances()["DBInstances"]:
            if database["Endpoint"]["Address"] == endpoint:
                return dict(database)
        raise AssertionError(f"no RDS instance answers at {endpoint}")

    def secret(self, arn: str) -> dict[str, Any]:
        value = boto3.client("secretsmanager").get_secret_value(SecretId=arn)["SecretString"]
        return dict(json.loads(value))

    def dashboard_origin(self) -> str:
        """Where the dashboard URL leads: the distribution's origin (cloudfront mode), else the URL."""
        identifiers = self.resources["AWS::CloudFront::Distribution"]
        if not identifiers:
            return self.outputs["DashboardUrl"]
        config = boto3.client("cloudfront").get_distribution(Id=identifiers[0])["Distribution"]
        return str(config["DistributionConfig"]["Origins"]["Items"][0]["DomainName"])

    def names_address(self, address: str) -> bool:
        """Whether the dashboard URL leads to `address` (as an IP, or in EC2's public DNS name)."""
        origin = self.dashboard_origin()
        return address in origin or f"ec2-{address.replace('.', '-')}." in origin

    @property
    def region(self) -> str:
        return str(boto3.client("cloudformation").meta.region_name)

    def template_types(self) -> set[str]:
        return {resource["Type"] for resource in self.template.get("Resources", {}).values()}


def _route_tables_by_subnet(vpc_id: str) -> dict[str, list[dict[str, Any]]]:
    tables = boto3.client("ec2").describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])
    by_subnet: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for table in tables["RouteTables"]:
        for association in table.get("Associations", []):
            if association.get("SubnetId"):
                by_subnet[association["SubnetId"]].extend(table.get("Routes", []))
    return by_subnet


def _subnets(vpc_id: str) -> list[dict[str, Any]]:
    return list(
        boto3.client("ec2").describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["Subnets"]
    )


def _subnet_type(subnet: dict[str, Any]) -> str:
    tags = {tag["Key"]: tag["Value"] for tag in subnet.get("Tags", [])}
    return tags.get("aws-cdk:subnet-type", "?")


def _has_internet_route(routes: list[dict[str, Any]]) -> bool:
    return any(str(route.get("GatewayId", "")).startswith("igw-") for route in routes)


def check_network(report: Report, stack: DeployedStack) -> None:
    vpc_ids = stack.resources["AWS::EC2::VPC"]
    report.check("network: one VPC", len(vpc_ids) == 1, f"found {vpc_ids}")
    if not vpc_ids:
        return
    subnets = _subnets(vpc_ids[0])
    routes = _route_tables_by_subnet(vpc_ids[0])
    isolated = [subnet for subnet in subnets if _subnet_type(subnet) == "Isolated"]
    public = [subnet for subnet in subnets if _subnet_type(subnet) == "Public"]

    def isolated_have_no_internet_route() -> str:
        expect(bool(isolated), "no isolated subnet")
        leaking = [
            subnet["SubnetId"] for subnet in isolated if _has_internet_route(routes[subnet["SubnetId"]])
        ]
        expect(not leaking, f"isolated subnets with a route to an internet gateway: {leaking}")
        return f"{len(isolated)} isolated subnets"

    def public_route_to_internet() -> str:
        expect(bool(public), "no public subnet")
        missing = [
            subnet["SubnetId"] for subnet in public if not _has_internet_route(routes[subnet["SubnetId"]])
        ]
        expect(not missing, f"public subnets without an internet route: {missing}")
        return f"{len(public)} public subnets"

    report.run(
        "network: isolated subnets have no route to an internet gateway", isolated_have_no_internet_route
    )
    report.run("network: public subnets route to the internet gateway", public_route_to_internet)

    def instance_in_public_subnet() -> None:
        subnet = stack.instance().get("SubnetId")
        expect(subnet in {item["SubnetId"] for item in public}, f"instance in subnet {subnet}")

    report.run("network: the instance is in a public subnet", instance_in_public_subnet)

    def flow_logs_to_log_bucket() -> str:
        logs = boto3.client("ec2").describe_flow_logs(Filters=[{"Name": "resource-id", "Values": vpc_ids}])
        destinations = [log.get("LogDestination", "") for log in logs["FlowLogs"]]
        bucket = stack.outputs["LogBucketName"]
        expect(any(bucket in destination for destination in destinations), f"destinations {destinations}")
        return ", ".join(destinations)

    report.run("network: VPC flow logs go to the log bucket", flow_logs_to_log_bucket)


def _ingress(group_id: str) -> list[dict[str, Any]]:
    groups = boto3.client("ec2").describe_security_groups(GroupIds=[group_id])["SecurityGroups"]
    return list(groups[0]["IpPermissions"])


def check_security_groups(report: Report, stack: DeployedStack) -> None:
    instance_groups = [group["GroupId"] for group in stack.instance().get("SecurityGroups", [])]

    def database_port_only_from_instance() -> None:
        database_groups = [group["VpcSecurityGroupId"] for group in stack.database()["VpcSecurityGroups"]]
        expect(bool(database_groups), "the database has no security group")
        for group_id in database_groups:
            for rule in _ingress(group_id):
                expect(
                    rule.get("FromPort") == 5432 and rule.get("ToPort") == 5432,
                    f"{group_id} admits ports {rule.get('FromPort')}-{rule.get('ToPort')}",
                )
                expect(not rule.get("IpRanges"), f"{group_id} admits CIDRs {rule.get('IpRanges')}")
                sources = {pair["GroupId"] for pair in rule.get("UserIdGroupPairs", [])}
                expect(
                    bool(sources) and sources <= set(instance_groups), f"{group_id} admits groups {sources}"
                )

    # The access mode's one inbound rule: CloudFront's origin-facing prefix list, allowed_cidr, or none.
    mode = stack.config.access_mode
    prefix_list = stack.config.cloudfront_prefix_list or CLOUDFRONT_ORIGIN_FACING_PREFIX_LISTS.get(
        stack.region, ""
    )
    source = {"cloudfront": f"the CloudFront prefix list {prefix_list}", "private": "nowhere"}.get(
        mode, stack.config.allowed_cidr
    )

    def dashboard_only_from_its_source() -> str:
        expect(bool(instance_groups), "the instance has no security group")
        rules = [rule for group_id in instance_groups for rule in _ingress(group_id)]
        expect(len(rules) == (0 if mode == "private" else 1), f"{len(rules)} inbound rules")
        for rule in rules:
            ports = (rule.get("FromPort"), rule.get("ToPort"))
            expect(ports == (stack.config.dashboard_port,) * 2, f"admits ports {ports}")
            cidrs = [item["CidrIp"] for item in rule.get("IpRanges", [])]
            lists = [item["PrefixListId"] for item in rule.get("PrefixListIds", [])]
            expect(not rule.get("UserIdGroupPairs"), "admits other groups")
            if mode == "cloudfront":
                expect(not cidrs and lists == [prefix_list], f"admits {cidrs} and prefix lists {lists}")
            else:
                expect(cidrs == [stack.config.allowed_cidr] and not lists, f"admits {cidrs} and {lists}")
        return f"{mode} mode"

    report.run("security groups: 5432 only from the instance's group", database_port_only_from_instance)
    report.run(
        f"security groups: port {stack.config.dashboard_port} only from {source}",
        dashboard_only_from_its_source,
    )


def _bucket_checks(bucket: str) -> dict[str, Callable[[], str | None]]:
    s3 = boto3.client("s3")

    def encrypted() -> None:
        rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
        algorithm = rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"]
        expect(algorithm in {"AES256", "aws:kms"}, f"algorithm {algorithm}")

    def public_access_blocked() -> None:
        block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
        expect(all(block.values()) and len(block) == 4, f"{block}")

    def tls_only() -> None:
        statements = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])["Statement"]
        expect(
            any(
                item["Effect"] == "Deny"
                and str(item.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport")).lower()
                == "false"
                for item in statements
            ),
            "no Deny on aws:SecureTransport=false",
        )

    def lifecycle() -> str:
        rules = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
        expect(bool(rules) and all(rule["Status"] == "Enabled" for rule in rules), f"{rules}")
        return f"{len(rules)} rule(s)"

    return {
        "encrypted": encrypted,
        "public access blocked": public_access_blocked,
        "TLS-only policy": tls_only,
        "lifecycle": lifecycle,
    }


def check_buckets(report: Report, stack: DeployedStack) -> None:
    buckets = stack.resources["AWS::S3::Bucket"]
    report.check("buckets: the stack has its buckets", len(buckets) >= 2, f"found {buckets}")
    for bucket in buckets:
        role = next((key for key, value in stack.outputs.items() if value == bucket), bucket)
        for name, probe in _bucket_checks(bucket).items():
            report.run(f"bucket {role}: {name}", probe)
    raw = stack.outputs["RawBucketName"]
    versioning = boto3.client("s3").get_bucket_versioning(Bucket=raw).get("Status")
    report.check("bucket RawBucketName: versioned", versioning == "Enabled", f"versioning {versioning}")


def check_database(report: Report, stack: DeployedStack, isolated_subnets: Callable[[], set[str]]) -> None:
    database = stack.database()
    report.check(
        "database: PostgreSQL 16",
        database["Engine"] == "postgres" and str(database["EngineVersion"]).startswith("16."),
        f"{database['Engine']} {database['EngineVersion']}",
    )
    report.check("database: not publicly accessible", database["PubliclyAccessible"] is False)
    report.check("database: storage encrypted", database["StorageEncrypted"] is True)
    subnets = {subnet["SubnetIdentifier"] for subnet in database["DBSubnetGroup"]["Subnets"]}
    isolated = isolated_subnets()
    report.check(
        "database: in the isolated subnet group",
        bool(subnets) and subnets == isolated,
        f"subnet group {sorted(subnets)}, isolated {sorted(isolated)}",
    )


def isolated_subnet_ids(stack: DeployedStack) -> set[str]:
    vpc_id = stack.resources["AWS::EC2::VPC"][0]
    return {subnet["SubnetId"] for subnet in _subnets(vpc_id) if _subnet_type(subnet) == "Isolated"}


def check_secrets(report: Report, stack: DeployedStack) -> None:
    database = stack.database()
    for output in ("DatabaseSecretArn", "DashboardSecretArn"):

        def complete(output: str = output) -> str:
            secret = stack.secret(stack.outputs[output])
            missing = {"username", "password", "host", "port", "dbname"} - set(secret)
            expect(not missing, f"missing {sorted(missing)}")
            expect(secret["host"] == database["Endpoint"]["Address"], f"host {secret['host']}")
            expect(int(secret["port"]) == int(database["Endpoint"]["Port"]), f"port {secret['port']}")
            return f"user {secret['username']}"

        report.run(f"secret {output}: RDS format, attached to the database", complete)
    admin = stack.secret(stack.outputs["DatabaseSecretArn"])
    reader = stack.secret(stack.outputs["DashboardSecretArn"])
    report.check(
        "secrets: the dashboard's user and password differ from the owner's",
        admin["username"] != reader["username"] and admin["password"] != reader["password"],
    )


def check_functions(report: Report, stack: DeployedStack) -> None:
    names = stack.resources["AWS::Lambda::Function"]
    client = boto3.client("lambda")
    raw = stack.outputs["RawBucketName"]
    pipeline_functions = []
    for name in names:
        configuration = client.get_function_configuration(FunctionName=name)
        if configuration.get("Environment", {}).get("Variables", {}).get("RAW_BUCKET") == raw:
            pipeline_functions.append(configuration)
    report.check(
        "lambda: the pipeline's functions write to the raw bucket",
        bool(pipeline_functions)
        and stack.outputs["IngestionFunctionName"] in {f["FunctionName"] for f in pipeline_functions},
        f"functions {names}",
    )
    report.check(
        "lambda: the dispatcher and the worker",
        {stack.outputs["IngestionFunctionName"], stack.outputs["DispatcherFunctionName"]}
        <= {f["FunctionName"] for f in pipeline_functions},
        f"functions {names}",
    )
    for configuration in pipeline_functions:
        report.check(
            f"lambda {configuration['FunctionName']}: {RUNTIME.name} on arm64",
            configuration["Runtime"] == RUNTIME.name and configuration.get("Architectures") == ["arm64"],
            f"{configuration['Runtime']} {configuration.get('Architectures')}",
        )
        if stack.config.lab:
            report.check(
                f"lambda {configuration['FunctionName']}: runs as {stack.config.lab_role_name}",
                configuration["Role"].endswith(f":role/{stack.config.lab_role_name}"),
                configuration["Role"],
            )


def check_schedule(report: Report, stack: DeployedStack) -> None:
    client = boto3.client("scheduler")
    # The schedule starts the dispatcher, which fans the run out to the worker through the shard queue.
    function_arn = boto3.client("lambda").get_function_configuration(
        FunctionName=stack.outputs["DispatcherFunctionName"]
    )["FunctionArn"]
    schedules = [
        client.get_schedule(Name=item["Name"], GroupName=item.get("GroupName", "default"))
        for item in client.list_schedules()["Schedules"]
    ]
    ingestion = [item for item in schedules if item["Target"]["Arn"] == function_arn]
    clock = stack.config.schedule_clock
    expected = f"cron({clock.minute} {clock.hour} * * ? *)"

    def daily_ingestion() -> str:
        expect(len(ingestion) == 1, f"{len(ingestion)} schedules target the dispatcher")
        schedule = ingestion[0]
        expect(schedule["ScheduleExpression"] == expected, f"expression {schedule['ScheduleExpression']}")
        zone = schedule.get("ScheduleExpressionTimezone")
        expect(zone == stack.config.schedule_time_zone, f"time zone {zone}")
        if stack.config.lab:
            role = schedule["Target"]["RoleArn"]
            expect(role.endswith(f":role/{stack.config.lab_role_name}"), f"role {role}")
        return f"{expected} {zone}"

    report.run("schedule: daily ingestion cron and time zone", daily_ingestion)


def _queue_attributes(url: str) -> dict[str, str]:
    return dict(boto3.client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"])


def check_queues(report: Report, stack: DeployedStack) -> None:
    """The shard queue (drained by the worker, failures to its DLQ) and the ETL queue (S3 events)."""

    def redrives_to(queue_output: str, dead_letter_arn: str | None = None) -> str:
        attributes = _queue_attributes(stack.outputs[queue_output])
        policy = json.loads(attributes.get("RedrivePolicy", "{}"))
        expect(bool(policy.get("deadLetterTargetArn")), f"no redrive policy: {attributes}")
        if dead_letter_arn is not None:
            expect(policy["deadLetterTargetArn"] == dead_letter_arn, f"redrives to {policy}")
        expect(attributes.get("SqsManagedSseEnabled") == "true", "not encrypted (SQS-managed)")
        return f"after {policy['maxReceiveCount']} receives"

    def shard_queue() -> str:
        dead_letter = _queue_attributes(stack.outputs["ShardDeadLetterQueueUrl"])["QueueArn"]
        return redrives_to("ShardQueueUrl", dead_letter)

    def worker_drains_shard_queue() -> str:
        queue_arn = _queue_attributes(stack.outputs["ShardQueueUrl"])["QueueArn"]
        mappings = boto3.client("lambda").list_event_source_mappings(EventSourceArn=queue_arn)
        functions = [item["FunctionArn"].rsplit(":", 1)[-1] for item in mappings["EventSourceMappings"]]
        expect(functions == [stack.outputs["IngestionFunctionName"]], f"mapped to {functions}")
        batch = mappings["EventSourceMappings"][0].get("BatchSize")
        expect(batch == 1, f"batch size {batch}")
        return "one shard per invocation"

    def raw_objects_reach_etl_queue() -> str:
        queue_arn = _queue_attributes(stack.outputs["EtlQueueUrl"])["QueueArn"]
        events = boto3.client("events")
        raw = stack.outputs["RawBucketName"]
        for rule_name in stack.resources["AWS::Events::Rule"]:
            rule = events.describe_rule(Name=rule_name)
            pattern = json.loads(rule.get("EventPattern", "{}"))
            targets = [t["Arn"] for t in events.list_targets_by_rule(Rule=rule_name)["Targets"]]
            if queue_arn in targets:
                expect(rule["State"] == "ENABLED", f"rule {rule['State']}")
                expect(pattern.get("detail", {}).get("bucket", {}).get("name") == [raw], f"pattern {pattern}")
                return f"rule {rule_name}"
        raise AssertionError(f"no rule targets {queue_arn}")

    report.run("queues: the shard queue redrives to its dead-letter queue", shard_queue)
    report.run("queues: the worker Lambda drains the shard queue", worker_drains_shard_queue)
    report.run("queues: the ETL queue has a dead-letter queue", lambda: redrives_to("EtlQueueUrl"))
    report.run("queues: raw-bucket object events go to the ETL queue", raw_objects_reach_etl_queue)


def check_distribution(report: Report, stack: DeployedStack) -> None:
    """cloudfront mode: the dashboard URL is the distribution's, its origin the instance on the port."""
    if stack.config.access_mode != "cloudfront":
        report.check(
            f"{stack.config.access_mode} mode: no CloudFront distribution",
            not stack.resources["AWS::CloudFront::Distribution"],
            f"{stack.resources['AWS::CloudFront::Distribution']}",
        )
        return

    def distribution() -> str:
        identifiers = stack.resources["AWS::CloudFront::Distribution"]
        expect(len(identifiers) == 1, f"distributions {identifiers}")
        config = boto3.client("cloudfront").get_distribution(Id=identifiers[0])["Distribution"]
        domain = config["DomainName"]
        expect(stack.outputs["DashboardUrl"] == f"https://{domain}", f"URL {stack.outputs['DashboardUrl']}")
        settings = config["DistributionConfig"]
        behavior = settings["DefaultCacheBehavior"]
        expect(behavior["ViewerProtocolPolicy"] == "redirect-to-https", f"viewer {behavior}")
        origins = settings["Origins"]["Items"]
        expect(len(origins) == 1, f"origins {origins}")
        custom = origins[0]["CustomOriginConfig"]
        expect(custom["HTTPPort"] == stack.config.dashboard_port, f"origin port {custom['HTTPPort']}")
        address = stack.instance().get("PublicIpAddress", "")
        expect(stack.names_address(address), f"origin {origins[0]['DomainName']}, instance {address}")
        return f"{domain} -> {origins[0]['DomainName']}:{custom['HTTPPort']}"

    report.run("cloudfront: the dashboard URL's distribution, origin the instance's port", distribution)


def check_instance(report: Report, stack: DeployedStack) -> None:
    instance = stack.instance()
    profile = instance.get("IamInstanceProfile", {}).get("Arn", "")
    expected_profile = stack.config.lab_instance_profile_name if stack.config.lab else None
    report.check(
        "instance: has an instance profile" + (f" ({expected_profile})" if expected_profile else ""),
        bool(profile) and (expected_profile is None or profile.endswith(f"/{expected_profile}")),
        f"profile {profile or 'none'}",
    )
    tokens = instance.get("MetadataOptions", {}).get("HttpTokens")
    report.check("instance: IMDSv2 required", tokens == "required", f"HttpTokens {tokens}")
    user_data = stack.user_data()
    unresolved = UNRESOLVED.findall(user_data)
    report.check("instance: user data has no unresolved token", not unresolved, f"found {unresolved[:3]}")
    report.check(
        "instance: user data fetches the source asset",
        re.search(r"aws s3 cp .* s3://\S+\.zip ", user_data) is not None,
        "no `aws s3 cp s3://....zip` line",
    )
    volumes = [mapping.get("Ebs", {}) for mapping in instance.get("BlockDeviceMappings", [])]
    report.check("instance: has a root volume", bool(volumes), f"{volumes}")


def check_iam(report: Report, stack: DeployedStack) -> None:
    iam_types = sorted({kind for kind in stack.resources if kind.startswith("AWS::IAM::")})
    if stack.config.lab:
        report.check("lab mode: 0 IAM resources in the stack", not iam_types, f"found {iam_types}")
    else:
        report.check(
            "normal mode: the stack creates its own roles", "AWS::IAM::Role" in iam_types, f"{iam_types}"
        )


def check_everything(report: Report, stack: DeployedStack) -> None:
    """Every check on a deployed stack, each as one line."""
    report.check("stack: deployed", stack.status() in {"CREATE_COMPLETE", "UPDATE_COMPLETE"}, stack.status())
    for check in (check_network, check_security_groups, check_buckets):
        check(report, stack)
    check_database(report, stack, lambda: isolated_subnet_ids(stack))
    for check in (
        check_secrets,
        check_functions,
        check_queues,
        check_schedule,
        check_distribution,
        check_instance,
        check_iam,
    ):
        check(report, stack)
