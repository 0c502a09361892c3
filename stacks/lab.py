"""What lab accounts (AWS Academy style) need: the existing role and instance profile, and a synthesizer.

Lab accounts forbid creating IAM roles. In lab mode every Lambda, schedule and the instance run as the
account's existing role (``LabRole`` by default), imported immutable so that no ``grant_*`` call can add a
policy to it, and the stacks are synthesized with `CliCredentialsStackSynthesizer`: the CLI deploys with
the caller's own credentials and uploads assets to a plain bucket that `make bootstrap-lab` creates,
instead of the standard bootstrap stack and its five roles.
"""

from __future__ import annotations

from aws_cdk import Aws, CfnRule, CfnRuleAssertion, CliCredentialsStackSynthesizer, Fn
from aws_cdk import aws_iam as iam
from constructs import Construct

from stacks.config import PipelineConfig
from stacks.lab_profile import LEARNER_LAB

# The placeholders are filled in by the CDK CLI at deploy time; ops/lab_bootstrap.py builds the same name.
LAB_ASSETS_BUCKET = "pipeline-lab-assets-${AWS::AccountId}-${AWS::Region}"
LAB_ASSETS_BUCKET_PREFIX = "pipeline-lab-assets"


def lab_assets_bucket_name(account: str, region: str) -> str:
    """The assets bucket of a lab account, as the lab synthesizer names it."""
    return f"{LAB_ASSETS_BUCKET_PREFIX}-{account}-{region}"


def lab_synthesizer() -> CliCredentialsStackSynthesizer:
    """A synthesizer that needs no bootstrap roles: deployment and asset upload use the CLI's credentials."""
    return CliCredentialsStackSynthesizer(file_assets_bucket_name=LAB_ASSETS_BUCKET)


class LabAccess(Construct):
    """The lab account's existing role (`role`) and instance profile (`instance_profile`), imported as-is."""

    def __init__(self, scope: Construct, construct_id: str, *, config: PipelineConfig) -> None:
        super().__init__(scope, construct_id)
        self.role: iam.IRole = iam.Role.from_role_name(self, "Role", config.lab_role_name, mutable=False)
        instance_profile_arn = Fn.join(
            "",
            [
                "arn:",
                Aws.PARTITION,
                ":iam::",
                Aws.ACCOUNT_ID,
                ":instance-profile/",
                config.lab_instance_profile_name,
            ],
        )
        self.instance_profile: iam.IInstanceProfile = iam.InstanceProfile.from_instance_profile_attributes(
            self, "InstanceProfile", instance_profile_arn=instance_profile_arn, role=self.role
        )
        # Synth knows no region; CloudFormation checks this rule before it creates anything.
        regions = sorted(LEARNER_LAB.regions)
        CfnRule(
            self,
            "LabRegion",
            assertions=[
                CfnRuleAssertion(
                    assert_=Fn.condition_contains(regions, Aws.REGION),
                    assert_description=f"Lab accounts work only in {' and '.join(regions)}",
                )
            ],
        )
