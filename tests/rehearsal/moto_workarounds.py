"""Every place where moto (5.2.5, server mode) falls short of AWS, and the smallest stand-in for it.

This is the rehearsal's only module that bends the emulator. Each workaround names the moto limitation
and the AWS behaviour it stands for, so that a newer moto can drop it; none of them changes the
project's template. `install()` runs inside the emulator's process (tests/rehearsal/emulator.py) before
it serves a request. The rehearsal prints one "emulator limit" line for each entry of `LIMITS` and of
`SKIPPED_RESOURCE_TYPES` that the deployed template uses.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

# moto 5.2.5 has no CloudFormation model for these types and skips them with a warning; AWS creates
# them. The rehearsal reports each as an emulator limit, and asserts on the template for them instead.
SKIPPED_RESOURCE_TYPES: Mapping[str, str] = {
    "AWS::SQS::QueuePolicy": "the queues' policies (TLS only; EventBridge's send to the ETL queue) are not "
    "applied: each service's permission is checked on the template instead (tests/infra/service_edges.py)",
    "AWS::SNS::TopicPolicy": "the alarm topic's policy (TLS only; CloudWatch's publish for the stack's alarms) "
    "is not applied: checked on the template instead (tests/infra/service_edges.py)",
    "AWS::Lambda::EventInvokeConfig": "the Lambda's async retry and maximum event age are not applied",
    "AWS::CDK::Metadata": "CDK's metadata resource (no effect in AWS either)",
}

# What each workaround below stands in for (printed by the rehearsal, one line each).
LIMITS: Mapping[str, str] = {
    "secretsmanager-secret": "no CloudFormation model for AWS::SecretsManager::Secret: "
    "created here with its generated password (GenerateSecretString), as AWS does",
    "secret-attachment": "no model for AWS::SecretsManager::SecretTargetAttachment: "
    "host, port, engine and dbInstanceIdentifier are merged into the secret, as AWS does",
    "scheduler-schedule": "no model for AWS::Scheduler::Schedule: created through moto's Scheduler backend",
    "bucket-policy": "no model for AWS::S3::BucketPolicy: applied with PutBucketPolicy",
    "alarm": "no model for AWS::CloudWatch::Alarm: created with PutMetricAlarm",
    "eip-association": "no model for AWS::EC2::EIPAssociation (the TLS mode's address, made before the "
    "instance): associated with AssociateAddress, as AWS does",
    "tls-condition": "bucket policies ignore Bool/NumericLessThan conditions, so a TLS-only Deny denies "
    "everything: evaluated for what this emulator serves (TLS 1.2 or later only)",
    "flow-log-prefix": "an S3 flow-log destination with a key prefix is taken for a bucket name: "
    "checked against the bucket part of the ARN, as AWS does",
    "eip-public-ip": "Fn::GetAtt PublicIp of AWS::EC2::EIP is not supported: answered with the address; "
    "an EIP has no update, so a new InstanceId drops it from the stack: re-associated, as AWS does",
    "change-set-outputs": "a change-set deploy leaves the stack's Outputs (and template) unparsed: "
    "re-read after execution, as AWS reports them; DeleteChangeSet of a name that does not exist "
    "fails with a server error and DescribeChangeSet of one answers ValidationError (the CDK CLI deletes "
    "its change set before each update and waits for ChangeSetNotFound): a no-op and ChangeSetNotFound, "
    "as in AWS",
    "custom-resources": "Lambda-backed custom resources need Docker to run their handler: "
    "answered SUCCESS at once; Custom::VpcRestrictDefaultSG's effect (no rules on the default "
    "security group) is applied, Custom::S3AutoDeleteObjects's (empty the bucket on delete) is left to "
    "`make destroy`'s teardown",
    "bucket-properties": "AWS::S3::Bucket takes only encryption and tags: versioning, lifecycle rules and "
    "the public access block are applied with their API calls, as AWS does",
    "lambda-architecture": "AWS::Lambda::Function ignores Architectures (always x86_64): set as the "
    "template says",
    "vpc-dependents": "the stack's route tables, internet gateway (and its attachment), S3 gateway "
    "endpoint, flow log and the terminated instance's network interface have no CloudFormation delete, "
    "so the VPC cannot be deleted: removed with the VPC, as AWS does (each is named after a destroy)",
    "subnet-association": "AWS::EC2::SubnetRouteTableAssociation is recorded apart from the route table, so "
    "describe-route-tables shows no subnet: associated for real, as AWS does",
    "lambda-code-location": "GetFunction's Code.Location is a made-up URL that cannot be fetched: the "
    "deployed code is read from the S3 object the template names, which is what AWS serves",
    "ssm-parameter-update": "an update with UsePreviousValue for an SSM-typed parameter (the AMI, the "
    "bootstrap version) looks up the previously resolved value as a parameter name and fails: the resolved "
    "value is kept (AWS keeps the name and resolves it again)",
    "ssm-run-command": "SSM Run Command is recorded but runs nothing (there is no instance): "
    "AWS-RunShellScript commands run as root in the instance's sandbox, as the SSM agent runs them",
    "cloudfront-distribution": "no model for AWS::CloudFront::Distribution: created through moto's "
    "CloudFront backend (origin, viewer protocol, cache and origin-request policies; moto drops the "
    "function association), with its cloudfront.net DomainName, as AWS does",
    "cloudfront-function": "no model for AWS::CloudFront::Function: created (and published) through moto's "
    "CloudFront backend with its code, as AWS does with AutoPublish",
    "prefix-list-ingress": "AWS::EC2::SecurityGroupIngress ignores SourcePrefixListId (and fails its own "
    "check that the rule has a source): authorized with the prefix list as its source, as AWS does",
    "sqs-lambda-delivery": "SendMessage to a queue with an event source mapping invokes the function inline "
    "(which needs Docker) and drops the message: messages stay queued, and the rehearsal runs the worker "
    "for each, one per batch, as the mapping does",
    "bucket-eventbridge": "AWS::S3::Bucket ignores NotificationConfiguration: EventBridge delivery is turned "
    "on with its API call, so new objects reach the rule and the ETL queue, as in AWS",
    "late-log-delivery": "moto writes access logs at once and no flow logs; S3 delivers access logs hours late: when the stack "
    "is deleted (after make destroy's teardown has emptied the buckets), the emulator makes one late "
    "access-log delivery into the log bucket, through the bucket's policy as S3's log delivery would; "
    "the rehearsal checks it was refused and that the bucket went",
    "creation-policy": "moto ignores CreationPolicy (the instance is CREATE_COMPLETE at once): the first "
    "boot's cfn-signal calls are recorded by a stand-in and checked by the rehearsal",
    "glue-database": "no model for AWS::Glue::Database (the lake's catalog database): created through "
    "moto's Glue backend with its DatabaseInput; deleted with its tables, as AWS does",
    "athena-workgroup": "no model for AWS::Athena::WorkGroup: created through moto's Athena backend with its "
    "configuration (enforced results location, bytes-scanned cutoff), as AWS does; moto runs no query",
    "instance-properties": "AWS::EC2::Instance ignores NetworkInterfaces (subnet, public IP, security "
    "groups), LaunchTemplate (IMDSv2) and AvailabilityZone: passed on to RunInstances, as AWS does",
}


# Where the emulator records what it removed on moto's behalf (see _patch_vpc_dependents).
LEFTOVERS_FILE_VARIABLE = "REHEARSAL_LEFTOVERS_FILE"
# Where the emulator records the late log delivery it attempted at DeleteStack (see _patch_late_delivery).
LATE_DELIVERY_FILE_VARIABLE = "REHEARSAL_LATE_DELIVERY_FILE"
LATE_DELIVERY_KEY = "s3-access/raw-bucket/late-delivery"
# A JSON file {instance id: {"sandbox": folder, "environment": {...}}} the rehearsal writes after the
# first boot; SSM Run Command runs in the sandbox of the instance it names (see _patch_run_command).
SANDBOXES_FILE_VARIABLE = "REHEARSAL_SANDBOXES_FILE"


def lambda_code_object(
    template: Mapping[str, Any], logical_id: str, account_id: str, region: str
) -> tuple[str, str]:
    """The (bucket, key) of a function's code as the template names it (see "lambda-code-location")."""
    code = template["Resources"][logical_id]["Properties"]["Code"]
    bucket = code["S3Bucket"]
    if isinstance(bucket, dict) and "Fn::Sub" in bucket:
        bucket = bucket["Fn::Sub"].replace("${AWS::AccountId}", account_id).replace("${AWS::Region}", region)
    return str(bucket), str(code["S3Key"])


def _replace(owner: Any, name: str, value: Any) -> None:
    """Swap one attribute of a moto class (each caller says which limitation it works around)."""
    setattr(owner, name, value)


def install() -> None:
    """Register the missing models and patch moto's gaps (call once, before serving)."""
    from moto.cloudformation import parsing

    _register_models()
    _patch_tls_conditions()
    _patch_flow_log_destination()
    _patch_eip_public_ip()
    _patch_change_set_outputs()
    _patch_custom_resources()
    _patch_instance_properties()
    _patch_bucket_properties()
    _patch_function_architecture()
    _patch_vpc_dependents()
    _patch_subnet_route_table_association()
    _patch_run_command()
    _patch_previous_ssm_parameters()
    _patch_prefix_list_ingress()
    _patch_queue_lambda_delivery()
    _patch_late_delivery()
    for cached in (parsing.get_model_list, parsing.get_model_map, parsing.get_name_type_map):
        cached.cache_clear()


def _register_models() -> None:
    # Defining the classes is what registers them: moto lists CloudFormationModel.__subclasses__(), the
    # direct subclasses only, so each one names CloudFormationModel itself beside the shared mixin.
    from moto.core.common_models import CloudFormationModel

    class _Model:
        """A CloudFormation resource whose physical id is an ARN or a name, with no update in place."""

        def __init__(self, physical_id: str, delete: Callable[[], object] | None = None) -> None:
            self.physical_id = physical_id
            self._delete = delete
            # What Fn::GetAtt answers ({attribute: value}), set by each model that has attributes.
            self.attributes: dict[str, str] = {}

        @property
        def physical_resource_id(self) -> str:
            return self.physical_id

        @staticmethod
        def cloudformation_name_type() -> str:
            return ""

        @classmethod
        def has_cfn_attr(cls, attr: str) -> bool:
            return attr in cls.ATTRIBUTES

        ATTRIBUTES: ClassVar[tuple[str, ...]] = ()

        def get_cfn_attribute(self, attribute_name: str) -> str:
            return self.attributes[attribute_name]

        def delete(self, account_id: str, region_name: str) -> None:
            if self._delete is not None:
                self._delete()

        #: The resource type a model stands for, and how it is made: each model sets both.
        CFN_TYPE: ClassVar[str] = ""

        @classmethod
        def cloudformation_type(cls) -> str:
            return cls.CFN_TYPE

        @classmethod
        def create(
            cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str
        ) -> _Model:
            raise NotImplementedError(cls.CFN_TYPE)

        @classmethod
        def create_from_cloudformation_json(
            cls,
            resource_name: str,
            cloudformation_json: dict[str, Any],
            account_id: str,
            region_name: str,
            **_: Any,
        ) -> _Model:
            return cls.create(resource_name, cloudformation_json, account_id, region_name)

    class Secret(_Model, CloudFormationModel):
        CFN_TYPE = "AWS::SecretsManager::Secret"

        @classmethod
        def create(
            cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str
        ) -> _Model:
            from moto.secretsmanager.models import secretsmanager_backends

            backend: Any = secretsmanager_backends[account_id][region_name]
            properties = cloudformation_json["Properties"]
            secret_string = properties.get("SecretString")
            generate = properties.get("GenerateSecretString")
            if generate:
                generated = backend.get_random_password(
                    password_length=int(generate.get("PasswordLength", 32)),
                    exclude_characters=generate.get("ExcludeCharacters", ""),
                    exclude_numbers=bool(generate.get("ExcludeNumbers", False)),
                    exclude_punctuation=bool(generate.get("ExcludePunctuation", False)),
                    exclude_uppercase=bool(generate.get("ExcludeUppercase", False)),
                    exclude_lowercase=bool(generate.get("ExcludeLowercase", False)),
                    include_space=bool(generate.get("IncludeSpace", False)),
                    require_each_included_type=bool(generate.get("RequireEachIncludedType", True)),
                )
                password = json.loads(generated)["RandomPassword"]
                if "SecretStringTemplate" in generate:
                    document = json.loads(generate["SecretStringTemplate"])
                    document[generate["GenerateStringKey"]] = password
                    secret_string = json.dumps(document)
                else:
                    secret_string = password
            name = properties.get("Name") or resource_name
            created = json.loads(
                backend.create_secret(
                    name=name,
                    secret_string=secret_string,
                    secret_binary=None,
                    description=properties.get("Description"),
                    tags=properties.get("Tags", []),
                    kms_key_id=properties.get("KmsKeyId"),
                    client_request_token=None,
                    replica_regions=[],
                    force_overwrite=False,
                )
            )
            arn = created["ARN"]
            return cls(
                arn,
                lambda: backend.delete_secret(
                    arn, recovery_window_in_days=None, force_delete_without_recovery=True
                ),
            )

    class SecretTargetAttachment(_Model, CloudFormationModel):
        CFN_TYPE = "AWS::SecretsManager::SecretTargetAttachment"

        @classmethod
        def create(
            cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str
        ) -> _Model:
            from moto.rds.models import rds_backends
            from moto.secretsmanager.models import secretsmanager_backends

            properties = cloudformation_json["Properties"]
            secret_arn = properties["SecretId"]
            backend: Any = secretsmanager_backends[account_id][region_name]
            database: Any = rds_backends[account_id][region_name].describe_db_instances(
                properties["TargetId"]
            )[0]
            current = backend.get_secret_value(secret_arn, version_id=None, version_stage=None)
            document = json.loads(current["SecretString"])
            document.update(
                {
                    "engine": database.engine,
                    "host": database.address,
                    "port": int(database.port),
                    "dbInstanceIdentifier": database.db_instance_identifier,
                }
            )
            backend.put_secret_value(
                secret_arn,
                secret_string=json.dumps(document),
                secret_binary=None,
                client_request_token=None,
                version_stages=["AWSCURRENT"],
            )
            return cls(secret_arn)

    class Schedule(_Model, CloudFormationModel):
        CFN_TYPE = "AWS::Scheduler::Schedule"

        @classmethod
        def create(
            cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str
        ) -> _Model:
            from moto.scheduler.models import scheduler_backends

            properties = cloudformation_json["Properties"]
            backend = scheduler_backends[account_id][region_name]
            name = properties.get("Name") or resource_name[-64:]
            group = properties.get("GroupName")
            backend.create_schedule(
                description=properties.get("Description"),
                end_date=properties.get("EndDate"),
                flexible_time_window=properties["FlexibleTimeWindow"],
                group_name=group,
                kms_key_arn=properties.get("KmsKeyArn"),
                name=name,
                schedule_expression=properties["ScheduleExpression"],
                schedule_expression_timezone=properties.get("ScheduleExpressionTimezone"),
                start_date=properties.get("StartDate"),
                state=properties.get("State"),
                target=properties["Target"],
                action_after_completion=None,
            )
            return cls(name, lambda: backend.delete_schedule(group, name))

    class BucketPolicy(_Model, CloudFormationModel):
        CFN_TYPE = "AWS::S3::BucketPolicy"

        @classmethod
        def create(
            cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str
        ) -> _Model:
            from moto.s3.models import s3_backends

            properties = cloudformation_json["Properties"]
            backend = s3_backends[account_id]["aws"]
            bucket = properties["Bucket"]
            backend.put_bucket_policy(bucket, json.dumps(properties["PolicyDocument"]).encode())

            def delete() -> None:
                if bucket in backend.buckets:
                    backend.delete_bucket_policy(bucket)

            return cls(bucket, delete)

    class Alarm(_Model, CloudFormationModel):
        CFN_TYPE = "AWS::CloudWatch::Alarm"

        @classmethod
        def create(
            cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str
        ) -> _Model:
            from moto.cloudwatch.models import cloudwatch_backends

            properties = cloudformation_json["Properties"]
            backend = cloudwatch_backends[account_id][region_name]
            name = properties.get("AlarmName") or resource_name
            backend.put_metric_alarm(
                name=name,
                namespace=properties.get("Namespace"),
                metric_name=properties.get("MetricName"),
                comparison_operator=properties["ComparisonOperator"],
                evaluation_periods=int(properties["EvaluationPeriods"]),
                period=int(properties.get("Period", 60)),
                threshold=float(properties["Threshold"]),
                statistic=properties.get("Statistic"),
                description=properties.get("AlarmDescription"),
                dimensions=properties.get("Dimensions", []),
                alarm_actions=properties.get("AlarmActions", []),
                treat_missing_data=properties.get("TreatMissingData"),
            )
            return cls(name, lambda: backend.delete_alarms([name]))

    class CloudFrontFunction(_Model, CloudFormationModel):
        ATTRIBUTES: ClassVar[tuple[str, ...]] = ("FunctionARN",)

        CFN_TYPE = "AWS::CloudFront::Function"

        @classmethod
        def create(
            cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str
        ) -> _Model:
            from moto.cloudfront.models import cloudfront_backends

            properties = cloudformation_json["Properties"]
            backend = cloudfront_backends[account_id]["global"]
            name = properties.get("Name") or resource_name
            function = backend.create_function(
                name, properties["FunctionConfig"], properties["FunctionCode"].encode(), []
            )
            if properties.get("AutoPublish"):
                function.stage, function.status = "LIVE", "UNASSOCIATED"
            model = cls(function.arn, lambda: backend.functions.pop(name, None))
            model.attributes = {"FunctionARN": function.arn}
            return model

    class CloudFrontDistribution(_Model, CloudFormationModel):
        ATTRIBUTES: ClassVar[tuple[str, ...]] = ("DomainName", "Id")

        CFN_TYPE = "AWS::CloudFront::Distribution"

        @classmethod
        def create(
            cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str
        ) -> _Model:
            from moto.cloudfront.models import cloudfront_backends

            backend = cloudfront_backends[account_id]["global"]
            distribution, _location, _etag = backend.create_distribution(
                _distribution_config(resource_name, cloudformation_json["Properties"]["DistributionConfig"]),
                [],
            )
            identifier = distribution.distribution_id
            model = cls(identifier, lambda: backend.distributions.pop(identifier, None))
            model.attributes = {"DomainName": distribution.domain_name, "Id": identifier}
            return model

    class GlueDatabase(_Model, CloudFormationModel):
        CFN_TYPE = "AWS::Glue::Database"

        @classmethod
        def create(
            cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str
        ) -> _Model:
            from moto.glue.models import glue_backends

            backend = glue_backends[account_id][region_name]
            database_input = dict(cloudformation_json["Properties"]["DatabaseInput"])
            name = database_input.get("Name") or resource_name.lower()
            backend.create_database(name, {**database_input, "Name": name})

            def delete() -> None:
                if name in backend.databases:
                    backend.delete_database(name)

            return cls(name, delete)

    class AthenaWorkGroup(_Model, CloudFormationModel):
        CFN_TYPE = "AWS::Athena::WorkGroup"

        @classmethod
        def create(
            cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str
        ) -> _Model:
            from moto.athena.models import athena_backends

            backend = athena_backends[account_id][region_name]
            properties = cloudformation_json["Properties"]
            name = properties["Name"]
            # CloudFormation's WorkGroupConfiguration is the API's Configuration, field for field.
            work_group = backend.create_work_group(
                name=name,
                configuration=dict(properties.get("WorkGroupConfiguration", {})),
                description=properties.get("Description", ""),
                tags=list(properties.get("Tags", [])),
            )
            if work_group is not None and properties.get("State"):
                work_group.state = properties["State"]
            return cls(name, lambda: backend.delete_work_group(name))

    class AddressAssociation(_Model, CloudFormationModel):
        CFN_TYPE = "AWS::EC2::EIPAssociation"

        @classmethod
        def create(
            cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str
        ) -> _Model:
            from moto.ec2.models import ec2_backends

            backend = ec2_backends[account_id][region_name]
            properties = cloudformation_json["Properties"]
            address = backend.associate_address(
                instance=backend.get_instance(properties["InstanceId"]),
                allocation_id=properties["AllocationId"],
                reassociate=True,
            )
            association = address.association_id
            return cls(association, lambda: backend.disassociate_address(association_id=association))


def _distribution_config(caller_reference: str, config: dict[str, Any]) -> dict[str, Any]:
    """A CloudFormation DistributionConfig in the shape of CloudFront's API (what moto's backend takes)."""
    behavior = config["DefaultCacheBehavior"]
    origins = []
    for origin in config["Origins"]:
        converted = {"Id": origin["Id"], "DomainName": origin["DomainName"]}
        custom = origin.get("CustomOriginConfig")
        if custom:
            converted["CustomOriginConfig"] = {
                "HTTPPort": custom.get("HTTPPort", 80),
                "HTTPSPort": custom.get("HTTPSPort", 443),
                "OriginProtocolPolicy": custom["OriginProtocolPolicy"],
                "OriginSslProtocols": {"Items": list(custom.get("OriginSSLProtocols", []))},
            }
        origins.append(converted)
    return {
        "CallerReference": caller_reference,
        "Comment": config.get("Comment", ""),
        "Enabled": config["Enabled"],
        "HttpVersion": config.get("HttpVersion", "http2"),
        "IsIPV6Enabled": config.get("IPV6Enabled", True),
        "Origins": {"Quantity": len(origins), "Items": origins},
        "DefaultCacheBehavior": {
            "TargetOriginId": behavior["TargetOriginId"],
            "ViewerProtocolPolicy": behavior["ViewerProtocolPolicy"],
            "AllowedMethods": {"Items": list(behavior.get("AllowedMethods", ["GET", "HEAD"]))},
            "Compress": behavior.get("Compress", False),
            "CachePolicyId": behavior.get("CachePolicyId", ""),
            "OriginRequestPolicyId": behavior.get("OriginRequestPolicyId"),
        },
    }


def _patch_prefix_list_ingress() -> None:
    from moto.ec2.models import ec2_backends
    from moto.ec2.models.security_groups import SecurityGroupIngress

    original = SecurityGroupIngress.create_from_cloudformation_json.__func__  # type: ignore[attr-defined]

    def create_from_cloudformation_json(
        cls: type[SecurityGroupIngress],
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> SecurityGroupIngress:
        properties = cloudformation_json["Properties"]
        prefix_list = properties.get("SourcePrefixListId")
        if not prefix_list:
            return original(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)
        backend = ec2_backends[account_id][region_name]
        group = backend.describe_security_groups(group_ids=[properties["GroupId"]])[0]
        backend.authorize_security_group_ingress(
            group_name_or_id=group.id,
            ip_protocol=properties["IpProtocol"],
            from_port=properties.get("FromPort"),
            to_port=properties.get("ToPort"),
            ip_ranges=[],
            prefix_list_ids=[{"PrefixListId": prefix_list, "Description": properties.get("Description", "")}],
        )
        return cls(group, properties)

    _replace(
        SecurityGroupIngress, "create_from_cloudformation_json", classmethod(create_from_cloudformation_json)
    )


def _patch_queue_lambda_delivery() -> None:
    from moto.sqs.models import Queue

    original = Queue.add_message

    def add_message(self: Any, message: Any) -> None:
        mappings = self.lambda_event_source_mappings
        self.lambda_event_source_mappings = {}
        try:
            original(self, message)
        finally:
            self.lambda_event_source_mappings = mappings

    _replace(Queue, "add_message", add_message)


def _secure_transport_statements(policy: dict[str, Any]) -> dict[str, Any]:
    """The policy without the statements whose TLS conditions are false for a TLS 1.2+ request."""

    def holds(statement: dict[str, Any]) -> bool:
        condition = statement.get("Condition", {})
        secure = condition.get("Bool", {}).get("aws:SecureTransport")
        if secure is not None and str(secure).lower() != "true":
            return False
        below = condition.get("NumericLessThan", {}).get("s3:TlsVersion")
        return not (below is not None and float(below) <= 1.2)

    statements = policy["Statement"] if isinstance(policy["Statement"], list) else [policy["Statement"]]
    return {**policy, "Statement": [statement for statement in statements if holds(statement)]}


def _patch_tls_conditions() -> None:
    from moto.iam.access_control import IAMPolicy, PermissionResult
    from moto.s3.models import FakeBucket

    def get_permission(self: Any, action: str, resource: str) -> Any:
        if self.policy is None:
            return PermissionResult.NEUTRAL
        policy = _secure_transport_statements(json.loads(self.policy.decode()))
        if not policy["Statement"]:
            return PermissionResult.NEUTRAL
        return IAMPolicy(json.dumps(policy)).is_action_permitted(action, resource)

    _replace(FakeBucket, "get_permission", get_permission)


def _patch_flow_log_destination() -> None:
    from moto.ec2.models.flow_logs import FlowLogsBackend

    original = FlowLogsBackend.create_flow_logs

    def create_flow_logs(self: Any, resource_type: str, resource_ids: list[str], *args: Any) -> Any:
        arguments = list(args)
        # (traffic_type, permission_arn, destination_type, destination, ...): keep only the bucket's ARN
        # for moto's existence check, then record the full destination on the flow log, as AWS does.
        destination = arguments[3]
        if arguments[2] == "s3" and destination and destination.count("/") > 0:
            arguments[3] = destination.split("/", 1)[0]
        flow_logs, errors = original(self, resource_type, resource_ids, *arguments)
        for flow_log in flow_logs:
            flow_log.log_destination = destination
        return flow_logs, errors

    _replace(FlowLogsBackend, "create_flow_logs", create_flow_logs)


def _patch_eip_public_ip() -> None:
    from moto.ec2.models.elastic_ip_addresses import ElasticAddress

    original_get = ElasticAddress.get_cfn_attribute

    def get_cfn_attribute(self: Any, attribute_name: str) -> Any:
        if attribute_name == "PublicIp":
            return self.public_ip
        return original_get(self, attribute_name)

    def update_from_cloudformation_json(
        cls: type[ElasticAddress],
        original_resource: ElasticAddress,
        new_resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> ElasticAddress:
        from moto.ec2.models import ec2_backends

        backend = ec2_backends[account_id][region_name]
        instance_id = cloudformation_json["Properties"].get("InstanceId")
        if instance_id:
            backend.associate_address(
                instance=backend.get_instance(instance_id),
                allocation_id=original_resource.allocation_id,
                reassociate=True,
            )
        return original_resource

    _replace(ElasticAddress, "get_cfn_attribute", get_cfn_attribute)
    _replace(ElasticAddress, "update_from_cloudformation_json", classmethod(update_from_cloudformation_json))
    _replace(
        ElasticAddress, "has_cfn_attr", classmethod(lambda cls, attr: attr in {"AllocationId", "PublicIp"})
    )


def _patch_change_set_outputs() -> None:
    from moto.cloudformation.models import CloudFormationBackend

    original = CloudFormationBackend.execute_change_set

    def execute_change_set(self: Any, change_set_name: str, stack_name: str | None = None) -> None:
        original(self, change_set_name, stack_name)
        for stack in self.stacks.values():
            if stack.template != getattr(stack, "_rehearsal_parsed_template", None):
                stack._parse_template()
                stack.output_map = stack._create_output_map()
                stack._rehearsal_parsed_template = stack.template

    original_delete = CloudFormationBackend.delete_change_set

    def delete_change_set(self: Any, change_set_name: str) -> None:
        known = change_set_name in self.change_sets or any(
            change_set.change_set_name == change_set_name for change_set in self.change_sets.values()
        )
        if known:
            original_delete(self, change_set_name)

    original_describe = CloudFormationBackend.describe_change_set

    def describe_change_set(self: Any, change_set_name: str) -> Any:
        from moto.cloudformation.exceptions import CloudFormationError, ValidationError

        try:
            return original_describe(self, change_set_name)
        except ValidationError:
            raise CloudFormationError(
                "ChangeSetNotFoundException", f"ChangeSet [{change_set_name}] does not exist"
            ) from None

    _replace(CloudFormationBackend, "execute_change_set", execute_change_set)
    _replace(CloudFormationBackend, "delete_change_set", delete_change_set)
    _replace(CloudFormationBackend, "describe_change_set", describe_change_set)


def _patch_custom_resources() -> None:
    from moto.cloudformation.custom_model import CustomModel

    def create_from_cloudformation_json(
        cls: type[CustomModel],
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> CustomModel:
        import uuid

        resource = cls(region_name, str(uuid.uuid4()), kwargs["LogicalId"], resource_name)
        properties = cloudformation_json["Properties"]
        if kwargs["ResourceType"] == "Custom::VpcRestrictDefaultSG":
            _restrict_default_security_group(account_id, region_name, properties["DefaultSecurityGroupId"])
        resource.set_data({})
        return resource

    _replace(CustomModel, "create_from_cloudformation_json", classmethod(create_from_cloudformation_json))


def _restrict_default_security_group(account_id: str, region_name: str, group_id: str) -> None:
    from moto.ec2.models import ec2_backends

    group: Any = ec2_backends[account_id][region_name].get_security_group_from_id(group_id)
    group.ingress_rules.clear()
    group.egress_rules.clear()


def _patch_instance_properties() -> None:
    from moto.ec2.models import ec2_backends
    from moto.ec2.models.instances import Instance

    def create_from_cloudformation_json(
        cls: type[Instance],
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> Instance:
        properties = cloudformation_json["Properties"]
        backend = ec2_backends[account_id][region_name]
        interfaces = [
            {
                "DeviceIndex": int(interface.get("DeviceIndex", 0)),
                "SubnetId": interface.get("SubnetId"),
                "AssociatePublicIpAddress": interface.get("AssociatePublicIpAddress") in (True, "true"),
                "Groups": list(interface.get("GroupSet", [])),
            }
            for interface in properties.get("NetworkInterfaces", [])
        ]
        launch_template = properties.get("LaunchTemplate")
        metadata_options: dict[str, Any] = {}
        if launch_template:
            version = backend._get_template_from_args(launch_template)
            metadata_options = dict(version.data.get("MetadataOptions", {}))
        subnet_id = properties.get("SubnetId") or next(
            (interface["SubnetId"] for interface in interfaces if interface["SubnetId"]), None
        )
        reservation = backend.run_instances(
            image_id=properties["ImageId"],
            user_data=properties.get("UserData"),
            count=1,
            security_group_names=[],
            # The primary interface's groups are the instance's groups (describe-instances lists them).
            security_group_ids=properties.get("SecurityGroupIds")
            or next((interface["Groups"] for interface in interfaces if interface["DeviceIndex"] == 0), []),
            instance_type=properties.get("InstanceType", "m1.small"),
            is_instance_type_default=not properties.get("InstanceType"),
            subnet_id=subnet_id,
            nics=interfaces,
            launch_template=launch_template,
            metadata_options=metadata_options,
            placement=properties.get("AvailabilityZone"),
            block_device_mappings=properties.get("BlockDeviceMappings", {}),
        )
        instance = reservation.instances[0]
        for tag in properties.get("Tags", []):
            instance.add_tag(tag["Key"], tag["Value"])
        if properties.get("IamInstanceProfile"):
            backend.associate_iam_instance_profile(
                instance_id=instance.id, iam_instance_profile_name=properties["IamInstanceProfile"]
            )
        return instance

    _replace(Instance, "create_from_cloudformation_json", classmethod(create_from_cloudformation_json))


def _lifecycle_rule(rule: dict[str, Any]) -> dict[str, Any]:
    """A CloudFormation lifecycle rule in the shape of the S3 API (what moto's backend takes)."""
    converted: dict[str, Any] = {
        "ID": rule.get("Id", "rule"),
        "Status": rule["Status"],
        "Filter": {"Prefix": rule.get("Prefix", "")},
    }
    if "ExpirationInDays" in rule:
        converted["Expiration"] = {"Days": rule["ExpirationInDays"]}
    if "NoncurrentVersionExpiration" in rule:
        converted["NoncurrentVersionExpiration"] = {
            "NoncurrentDays": rule["NoncurrentVersionExpiration"]["NoncurrentDays"]
        }
    if "AbortIncompleteMultipartUpload" in rule:
        converted["AbortIncompleteMultipartUpload"] = dict(rule["AbortIncompleteMultipartUpload"])
    return converted


def _patch_bucket_properties() -> None:
    from moto.s3.models import FakeBucket, s3_backends

    original = FakeBucket.create_from_cloudformation_json.__func__  # type: ignore[attr-defined]

    def create_from_cloudformation_json(
        cls: type[FakeBucket],
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> FakeBucket:
        bucket = original(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)
        properties = cloudformation_json.get("Properties", {})
        backend = s3_backends[account_id]["aws"]
        if "VersioningConfiguration" in properties:
            backend.put_bucket_versioning(bucket.name, properties["VersioningConfiguration"]["Status"])
        if "LifecycleConfiguration" in properties:
            rules = [_lifecycle_rule(rule) for rule in properties["LifecycleConfiguration"]["Rules"]]
            backend.put_bucket_lifecycle_configuration(bucket.name, rules)
        if "PublicAccessBlockConfiguration" in properties:
            backend.put_public_access_block(bucket.name, properties["PublicAccessBlockConfiguration"])
        if "NotificationConfiguration" in properties:
            backend.put_bucket_notification_configuration(
                bucket.name, properties["NotificationConfiguration"]
            )
        return bucket

    _replace(FakeBucket, "create_from_cloudformation_json", classmethod(create_from_cloudformation_json))


def _patch_function_architecture() -> None:
    from moto.awslambda.models import LambdaFunction

    original = LambdaFunction.create_from_cloudformation_json.__func__  # type: ignore[attr-defined]

    def create_from_cloudformation_json(
        cls: type[LambdaFunction],
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> LambdaFunction:
        function = original(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)
        architectures = cloudformation_json["Properties"].get("Architectures")
        if architectures:
            function.architectures = list(architectures)
        return function

    _replace(LambdaFunction, "create_from_cloudformation_json", classmethod(create_from_cloudformation_json))


def _record_leftover(description: str) -> None:
    import os

    path = os.environ.get(LEFTOVERS_FILE_VARIABLE)
    if path:
        with open(path, "a", encoding="utf-8") as leftovers:
            leftovers.write(description + "\n")


def _remove_vpc_dependents(backend: Any, vpc_id: str) -> None:
    for flow_log in [log for log in backend.flow_logs.values() if log.resource_id == vpc_id]:
        backend.delete_flow_logs([flow_log.id])
        _record_leftover(f"flow log {flow_log.id}")
    for endpoint in [item for item in backend.vpc_end_points.values() if item.vpc_id == vpc_id]:
        backend.delete_vpc_endpoints([endpoint.id])
        _record_leftover(f"VPC endpoint {endpoint.id}")
    for interface in list(backend.enis.values()):
        if interface.subnet.vpc_id == vpc_id and (
            interface.instance is None or interface.instance.state == "terminated"
        ):
            backend.enis.pop(interface.id)
            _record_leftover(f"network interface {interface.id}")
    for table in [
        item
        for item in backend.route_tables.values()
        if item.vpc_id == vpc_id and not item.main_association_id
    ]:
        table._associations.clear()
        backend.delete_route_table(table.id)
        _record_leftover(f"route table {table.id}")
    for gateway in [
        item for item in backend.internet_gateways.values() if item.vpc and item.vpc.id == vpc_id
    ]:
        backend.detach_internet_gateway(gateway.id, vpc_id)
        backend.delete_internet_gateway(gateway.id)
        _record_leftover(f"internet gateway {gateway.id} (attached)")


def _patch_vpc_dependents() -> None:
    from moto.ec2.models import ec2_backends
    from moto.ec2.models.vpcs import VPC

    def delete_from_cloudformation_json(
        cls: type[VPC],
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> None:
        backend = ec2_backends[account_id][region_name]
        if backend.describe_subnets(filters={"vpc-id": resource_name}):
            backend.delete_vpc(resource_name)  # raises moto's dependency error: subnets go first
        _remove_vpc_dependents(backend, resource_name)
        backend.delete_vpc(resource_name)

    _replace(VPC, "delete_from_cloudformation_json", classmethod(delete_from_cloudformation_json))


def _patch_subnet_route_table_association() -> None:
    from moto.ec2.models.subnets import SubnetBackend

    original = SubnetBackend.create_subnet_association

    def create_subnet_association(self: Any, route_table_id: str, subnet_id: str) -> Any:
        association = original(self, route_table_id, subnet_id)
        self.associate_route_table(route_table_id, subnet_id=subnet_id)
        return association

    _replace(SubnetBackend, "create_subnet_association", create_subnet_association)


def _run_in_sandbox(instance_id: str, commands: list[str]) -> tuple[int, str] | None:
    import os
    import subprocess
    from pathlib import Path

    from tests.rehearsal import sandbox

    path = os.environ.get(SANDBOXES_FILE_VARIABLE)
    if not path or not Path(path).exists():
        return None
    registered = json.loads(Path(path).read_text(encoding="utf-8")).get(instance_id)
    if registered is None:
        return None
    folder = Path(registered["sandbox"])
    script = sandbox.sandboxed("set -e\n" + "\n".join(commands), folder)
    environment = {**registered["environment"], "PATH": sandbox.search_path(folder)}
    completed = subprocess.run(
        ["bash", "-c", script],
        cwd=folder,
        env=environment,
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    return completed.returncode, completed.stdout + completed.stderr


def _patch_run_command() -> None:
    from moto.ssm.models import SimpleSystemManagerBackend

    original_send = SimpleSystemManagerBackend.send_command

    def send_command(self: Any, *args: Any, **kwargs: Any) -> Any:
        command = original_send(self, *args, **kwargs)
        if command.document_name != "AWS-RunShellScript":
            return command
        for invocation in command.invocations:
            result = _run_in_sandbox(invocation["InstanceId"], list(command.parameters.get("commands", [])))
            if result is None:
                continue
            code, output = result
            status = "Success" if code == 0 else "Failed"
            invocation.update(
                {
                    "ResponseCode": code,
                    "Status": status,
                    "StatusDetails": status,
                    "StandardOutputContent": output,
                }
            )
        return command

    _replace(SimpleSystemManagerBackend, "send_command", send_command)


def _patch_previous_ssm_parameters() -> None:
    from moto.cloudformation.parsing import ResourceMap
    from moto.ssm.models import ssm_backends

    original = ResourceMap.parse_ssm_parameter

    def parse_ssm_parameter(self: Any, value: str, value_type: str) -> Any:
        if ssm_backends[self._account_id][self._region_name].get_parameter(value) is None:
            return value  # already the resolved value, passed on by UsePreviousValue
        return original(self, value, value_type)

    _replace(ResourceMap, "parse_ssm_parameter", parse_ssm_parameter)


def late_delivery(bucket: Any, put: Callable[[], object]) -> str:
    """One log object written as S3's log delivery would, unless the bucket's policy denies it."""
    from moto.iam.access_control import PermissionResult

    resource = f"arn:aws:s3:::{bucket.name}/{LATE_DELIVERY_KEY}"
    if bucket.get_permission("s3:PutObject", resource) == PermissionResult.DENIED:
        return f"refused s3://{bucket.name}/{LATE_DELIVERY_KEY}"
    put()
    return f"written s3://{bucket.name}/{LATE_DELIVERY_KEY}"


def _patch_late_delivery() -> None:
    import os

    from moto.cloudformation.models import CloudFormationBackend
    from moto.s3.models import s3_backends

    original = CloudFormationBackend.delete_stack

    def delete_stack(self: Any, name_or_stack_id: str) -> None:
        for stack in list(self.stacks.values()):
            if name_or_stack_id not in (stack.stack_id, stack.name):
                continue
            outputs = {output["OutputKey"]: output["OutputValue"] for output in stack.outputs or []}
            backend = s3_backends[self.account_id]["aws"]
            name = outputs.get("LogBucketName")
            if name in backend.buckets:
                outcome = late_delivery(
                    backend.buckets[name],
                    lambda name=name, backend=backend: backend.put_object(
                        name, LATE_DELIVERY_KEY, b"late access log\n"
                    ),
                )
                path = os.environ.get(LATE_DELIVERY_FILE_VARIABLE)
                if path:
                    with open(path, "a", encoding="utf-8") as record:
                        record.write(outcome + "\n")
        original(self, name_or_stack_id)

    _replace(CloudFormationBackend, "delete_stack", delete_stack)
