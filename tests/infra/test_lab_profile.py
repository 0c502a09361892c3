"""The lab template against the one written Learner Lab profile (stacks/lab_profile.py): each rule a check."""

from __future__ import annotations

from stacks.lab_profile import LEARNER_LAB
from tests.infra.conftest import Synthesized


def test_every_lab_resource_type_is_one_the_lab_allows(lab: Synthesized) -> None:
    kinds = {resource["Type"] for resource in lab.template_json["Resources"].values()}
    assert not [kind for kind in kinds if kind.startswith(LEARNER_LAB.forbidden_resource_prefixes)]
    assert not [
        kind for kind in kinds if kind.startswith("Custom::") or kind == "AWS::CloudFormation::CustomResource"
    ]


def test_the_lab_database_is_a_db_t3_class_on_gp2_without_enhanced_monitoring(lab: Synthesized) -> None:
    _, database = lab.only("AWS::RDS::DBInstance")
    properties = database["Properties"]
    assert LEARNER_LAB.database_allowed(properties["DBInstanceClass"]), properties["DBInstanceClass"]
    assert properties["StorageType"] in LEARNER_LAB.database_storage_types
    assert int(properties["AllocatedStorage"]) <= LEARNER_LAB.max_database_storage_gb
    assert "MonitoringInterval" not in properties and "MonitoringRoleArn" not in properties
    assert properties["MultiAZ"] is False


def test_the_lab_instance_and_its_volume_fit_the_profile(lab: Synthesized) -> None:
    _, instance = lab.only("AWS::EC2::Instance")
    properties = instance["Properties"]
    assert LEARNER_LAB.instance_allowed(properties["InstanceType"]), properties["InstanceType"]
    for device in properties["BlockDeviceMappings"]:
        assert device["Ebs"]["VolumeType"] in LEARNER_LAB.volume_types
        assert device["Ebs"]["VolumeSize"] <= LEARNER_LAB.max_volume_gb
    assert len(lab.resources("AWS::EC2::Instance")) == 1


def test_the_lab_lambdas_stay_inside_the_accounts_concurrency(lab: Synthesized) -> None:
    caps = [
        mapping["Properties"]["ScalingConfig"]["MaximumConcurrency"]
        for mapping in lab.resources("AWS::Lambda::EventSourceMapping").values()
    ]
    functions = lab.resources("AWS::Lambda::Function")
    # The mapped worker at its cap, every other function once at a time (the dispatcher, run daily).
    assert sum(caps) + len(functions) - len(caps) <= LEARNER_LAB.lambda_concurrency
    assert not [f for f in functions.values() if "ReservedConcurrentExecutions" in f["Properties"]]


def test_the_lab_stack_refuses_a_region_outside_the_profile_before_creating_anything(
    lab: Synthesized,
) -> None:
    rules = lab.template_json["Rules"]
    [assertion] = next(rule for name, rule in rules.items() if name.startswith("LabAccessLabRegion"))[
        "Assertions"
    ]
    assert assertion["Assert"] == {"Fn::Contains": [sorted(LEARNER_LAB.regions), {"Ref": "AWS::Region"}]}


def test_the_normal_template_would_break_each_rule_the_lab_checks(dev: Synthesized) -> None:
    # Proof the checks above can fail: the normal template uses what the lab refuses.
    _, database = dev.only("AWS::RDS::DBInstance")
    assert not LEARNER_LAB.database_allowed(database["Properties"]["DBInstanceClass"])
    assert database["Properties"]["StorageType"] not in LEARNER_LAB.database_storage_types
    assert "MonitoringInterval" in database["Properties"]
    kinds = {resource["Type"] for resource in dev.template_json["Resources"].values()}
    assert [kind for kind in kinds if kind.startswith(LEARNER_LAB.forbidden_resource_prefixes)]
    assert "Rules" not in dev.template_json or not [
        n for n in dev.template_json["Rules"] if n.startswith("LabAccess")
    ]
