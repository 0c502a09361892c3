"""The deployment scripts (teardown, lab bootstrap) against moto, and the Lambda bundle's contents."""

from __future__ import annotations

import json
import os
import shutil
import zipfile
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from ops import lab_bootstrap, teardown
from ops.tools import run_tool
from stacks.lab import lab_assets_bucket_name
from stacks.lambda_bundling import PIP_PLATFORM_FLAGS, _is_shipped, lambda_requirements
from tests.infra.conftest import Synthesized

LAMBDA_UNZIPPED_LIMIT = 250 * 1024 * 1024


@mock_aws
def test_empty_bucket_removes_every_version_and_delete_marker() -> None:
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="raw")
    s3.put_bucket_versioning(Bucket="raw", VersioningConfiguration={"Status": "Enabled"})
    for index in range(3):
        s3.put_object(Bucket="raw", Key="raw/yahoo/2024-01-02/a.json", Body=str(index).encode())
    s3.delete_object(Bucket="raw", Key="raw/yahoo/2024-01-02/a.json")
    assert teardown.empty_bucket(s3, "raw") == 4
    listing = s3.list_object_versions(Bucket="raw")
    assert "Versions" not in listing and "DeleteMarkers" not in listing
    s3.delete_bucket(Bucket="raw")


class _FakeCloudFormation:
    def __init__(self, outputs: dict[str, str] | None) -> None:
        self.outputs = outputs

    def describe_stacks(self, StackName: str) -> dict:
        from botocore.exceptions import ClientError

        if self.outputs is None:
            raise ClientError(
                {"Error": {"Code": "ValidationError", "Message": f"Stack {StackName} does not exist"}}, "x"
            )
        return {
            "Stacks": [{"Outputs": [{"OutputKey": k, "OutputValue": v} for k, v in self.outputs.items()]}]
        }


def test_stack_bucket_names_come_from_the_outputs() -> None:
    fake = _FakeCloudFormation(
        {"RawBucketName": "raw-1", "LogBucketName": "logs-1", "DashboardUrl": "http://x"}
    )
    assert teardown.stack_bucket_names(fake, "MarketWeatherPipeline-dev") == ["raw-1", "logs-1"]
    assert teardown.stack_bucket_names(_FakeCloudFormation(None), "MarketWeatherPipeline-dev") == []


class _FakeStackResources:
    """list_stack_resources of a stack holding one flow log (moto's CloudFormation is not needed)."""

    def __init__(self, flow_log_id: str) -> None:
        self.flow_log_id = flow_log_id

    def get_paginator(self, operation: str):
        assert operation == "list_stack_resources"
        summaries = [
            {"ResourceType": "AWS::EC2::FlowLog", "PhysicalResourceId": self.flow_log_id},
            {"ResourceType": "AWS::S3::Bucket", "PhysicalResourceId": "raw"},
        ]
        return type("Paginator", (), {"paginate": lambda _, **__: [{"StackResourceSummaries": summaries}]})()


@mock_aws
def test_teardown_stops_every_delivery_before_it_empties_so_a_late_one_cannot_land() -> None:
    from botocore.exceptions import ClientError

    s3 = boto3.client("s3", region_name="us-east-1")
    ec2 = boto3.client("ec2", region_name="us-east-1")
    for bucket in ("raw", "log-bucket"):
        s3.create_bucket(Bucket=bucket)
        s3.put_object(Bucket=bucket, Key="raw/a.json" if bucket == "raw" else "s3-access/x", Body=b"1")
    s3.put_bucket_policy(
        Bucket="raw",
        Policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        # moto ignores conditions, so the statement kept is one without.
                        "Sid": "Kept",
                        "Effect": "Deny",
                        "Principal": "*",
                        "Action": "s3:PutObjectAcl",
                        "Resource": "arn:aws:s3:::raw/*",
                    }
                ],
            }
        ),
    )
    logging_service = {
        "Effect": "Allow",
        "Principal": {"Service": "logging.s3.amazonaws.com"},
        "Action": "s3:PutObject",
        "Resource": "arn:aws:s3:::log-bucket/s3-access/*",
    }
    s3.put_bucket_policy(
        Bucket="log-bucket", Policy=json.dumps({"Version": "2012-10-17", "Statement": [logging_service]})
    )
    s3.put_bucket_logging(
        Bucket="raw",
        BucketLoggingStatus={"LoggingEnabled": {"TargetBucket": "log-bucket", "TargetPrefix": "s3-access/"}},
    )
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    [flow_log] = ec2.create_flow_logs(
        ResourceIds=[vpc],
        ResourceType="VPC",
        TrafficType="ALL",
        LogDestinationType="s3",
        LogDestination="arn:aws:s3:::log-bucket",
    )["FlowLogIds"]

    stopped = teardown.stop_deliveries(s3, ec2, _FakeStackResources(flow_log), "stack", ["raw", "log-bucket"])

    assert stopped == [
        "access logging of s3://raw turned off",
        f"VPC flow log(s) {flow_log} deleted",
        "writes to s3://raw denied (bucket policy)",
        "writes to s3://log-bucket denied (bucket policy)",
    ]
    assert "LoggingEnabled" not in s3.get_bucket_logging(Bucket="raw")
    assert ec2.describe_flow_logs()["FlowLogs"] == []
    sids = [
        statement.get("Sid")
        for statement in json.loads(s3.get_bucket_policy(Bucket="raw")["Policy"])["Statement"]
    ]
    assert sids == ["Kept", teardown.DENY_WRITES_SID]
    # The log bucket also holds the access logs moto wrote for the requests above.
    emptied = [teardown.empty_until_empty(s3, bucket) for bucket in ("raw", "log-bucket")]
    assert emptied[0] == (1, 0) and emptied[1][0] >= 1 and emptied[1][1] == 0
    # A delivery arriving after the emptying pass (S3 access logs come hours late) is refused.
    for bucket in ("raw", "log-bucket"):
        with pytest.raises(ClientError, match=r"AccessDenied|Forbidden|403"):
            s3.put_object(Bucket=bucket, Key="s3-access/late", Body=b"late")
        s3.delete_bucket(Bucket=bucket)
    # Run again (make destroy after a DELETE_FAILED): the deny is not added twice.
    s3.create_bucket(Bucket="again")
    teardown.deny_writes(s3, "again")
    teardown.deny_writes(s3, "again")
    assert len(json.loads(s3.get_bucket_policy(Bucket="again")["Policy"])["Statement"]) == 1


def test_teardown_names_a_bucket_that_keeps_filling(capsys: pytest.CaptureFixture[str]) -> None:
    class _Refilling:
        """A bucket some writer keeps putting one object into, whatever is deleted."""

        def get_paginator(self, _: str):
            versions = [{"Key": "late", "VersionId": "v"}]
            return type("Paginator", (), {"paginate": lambda _, **__: [{"Versions": versions}]})()

        def delete_objects(self, **_: object) -> dict:
            return {}

    assert teardown.empty_until_empty(_Refilling(), "logs") == (teardown.EMPTY_PASSES, 1)


def test_teardown_keeps_data_when_the_removal_policy_keeps_it(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_tool(teardown.main, ["-c", "removal_policy=retain"]) == 0
    assert "the buckets and their data are kept" in capsys.readouterr().out


def test_teardown_reports_a_bad_argument_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_tool(teardown.main, ["-c", "removal_policy=sometimes"]) == 1
    assert capsys.readouterr().err.strip().startswith("error: invalid context key 'removal_policy'")


@mock_aws
def test_lab_bootstrap_creates_a_secured_bucket_idempotently(capsys: pytest.CaptureFixture[str]) -> None:
    os.environ["AWS_DEFAULT_REGION"] = "us-east-1"
    assert run_tool(lab_bootstrap.main, ["--region", "us-west-2"]) == 0
    assert run_tool(lab_bootstrap.main, ["--region", "us-west-2"]) == 0
    output = capsys.readouterr().out
    assert "created" in output and "already existed" in output
    bucket = lab_assets_bucket_name("123456789012", "us-west-2")
    s3 = boto3.client("s3", region_name="us-west-2")
    assert (
        s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]["BlockPublicPolicy"]
        is True
    )
    policy = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
    assert policy["Statement"][0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert run_tool(lab_bootstrap.main, ["--region", "us-west-2", "--delete"]) == 0
    assert bucket not in [b["Name"] for b in s3.list_buckets()["Buckets"]]


@mock_aws
def test_lab_bootstrap_refuses_a_region_outside_the_lab_profile(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_tool(lab_bootstrap.main, ["--region", "eu-west-1"]) == 1
    assert capsys.readouterr().err.strip() == (
        "error: lab accounts work only in us-east-1, us-west-2, not eu-west-1"
    )
    assert boto3.client("s3", region_name="eu-west-1").list_buckets()["Buckets"] == []


def test_lambda_requirements_come_from_the_lambda_extra() -> None:
    requirements = lambda_requirements()
    assert any(requirement.startswith("requests") for requirement in requirements)
    assert not any(requirement.startswith(("boto3", "pandas", "psycopg")) for requirement in requirements)
    assert "manylinux2014_aarch64" in PIP_PLATFORM_FLAGS and "--only-binary=:all:" in PIP_PLATFORM_FLAGS


def test_bundle_ships_code_and_packages_but_no_tests_or_bytecode(dev: Synthesized, tmp_path: Path) -> None:
    assert not _is_shipped(Path("pipeline/tests/test_x.py"))
    assert not _is_shipped(Path("lambda_src/__pycache__/handler.cpython-312.pyc"))
    assert _is_shipped(Path("pipeline/data/universe.csv"))
    _, function = next(
        (name, f)
        for name, f in dev.resources("AWS::Lambda::Function").items()
        if name.startswith("IngestionFunction")
    )
    asset_hash = function["Properties"]["Code"]["S3Key"].removesuffix(".zip")
    bundle = dev.template_path.parent / f"asset.{asset_hash}"
    names = {path.relative_to(bundle).parts[0] for path in bundle.rglob("*")}
    assert {"lambda_src", "pipeline", "requests", "pydantic_core", "tenacity"} <= names
    assert not list(bundle.rglob("__pycache__"))
    assert not [path for package in ("lambda_src", "pipeline") for path in (bundle / package).rglob("test*")]
    assert list(bundle.rglob("_pydantic_core*aarch64*.so")), "pydantic-core must be the arm64 build"
    archive = Path(shutil.make_archive(str(tmp_path / "bundle"), "zip", bundle))
    with zipfile.ZipFile(archive) as zipped:
        assert sum(info.file_size for info in zipped.infolist()) < LAMBDA_UNZIPPED_LIMIT
