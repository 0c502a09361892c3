"""Empty the environment's buckets before `cdk destroy` (``make destroy`` runs this first).

CloudFormation cannot delete a bucket that still holds objects. Normal accounts let CDK empty them with
a custom resource, but that resource needs an IAM role, which lab accounts cannot create; this script
does the same job with the operator's credentials, in every mode. It deletes every object version and
delete marker of the buckets named in the stack's outputs, and only when the removal policy is
``destroy`` (with ``snapshot`` or ``retain`` the buckets are kept, data included).

Usage: ``python -m stacks.teardown [-c key=value ...]`` (the same context arguments as ``cdk``).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

from stacks.aws_tools import ToolError, config_from_arguments, run_tool

BUCKET_OUTPUTS = ("RawBucketName", "LogBucketName")
DELETE_BATCH = 1000  # the most keys one DeleteObjects call accepts


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


def main(arguments: Sequence[str]) -> int:
    config = config_from_arguments(arguments)
    if not config.destroys_data:
        print(f"teardown: removal_policy={config.removal_policy}: the buckets and their data are kept")
        return 0
    import boto3

    buckets = stack_bucket_names(boto3.client("cloudformation"), config.stack_name)
    if not buckets:
        print(f"teardown: stack {config.stack_name} not found or has no buckets; nothing to empty")
        return 0
    s3 = boto3.client("s3")
    for bucket in buckets:
        print(f"teardown: emptied s3://{bucket} ({empty_bucket(s3, bucket)} object versions deleted)")
    return 0


if __name__ == "__main__":
    sys.exit(run_tool(main))
