"""Context validation: every bad value is one clear line naming its key."""

from __future__ import annotations

import pytest

from ops.tools import parse_context_arguments
from stacks.application import build_app, cdk_json_context
from stacks.config import ConfigError, load_config

BAD_VALUES = [
    ("environment", "Prod_1", "1-20 lowercase"),
    ("allowed_cidr", "10.0.0.1/33", "IPv4 CIDR"),
    ("allowed_cidr", "10.0.0.1/24", "IPv4 CIDR"),
    ("allowed_cidr", "2001:db8::/32", "only IPv4"),
    ("instance_type", "large", "instance type"),
    ("database_instance_type", "db.t4g", "instance type"),
    ("database_storage_gb", "5", "from 20 to 1000"),
    ("database_storage_gb", "twenty", "whole number"),
    ("backup_retention_days", 0, "from 1 to 35"),
    ("schedule_time", "8:00", "HH:MM"),
    ("schedule_time", "24:00", "HH:MM"),
    ("schedule_time_zone", "Mars/Olympus", "IANA time zone"),
    ("etl_delay_minutes", "5", "from 16 to 720"),
    ("ingest_concurrency", "1", "from 2 to 5"),
    ("ingest_concurrency", 8, "from 2 to 5"),
    ("dashboard_port", "0", "from 1 to 65535"),
    ("removal_policy", "keep", "destroy, snapshot, retain"),
    ("alarm_email", "ops-at-example", "e-mail"),
    ("lab", "yes", "true or false"),
    ("lab_role_name", "Lab Role", "IAM role name"),
    ("pipeline_settings", {"DATABASE_URL": "postgresql://x"}, "unknown setting DATABASE_URL"),
    ("pipeline_settings", "PIPELINE_INDEXES=^GSPC", "object of environment variables"),
    ("dashboard_login", "oidc", "password, cognito"),
    ("dashboard_login", True, "expected a string"),
]


@pytest.mark.parametrize(("key", "value", "expected"), BAD_VALUES)
def test_bad_value_is_one_line_naming_the_key(key: str, value: object, expected: str) -> None:
    with pytest.raises(ConfigError) as raised:
        load_config({key: value})
    message = str(raised.value)
    assert message.startswith(f"invalid context key '{key.split('.')[0]}'")
    assert expected in message
    assert "\n" not in message


LAB_REFUSALS = [
    ("instance_type", "m5.2xlarge", "families t2, t3, t3a, t4g in sizes large, medium, micro, nano, small"),
    ("instance_type", "m5.large", "families t2, t3, t3a, t4g"),
    ("database_instance_type", "db.r6g.xlarge", "db.t3 in sizes medium, micro, small"),
    # The normal default: a Learner Lab refuses Graviton RDS classes, which rolls the stack back.
    ("database_instance_type", "db.t4g.micro", "db.t3 in sizes medium, micro, small"),
    ("database_storage_gb", "200", "at most 100 GB"),
]


@pytest.mark.parametrize(("key", "value", "rule"), LAB_REFUSALS)
def test_lab_mode_refuses_what_the_learner_lab_profile_does_not_allow(
    key: str, value: str, rule: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        load_config({"lab": "true", key: value})
    message = str(raised.value)
    assert message.startswith(f"invalid context key '{key}': lab accounts allow {rule}")
    assert message.endswith(f"got {value.removeprefix('db.')!r}".replace("'200'", "200"))
    load_config({"lab": "false", key: value})  # a normal account takes it


def test_lab_mode_defaults_to_a_db_t3_class_on_gp2() -> None:
    lab = load_config({**cdk_json_context(), "lab": "true"})
    assert (lab.database_instance_type, lab.database_storage_type) == ("t3.micro", "gp2")
    normal = load_config(cdk_json_context())
    assert (normal.database_instance_type, normal.database_storage_type) == ("t4g.micro", "gp3")


def test_shipped_cdk_json_is_valid_and_strings_from_the_cli_parse() -> None:
    config = load_config(cdk_json_context())
    assert (config.environment, config.lab, config.removal_policy) == ("dev", False, "destroy")
    assert config.stack_name == "MarketWeatherPipeline-dev"
    parsed = load_config({"lab": "TRUE", "dashboard_port": "80", "database_instance_type": "db.t3.small"})
    assert (parsed.lab, parsed.dashboard_port, parsed.database_instance_type) == (True, 80, "t3.small")


def test_build_app_reports_the_bad_key_before_building_anything() -> None:
    with pytest.raises(ConfigError, match="'schedule_time_zone'"):
        build_app({**cdk_json_context(), "schedule_time_zone": "Nowhere/Land"})


def test_context_arguments_mirror_the_cdk_cli() -> None:
    context = parse_context_arguments(["-c", "lab=true", "--context", "environment=lab1"])
    assert (context["lab"], context["environment"]) == ("true", "lab1")
    assert context["schedule_time"] == "08:00"  # the rest comes from cdk.json
    with pytest.raises(ConfigError, match="expected -c key=value"):
        parse_context_arguments(["lab=true"])


def test_cognito_login_needs_cloudfront_and_a_normal_account() -> None:
    assert load_config({}).dashboard_login == "password"
    assert load_config({"dashboard_login": " Cognito "}).dashboard_login == "cognito"
    with pytest.raises(ConfigError) as in_a_lab:
        load_config({"lab": "true", "dashboard_access": "tls", "dashboard_login": "cognito"})
    assert str(in_a_lab.value) == (
        "invalid context key 'dashboard_login': lab accounts cannot create Cognito user pools; use password"
    )
    for access in ("tls", "private"):
        with pytest.raises(
            ConfigError,
            match=r"^invalid context key 'dashboard_login': cognito needs "
            rf"dashboard_access=cloudfront \(an HTTPS callback address\), got '{access}'$",
        ):
            load_config({"dashboard_access": access, "dashboard_login": "cognito"})
