"""Bootstrap a lab account for this app without creating any IAM role (``make bootstrap-lab``).

The standard `cdk bootstrap` deploys five IAM roles, which AWS Academy-style lab accounts forbid. In lab
mode the app uses `CliCredentialsStackSynthesizer` (stacks/lab.py), which needs only a bucket for the
templates and assets; this script creates that bucket (encrypted, public access blocked, TLS only, old
uploads expired) under the name the synthesizer expects. It is idempotent. ``--delete`` empties and
removes the bucket once every lab stack is destroyed.

Usage: ``python -m ops.lab_bootstrap [--region REGION] [--delete]``
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

from ops.teardown import empty_bucket
from ops.tools import ToolError, run_tool
from stacks.lab import lab_assets_bucket_name
from stacks.lab_profile import LEARNER_LAB

ASSET_EXPIRY_DAYS = 30


def tls_only_policy(bucket: str) -> str:
    """A bucket policy that refuses every request made without TLS."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "DenyInsecureTransport",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "s3:*",
                    "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                }
            ],
        }
    )


def create_assets_bucket(s3: Any, bucket: str, region: str) -> bool:
    """Create and secure the assets bucket; return False when it already existed (then only re-secure)."""
    from botocore.exceptions import ClientError

    created = True
    try:
        options = (
            {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
        )
        s3.create_bucket(Bucket=bucket, **options)
    except ClientError as error:
        if error.response["Error"]["Code"] != "BucketAlreadyOwnedByYou":
            raise
        created = False
    s3.put_public_access_block(
        Bucket=bucket,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )
    s3.put_bucket_encryption(
        Bucket=bucket,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
        },
    )
    s3.put_bucket_policy(Bucket=bucket, Policy=tls_only_policy(bucket))
    s3.put_bucket_lifecycle_configuration(
        Bucket=bucket,
        LifecycleConfiguration={
            "Rules": [
                {
                    "ID": "ExpireOldAssets",
                    "Status": "Enabled",
                    "Filter": {},
                    "Expiration": {"Days": ASSET_EXPIRY_DAYS},
                }
            ]
        },
    )
    return created


def main(arguments: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m ops.lab_bootstrap", description=__doc__.splitlines()[0])
    parser.add_argument("--region", help="AWS region (default: the CLI's configured region)")
    parser.add_argument("--delete", action="store_true", help="empty and delete the assets bucket instead")
    options = parser.parse_args(arguments)
    import boto3

    session = boto3.session.Session(region_name=options.region)
    region = session.region_name
    if not region:
        raise ToolError("no AWS region: pass --region or set AWS_REGION / AWS_DEFAULT_REGION")
    if region not in LEARNER_LAB.regions:
        raise ToolError(f"lab accounts work only in {', '.join(sorted(LEARNER_LAB.regions))}, not {region}")
    account = session.client("sts").get_caller_identity()["Account"]
    bucket = lab_assets_bucket_name(account, region)
    s3 = session.client("s3")
    if options.delete:
        deleted = empty_bucket(s3, bucket)
        s3.delete_bucket(Bucket=bucket)
        print(f"lab bootstrap: deleted s3://{bucket} ({deleted} objects)")
        return 0
    created = create_assets_bucket(s3, bucket, region)
    print(f"lab bootstrap: s3://{bucket} {'created' if created else 'already existed; settings re-applied'}")
    print("next: make deploy LAB=1")
    return 0


if __name__ == "__main__":
    sys.exit(run_tool(main))
