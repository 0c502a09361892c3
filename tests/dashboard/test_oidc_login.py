"""The OIDC login (st.login, dashboard_login=cognito) against a local stand-in for Cognito.

Through AppTest: before signing in only the "Sign in" button shows; an unreachable provider is one
error and nothing else. In headless Chromium, `pipeline dashboard` with the DASHBOARD_OIDC_* settings:
sign in at the provider, see the Overview with the user's address, sign out, and the provider down.
"""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from dashboard import login
from tests.dashboard.conftest import APP_PATH, INDEX_NAME
from tests.dashboard.test_browser import (
    ARTIFACTS,
    RENDER_TIMEOUT_MS,
    dashboard_server,
    free_port,
    offline_chromium_page,
)
from tests.support.oidc_provider import oidc_provider

CLIENT_ID = "4h1fq2example7client"
CLIENT_SECRET = "stand-in client secret"
EMAIL = "analyst@example.com"
POOL_ID = "us-east-1_StandIn1"


def oidc_environment(dashboard_url: str, metadata_url: str) -> dict[str, str]:
    return {
        "DASHBOARD_OIDC_POOL_ID": POOL_ID,
        "DASHBOARD_OIDC_CLIENT_ID": CLIENT_ID,
        "DASHBOARD_OIDC_CLIENT_SECRET": CLIENT_SECRET,
        "DASHBOARD_OIDC_REDIRECT_URI": f"{dashboard_url}/oauth2callback",
        "DASHBOARD_OIDC_METADATA_URL": metadata_url,
    }


def closed_port_url() -> str:
    """A discovery URL on a local port nothing listens on (the provider down)."""
    return f"http://127.0.0.1:{free_port()}/.well-known/openid-configuration"


@pytest.fixture
def oidc_settings(monkeypatch, seeded_database_url):
    from tests.conftest import reset_settings_caches

    def configure(metadata_url: str) -> None:
        for name, value in oidc_environment("http://localhost:8501", metadata_url).items():
            monkeypatch.setenv(name, value)
        reset_settings_caches()
        login.provider_problem.clear()

    yield configure
    login.provider_problem.clear()


def test_before_signing_in_only_the_sign_in_button_shows(oidc_settings):
    with oidc_provider(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, email=EMAIL) as provider:
        oidc_settings(provider.metadata_url)
        app = AppTest.from_file(str(APP_PATH), default_timeout=30).run()

    assert [title.value for title in app.title] == ["Sign in"]
    assert [button.label for button in app.button] == ["Sign in"]
    assert not app.metric and not app.text_input and not app.error


def test_an_unreachable_provider_is_one_error_and_nothing_else(oidc_settings):
    oidc_settings(closed_port_url())
    app = AppTest.from_file(str(APP_PATH), default_timeout=30).run()

    [error] = app.error
    assert error.value.startswith("The sign-in service cannot be reached")
    assert not app.button and not app.title and not app.metric and not app.sidebar.children


@pytest.mark.browser
def test_signing_in_at_the_provider_shows_the_pages_and_signing_out_closes_them(
    seeded_database_url, tmp_path
):
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    with oidc_provider(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, email=EMAIL) as provider:
        environment = {
            **oidc_environment(base_url, provider.metadata_url),
            "PIPELINE_HOME": str(tmp_path / "home"),
        }
        with (
            dashboard_server(seeded_database_url, tmp_path / "dashboard.log", environment, port=port),
            offline_chromium_page(base_url, also_reachable=(provider.base_url,)) as (page, refused),
        ):
            page.goto(base_url)
            page.get_by_role("button", name="Sign in").wait_for(timeout=RENDER_TIMEOUT_MS)
            assert page.get_by_text(f"{INDEX_NAME} close").count() == 0

            page.get_by_role("button", name="Sign in").click()
            page.get_by_text(f"{INDEX_NAME} close").wait_for(timeout=RENDER_TIMEOUT_MS)
            page.get_by_text(f"Signed in as {EMAIL}").wait_for(timeout=RENDER_TIMEOUT_MS)
            page.screenshot(path=str(ARTIFACTS / "dashboard-oidc-signed-in.png"), full_page=True)
            # A reload keeps the visitor signed in: Streamlit's signed cookie, not the session.
            page.reload()
            page.get_by_text(f"{INDEX_NAME} close").wait_for(timeout=RENDER_TIMEOUT_MS)

            page.get_by_role("button", name="Sign out").click()
            page.get_by_role("button", name="Sign in").wait_for(timeout=RENDER_TIMEOUT_MS)
            assert page.get_by_text(f"{INDEX_NAME} close").count() == 0
            assert page.get_by_text(EMAIL).count() == 0

        [authorize] = provider.state.authorize_requests
        assert authorize["redirect_uri"] == f"{base_url}/oauth2callback"
        assert set(authorize["scope"].split()) == {"openid", "email", "profile"}
        assert authorize["code_challenge_method"] == "S256" and authorize["nonce"]
        assert provider.state.tokens_issued == 1
    assert refused == []


@pytest.mark.browser
def test_with_the_provider_down_the_page_shows_one_error_and_nothing_else(seeded_database_url, tmp_path):
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    environment = {**oidc_environment(base_url, closed_port_url()), "PIPELINE_HOME": str(tmp_path / "home")}
    with (
        dashboard_server(seeded_database_url, tmp_path / "dashboard.log", environment, port=port),
        offline_chromium_page(base_url) as (page, _),
    ):
        page.goto(base_url)
        error = page.get_by_text("The sign-in service cannot be reached")
        error.wait_for(timeout=RENDER_TIMEOUT_MS)
        page.wait_for_load_state("networkidle")
        assert page.get_by_role("button", name="Sign in").count() == 0
        assert page.get_by_text(f"{INDEX_NAME} close").count() == 0
        assert page.locator('[data-testid="stAlert"]').count() == 1
        assert page.locator('[data-testid="stSidebar"]').count() == 0
