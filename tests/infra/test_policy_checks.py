"""cdk-nag (AwsSolutions, v3 policy-validation plugin) and cfn-lint on every synthesized template."""

from __future__ import annotations

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_s3 as s3
from cdk_nag import AwsSolutionsChecks
from cfnlint.api import ManualArgs, lint_file

from tests.infra.conftest import Synthesized

LINT_REGIONS = ["us-east-1", "eu-west-1"]


def _violations(report) -> list[str]:
    return [
        f"{violation.rule_name} at {resource.construct_path}"
        for violation in report.violations
        for resource in violation.violating_resources
    ]


def test_aws_solutions_pack_has_no_unacknowledged_finding(any_mode: Synthesized) -> None:
    report = AwsSolutionsChecks().validate_scope(any_mode.app)
    assert _violations(report) == []
    assert report.success


def test_aws_solutions_pack_reports_an_insecure_bucket() -> None:
    # Given a stack the pack must reject, when it is checked, then the finding names the rule:
    # proves the check above is live and not vacuously empty.
    app = App()
    s3.Bucket(Stack(app, "Insecure"), "Bucket")
    report = AwsSolutionsChecks().validate_scope(app)
    assert not report.success
    assert any(finding.startswith("AwsSolutions-S10") for finding in _violations(report))


@pytest.mark.parametrize("severity", ["error", "warning"])
def test_cfn_lint_finds_nothing(any_mode: Synthesized, severity: str) -> None:
    matches = lint_file(any_mode.template_path, config=ManualArgs(regions=LINT_REGIONS))
    found = [f"{match.rule.id} {match.message}" for match in matches if match.rule.severity == severity]
    assert found == []
