"""The dashboard's login: one user name and password, checked before any page or query runs.

The password comes from a Secrets Manager secret ``{"username", "password"}`` (DASHBOARD_LOGIN_SECRET_ARN,
made by the stack) or from DASHBOARD_PASSWORD (user ``admin``); with neither, as for `pipeline demo` on
localhost, there is no login. The process keeps only a salted scrypt hash of the password, read once;
an attempt is hashed with the same salt and compared in constant time (`hmac.compare_digest`), so the
comparison reveals nothing through its timing. Attempts are checked one at a time across every
session of the server, and a failed one is answered only after a delay that grows with the failures
of the last minutes, so guessing is slow however many browser tabs try at once. Signing in lasts for the browser session (a reload asks again);
"Sign out" ends it.

With the DASHBOARD_OIDC_* settings (``dashboard_login=cognito``), visitors sign in through Streamlit's
own OIDC login instead: "Sign in" calls ``st.login()`` (the provider's page, then Streamlit's signed
cookie), "Sign out" ``st.logout()``. `pipeline dashboard` has written st.login's settings into
Streamlit's secrets file (`dashboard.oidc`). The provider's discovery document is fetched first, so an
unreachable provider is one clear message rather than an error page after the click.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass

import streamlit as st

from pipeline.settings import Settings, get_settings

DEFAULT_USERNAME = "admin"
SESSION_KEY = "signed_in_as"
#: Failed attempts are forgotten after this long; each one in the window adds a second to the delay.
FAILURE_WINDOW_SECONDS = 300
MAX_DELAY_SECONDS = 10.0
_SCRYPT = {"n": 2**14, "r": 8, "p": 1, "dklen": 32}
#: How long the provider's discovery document may take, and how long its reachability is remembered.
PROVIDER_TIMEOUT_SECONDS = 5
PROVIDER_CHECK_TTL_SECONDS = 30


class LoginUnavailable(RuntimeError):
    """The login secret cannot be read; the dashboard stays closed rather than open."""


@dataclass(frozen=True)
class Credentials:
    """The one user who may sign in: the name, and the salted hash of the password."""

    username: str
    salt: bytes
    digest: bytes

    @classmethod
    def from_password(cls, username: str, password: str) -> Credentials:
        salt = os.urandom(16)
        return cls(username, salt, _hash(password, salt))

    def accepts(self, username: str, password: str) -> bool:
        """True for the right name and password; both compared in constant time."""
        name_matches = hmac.compare_digest(username.encode(), self.username.encode())
        password_matches = hmac.compare_digest(_hash(password, self.salt), self.digest)
        return name_matches and password_matches


def _hash(password: str, salt: bytes) -> bytes:
    return hashlib.scrypt(password.encode(), salt=salt, **_SCRYPT)


def credentials_from(settings: Settings) -> Credentials | None:
    """The credentials the settings name, or None when the dashboard needs no login."""
    if settings.dashboard_password is not None:
        return Credentials.from_password(DEFAULT_USERNAME, settings.dashboard_password.get_secret_value())
    if settings.dashboard_login_secret_arn:
        return _credentials_from_secret(settings.dashboard_login_secret_arn, settings.aws_region)
    return None


def _credentials_from_secret(secret_arn: str, region: str | None) -> Credentials:
    import boto3

    parts = secret_arn.split(":")
    client = boto3.client("secretsmanager", region_name=region or (parts[3] if len(parts) > 3 else None))
    try:
        secret = json.loads(client.get_secret_value(SecretId=secret_arn)["SecretString"])
        return Credentials.from_password(
            str(secret.get("username", DEFAULT_USERNAME)), str(secret["password"])
        )
    except Exception as error:
        raise LoginUnavailable(f"cannot read the login secret {secret_arn}: {type(error).__name__}") from None


class FailedAttempts:
    """Failed sign-ins of the whole server in the last minutes, and the delay they earn the next one.

    Attempts are checked one at a time, a failed one holding the turn through its delay, so parallel
    guesses from many tabs queue up instead of multiplying the rate.
    """

    def __init__(self, sleep: Callable[[float], None] = time.sleep) -> None:
        self._lock = threading.Lock()
        self._turn = threading.Lock()
        self._times: list[float] = []
        self._sleep = sleep

    def record(self) -> float:
        """Note one failure now; the seconds to wait before answering it."""
        now = time.monotonic()
        with self._lock:
            self._times = [at for at in self._times if now - at < FAILURE_WINDOW_SECONDS] + [now]
            return min(float(len(self._times)), MAX_DELAY_SECONDS)

    def check(self, credentials: Credentials, username: str, password: str) -> bool:
        """Whether `credentials` accept the attempt; a refusal returns only after its delay."""
        with self._turn:
            if credentials.accepts(username, password):
                return True
            self._sleep(self.record())
            return False


@st.cache_resource(show_spinner=False)
def _server_login() -> tuple[Credentials | None, FailedAttempts]:
    return credentials_from(get_settings()), FailedAttempts()


def require_login() -> None:
    """Show the sign-in form and stop the script until the visitor has signed in (if a login is set)."""
    settings = get_settings()
    if settings.uses_oidc_login:
        _require_oidc_sign_in(settings.oidc_metadata_url)
        return
    try:
        credentials, failures = _server_login()
    except LoginUnavailable as error:
        st.error("The dashboard's login is not available, so the dashboard stays closed.")
        st.code(str(error), language=None)
        st.stop()
    if credentials is None:
        return
    if st.session_state.get(SESSION_KEY):
        with st.sidebar:
            st.caption(f"Signed in as {st.session_state[SESSION_KEY]}")
            st.button("Sign out", icon=":material/logout:", on_click=_sign_out)
        return
    _sign_in_form(credentials, failures)
    st.stop()


def _sign_out() -> None:
    st.session_state.pop(SESSION_KEY, None)


def _sign_in_form(credentials: Credentials, failures: FailedAttempts) -> None:
    st.title("Sign in")
    with st.form("sign_in"):
        username = st.text_input("User name", value=DEFAULT_USERNAME, key="login_username")
        password = st.text_input("Password", type="password", key="login_password")
        submitted = st.form_submit_button("Sign in", type="primary", icon=":material/login:")
    if not submitted:
        return
    if failures.check(credentials, username, password):
        st.session_state[SESSION_KEY] = credentials.username
        st.rerun()
    st.error("Wrong user name or password.", icon=":material/lock:")


@st.cache_data(ttl=PROVIDER_CHECK_TTL_SECONDS, show_spinner=False)
def provider_problem(metadata_url: str) -> str | None:
    """Why the OIDC provider cannot sign anyone in now (its discovery document unreadable), or None."""
    try:
        with urllib.request.urlopen(metadata_url, timeout=PROVIDER_TIMEOUT_SECONDS) as response:
            metadata = json.loads(response.read())
    except (OSError, ValueError) as error:
        return type(error).__name__
    if not isinstance(metadata, dict) or "authorization_endpoint" not in metadata:
        return "no authorization endpoint in its discovery document"
    return None


def _require_oidc_sign_in(metadata_url: str) -> None:
    # The server always sets is_logged_in; a run without its cookie handling (AppTest) may not.
    if st.user.get("is_logged_in", False):
        with st.sidebar:
            # The e-mail address is the provider's, shown as text, never as Markdown.
            st.text(f"Signed in as {st.user.email}")
            if st.button("Sign out", icon=":material/logout:"):
                st.logout()
        return
    problem = provider_problem(metadata_url)
    if problem is not None:
        st.error(
            f"The sign-in service cannot be reached ({problem}), so the dashboard stays closed. "
            "Try again in a minute.",
            icon=":material/lock:",
        )
        st.stop()
    st.title("Sign in")
    if st.button("Sign in", type="primary", icon=":material/login:"):
        st.login()
    st.stop()
