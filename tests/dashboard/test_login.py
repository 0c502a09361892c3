"""The login's parts: the credentials' hash, the throttle's rules, Streamlit's thin layer over the gate.

The gate itself, served with nginx and driven by raw HTTP and websocket clients, is tested in
tests/dashboard/test_gate.py; a real browser signs in through it in tests/dashboard/test_browser.py.
"""

from __future__ import annotations

import json

import boto3
import pytest
from moto import mock_aws
from streamlit.testing.v1 import AppTest

from dashboard.gate.credentials import Credentials, LoginUnavailable, credentials_from
from dashboard.gate.throttle import (
    MAX_ADDRESS_DELAY_SECONDS,
    MAX_TRACKED,
    USER_NAME_FAILURES,
    WINDOW_SECONDS,
    Throttle,
)
from dashboard.gate.tokens import header_user, session_cookie, session_user, user_header
from pipeline.settings import load_settings
from tests.dashboard.conftest import APP_PATH, INDEX_NAME

PASSWORD = "correct horse battery staple"
KEY = "a signing key for the tests"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_without_a_login_set_the_overview_shows_at_once(seeded_database_url):
    app = AppTest.from_file(str(APP_PATH), default_timeout=30).run()

    assert any(metric.label == f"{INDEX_NAME} close" for metric in app.metric)


def test_with_a_password_streamlit_alone_shows_nothing_without_the_gates_signed_user(
    monkeypatch, seeded_database_url
):
    from tests.conftest import reset_settings_caches

    monkeypatch.setenv("DASHBOARD_PASSWORD", PASSWORD)
    monkeypatch.setenv("DASHBOARD_GATE_SECRET", KEY)
    reset_settings_caches()
    app = AppTest.from_file(str(APP_PATH), default_timeout=30).run()

    assert "Sign in at the dashboard's address" in app.error[0].value
    assert not app.metric


def test_credentials_keep_only_a_salted_hash_and_compare_it():
    first = Credentials.from_password("admin", PASSWORD)
    second = Credentials.from_password("admin", PASSWORD)

    assert PASSWORD.encode() not in first.digest + first.salt
    assert first.salt != second.salt and first.digest != second.digest
    assert first.accepts("admin", PASSWORD)
    assert not first.accepts("admin", PASSWORD + " ")
    assert not first.accepts("Admin", PASSWORD)


def test_credentials_come_from_the_login_secret_and_a_missing_secret_keeps_the_dashboard_closed():
    with mock_aws():
        client = boto3.client("secretsmanager", region_name="us-east-1")
        arn = client.create_secret(
            Name="dashboard/login", SecretString=json.dumps({"username": "admin", "password": PASSWORD})
        )["ARN"]
        credentials = credentials_from(load_settings(dashboard_login_secret_arn=arn))
        with pytest.raises(LoginUnavailable, match="cannot read the login secret"):
            credentials_from(load_settings(dashboard_login_secret_arn=arn + "-gone"))

    assert credentials is not None and credentials.accepts("admin", PASSWORD)


def test_signed_values_hold_only_with_the_key_and_the_session_expires(monkeypatch):
    import itsdangerous.timed

    assert header_user(KEY, user_header(KEY, "admin")) == "admin"
    assert header_user(KEY, "admin") is None
    assert header_user("another key", user_header(KEY, "admin")) is None
    cookie = session_cookie(KEY, "admin")
    assert session_user(KEY, cookie) == "admin"
    assert session_user(KEY, cookie[:-2] + "xx") is None
    assert session_user(KEY, None) is None
    later = itsdangerous.timed.time.time() + 13 * 3600
    monkeypatch.setattr(itsdangerous.timed.time, "time", lambda: later)
    assert session_user(KEY, cookie) is None


def test_an_address_waits_longer_after_each_of_its_failures_and_only_it_waits():
    clock = Clock()
    throttle = Throttle(clock)

    assert throttle.verdict("198.51.100.7", "admin").allowed
    waits = []
    for _ in range(8):
        throttle.failed("198.51.100.7", "admin")
        verdict = throttle.verdict("198.51.100.7", "admin")
        waits.append(verdict.retry_after)
        clock.now += verdict.retry_after
    assert waits == [1, 2, 4, 8, 16, 32, MAX_ADDRESS_DELAY_SECONDS, MAX_ADDRESS_DELAY_SECONDS]
    # Another address is checked at once: the owner never waits behind someone else's failures.
    assert throttle.verdict("203.0.113.9", "admin").allowed
    clock.now += WINDOW_SECONDS
    assert throttle.verdict("198.51.100.7", "admin").allowed


def test_a_user_name_guessed_from_many_addresses_is_checked_only_for_addresses_that_have_not_failed():
    clock = Clock()
    throttle = Throttle(clock)
    for number in range(USER_NAME_FAILURES):
        throttle.failed(f"198.51.100.{number}", "admin")
    clock.now += 2  # past each address's own delay

    assert not throttle.verdict("198.51.100.1", "admin").allowed
    assert "user name" in throttle.verdict("198.51.100.1", "admin").reason
    assert throttle.verdict("198.51.100.1", "someone else").allowed
    assert throttle.verdict("203.0.113.9", "admin").allowed, "the owner's fresh address is checked"


def test_the_throttle_keeps_a_bounded_number_of_addresses():
    throttle = Throttle(Clock())
    for number in range(MAX_TRACKED + 50):
        throttle.failed(f"10.0.{number // 256}.{number % 256}", f"name {number}")

    assert len(throttle._by_address) == MAX_TRACKED
    assert len(throttle._by_name) == MAX_TRACKED


def test_an_address_has_one_attempt_checked_at_a_time():
    throttle = Throttle(Clock())

    with throttle.checking("198.51.100.7"):
        assert not throttle.verdict("198.51.100.7", "admin").allowed
        assert throttle.verdict("203.0.113.9", "admin").allowed
    assert throttle.verdict("198.51.100.7", "admin").allowed
