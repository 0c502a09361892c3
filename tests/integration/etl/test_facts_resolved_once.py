"""Each fact resolved once per process: an ETL run on AWS reads the database secret once, opens one
connection, and leaves the dashboard roles' passwords to the migration step (`pipeline db migrate`)."""

from __future__ import annotations

from collections import Counter

import boto3
import botocore.client
import psycopg
import pytest
from moto import mock_aws

from cli.main import run_cli
from tests.conftest import reset_settings_caches
from tests.integration.etl.conftest import FIRST_DAY, trading_days
from tests.support.secrets import rds_secret

pytestmark = pytest.mark.usefixtures("universe")


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> Counter:
    """Counts of AWS API calls by operation name and of PostgreSQL connections opened."""
    counts: Counter = Counter()
    make_api_call = botocore.client.BaseClient._make_api_call
    connect = psycopg.connect

    def counting_api_call(self, operation_name, api_params):
        counts[operation_name] += 1
        return make_api_call(self, operation_name, api_params)

    def counting_connect(*args, **kwargs):
        counts["connect"] += 1
        return connect(*args, **kwargs)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", counting_api_call)
    monkeypatch.setattr(psycopg, "connect", counting_connect)
    return counts


@pytest.fixture
def on_aws(migrated_database_url: str, monkeypatch: pytest.MonkeyPatch):
    """The settings of the instance: the owner's and both dashboard roles' secrets, metrics published."""
    with mock_aws():
        client = boto3.client("secretsmanager", region_name="us-east-1")
        secrets = {
            "DB_SECRET_ARN": rds_secret(client, "db", migrated_database_url, "postgres", "owner"),
            "DASHBOARD_DB_SECRET_ARN": rds_secret(
                client, "reader", migrated_database_url, "dashboard_reader", "r"
            ),
            "EXPLORER_DB_SECRET_ARN": rds_secret(
                client, "explorer", migrated_database_url, "dashboard_explorer", "e"
            ),
        }
        monkeypatch.delenv("DATABASE_URL")
        for name, arn in secrets.items():
            monkeypatch.setenv(name, arn)
        monkeypatch.setenv("PIPELINE_METRICS_NAMESPACE", "MarketWeatherPipeline/test")
        reset_settings_caches()
        yield


@pytest.mark.usefixtures("on_aws")
def test_an_etl_run_reads_the_secret_once_and_opens_one_connection(raw_zone, counted, capsys):
    # Given new objects in the raw zone
    raw_zone.everything(trading_days(FIRST_DAY, 10))
    # When `pipeline etl` loads them, publishing its metrics
    assert run_cli(["etl"]) == 0, capsys.readouterr().err
    # Then the owner's secret was read once, the dashboard roles' secrets never, and one connection served
    assert counted["GetSecretValue"] == 1
    assert counted["connect"] == 1
    assert '"source_freshness"' in capsys.readouterr().out


@pytest.mark.usefixtures("on_aws")
def test_the_migration_step_sets_the_role_passwords(counted, migrated_database_url):
    # When the instance's migration step runs
    assert run_cli(["db", "migrate"]) == 0
    # Then it read each of the three secrets once, over one connection, and the roles have passwords
    assert counted["GetSecretValue"] == 3
    assert counted["connect"] == 1
    with psycopg.connect(migrated_database_url) as conn:
        rows = conn.execute(
            "SELECT rolname, rolpassword IS NOT NULL FROM pg_authid "
            "WHERE rolname IN ('dashboard_reader', 'dashboard_explorer') ORDER BY rolname"
        ).fetchall()
    assert rows == [("dashboard_explorer", True), ("dashboard_reader", True)]
