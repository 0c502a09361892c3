"""DB_SECRET_ARN: credentials come from a Secrets Manager secret in the RDS format (moto)."""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

import boto3
import psycopg
import pytest
from moto import mock_aws

from pipeline import db
from pipeline.db import DatabaseUnavailable, dashboard_database_url
from pipeline.migrations import migrate
from pipeline.settings import load_settings
from tests.support.secrets import rds_secret


def test_credentials_come_from_the_secret(
    pg_server: str, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with mock_aws():
        client = boto3.client("secretsmanager", region_name="us-east-1")
        arn = rds_secret(client, "pipeline/db", database_url, "postgres", "p@ss/word:with?chars")
        monkeypatch.delenv("DATABASE_URL")
        monkeypatch.setenv("DB_SECRET_ARN", arn)
        settings = load_settings()
        assert not settings.uses_embedded_database
        url = db.database_url(settings)
        parsed = urlsplit(url)
        assert unquote(parsed.password) == "p@ss/word:with?chars"
        assert parsed.username == "postgres"
        # The URI really connects (the test server trusts local connections, so any password works).
        with psycopg.connect(url) as conn:
            assert conn.execute("SELECT current_database()").fetchone()[0] == parsed.path.lstrip("/")


def test_dashboard_role_gets_the_password_of_its_own_secret(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with mock_aws():
        client = boto3.client("secretsmanager", region_name="us-east-1")
        arn = rds_secret(client, "pipeline/dashboard", database_url, "dashboard_reader", "reader'pw")
        monkeypatch.setenv("DASHBOARD_DB_SECRET_ARN", arn)
        settings = load_settings()
        migrate(settings)
        url = dashboard_database_url(settings)
        assert urlsplit(url).username == "dashboard_reader"
    with psycopg.connect(database_url) as conn:
        (has_password,) = conn.execute(
            "SELECT rolpassword IS NOT NULL FROM pg_authid WHERE rolname = 'dashboard_reader'"
        ).fetchone()
    assert has_password


def test_a_missing_secret_is_one_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    with mock_aws():
        monkeypatch.setenv(
            "DB_SECRET_ARN", "arn:aws:secretsmanager:us-east-1:123456789012:secret:missing-AbCdEf"
        )
        with pytest.raises(DatabaseUnavailable, match="cannot read the database secret"):
            db.database_url(load_settings())


def test_dashboard_url_defaults_to_the_reader_role_on_the_same_database(database_url: str) -> None:
    url = dashboard_database_url(load_settings())
    assert urlsplit(url).username == "dashboard_reader"
    assert urlsplit(url).path == urlsplit(database_url).path
