"""The one written profile of an AWS Academy Learner Lab account: what lab mode must stay inside.

A lab account refuses (or deactivates the account over) what its restrictions do not list, and a refused
RDS instance rolls the whole stack back after minutes. `stacks.config` checks the lab settings against
this profile at synth, and tests/infra/test_lab_profile.py checks the synthesized lab template against
it. docs/deploy.md ("Learner Lab profile") gives the source of each rule.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LabProfile:
    """A lab account's restrictions, as the lab's own service list states them."""

    regions: frozenset[str]
    #: EC2: the burstable families (the only ones with every size the lab lists) and those sizes.
    instance_families: frozenset[str]
    instance_sizes: frozenset[str]
    volume_types: frozenset[str]
    max_volume_gb: int
    #: RDS: burstable db.t3 classes, gp2 storage up to a size, no Enhanced Monitoring.
    database_families: frozenset[str]
    database_sizes: frozenset[str]
    database_storage_types: frozenset[str]
    max_database_storage_gb: int
    enhanced_monitoring: bool
    #: Lambda: concurrent executions of the whole account.
    lambda_concurrency: int
    #: Resource types the lab cannot create (IAM: no role, user, policy; CloudFront; Cognito).
    forbidden_resource_prefixes: tuple[str, ...]

    def instance_allowed(self, instance_type: str) -> bool:
        family, _, size = instance_type.removeprefix("db.").partition(".")
        return family in self.instance_families and size in self.instance_sizes

    def database_allowed(self, instance_type: str) -> bool:
        family, _, size = instance_type.removeprefix("db.").partition(".")
        return family in self.database_families and size in self.database_sizes


LEARNER_LAB = LabProfile(
    regions=frozenset({"us-east-1", "us-west-2"}),
    instance_families=frozenset({"t2", "t3", "t3a", "t4g"}),
    instance_sizes=frozenset({"nano", "micro", "small", "medium", "large"}),
    volume_types=frozenset({"gp2", "gp3", "sc1", "standard"}),
    max_volume_gb=100,
    database_families=frozenset({"t3"}),
    database_sizes=frozenset({"micro", "small", "medium"}),
    database_storage_types=frozenset({"gp2"}),
    max_database_storage_gb=100,
    enhanced_monitoring=False,
    lambda_concurrency=10,
    forbidden_resource_prefixes=("AWS::IAM::", "AWS::CloudFront::", "AWS::Cognito::"),
)
#: Lab mode's database class when the context names none (the normal default, t4g, is not allowed).
LAB_DATABASE_INSTANCE_TYPE = "t3.micro"
