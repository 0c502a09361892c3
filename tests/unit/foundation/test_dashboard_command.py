"""`pipeline dashboard`: the Streamlit server it becomes, and whether it migrates first."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from cli import main as cli
from cli import serve as serving
from tests.conftest import reset_settings_caches


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


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
    # The announcer forks a process that waits for the server's answer: here, only what it was told.
    seen["announced"] = []
    monkeypatch.setattr(serving, "announce_when_ready", lambda *told: seen["announced"].append(told))
    return seen


def serve(monkeypatch: pytest.MonkeyPatch, *options: str, **environment: str) -> None:
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    reset_settings_caches()
    with pytest.raises(Exec):
        cli.run_cli(["dashboard", "--port", str(free_port()), *options])


def test_the_server_hides_the_deploy_button_and_developer_menu(served, monkeypatch):
    serve(monkeypatch, DATABASE_URL="postgresql://owner@127.0.0.1:1/db")

    argv = served["argv"]
    assert argv[argv.index("--client.toolbarMode") + 1] == "viewer"


def test_it_listens_on_this_machine_only_unless_told_otherwise(served, monkeypatch):
    serve(monkeypatch, DATABASE_URL="postgresql://owner@127.0.0.1:1/db")
    argv = served["argv"]
    port = int(argv[argv.index("--server.port") + 1])
    assert argv[argv.index("--server.address") + 1] == "127.0.0.1"
    assert served["announced"] == [("http", "127.0.0.1", port)]
    # Streamlit's own welcome lines are off: the one URL comes from the announcer.
    assert argv[argv.index("--logger.hideWelcomeMessage") + 1] == "true"

    serve(monkeypatch, "--address", "0.0.0.0", DATABASE_URL="postgresql://owner@127.0.0.1:1/db")
    assert served["argv"][served["argv"].index("--server.address") + 1] == "0.0.0.0"


def test_a_port_in_use_is_one_line_and_no_server(served, monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_URL", "postgresql://owner@127.0.0.1:1/db")
    reset_settings_caches()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code = cli.run_cli(["dashboard", "--port", str(port)])
    error = capsys.readouterr().err
    assert code == 1
    assert error == (
        f"pipeline: error: cannot listen on 127.0.0.1:{port}: already in use (another dashboard?); "
        "choose another with --port or --address\n"
    )
    assert served["argv"] == [] and served["announced"] == []


class _Health(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200 if self.path == "/_stcore/health" else 404)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: object) -> None:
        pass


def test_the_url_is_told_once_the_dashboard_answers_and_not_before(tmp_path):
    port = free_port()
    announcer = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"from cli.serve import announce_when_ready; announce_when_ready('http', '0.0.0.0', {port})",
        ],
        stderr=subprocess.PIPE,
    )
    assert announcer.wait(timeout=30) == 0  # it returns at once; a detached process waits
    assert announcer.stderr is not None
    os.set_blocking(announcer.stderr.fileno(), False)
    threading.Event().wait(1.0)
    assert announcer.stderr.read() in (None, b"")  # nothing answers yet: nothing told
    server = ThreadingHTTPServer(("127.0.0.1", port), _Health)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        os.set_blocking(announcer.stderr.fileno(), True)
        told = announcer.stderr.read().decode()  # until the detached process ends
    finally:
        server.shutdown()
    assert told == f"dashboard: http://localhost:{port}\n"


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
        code = cli.run_cli(["dashboard", "--port", str(free_port())])

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

    code = cli.run_cli(["dashboard", "--port", str(free_port())])

    error = capsys.readouterr().err
    assert code == 1
    assert "a password login is served through nginx, which is not installed" in error
    assert error.count("\n") == 1
    assert served["argv"] == [], "Streamlit was not started alone instead"
