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
    # Streamlit runs a full garbage collection after every script run, holding the interpreter lock
    # while it walks every object of the server (the cached results of every visitor): half the
    # server's CPU with 20 visitors, each page waiting behind the others' collections. Python's own
    # generational collector still runs as objects are made.
    "runner.postScriptGC": "false",
}


# Streamlit's own variables for HTTPS; behind the gate, nginx takes them.
_TLS_VARIABLES = ("STREAMLIT_SERVER_SSL_CERT_FILE", "STREAMLIT_SERVER_SSL_KEY_FILE")


def dashboard_entry() -> Path:
    """The Streamlit script of the dashboard package (found through the import system, not a path)."""
    import dashboard

    return Path(dashboard.__file__).resolve().parent / "app.py"


def streamlit_command(settings: Settings) -> list[str]:
    """The command line of the Streamlit server, without its port and address."""
    arguments = [sys.executable, "-m", "cli.streamlit_server", "run", str(dashboard_entry())]
    for name, value in STREAMLIT_OPTIONS.items():
        arguments += [f"--{name}", value]
    if settings.uses_oidc_login:
        arguments += ["--secrets.files", str(_oidc_secrets_file(settings))]
    return arguments


def serve_dashboard(settings: Settings, port: int, address: str | None, forwarded_for: bool = False) -> int:
    """Serve the dashboard: behind the sign-in gate with a password login, else Streamlit alone."""
    if not settings.uses_password_login:
        exec_streamlit(settings, port, address)
    from dashboard.gate.credentials import credentials_from
    from dashboard.gate.nginx import Listen
    from dashboard.gate.supervisor import find_nginx, serve_behind_gate

    find_nginx()  # no nginx is one line before anything starts
    credentials = credentials_from(settings)
    assert credentials is not None, "a password login has credentials"
    # The TLS mode's certificate (stacks.instance_bootstrap) is served by nginx; Streamlit, on 127.0.0.1
    # behind it, speaks plain HTTP.
    certificate, key = (os.environ.pop(name, None) for name in _TLS_VARIABLES)
    listen = Listen(
        address or "0.0.0.0",
        port,
        Path(certificate) if certificate else None,
        Path(key) if key else None,
        forwarded_for,
    )
    scheme = "https" if listen.certificate else "http"
    click.echo(f"dashboard: {scheme}://{address or 'localhost'}:{port} (sign-in gate: nginx)", err=True)
    return serve_behind_gate(
        credentials, listen, streamlit_command(settings), settings.pipeline_home / "dashboard" / "gate"
    )


def exec_streamlit(settings: Settings, port: int, address: str | None) -> None:
    """Replace this process with the Streamlit server (signals and exit status go straight to it)."""
    arguments = [*streamlit_command(settings), "--server.port", str(port)]
    if address:
        arguments += ["--server.address", address]
    click.echo(f"dashboard: http://{address or 'localhost'}:{port}", err=True)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, arguments)


def _oidc_secrets_file(settings: Settings) -> Path:
    """Streamlit's secrets file with st.login's settings (the app client's secret read from Cognito)."""
    from dashboard.oidc import write_streamlit_secrets

    return write_streamlit_secrets(settings)
