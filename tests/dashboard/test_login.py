"""The login: no page or query before signing in, wrong passwords refused after a delay, sign-out."""

from __future__ import annotations

import json
import time

import boto3
import pytest
from moto import mock_aws
from streamlit.testing.v1 import AppTest

from dashboard import login
from dashboard.login import Credentials, FailedAttempts, LoginUnavailable
from pipeline.settings import load_settings
from tests.dashboard.conftest import APP_PATH, INDEX_NAME

PASSWORD = "correct horse battery staple"


@pytest.fixture
def password_set(monkeypatch, seeded_database_url):
    monkeypatch.setenv("DASHBOARD_PASSWORD", PASSWORD)
    from tests.conftest import reset_settings_caches

    reset_settings_caches()
    login._server_login.clear()
    yield
    login._server_login.clear()


def sign_in(app: AppTest, username: str, password: str) -> AppTest:
    app.text_input(key="login_username").input(username)
    app.text_input(key="login_password").input(password)
    return app.button[0].click().run()


def test_without_a_login_set_the_overview_shows_at_once(seeded_database_url):
    login._server_login.clear()
    app = AppTest.from_file(str(APP_PATH), default_timeout=30).run()

    assert any(metric.label == f"{INDEX_NAME} close" for metric in app.metric)
    assert not app.text_input


def test_nothing_shows_before_signing_in_and_a_wrong_password_is_refused(password_set):
    app = AppTest.from_file(str(APP_PATH), default_timeout=30).run()
    assert [title.value for title in app.title] == ["Sign in"]
    assert not app.metric

    sign_in(app, "admin", "guess")
    assert "Wrong user name or password." in [error.value for error in app.error]
    assert not app.metric
    sign_in(app, "root", PASSWORD)
    assert not app.metric


def test_the_right_password_opens_the_pages_until_sign_out(password_set):
    app = AppTest.from_file(str(APP_PATH), default_timeout=30).run()

    sign_in(app, "admin", PASSWORD)
    assert any(metric.label == f"{INDEX_NAME} close" for metric in app.metric)
    app.sidebar.button[0].click().run()
    assert [title.value for title in app.title] == ["Sign in"]
    assert not app.metric


def test_credentials_keep_only_a_salted_hash_and_compare_it():
    first = Credentials.from_password("admin", PASSWORD)
    second = Credentials.from_password("admin", PASSWORD)

    assert PASSWORD.encode() not in first.digest + first.salt
    assert first.salt != second.salt and first.digest != second.digest
    assert first.accepts("admin", PASSWORD)
    assert not first.accepts("admin", PASSWORD + " ")
    assert not first.accepts("Admin", PASSWORD)


def test_each_failure_in_the_window_lengthens_the_delay(monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr(time, "monotonic", lambda: clock[0])
    failures = FailedAttempts()

    assert [failures.record() for _ in range(3)] == [1.0, 2.0, 3.0]
    assert max(failures.record() for _ in range(20)) == login.MAX_DELAY_SECONDS
    clock[0] += login.FAILURE_WINDOW_SECONDS + 1
    assert failures.record() == 1.0


def test_credentials_come_from_the_login_secret_and_a_missing_secret_keeps_the_dashboard_closed():
    with mock_aws():
        client = boto3.client("secretsmanager", region_name="us-east-1")
        arn = client.create_secret(
            Name="dashboard/login", SecretString=json.dumps({"username": "admin", "password": PASSWORD})
        )["ARN"]
        credentials = login.credentials_from(load_settings(dashboard_login_secret_arn=arn))
        with pytest.raises(LoginUnavailable, match="cannot read the login secret"):
            login.credentials_from(load_settings(dashboard_login_secret_arn=arn + "-gone"))

    assert credentials is not None and credentials.accepts("admin", PASSWORD)


def test_failed_attempts_wait_their_delay_and_are_checked_one_at_a_time():
    waited: list[float] = []
    failures = FailedAttempts(sleep=waited.append)
    credentials = Credentials.from_password("admin", PASSWORD)

    assert not failures.check(credentials, "admin", "guess 1")
    assert not failures.check(credentials, "admin", "guess 2")
    assert failures.check(credentials, "admin", PASSWORD)
    assert waited == [1.0, 2.0]
    assert failures._turn.acquire(blocking=False), "the turn is released after each check"
