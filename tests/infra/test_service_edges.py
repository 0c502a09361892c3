"""Every service-to-resource edge of each template has a policy that allows it (tests/infra/service_edges.py),
and the evaluator fails an edge whose policy is missing or denies it."""

from __future__ import annotations

import pytest

from tests.infra.conftest import Synthesized
from tests.infra.service_edges import ACCOUNT, copy, table, verdicts

LAB_ROLE = f"arn:aws:iam::{ACCOUNT}:role/LabRole"
# What the lab's existing role grants cannot be read from the template; the lab's own documentation says
# LabRole may be used by Lambda, EventBridge Scheduler and EC2, with access to the lab's services.
EXTERNAL_ROLES = {LAB_ROLE: "the lab account's own LabRole (outside the template)"}
EDGE_KINDS = {
    "CloudWatch alarm -> SNS topic",
    "EventBridge rule -> SQS queue",
    "Scheduler -> its target",
    "Scheduler -> its dead-letter queue",
    "Lambda (async failures) -> its dead-letter queue",
    "Lambda event source mapping -> SQS queue",
    "SQS redrive -> dead-letter queue",
    "S3 -> EventBridge (default bus)",
    "S3 server access logs -> log bucket",
    "VPC flow logs -> log bucket (objects)",
    "VPC flow logs -> log bucket (its ACL)",
}


def test_every_service_edge_has_a_policy_that_allows_it(any_mode: Synthesized) -> None:
    found = verdicts(any_mode.template_json, EXTERNAL_ROLES)
    assert {verdict.edge.kind for verdict in found} == EDGE_KINDS
    assert all(verdict.allowed for verdict in found), table(found)
    alarms = [v for v in found if v.edge.kind == "CloudWatch alarm -> SNS topic"]
    assert len(alarms) == len(any_mode.resources("AWS::CloudWatch::Alarm"))
    through_lab_role = {v.edge.role for v in found if v.reason == EXTERNAL_ROLES[LAB_ROLE]}
    assert through_lab_role == ({LAB_ROLE} if any_mode.mode == "lab" else set())


def _without_statement(template: dict, policy_type: str, predicate) -> dict:
    changed = copy(template)
    for resource in changed["Resources"].values():
        if resource["Type"] == policy_type:
            document = resource["Properties"]["PolicyDocument"]
            document["Statement"] = [s for s in document["Statement"] if not predicate(s)]
    return changed


def _failing(template: dict) -> dict[str, str]:
    return {v.edge.describe(): v.reason for v in verdicts(template, EXTERNAL_ROLES) if not v.allowed}


def test_an_alarm_topic_without_cloudwatchs_allow_fails_every_alarm_edge(dev: Synthesized) -> None:
    # The topic policy as enforce_ssl alone writes it: only the Deny (the templates before the fix).
    template = _without_statement(
        dev.template_json, "AWS::SNS::TopicPolicy", lambda s: s["Effect"] == "Allow"
    )
    failing = _failing(template)
    assert len(failing) == len(dev.resources("AWS::CloudWatch::Alarm"))
    assert all(key.startswith("CloudWatch alarm -> SNS topic") for key in failing)
    assert set(failing.values()) == {
        "no statement allows sns:Publish on arn:aws:sns:us-east-1:123456789012:"
        + next(iter(dev.resources("AWS::SNS::Topic")))
    }


@pytest.mark.parametrize(
    ("policy_type", "service", "kind"),
    [
        ("AWS::SQS::QueuePolicy", "events.amazonaws.com", "EventBridge rule -> SQS queue"),
        ("AWS::S3::BucketPolicy", "logging.s3.amazonaws.com", "S3 server access logs -> log bucket"),
        ("AWS::S3::BucketPolicy", "delivery.logs.amazonaws.com", "VPC flow logs -> log bucket (objects)"),
    ],
)
def test_a_missing_resource_policy_statement_fails_its_edge(
    dev: Synthesized, policy_type, service, kind
) -> None:
    template = _without_statement(
        dev.template_json, policy_type, lambda s: s.get("Principal") == {"Service": service}
    )
    assert any(key.startswith(kind) for key in _failing(template)), kind


def test_a_role_without_the_grant_fails_its_edges(dev: Synthesized) -> None:
    template = _without_statement(
        dev.template_json,
        "AWS::IAM::Policy",
        lambda s: "sqs:SendMessage" in s["Action"] or "lambda:InvokeFunction" in s["Action"],
    )
    failing = _failing(template)
    assert {key.split(":")[0] for key in failing} >= {
        "Scheduler -> its target",
        "Scheduler -> its dead-letter queue",
        "Lambda (async failures) -> its dead-letter queue",
    }


def test_a_matching_deny_fails_the_edge_even_with_an_allow(dev: Synthesized) -> None:
    template = copy(dev.template_json)
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::SNS::TopicPolicy":
            statements = resource["Properties"]["PolicyDocument"]["Statement"]
            statements.append({"Effect": "Deny", "Principal": "*", "Action": "sns:*", "Resource": "*"})
    failing = _failing(template)
    assert failing and all("denied by" in reason for reason in failing.values())


def test_an_unknown_role_outside_the_template_is_not_taken_on_trust(lab: Synthesized) -> None:
    found = verdicts(lab.template_json, {})
    unknown = [v for v in found if not v.allowed]
    assert unknown and all("neither in the template nor known" in v.reason for v in unknown)
