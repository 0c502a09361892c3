"""Stop what writes into the environment's buckets, then empty them, before `cdk destroy`
(``make destroy`` runs this first).

CloudFormation cannot delete a bucket that still holds objects, and the log bucket keeps receiving
objects after an emptying pass: VPC flow logs every few minutes, and S3 access logs of the raw bucket
"within a few hours" of the requests (aws/aws-cdk #21776, #16332). So the teardown first stops the
deliveries: it turns off the raw bucket's access logging, deletes the stack's VPC flow logs, and adds a
statement denying ``s3:PutObject`` to every principal to each bucket's policy (what CDK's own
auto-delete handler does before it empties; it also stops a late ingestion write). Then it empties each
bucket (every object version and delete marker) and checks it is empty, emptying again if something
still arrived, and reports what it stopped, what it deleted and anything it left.

Normal accounts could let CDK empty the buckets with a custom resource, but that resource needs an IAM
role, which lab accounts cannot create; this script does it with the operator's credentials, in every
mode, and only when the removal policy is ``destroy`` (with ``snapshot`` or ``retain`` the buckets are
kept, data included).

Usage: ``python -m ops.teardown [-c key=value ...]`` (the same context arguments as ``cdk``).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any

from ops.tools import ToolError, config_from_arguments, run_tool

BUCKET_OUTPUTS = ("RawBucketName", "LogBucketName", "LakeBucketName")
DELETE_BATCH = 1000  # the most keys one DeleteObjects call accepts
# Emptying passes per bucket: with writes denied the first one should leave nothing.
EMPTY_PASSES = 3
DENY_WRITES_SID = "TeardownDeniesWrites"


def stack_bucket_names(cloudformation: Any, stack_name: str) -> list[str]:
    """The bucket names from the stack's outputs; empty when the stack does not exist."""
    from botocore.exceptions import ClientError

    try:
        stacks = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    except ClientError as error:
        if "does not exist" in str(error):
            return []
        raise
    outputs = {output["OutputKey"]: output["OutputValue"] for output in stacks[0].get("Outputs", [])}
    return [outputs[name] for name in BUCKET_OUTPUTS if name in outputs]


def empty_bucket(s3: Any, bucket: str) -> int:
    """Delete every object version and delete marker in `bucket`; return how many were deleted."""
    deleted = 0
    batch: list[dict[str, str]] = []
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
        for entry in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]:
            batch.append({"Key": entry["Key"], "VersionId": entry["VersionId"]})
            if len(batch) == DELETE_BATCH:
                deleted += _delete(s3, bucket, batch)
                batch = []
    if batch:
        deleted += _delete(s3, bucket, batch)
    return deleted


def _delete(s3: Any, bucket: str, batch: list[dict[str, str]]) -> int:
    response = s3.delete_objects(Bucket=bucket, Delete={"Objects": batch, "Quiet": True})
    errors = response.get("Errors", [])
    if errors:
        first = errors[0]
        raise ToolError(
            f"could not delete s3://{bucket}/{first['Key']}: {first.get('Message', first.get('Code'))}"
        )
    return len(batch)


def stack_resource_ids(cloudformation: Any, stack_name: str, resource_type: str) -> list[str]:
    """The physical ids of the stack's resources of one type."""
    ids = []
    for page in cloudformation.get_paginator("list_stack_resources").paginate(StackName=stack_name):
        ids += [
            summary["PhysicalResourceId"]
            for summary in page["StackResourceSummaries"]
            if summary["ResourceType"] == resource_type and summary.get("PhysicalResourceId")
        ]
    return ids


def deny_writes(s3: Any, bucket: str) -> None:
    """Add a Deny of s3:PutObject for every principal to the bucket's policy (the rest is kept)."""
    from botocore.exceptions import ClientError

    try:
        policy = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
    except ClientError as error:
        if error.response["Error"]["Code"] != "NoSuchBucketPolicy":
            raise
        policy = {"Version": "2012-10-17", "Statement": []}
    statements = policy["Statement"] if isinstance(policy["Statement"], list) else [policy["Statement"]]
    statements = [statement for statement in statements if statement.get("Sid") != DENY_WRITES_SID]
    statements.append(
        {
            "Sid": DENY_WRITES_SID,
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:PutObject",
            "Resource": f"arn:aws:s3:::{bucket}/*",
        }
    )
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({**policy, "Statement": statements}))


def stop_deliveries(s3: Any, ec2: Any, cloudformation: Any, stack_name: str, buckets: list[str]) -> list[str]:
    """Turn off what writes into `buckets`; return one line per thing stopped."""
    stopped = []
    for bucket in buckets:
        if s3.get_bucket_logging(Bucket=bucket).get("LoggingEnabled"):
            s3.put_bucket_logging(Bucket=bucket, BucketLoggingStatus={})
            stopped.append(f"access logging of s3://{bucket} turned off")
    flow_logs = stack_resource_ids(cloudformation, stack_name, "AWS::EC2::FlowLog")
    if flow_logs:
        ec2.delete_flow_logs(FlowLogIds=flow_logs)
        stopped.append(f"VPC flow log(s) {', '.join(flow_logs)} deleted")
    for bucket in buckets:
        deny_writes(s3, bucket)
        stopped.append(f"writes to s3://{bucket} denied (bucket policy)")
    return stopped


def empty_until_empty(s3: Any, bucket: str, passes: int = EMPTY_PASSES) -> tuple[int, int]:
    """Empty `bucket` until a listing finds nothing, at most `passes` times; (deleted, left)."""
    deleted = 0
    for _ in range(passes):
        deleted += empty_bucket(s3, bucket)
        left = _count_versions(s3, bucket)
        if left == 0:
            return deleted, 0
    return deleted, left


def _count_versions(s3: Any, bucket: str) -> int:
    count = 0
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
        count += len(page.get("Versions", [])) + len(page.get("DeleteMarkers", []))
    return count


def main(arguments: Sequence[str]) -> int:
    config = config_from_arguments(arguments)
    if not config.destroys_data:
        print(f"teardown: removal_policy={config.removal_policy}: the buckets and their data are kept")
        return 0
    import boto3

    cloudformation = boto3.client("cloudformation")
    buckets = stack_bucket_names(cloudformation, config.stack_name)
    if not buckets:
        print(f"teardown: stack {config.stack_name} not found or has no buckets; nothing to empty")
        return 0
    s3 = boto3.client("s3")
    for line in stop_deliveries(s3, boto3.client("ec2"), cloudformation, config.stack_name, buckets):
        print(f"teardown: {line}")
    left_over = []
    for bucket in buckets:
        deleted, left = empty_until_empty(s3, bucket)
        print(f"teardown: emptied s3://{bucket} ({deleted} object versions deleted, {left} left)")
        if left:
            left_over.append(f"s3://{bucket} ({left} object versions)")
    if left_over:
        raise ToolError(
            f"still not empty after {EMPTY_PASSES} passes: {', '.join(left_over)}; "
            "something still writes there; run make destroy again"
        )
    return 0


if __name__ == "__main__":
    sys.exit(run_tool(main))
