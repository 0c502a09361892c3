"""How `pipeline dashboard` serves Streamlit: the one place that sets Streamlit's options.

Streamlit is built for trusted users; here it faces visitors from the internet, so every option that
matters to them is set on its command line (which wins over any config.toml or STREAMLIT_* variable):
no error details or tracebacks in the browser, no uploads, small WebSocket messages, no development
mode (whose debug messages a browser could send), XSRF and CORS protection on.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from pipeline.settings import Settings

#: Streamlit's options for visitors, by name (megabytes where a size).
STREAMLIT_OPTIONS: dict[str, str] = {
    "server.headless": "true",
    "browser.gatherUsageStats": "false",
    # Visitors get no "Deploy" button or developer menu.
    "client.toolbarMode": "viewer",
    # An uncaught exception shows a generic message: no type, message, traceback or server path.
    "client.showErrorDetails": "none",
    # The app has no uploader: the smallest limit Streamlit takes (the proxy closes the endpoint too).
    "server.maxUploadSize": "1",
    # Messages to the browser: the explorer's result (at most 4 MB of JSON) with room for its encoding.
    "server.maxMessageSize": "16",
    # What a browser may send for one rerun: a statement is at most 20,000 characters.
    "server.maxWidgetStateSize": "1",
    # Streamlit turns development mode on when it is not installed in site-packages (an editable
    # install); it would honour a browser's debug messages and relax CORS.
    "global.developmentMode": "false",
    "server.enableXsrfProtection": "true",
    "server.enableCORS": "true",
    "server.runOnSave": "false",
    "server.fileWatcherType": "none",
}


def dashboard_entry() -> Path:
    """The Streamlit script of the dashboard package (found through the import system, not a path)."""
    import dashboard

    return Path(dashboard.__file__).resolve().parent / "app.py"


def streamlit_arguments(settings: Settings, port: int, address: str | None) -> list[str]:
    """The command line of the Streamlit server `pipeline dashboard` becomes."""
    arguments = [sys.executable, "-m", "streamlit", "run", str(dashboard_entry()), "--server.port", str(port)]
    for name, value in STREAMLIT_OPTIONS.items():
        arguments += [f"--{name}", value]
    if settings.uses_oidc_login:
        arguments += ["--secrets.files", str(_oidc_secrets_file(settings))]
    if address:
        arguments += ["--server.address", address]
    return arguments


def exec_streamlit(settings: Settings, port: int, address: str | None) -> None:
    """Replace this process with the Streamlit server (signals and exit status go straight to it)."""
    arguments = streamlit_arguments(settings, port, address)
    click.echo(f"dashboard: http://{address or 'localhost'}:{port}", err=True)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, arguments)


def _oidc_secrets_file(settings: Settings) -> Path:
    """Streamlit's secrets file with st.login's settings (the app client's secret read from Cognito)."""
    from dashboard.oidc import write_streamlit_secrets

    return write_streamlit_secrets(settings)
