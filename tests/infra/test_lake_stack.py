"""The lake mode (``-c lake=true``): a Glue database, an Athena workgroup that enforces its results
location (expired by a lifecycle rule) and caps the bytes a query scans, the instance's settings and
grants; in a lab account none of it is IAM; cdk-nag and cfn-lint stay clean."""

from __future__ import annotations

import json

import pytest
from cdk_nag import AwsSolutionsChecks
from cfnlint.api import ManualArgs, lint_file

from stacks.config import ConfigError, load_config
from tests.infra.conftest import Synthesized, resolve_user_data
from tests.infra.test_policy_checks import LINT_REGIONS, _violations


@pytest.fixture(scope="module")
def lake(synthesized) -> Synthesized:
    return synthesized("lake")


@pytest.fixture(scope="module")
def lab_lake(synthesized) -> Synthesized:
    return synthesized("lab_lake")


def test_without_the_switch_there_is_no_lake(dev: Synthesized) -> None:
    assert dev.resources("AWS::Glue::Database") == {} and dev.resources("AWS::Athena::WorkGroup") == {}
    assert "LAKE_WAREHOUSE" not in json.dumps(dev.template_json)


def test_the_glue_database_is_named_by_the_stack(lake: Synthesized) -> None:
    _, database = lake.only("AWS::Glue::Database")
    assert database["Properties"]["DatabaseInput"]["Name"] == "pipeline_dev_lake"
    assert lake.template_json["Outputs"]["LakeDatabase"]["Value"] == "pipeline_dev_lake"


def test_the_workgroup_enforces_its_results_location_and_caps_each_query(lake: Synthesized) -> None:
    _, workgroup = lake.only("AWS::Athena::WorkGroup")
    configuration = workgroup["Properties"]["WorkGroupConfiguration"]
    assert configuration["EnforceWorkGroupConfiguration"] is True
    assert configuration["BytesScannedCutoffPerQuery"] == 2048 * 1024 * 1024
    assert configuration["ResultConfiguration"]["EncryptionConfiguration"] == {"EncryptionOption": "SSE_S3"}
    location = json.dumps(configuration["ResultConfiguration"]["OutputLocation"])
    bucket_id = next(name for name in lake.resources("AWS::S3::Bucket") if name.startswith("LakeLakeBucket"))
    assert bucket_id in location and "athena-results/" in location
    bucket = lake.resources("AWS::S3::Bucket")[bucket_id]["Properties"]
    rules = bucket["LifecycleConfiguration"]["Rules"]
    assert {
        "ExpirationInDays": 7,
        "Id": "ExpireQueryResults",
        "Prefix": "athena-results/",
        "Status": "Enabled",
    } in rules
    assert bucket["BucketEncryption"] and bucket["PublicAccessBlockConfiguration"]["BlockPublicAcls"] is True


def test_the_instance_gets_the_lake_settings_and_may_use_it(lake: Synthesized) -> None:
    _, instance = lake.only("AWS::EC2::Instance")
    user_data = resolve_user_data(instance["Properties"]["UserData"])
    # The ETL's environment and the dashboard's (its Intraday page) both name the lake
    assert user_data.count("LAKE_WAREHOUSE=s3://") == 2 and "/warehouse" in user_data
    assert "ExecStartPost=-/opt/pipeline/venv/bin/pipeline lake compact" in user_data
    assert "LAKE_DATABASE=pipeline_dev_lake" in user_data
    statements = [
        statement
        for policy in lake.resources("AWS::IAM::Policy").values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]
    actions = {action for statement in statements for action in _listed(statement["Action"])}
    assert {"glue:CreateTable", "glue:UpdateTable", "athena:StartQueryExecution"} <= actions
    glue = next(statement for statement in statements if "glue:CreateTable" in _listed(statement["Action"]))
    assert all(
        "pipeline_dev_lake" in json.dumps(resource) or "catalog" in json.dumps(resource)
        for resource in glue["Resource"]
    )


def test_the_ingestion_lambdas_know_there_is_a_lake_and_get_no_lake_grant(lake: Synthesized) -> None:
    functions = lake.resources("AWS::Lambda::Function").values()
    variables = [
        function["Properties"]["Environment"]["Variables"]
        for function in functions
        if "Environment" in function["Properties"]
    ]
    assert variables and all("LAKE_WAREHOUSE" in names for names in variables)


def _listed(value: object) -> list[str]:
    return value if isinstance(value, list) else [value]  # type: ignore[list-item]


def test_lab_lake_mode_adds_no_iam_resource(lab_lake: Synthesized) -> None:
    kinds = {resource["Type"] for resource in lab_lake.template_json["Resources"].values()}
    assert "AWS::Glue::Database" in kinds and "AWS::Athena::WorkGroup" in kinds
    assert sorted(kind for kind in kinds if kind.startswith("AWS::IAM::")) == []


@pytest.mark.parametrize("mode", ["lake", "lab_lake"])
def test_cdk_nag_and_cfn_lint_stay_clean(synthesized, mode: str) -> None:
    synthesized_mode = synthesized(mode)
    report = AwsSolutionsChecks().validate_scope(synthesized_mode.app)
    assert _violations(report) == []
    matches = lint_file(synthesized_mode.template_path, config=ManualArgs(regions=LINT_REGIONS))
    assert [f"{match.rule.id} {match.message}" for match in matches] == []


def test_the_query_limit_is_validated() -> None:
    assert load_config({"lake": "true"}).lake_query_limit_mb == 1024
    with pytest.raises(
        ConfigError, match=r"^invalid context key 'lake_query_limit_mb': expected a whole number"
    ):
        load_config({"lake_query_limit_mb": "5"})
