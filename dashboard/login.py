"""The dashboard's login, on Streamlit's side: a thin layer over the sign-in gate, or the OIDC login.

With a password login (DASHBOARD_PASSWORD or DASHBOARD_LOGIN_SECRET_ARN), visitors sign in at the gate
in front of Streamlit (`dashboard.gate`: nginx and the sign-in service, started by `pipeline dashboard`),
and nothing reaches Streamlit before. Here the page only reads who signed in: the user header the
gate signs for each request, checked with the key the gate gave this process (DASHBOARD_GATE_SECRET). A
request without a valid one (Streamlit reached some other way, or started without the gate) sees no
page. "Sign out" is the gate's /signout.

With the DASHBOARD_OIDC_* settings (``dashboard_login=cognito``), visitors sign in through Streamlit's
own OIDC login instead: "Sign in" calls ``st.login()`` (the provider's page, then Streamlit's signed
cookie), "Sign out" ``st.logout()``. `pipeline dashboard` has written st.login's settings into
Streamlit's secrets file (`dashboard.oidc`). The provider's discovery document is fetched first, so an
unreachable provider is one clear message rather than an error page after the click.

With neither, as for `pipeline demo` on localhost, there is no login.
"""

from __future__ import annotations

import json
import urllib.request

import streamlit as st

from dashboard.gate.tokens import USER_HEADER, header_user
from pipeline.settings import get_settings

#: How long the provider's discovery document may take, and how long its reachability is remembered.
PROVIDER_TIMEOUT_SECONDS = 5
PROVIDER_CHECK_TTL_SECONDS = 30
SIGN_OUT_PATH = "/signout"


def require_login() -> None:
    """Stop the script unless the visitor has signed in (when a login is set)."""
    settings = get_settings()
    if settings.uses_oidc_login:
        _require_oidc_sign_in(settings.oidc_metadata_url)
        return
    if not settings.uses_password_login:
        return
    key = settings.dashboard_gate_secret
    user = header_user(key.get_secret_value(), st.context.headers.get(USER_HEADER)) if key else None
    if user is None:
        st.error(
            "Sign in at the dashboard's address: this server is served through its sign-in gate "
            "(`pipeline dashboard`).",
            icon=":material/lock:",
        )
        st.stop()
    with st.sidebar:
        st.text(f"Signed in as {user}")
        st.link_button("Sign out", SIGN_OUT_PATH, icon=":material/logout:")


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
