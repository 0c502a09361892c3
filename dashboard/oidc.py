"""The OIDC login's server side: Streamlit's secrets file with st.login's ``[auth]`` section.

Streamlit reads st.login's settings from a secrets file only. `pipeline dashboard` writes one under
``$PIPELINE_HOME/dashboard/`` before it starts Streamlit, readable by its own user alone (0600), and
points Streamlit at it with the ``secrets.files`` option, so no other secrets file is read. The app
client's secret comes from Cognito (``DescribeUserPoolClient``, the instance role's one Cognito
permission) unless DASHBOARD_OIDC_CLIENT_SECRET gives it (local use, tests). The cookie secret, which
signs the signed-in visitors' cookies, is generated once per install and kept beside it, so a restart
signs nobody out.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path

from pipeline.rawzone import write_atomically
from pipeline.settings import Settings

SECRETS_FOLDER = "dashboard"
SECRETS_FILE = "secrets.toml"
COOKIE_SECRET_FILE = "cookie_secret"
# Cognito keeps its hosted-UI session after st.logout: "login" makes the next sign-in ask again.
SIGN_IN_PROMPT = "login"


class OidcUnavailable(RuntimeError):
    """The app client's secret cannot be read, so the dashboard cannot offer its login."""


def client_secret(settings: Settings) -> str:
    """The app client's secret: the setting when given, else Cognito's description of the client."""
    if settings.dashboard_oidc_client_secret is not None:
        return settings.dashboard_oidc_client_secret.get_secret_value()
    import boto3

    client = boto3.client("cognito-idp", region_name=settings.oidc_region)
    try:
        described = client.describe_user_pool_client(
            UserPoolId=settings.dashboard_oidc_pool_id, ClientId=settings.dashboard_oidc_client_id
        )
        return str(described["UserPoolClient"]["ClientSecret"])
    except Exception as error:
        raise OidcUnavailable(
            f"cannot read the app client {settings.dashboard_oidc_client_id} of the user pool "
            f"{settings.dashboard_oidc_pool_id}: {type(error).__name__}"
        ) from None


def _kept_cookie_secret(folder: Path) -> str:
    path = folder / COOKIE_SECRET_FILE
    kept = path.read_text(encoding="utf-8").strip() if path.is_file() else ""
    if kept:
        return kept
    cookie_secret = secrets.token_urlsafe(48)
    write_atomically(path, (cookie_secret + "\n").encode(), mode=0o600)
    return cookie_secret


def auth_section(settings: Settings, secret: str, cookie_secret: str) -> dict[str, str]:
    """st.login's settings for the one (default) provider, as Streamlit's ``[auth]`` section holds them."""
    return {
        "redirect_uri": str(settings.dashboard_oidc_redirect_uri),
        "cookie_secret": cookie_secret,
        "client_id": str(settings.dashboard_oidc_client_id),
        "client_secret": secret,
        "server_metadata_url": settings.oidc_metadata_url,
    }


def render_secrets(section: dict[str, str]) -> str:
    """The secrets file's TOML text (JSON's string escapes are valid in TOML's basic strings)."""
    lines = ["[auth]", *(f"{key} = {json.dumps(value)}" for key, value in section.items())]
    lines += ["", "[auth.client_kwargs]", f'scope = "openid email profile"\nprompt = "{SIGN_IN_PROMPT}"']
    return "\n".join(lines) + "\n"


def write_streamlit_secrets(settings: Settings) -> Path:
    """Write the secrets file for an OIDC login (the client secret read first); return its path."""
    folder = settings.pipeline_home / SECRETS_FOLDER
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    folder.chmod(0o700)
    section = auth_section(settings, client_secret(settings), _kept_cookie_secret(folder))
    path = folder / SECRETS_FILE
    write_atomically(path, render_secrets(section).encode(), mode=0o600)
    return path
