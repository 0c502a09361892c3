"""Template assertions on the security and behaviour of each resource, in every mode."""

from __future__ import annotations

import json

from aws_cdk.assertions import Match

from tests.infra.conftest import Synthesized

# Actions AWS only accepts on Resource "*" (they act on no particular resource).
ACTIONS_THAT_NEED_STAR_RESOURCE = frozenset(
    {"ec2:DescribeSecurityGroups", "ec2:DescribeInstances", "cloudwatch:PutMetricData"}
)


def test_database_is_private_encrypted_and_backed_up(any_mode: Synthesized) -> None:
    any_mode.template.has_resource_properties(
        "AWS::RDS::DBInstance",
        {
            "Engine": "postgres",
            "EngineVersion": Match.string_like_regexp(r"^16\."),
            "PubliclyAccessible": False,
            "StorageEncrypted": True,
            "BackupRetentionPeriod": 7,
            # A lab account allows burstable db.t3 on gp2 only (stacks/lab_profile.py).
            "DBInstanceClass": "db.t3.micro" if any_mode.mode == "lab" else "db.t4g.micro",
            "StorageType": "gp2" if any_mode.mode == "lab" else "gp3",
        },
    )
    _, subnet_group = any_mode.only("AWS::RDS::DBSubnetGroup")
    isolated = {name for name in any_mode.resources("AWS::EC2::Subnet") if "isolated" in name}
    assert {ref["Ref"] for ref in subnet_group["Properties"]["SubnetIds"]} == isolated


def test_database_port_is_open_only_to_the_app_instance(any_mode: Synthesized) -> None:
    database_group = next(
        name for name in any_mode.resources("AWS::EC2::SecurityGroup") if name.startswith("Database")
    )
    app_group = next(name for name in any_mode.resources("AWS::EC2::SecurityGroup") if name.startswith("App"))
    assert (
        "SecurityGroupIngress"
        not in any_mode.resources("AWS::EC2::SecurityGroup")[database_group]["Properties"]
    )
    rules = [
        rule["Properties"]
        for rule in any_mode.resources("AWS::EC2::SecurityGroupIngress").values()
        if rule["Properties"]["GroupId"] == {"Fn::GetAtt": [database_group, "GroupId"]}
    ]
    assert len(rules) == 1
    assert rules[0]["SourceSecurityGroupId"] == {"Fn::GetAtt": [app_group, "GroupId"]}
    assert rules[0]["FromPort"] == rules[0]["ToPort"]
    assert "CidrIp" not in rules[0]


def test_database_removal_follows_the_configuration(dev: Synthesized, production: Synthesized) -> None:
    _, dev_database = dev.only("AWS::RDS::DBInstance")
    assert dev_database["DeletionPolicy"] == "Delete"
    assert dev_database["Properties"]["DeleteAutomatedBackups"] is True
    _, production_database = production.only("AWS::RDS::DBInstance")
    assert production_database["DeletionPolicy"] == "Snapshot"


def test_the_database_secrets_are_generated_in_rds_format_and_attached(any_mode: Synthesized) -> None:
    # The reader's template is a Fn::Join (it names the master secret's ARN): compare the literal text.
    templates = [
        json.dumps(secret["Properties"]["GenerateSecretString"]["SecretStringTemplate"]).replace("\\", "")
        for secret in any_mode.resources("AWS::SecretsManager::Secret").values()
    ]
    for username in ("pipeline_admin", "dashboard_reader", "dashboard_explorer"):
        assert any(
            f'"username":"{username}"' in text and '"dbname":"pipeline"' in text for text in templates
        ), username
    # Attaching fills in host and port, and the instance gets each attachment's ARN.
    attachments = any_mode.resources("AWS::SecretsManager::SecretTargetAttachment")
    assert len(attachments) == 3
    assert all(a["Properties"]["TargetType"] == "AWS::RDS::DBInstance" for a in attachments.values())


def test_instance_requires_imdsv2_encrypted_disk_and_no_ssh(any_mode: Synthesized) -> None:
    any_mode.template.has_resource_properties(
        "AWS::EC2::LaunchTemplate", {"LaunchTemplateData": {"MetadataOptions": {"HttpTokens": "required"}}}
    )
    _, instance = any_mode.only("AWS::EC2::Instance")
    properties = instance["Properties"]
    assert "KeyName" not in properties
    assert all(device["Ebs"]["Encrypted"] for device in properties["BlockDeviceMappings"])
    assert properties["NetworkInterfaces"][0]["SubnetId"]["Ref"].startswith("NetworkVpcpublic")


def test_buckets_are_encrypted_private_and_tls_only(any_mode: Synthesized) -> None:
    buckets = any_mode.resources("AWS::S3::Bucket")
    assert len(buckets) == 2
    for bucket in buckets.values():
        properties = bucket["Properties"]
        assert properties["BucketEncryption"]["ServerSideEncryptionConfiguration"][0][
            "ServerSideEncryptionByDefault"
        ]
        assert properties["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        }
    for policy in any_mode.resources("AWS::S3::BucketPolicy").values():
        statements = policy["Properties"]["PolicyDocument"]["Statement"]
        tls_only = next(s for s in statements if s.get("Condition", {}).get("Bool"))
        bucket_arn = {"Fn::GetAtt": [policy["Properties"]["Bucket"]["Ref"], "Arn"]}
        # Values, not keys: an Allow in place of the Deny, or a narrower action, must fail here.
        assert tls_only == {
            "Action": "s3:*",
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            "Effect": "Deny",
            "Principal": {"AWS": "*"},
            "Resource": [bucket_arn, {"Fn::Join": ["", [bucket_arn, "/*"]]}],
        }


def test_raw_bucket_keeps_versions_for_a_while(any_mode: Synthesized) -> None:
    any_mode.template.has_resource_properties(
        "AWS::S3::Bucket",
        {
            "VersioningConfiguration": {"Status": "Enabled"},
            "LifecycleConfiguration": {
                "Rules": Match.array_with(
                    [
                        Match.object_like(
                            {"NoncurrentVersionExpiration": {"NoncurrentDays": 30}, "Status": "Enabled"}
                        )
                    ]
                )
            },
            "LoggingConfiguration": Match.object_like({"LogFilePrefix": "s3-access/raw-bucket/"}),
        },
    )


def test_ingestion_may_write_only_under_raw(any_mode: Synthesized) -> None:
    raw_bucket = next(
        name for name in any_mode.resources("AWS::S3::Bucket") if name.startswith("StorageRawBucket")
    )
    raw_policy = next(
        policy
        for policy in any_mode.resources("AWS::S3::BucketPolicy").values()
        if policy["Properties"]["Bucket"] == {"Ref": raw_bucket}
    )
    deny = next(
        s
        for s in raw_policy["Properties"]["PolicyDocument"]["Statement"]
        if s.get("Sid") == "IngestionWritesOnlyRawPrefix"
    )
    assert deny["Effect"] == "Deny"
    assert set(deny["Action"]) == {"s3:PutObject", "s3:DeleteObject"}
    assert deny["NotResource"] == {"Fn::Join": ["", [{"Fn::GetAtt": [raw_bucket, "Arn"]}, "/raw/*"]]}
    roles = [function["Properties"]["Role"] for _, function in _ingestion_functions(any_mode)]
    principals = deny["Principal"]["AWS"]
    if any_mode.mode == "lab":
        # One shared lab role for both functions: named once.
        assert roles[0] == roles[1] and principals in (roles[0], [roles[0]])
    else:
        assert len(roles) == 2 and principals == roles


def _ingestion_functions(synthesized: Synthesized) -> list[tuple[str, dict]]:
    """The shard worker, then the dispatcher."""
    functions = synthesized.resources("AWS::Lambda::Function")
    return [
        next((name, f) for name, f in functions.items() if name.startswith(prefix))
        for prefix in ("IngestionFunction", "IngestionDispatcher")
    ]


def _ingestion_function(synthesized: Synthesized) -> tuple[str, dict]:
    return _ingestion_functions(synthesized)[0]


def test_ingestion_grants_in_dev_are_scoped_to_raw(dev: Synthesized) -> None:
    _, function = _ingestion_function(dev)
    role_name = function["Properties"]["Role"]["Fn::GetAtt"][0]
    policy = next(
        p
        for p in dev.resources("AWS::IAM::Policy").values()
        if p["Properties"]["Roles"] == [{"Ref": role_name}]
    )
    s3_writes = [
        s for s in policy["Properties"]["PolicyDocument"]["Statement"] if "s3:PutObject" in s["Action"]
    ]
    assert len(s3_writes) == 1
    assert s3_writes[0]["Resource"]["Fn::Join"][1][1] == "/raw/*"


def test_lambda_is_arm64_python313_outside_the_vpc(any_mode: Synthesized) -> None:
    _, function = _ingestion_function(any_mode)
    properties = function["Properties"]
    assert properties["Runtime"] == "python3.13"
    assert properties["Architectures"] == ["arm64"]
    assert properties["Handler"] == "lambda_src.handler.handler"
    assert "VpcConfig" not in properties
    assert set(properties["Environment"]["Variables"]) >= {"RAW_BUCKET", "PIPELINE_HOME"}
    any_mode.template.has_resource_properties("AWS::Lambda::EventInvokeConfig", {"MaximumRetryAttempts": 2})


def test_schedule_runs_daily_in_the_configured_time_zone(dev: Synthesized, production: Synthesized) -> None:
    dev.template.has_resource_properties(
        "AWS::Scheduler::Schedule",
        {
            "ScheduleExpression": "cron(0 8 * * ? *)",
            "ScheduleExpressionTimezone": "America/New_York",
            "Target": Match.object_like(
                {
                    "RetryPolicy": {"MaximumEventAgeInSeconds": 3600, "MaximumRetryAttempts": 2},
                    "DeadLetterConfig": Match.any_value(),
                }
            ),
        },
    )
    production.template.has_resource_properties(
        "AWS::Scheduler::Schedule",
        {"ScheduleExpression": "cron(45 6 * * ? *)", "ScheduleExpressionTimezone": "Europe/Paris"},
    )


def test_dead_letter_queue_is_encrypted_and_alarms_notify_the_topic(any_mode: Synthesized) -> None:
    any_mode.template.has_resource_properties("AWS::SQS::Queue", {"SqsManagedSseEnabled": True})
    topic_name, _ = any_mode.only("AWS::SNS::Topic")
    every_alarm = any_mode.resources("AWS::CloudWatch::Alarm")
    # The ingestion's alarms; the rest (tests/infra/test_observability.py) notify the same topic.
    alarms = [alarm for name, alarm in every_alarm.items() if name.startswith("Alarms")]
    assert sorted(alarm["Properties"]["MetricName"] for alarm in alarms) == [
        "ApproximateAgeOfOldestMessage",
        *["ApproximateNumberOfMessagesVisible"] * 3,
        *["Errors"] * 2,
    ]
    queues = any_mode.resources("AWS::SQS::Queue").values()
    assert all(queue["Properties"]["SqsManagedSseEnabled"] for queue in queues)
    assert all(alarm["Properties"]["AlarmActions"] == [{"Ref": topic_name}] for alarm in every_alarm.values())


def test_alarm_email_subscribes_only_when_configured(dev: Synthesized, production: Synthesized) -> None:
    assert dev.resources("AWS::SNS::Subscription") == {}
    production.template.has_resource_properties(
        "AWS::SNS::Subscription", {"Protocol": "email", "Endpoint": "ops@example.com"}
    )


def test_network_has_no_nat_an_s3_endpoint_and_flow_logs_to_s3(any_mode: Synthesized) -> None:
    assert any_mode.resources("AWS::EC2::NatGateway") == {}
    any_mode.template.has_resource_properties(
        "AWS::EC2::VPCEndpoint", {"VpcEndpointType": "Gateway", "ServiceName": Match.any_value()}
    )
    any_mode.template.has_resource_properties(
        "AWS::EC2::FlowLog", {"LogDestinationType": "s3", "TrafficType": "ALL", "ResourceType": "VPC"}
    )
    subnets = any_mode.resources("AWS::EC2::Subnet").values()
    assert len(subnets) == 4
    assert {json.dumps(subnet["Properties"]["AvailabilityZone"]) for subnet in subnets} == {
        json.dumps({"Fn::Select": [index, {"Fn::GetAZs": ""}]}) for index in (0, 1)
    }


def test_iam_statements_have_no_wildcard_actions(dev: Synthesized) -> None:
    statements = [
        statement
        for policy in dev.resources("AWS::IAM::Policy").values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]
    assert statements
    for statement in statements:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        assert not [action for action in actions if action == "*" or action.endswith(":*")], statement
        resources = (
            statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        )
        if "*" in resources:
            assert set(actions) <= ACTIONS_THAT_NEED_STAR_RESOURCE, statement


def test_lab_mode_creates_no_iam_and_uses_the_existing_role_and_profile(lab: Synthesized) -> None:
    types = {resource["Type"] for resource in lab.template_json["Resources"].values()}
    assert not [kind for kind in types if kind.startswith("AWS::IAM::")]
    assert not [
        kind for kind in types if kind.startswith("Custom::") or kind == "AWS::CloudFormation::CustomResource"
    ]
    assert "BootstrapVersion" not in lab.template_json.get("Parameters", {})
    roles = {json.dumps(function["Properties"]["Role"]) for _, function in _ingestion_functions(lab)}
    assert len(roles) == 1
    role_arn = roles.pop()
    assert ":role/LabRole" in role_arn
    schedule_role = json.dumps(lab.only("AWS::Scheduler::Schedule")[1]["Properties"]["Target"]["RoleArn"])
    assert schedule_role == role_arn
    _, instance = lab.only("AWS::EC2::Instance")
    # The name is taken from the profile's ARN at deploy time (Fn::Select over Fn::Split).
    profile = json.dumps(instance["Properties"]["IamInstanceProfile"])
    assert ":instance-profile/" in profile and "LabInstanceProfile" in profile
    _, database = lab.only("AWS::RDS::DBInstance")
    assert "MonitoringInterval" not in database["Properties"]


def test_outputs_name_what_the_operator_needs(any_mode: Synthesized) -> None:
    outputs = any_mode.template_json["Outputs"]
    assert set(outputs) >= {
        "DashboardUrl",
        "RawBucketName",
        "DatabaseEndpoint",
        "DatabaseSecretArn",
        "RunEtlCommand",
        "RunIngestionCommand",
        "RunBackfillCommand",
        "ShardDeadLetterQueueUrl",
        "EtlQueueUrl",
    }
    dispatcher, _ = _ingestion_functions(any_mode)[1]
    for name in ("RunIngestionCommand", "RunBackfillCommand"):
        assert {"Ref": dispatcher} in outputs[name]["Value"]["Fn::Join"][1]
    backfill = "".join(
        part for part in outputs["RunBackfillCommand"]["Value"]["Fn::Join"][1] if isinstance(part, str)
    )
    assert """--payload '{"start":"2016-01-01","end":"2025-12-31"}'""" in backfill
    etl_command = json.dumps(outputs["RunEtlCommand"]["Value"])
    assert "aws ssm send-command" in etl_command
    assert "systemctl start pipeline-etl.service" in etl_command
    login = json.dumps(outputs["DashboardLoginCommand"]["Value"])
    assert "aws secretsmanager get-secret-value" in login and "--query SecretString --output text" in login
    assert "AWS-StartPortForwardingSession" in json.dumps(outputs["TunnelCommand"]["Value"])
