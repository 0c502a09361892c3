"""CloudWatch in the template: the instance's log groups and retention, every alarm (metric,
threshold, period, action), the dashboard, the agent's grants, and the first-boot script's agent setup."""

from __future__ import annotations

import json

import pytest

from pipeline.catalog import DATA_SOURCES
from stacks import log_agent
from stacks.config import ConfigError, load_config
from stacks.observability import ALLOWED_DAYS_BEHIND
from tests.infra.conftest import Synthesized, resolve_user_data

NAMESPACES = {
    "dev": "MarketWeatherPipeline/dev",
    "lab": "MarketWeatherPipeline/dev",
    "private": "MarketWeatherPipeline/dev",
    "production": "MarketWeatherPipeline/prod",
}

# Alarm id prefix -> (metric, statistic, period s, evaluation periods, comparison, threshold, missing data)
EXPECTED_ALARMS = {
    "EtlFailedAlarm": ("EtlFailed", "Sum", 3600, 1, "GreaterThanOrEqualToThreshold", 1, "notBreaching"),
    "EtlNotRunAlarm": ("EtlRuns", "Sum", 86400, 1, "LessThanThreshold", 1, "breaching"),
    "QuarantineAlarm": (
        "ObjectsQuarantined",
        "Sum",
        3600,
        1,
        "GreaterThanOrEqualToThreshold",
        1,
        "notBreaching",
    ),
    "FreshnessYahooAlarm": ("DaysBehind", "Minimum", 86400, 1, "GreaterThanThreshold", 1, "notBreaching"),
    "FreshnessOpenMeteoAlarm": ("DaysBehind", "Minimum", 86400, 1, "GreaterThanThreshold", 1, "notBreaching"),
    "FreshnessGdeltAlarm": ("DaysBehind", "Minimum", 86400, 1, "GreaterThanThreshold", 1, "notBreaching"),
    "FreshnessFredAlarm": ("DaysBehind", "Minimum", 86400, 1, "GreaterThanThreshold", 3, "notBreaching"),
    "DashboardHealthAlarm": ("DashboardHealthy", "Minimum", 300, 3, "LessThanThreshold", 1, "breaching"),
    "MemoryAlarm": (
        "mem_used_percent",
        "Average",
        300,
        3,
        "GreaterThanOrEqualToThreshold",
        90,
        "notBreaching",
    ),
    "DiskAlarm": (
        "disk_used_percent",
        "Maximum",
        300,
        1,
        "GreaterThanOrEqualToThreshold",
        85,
        "notBreaching",
    ),
}


def _observability(synthesized: Synthesized, resource_type: str) -> dict[str, dict]:
    return {
        name: resource
        for name, resource in synthesized.resources(resource_type).items()
        if name.startswith("Observability")
    }


def test_each_instance_unit_has_a_log_group_with_the_configured_retention(any_mode: Synthesized) -> None:
    groups = _observability(any_mode, "AWS::Logs::LogGroup")
    namespace = NAMESPACES[any_mode.mode]
    names = sorted(group["Properties"]["LogGroupName"] for group in groups.values())
    assert names == sorted(f"/{namespace}/{unit}" for unit in log_agent.LOGGED_UNITS)
    assert {"pipeline-migrate", "pipeline-dashboard", "pipeline-etl", "pipeline-etl-follow"} <= set(
        log_agent.LOGGED_UNITS
    )
    assert all(group["Properties"]["RetentionInDays"] == 14 for group in groups.values())
    assert all(group["DeletionPolicy"] == "Delete" for group in groups.values())


def test_each_alarm_watches_its_metric_and_notifies_the_topic(any_mode: Synthesized) -> None:
    topic, _ = any_mode.only("AWS::SNS::Topic")
    alarms = _observability(any_mode, "AWS::CloudWatch::Alarm")
    instance, _ = any_mode.only("AWS::EC2::Instance")
    found = {}
    for name, alarm in alarms.items():
        prefix = next(expected for expected in EXPECTED_ALARMS if name.startswith(f"Observability{expected}"))
        properties = alarm["Properties"]
        assert properties["AlarmActions"] == [{"Ref": topic}], name
        assert properties["Namespace"] == NAMESPACES[any_mode.mode], name
        found[prefix] = (
            properties["MetricName"],
            properties["Statistic"],
            properties["Period"],
            properties["EvaluationPeriods"],
            properties["ComparisonOperator"],
            properties["Threshold"],
            properties["TreatMissingData"],
        )
        dimensions = {item["Name"]: item["Value"] for item in properties.get("Dimensions", [])}
        if prefix.startswith("Freshness"):
            assert set(dimensions) == {"Source"}
        elif prefix in ("MemoryAlarm", "DiskAlarm"):
            assert dimensions == {"InstanceId": {"Ref": instance}}
        else:
            assert dimensions == {}
    assert found == EXPECTED_ALARMS


def test_the_dashboard_shows_ingestion_etl_freshness_database_and_instance(any_mode: Synthesized) -> None:
    _, dashboard = any_mode.only("AWS::CloudWatch::Dashboard")
    body = json.dumps(dashboard["Properties"]["DashboardBody"])
    for title in (
        "Ingestion: requests per source",
        "Ingestion: throttles per source",
        "Ingestion: failures per source",
        "ETL: runs, failures, objects",
        "Freshness: age of the newest day (h)",
        "Database: connections and CPU %",
        "Instance: CPU %",
        "Instance: memory and disk used %",
        "Dashboard health (1 = answering)",
    ):
        assert title in body, title
    for metric in (
        "DatabaseConnections",
        "CPUUtilization",
        "FreshnessAgeHours",
        "mem_used_percent",
        "Throttles",
    ):
        assert metric in body, metric
    assert any_mode.template_json["Outputs"]["CloudWatchDashboardName"]


def test_the_agent_writes_through_the_instance_role_in_dev(dev: Synthesized) -> None:
    statements = [
        statement
        for policy in dev.resources("AWS::IAM::Policy").values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]
    actions = {json.dumps(statement["Action"]) for statement in statements}
    assert json.dumps("cloudwatch:PutMetricData") in actions
    assert any("logs:PutLogEvents" in json.dumps(statement["Action"]) for statement in statements)


def test_services_get_the_metrics_namespace(any_mode: Synthesized) -> None:
    functions = any_mode.resources("AWS::Lambda::Function").values()
    namespaces = {
        function["Properties"]["Environment"]["Variables"].get("PIPELINE_METRICS_NAMESPACE")
        for function in functions
        if "Environment" in function["Properties"]
    }
    assert namespaces == {NAMESPACES[any_mode.mode]}


def test_first_boot_installs_and_starts_the_agent_with_every_log_file(any_mode: Synthesized) -> None:
    _, instance = any_mode.only("AWS::EC2::Instance")
    script = resolve_user_data(instance["Properties"]["UserData"])
    namespace = NAMESPACES[any_mode.mode]
    assert "dnf install -y -q amazon-cloudwatch-agent" in script
    assert f"-a fetch-config -m ec2 -s -c file:{log_agent.AGENT_CONFIG}" in script
    config_text = script.split(f"cat > {log_agent.AGENT_CONFIG} <<'PIPELINE_EOF'\n")[1].split(
        "\nPIPELINE_EOF"
    )[0]
    config = json.loads(config_text)
    collected = config["logs"]["logs_collected"]["files"]["collect_list"]
    assert {(item["file_path"], item["log_group_name"]) for item in collected} == {
        (f"/var/log/pipeline/{unit}.log", f"/{namespace}/{unit}") for unit in log_agent.LOGGED_UNITS
    }
    assert config["metrics"]["namespace"] == namespace
    assert config["metrics"]["aggregation_dimensions"] == [["InstanceId"]]
    for unit in log_agent.LOGGED_UNITS:
        assert f"pipeline-log-export@{unit}.service" in script
    assert "pipeline-health.timer" in script and "/_stcore/health" in script


def test_log_retention_must_be_one_cloudwatch_accepts() -> None:
    assert load_config({"log_retention_days": "30"}).log_retention_days == 30
    with pytest.raises(ConfigError, match="log_retention_days"):
        load_config({"log_retention_days": "10"})


def test_user_data_with_the_agent_stays_within_ec2s_16_kb(any_mode: Synthesized) -> None:
    _, instance = any_mode.only("AWS::EC2::Instance")
    # Tokens (ARNs, URLs) resolve to placeholders here; real values are of similar length.
    assert len(resolve_user_data(instance["Properties"]["UserData"]).encode()) < 14 * 1024


def test_every_data_source_of_the_runtime_has_a_freshness_allowance() -> None:
    # The stack spells the source names itself (it imports no runtime code): they must be the runtime's.
    assert tuple(ALLOWED_DAYS_BEHIND) == DATA_SOURCES
