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

from stacks import lab_bootstrap, teardown
from stacks.aws_tools import run_tool
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


def test_teardown_keeps_data_when_the_removal_policy_keeps_it(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_tool(teardown.main, ["-c", "removal_policy=retain"]) == 0
    assert "the buckets and their data are kept" in capsys.readouterr().out


def test_teardown_reports_a_bad_argument_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_tool(teardown.main, ["-c", "removal_policy=sometimes"]) == 1
    assert capsys.readouterr().err.strip().startswith("error: invalid context key 'removal_policy'")


@mock_aws
def test_lab_bootstrap_creates_a_secured_bucket_idempotently(capsys: pytest.CaptureFixture[str]) -> None:
    os.environ["AWS_DEFAULT_REGION"] = "us-east-1"
    assert run_tool(lab_bootstrap.main, ["--region", "eu-west-1"]) == 0
    assert run_tool(lab_bootstrap.main, ["--region", "eu-west-1"]) == 0
    output = capsys.readouterr().out
    assert "created" in output and "already existed" in output
    bucket = lab_assets_bucket_name("123456789012", "eu-west-1")
    s3 = boto3.client("s3", region_name="eu-west-1")
    assert (
        s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]["BlockPublicPolicy"]
        is True
    )
    policy = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
    assert policy["Statement"][0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert run_tool(lab_bootstrap.main, ["--region", "eu-west-1", "--delete"]) == 0
    assert bucket not in [b["Name"] for b in s3.list_buckets()["Buckets"]]


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
