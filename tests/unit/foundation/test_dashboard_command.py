"""`pipeline dashboard`: the Streamlit server it becomes, and whether it migrates first."""

from __future__ import annotations

import os

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


def test_with_the_owners_credentials_it_migrates_first(served, monkeypatch):
    serve(monkeypatch, DATABASE_URL="postgresql://owner@127.0.0.1:1/db")

    assert len(served["migrated"]) == 1


def test_with_credentials_of_its_own_it_needs_no_owner_and_does_not_migrate(served, monkeypatch):
    serve(monkeypatch, DASHBOARD_DB_SECRET_ARN="arn:aws:secretsmanager:us-east-1:123456789012:secret:reader")

    assert served["migrated"] == []
