"""The lake's service edges (tests/infra/lake_edges.py), judged with the IAM role and the lake bucket's
policy together (its TLS-only Deny included): the instance and Athena (with the instance's credentials)
may use the warehouse, the Glue database and the workgroup; the Lambdas may not, nor may the instance
anything of the bucket, the catalog or Athena beside the lake's. Each test is shown able to fail."""

from __future__ import annotations

from dataclasses import replace

import pytest

from tests.infra.conftest import Synthesized
from tests.infra.service_edges import (
    ACCOUNT,
    Stack,
    Verdict,
    copy,
    evaluate,
    refused_verdicts,
    table,
    verdicts,
)
from tests.infra.test_service_edges import EXTERNAL_ROLES, LAB_ROLE

# The lab's existing instance profile holds its LabRole (docs/deploy.md, "Learner Lab profile").
EXTERNAL_PROFILES = {"LabInstanceProfile": LAB_ROLE}
LAKE_EDGE_KINDS = {
    "EC2 instance -> lake bucket (warehouse objects)",
    "EC2 instance -> lake bucket (list the warehouse)",
    "EC2 instance -> Glue (catalog)",
    "EC2 instance -> Glue (database)",
    "EC2 instance -> Glue (table)",
    "EC2 instance -> Athena workgroup",
    "Athena (the instance's query) -> lake bucket (read the warehouse)",
    "Athena (the instance's query) -> lake bucket (list the warehouse)",
    "Athena (the instance's query) -> lake bucket (results objects)",
    "Athena (the instance's query) -> lake bucket (results bucket location)",
}


@pytest.fixture(scope="module")
def lake(synthesized) -> Synthesized:
    return synthesized("lake")


def _lake_verdicts(template: dict) -> list[Verdict]:
    found = verdicts(template, EXTERNAL_ROLES, EXTERNAL_PROFILES)
    return [verdict for verdict in found if verdict.edge.kind in LAKE_EDGE_KINDS]


def _without_statement(template: dict, predicate) -> dict:
    """The template with the instance role's policy statements that `predicate` selects removed."""
    changed = copy(template)
    for resource in changed["Resources"].values():
        if resource["Type"] == "AWS::IAM::Policy":
            document = resource["Properties"]["PolicyDocument"]
            document["Statement"] = [s for s in document["Statement"] if not predicate(s)]
    return changed


def _actions(statement: dict) -> list[str]:
    return statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]


@pytest.mark.parametrize("mode", ["lake", "lab_lake"])
def test_every_lake_edge_is_allowed(synthesized, mode: str) -> None:
    found = _lake_verdicts(synthesized(mode).template_json)
    assert {verdict.edge.kind for verdict in found} == LAKE_EDGE_KINDS
    assert all(verdict.allowed for verdict in found), table(found)
    through_lab_role = {verdict.edge.role for verdict in found if verdict.reason == EXTERNAL_ROLES[LAB_ROLE]}
    assert through_lab_role == ({LAB_ROLE} if mode == "lab_lake" else set())


def test_the_lake_edges_name_the_templates_own_resources(lake: Synthesized) -> None:
    found = _lake_verdicts(lake.template_json)
    [bucket] = [name for name in lake.resources("AWS::S3::Bucket") if name.startswith("LakeLakeBucket")]
    s3 = [v.edge for v in found if "lake bucket" in v.edge.kind]
    assert {edge.target for edge in s3} == {bucket}
    assert {edge.resource.split("/")[1] for edge in s3 if "/" in edge.resource} == {
        "warehouse",
        "athena-results",
    }
    glue = [v.edge.resource for v in found if "Glue" in v.edge.kind]
    assert f"arn:aws:glue:us-east-1:{ACCOUNT}:table/pipeline_dev_lake/stock_daily" in glue
    # The role of the instance's own profile, not another of the template's
    _, instance = lake.only("AWS::EC2::Instance")
    profile = lake.resources("AWS::IAM::InstanceProfile")[instance["Properties"]["IamInstanceProfile"]["Ref"]]
    role = profile["Properties"]["Roles"][0]["Ref"]
    assert {v.edge.role for v in found} == {f"arn:aws:iam::{ACCOUNT}:role/{role}"}


def test_no_lake_edges_without_a_lake(dev: Synthesized) -> None:
    assert _lake_verdicts(dev.template_json) == []
    assert refused_verdicts(dev.template_json, EXTERNAL_ROLES, EXTERNAL_PROFILES) == []


@pytest.mark.parametrize(
    ("removed", "failing"),
    [
        # the S3 grants of the lake bucket: both prefixes' statements
        (
            lambda s: any(str(action).startswith("s3:") for action in _actions(s)) and "Lake" in str(s),
            {kind for kind in LAKE_EDGE_KINDS if "lake bucket" in kind},
        ),
        (lambda s: "glue:CreateTable" in _actions(s), {kind for kind in LAKE_EDGE_KINDS if "Glue" in kind}),
        (lambda s: "athena:StartQueryExecution" in _actions(s), {"EC2 instance -> Athena workgroup"}),
    ],
    ids=["s3", "glue", "athena"],
)
def test_an_instance_role_without_the_grant_fails_its_lake_edges(lake: Synthesized, removed, failing) -> None:
    found = _lake_verdicts(_without_statement(lake.template_json, removed))
    assert {verdict.edge.kind for verdict in found if not verdict.allowed} == failing
    assert all("no statement allows" in v.reason for v in found if not v.allowed)


def test_a_results_prefix_without_the_grant_fails_athenas_results_edge(lake: Synthesized) -> None:
    found = _lake_verdicts(_without_statement(lake.template_json, lambda s: "athena-results" in str(s)))
    assert {v.edge.kind for v in found if not v.allowed} == {
        "Athena (the instance's query) -> lake bucket (results objects)"
    }


def test_the_lake_buckets_tls_only_deny_refuses_a_plain_http_request(lake: Synthesized) -> None:
    stack = Stack(lake.template_json, EXTERNAL_ROLES, EXTERNAL_PROFILES)
    found = _lake_verdicts(lake.template_json)
    [edge] = [v.edge for v in found if v.edge.kind == "EC2 instance -> lake bucket (warehouse objects)"]
    verdict = evaluate(stack, replace(edge, context={**edge.context, "aws:SecureTransport": "false"}))
    assert not verdict.allowed and "denied by" in verdict.reason


def test_the_lambdas_and_the_instance_beside_the_lake_are_refused(lake: Synthesized) -> None:
    refused = refused_verdicts(lake.template_json, EXTERNAL_ROLES, EXTERNAL_PROFILES)
    functions = lake.resources("AWS::Lambda::Function")
    lambdas = [v for v in refused if v.edge.kind.startswith("Lambda ")]
    # Each Lambda: four warehouse object actions, five on a table, three in the workgroup
    pipeline_functions = {name for name in functions if "CustomResourceProvider" not in name}
    assert len(pipeline_functions) >= 2 and {v.edge.source for v in lambdas} == pipeline_functions
    assert len(lambdas) == len(pipeline_functions) * 12
    beside = {v.edge.kind for v in refused if v.edge.kind.startswith("EC2 instance")}
    assert beside == {
        "EC2 instance -> lake bucket outside its prefixes",
        "EC2 instance -> another Glue database",
        "EC2 instance -> another database's table",
        "EC2 instance -> another Athena workgroup",
    }
    assert [v for v in refused if v.allowed] == [], table([v for v in refused if v.allowed])
    assert all("no statement allows" in v.reason for v in refused)


@pytest.mark.parametrize(
    ("grant", "allowed_kind"),
    [
        # A Lambda given the bucket, the catalog or Athena: its refused edges become allowed
        ({"Action": "s3:*", "Resource": "*"}, "-> lake bucket (warehouse objects)"),
        ({"Action": "glue:*", "Resource": "*"}, "-> Glue (table)"),
        ({"Action": "athena:*", "Resource": "*"}, "-> Athena workgroup"),
    ],
    ids=["s3", "glue", "athena"],
)
def test_a_lambda_granted_the_lake_fails_the_refusal(
    lake: Synthesized, grant: dict, allowed_kind: str
) -> None:
    template = copy(lake.template_json)
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::IAM::Policy" and "Ingestion" in str(resource["Properties"]["Roles"]):
            resource["Properties"]["PolicyDocument"]["Statement"].append({"Effect": "Allow", **grant})
    allowed = [v for v in refused_verdicts(template, EXTERNAL_ROLES, EXTERNAL_PROFILES) if v.allowed]
    assert allowed and all(v.edge.kind.startswith("Lambda ") for v in allowed)
    assert all(v.edge.kind.endswith(allowed_kind) for v in allowed)


def test_a_wider_bucket_grant_fails_the_outside_the_prefixes_refusal(lake: Synthesized) -> None:
    template = copy(lake.template_json)
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::IAM::Policy":
            for statement in resource["Properties"]["PolicyDocument"]["Statement"]:
                if "/warehouse/*" in str(statement.get("Resource")):
                    # The grant as it was before it named the prefixes: the whole bucket
                    statement["Resource"] = [
                        item
                        if "/warehouse/*" not in str(item)
                        else {"Fn::Join": ["", [item["Fn::Join"][1][0], "/*"]]}
                        for item in statement["Resource"]
                    ]
    allowed = {
        v.edge.kind for v in refused_verdicts(template, EXTERNAL_ROLES, EXTERNAL_PROFILES) if v.allowed
    }
    assert allowed == {"EC2 instance -> lake bucket outside its prefixes"}
