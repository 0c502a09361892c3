"""`pipeline dashboard`: the Streamlit server it becomes, and whether it migrates first."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cli import main as cli
from tests.conftest import reset_settings_caches


# A BaseException, like SystemExit: run_cli turns any Exception into exit status 1.
class Exec(BaseException):
    """Stands for os.execv: the arguments the process would have become."""


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> dict[str, list]:
    seen: dict[str, list] = {"migrated": [], "argv": []}

    def execv(path: str, argv: list[str]) -> None:
        seen["argv"] = argv
        raise Exec

    monkeypatch.setattr(os, "execv", execv)
    monkeypatch.setattr(cli, "_apply_migrations", lambda settings: seen["migrated"].append(settings))
    return seen


def serve(monkeypatch: pytest.MonkeyPatch, **environment: str) -> None:
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    reset_settings_caches()
    with pytest.raises(Exec):
        cli.run_cli(["dashboard", "--port", "8600", "--address", "127.0.0.1"])


def test_the_server_hides_the_deploy_button_and_developer_menu(served, monkeypatch):
    serve(monkeypatch, DATABASE_URL="postgresql://owner@127.0.0.1:1/db")

    argv = served["argv"]
    assert argv[argv.index("--client.toolbarMode") + 1] == "viewer"
    assert argv[argv.index("--server.port") + 1] == "8600"


def test_streamlit_is_configured_for_strangers(served, monkeypatch):
    from streamlit import config

    serve(monkeypatch, DATABASE_URL="postgresql://owner@127.0.0.1:1/db")

    argv = served["argv"]
    options = {argv[index][2:]: argv[index + 1] for index in range(5, len(argv), 2)}
    assert options["client.showErrorDetails"] == "none"
    assert options["server.maxUploadSize"] == "1"
    assert int(options["server.maxMessageSize"]) <= 16
    assert options["server.maxWidgetStateSize"] == "1"
    assert options["global.developmentMode"] == "false"
    assert options["server.enableXsrfProtection"] == "true"
    assert options["server.enableCORS"] == "true"
    # Each is an option this Streamlit knows (a misspelt one would be an error at start, or ignored).
    assert set(options) <= set(config._config_options_template)


def test_with_the_owners_credentials_it_migrates_first(served, monkeypatch):
    serve(monkeypatch, DATABASE_URL="postgresql://owner@127.0.0.1:1/db")

    assert len(served["migrated"]) == 1


def test_with_credentials_of_its_own_it_needs_no_owner_and_does_not_migrate(served, monkeypatch):
    serve(monkeypatch, DASHBOARD_DB_SECRET_ARN="arn:aws:secretsmanager:us-east-1:123456789012:secret:reader")

    assert served["migrated"] == []


OIDC_ENVIRONMENT = {
    "DASHBOARD_DB_SECRET_ARN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:reader",
    "DASHBOARD_OIDC_POOL_ID": "us-east-1_AbCdEf123",
    "DASHBOARD_OIDC_CLIENT_ID": "4h1fq2example7client",
    "DASHBOARD_OIDC_REDIRECT_URI": "https://d111111abcdef8.cloudfront.net/oauth2callback",
}


def test_with_an_oidc_login_streamlit_reads_only_the_secrets_file_it_writes(served, monkeypatch, tmp_path):
    import stat
    import tomllib

    serve(monkeypatch, **OIDC_ENVIRONMENT, DASHBOARD_OIDC_CLIENT_SECRET="the-client-secret")

    argv = served["argv"]
    path = Path(argv[argv.index("--secrets.files") + 1])
    assert argv.count("--secrets.files") == 1
    assert path == Path(os.environ["PIPELINE_HOME"]) / "dashboard" / "secrets.toml"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    auth = tomllib.loads(path.read_text())["auth"]
    cookie_secret = auth.pop("cookie_secret")
    assert auth == {
        "redirect_uri": "https://d111111abcdef8.cloudfront.net/oauth2callback",
        "client_id": "4h1fq2example7client",
        "client_secret": "the-client-secret",
        "server_metadata_url": "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_AbCdEf123"
        "/.well-known/openid-configuration",
        "client_kwargs": {"scope": "openid email profile", "prompt": "login"},
    }
    assert len(cookie_secret) >= 32

    # Given a second start, the cookie secret is the one kept: nobody is signed out by a restart.
    serve(monkeypatch, **OIDC_ENVIRONMENT, DASHBOARD_OIDC_CLIENT_SECRET="the-client-secret")
    assert tomllib.loads(path.read_text())["auth"]["cookie_secret"] == cookie_secret
    assert stat.S_IMODE((path.parent / "cookie_secret").stat().st_mode) == 0o600


def test_without_an_oidc_login_no_secrets_file_is_named(served, monkeypatch):
    serve(monkeypatch, DATABASE_URL="postgresql://owner@127.0.0.1:1/db")

    assert "--secrets.files" not in served["argv"]


def test_the_client_secret_is_read_from_cognito_when_not_given(served, monkeypatch):
    import tomllib

    import boto3
    from moto import mock_aws

    with mock_aws():
        cognito = boto3.client("cognito-idp", region_name="us-east-1")
        pool = cognito.create_user_pool(PoolName="dashboard")["UserPool"]["Id"]
        client = cognito.create_user_pool_client(UserPoolId=pool, ClientName="dashboard", GenerateSecret=True)
        described = client["UserPoolClient"]
        serve(
            monkeypatch,
            **{
                **OIDC_ENVIRONMENT,
                "DASHBOARD_OIDC_POOL_ID": pool,
                "DASHBOARD_OIDC_CLIENT_ID": described["ClientId"],
            },
        )

    argv = served["argv"]
    auth = tomllib.loads(Path(argv[argv.index("--secrets.files") + 1]).read_text())["auth"]
    assert auth["client_secret"] == described["ClientSecret"]


def test_an_unreadable_client_secret_is_one_line_and_no_server(monkeypatch, capsys):
    from moto import mock_aws

    for name, value in OIDC_ENVIRONMENT.items():
        monkeypatch.setenv(name, value)
    reset_settings_caches()
    with mock_aws():
        code = cli.run_cli(["dashboard", "--port", "8600"])

    error = capsys.readouterr().err
    assert code == 1
    assert error.startswith("pipeline: error: cannot read the app client 4h1fq2example7client")
    assert error.count("\n") == 1


def test_a_password_login_without_nginx_is_one_line_and_no_server(served, monkeypatch, capsys):
    import shutil

    monkeypatch.setattr(shutil, "which", lambda name: None)
    for name, value in {
        "DATABASE_URL": "postgresql://owner@127.0.0.1:1/db",
        "DASHBOARD_PASSWORD": "pw",
    }.items():
        monkeypatch.setenv(name, value)
    reset_settings_caches()

    code = cli.run_cli(["dashboard", "--port", "8600"])

    error = capsys.readouterr().err
    assert code == 1
    assert "a password login is served through nginx, which is not installed" in error
    assert error.count("\n") == 1
    assert served["argv"] == [], "Streamlit was not started alone instead"
