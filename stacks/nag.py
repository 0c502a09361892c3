"""cdk-nag v3 wiring: the AwsSolutions pack as a policy-validation plugin, and written acknowledgements.

cdk-nag 3 is a CDK policy-validation plugin (``Validations.of(app).add_plugins``), not an Aspect; a finding
is acknowledged on the construct that causes it with ``Validations.of(construct).acknowledge`` and a reason.
Findings that carry a detail (``AwsSolutions-IAM5[Action::s3:List*]``) are acknowledged one by one.
"""

from __future__ import annotations

from aws_cdk import Acknowledgment, App, CfnElement, Stack, Validations
from cdk_nag import AwsSolutionsChecks
from constructs import IConstruct


def acknowledge(scope: IConstruct, rule_id: str, reason: str) -> None:
    """Acknowledge one cdk-nag finding on `scope` (and its children), with the reason it is accepted."""
    Validations.of(scope).acknowledge(Acknowledgment(id=rule_id, reason=reason))


def add_nag_checks(app: App) -> None:
    """Run the AwsSolutions pack on every synth; an unacknowledged finding fails the synth."""
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))


def logical_id(construct: IConstruct) -> str:
    """The logical ID of an L2 construct's resource, as cdk-nag prints it inside findings (``<Id.Arn>``)."""
    resource = construct.node.default_child
    assert isinstance(resource, CfnElement), f"{construct.node.path} has no CloudFormation resource"
    return Stack.of(construct).get_logical_id(resource)
