"""How `pipeline dashboard` serves Streamlit: the one place that sets Streamlit's options.

Streamlit is built for trusted users; here it faces visitors from the internet, so every option that
matters to them is set on its command line (which wins over any config.toml or STREAMLIT_* variable):
no error details or tracebacks in the browser, no uploads, small WebSocket messages, no development
mode (whose debug messages a browser could send), XSRF and CORS protection on.
"""

from __future__ import annotations

import os
import socket
import ssl
import sys
import time
import urllib.request
from pathlib import Path

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
    # `pipeline dashboard` tells the one URL to open once it answers (`announce_when_ready`); Streamlit's
    # own lines would name its inner port behind the gate, or look up this machine's public address.
    "logger.hideWelcomeMessage": "true",
    # Streamlit's informational lines (its inner server's start) say nothing a visitor or operator needs.
    "logger.level": "warning",
}

#: Where the dashboard listens unless `--address` says otherwise: this machine only. The deployment
#: passes its own address; a laptop's demo, with no login and the SQL explorer open, stays private.
DEFAULT_ADDRESS = "127.0.0.1"
#: How long the announcer waits for the dashboard's first answer before it gives up silently.
READY_WAIT_SECONDS = 180.0


class DashboardUnavailable(RuntimeError):
    """The dashboard cannot be served (its port is taken, its address is not this machine's); one line."""


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


def serve_dashboard(settings: Settings, port: int, address: str, forwarded_for: bool = False) -> int:
    """Serve the dashboard: behind the sign-in gate with a password login, else Streamlit alone."""
    ensure_port_free(address, port)
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
        address,
        port,
        Path(certificate) if certificate else None,
        Path(key) if key else None,
        forwarded_for,
    )
    announce_when_ready("https" if listen.certificate else "http", address, port, "sign-in gate: nginx")
    return serve_behind_gate(
        credentials, listen, streamlit_command(settings), settings.pipeline_home / "dashboard" / "gate"
    )


def exec_streamlit(settings: Settings, port: int, address: str) -> None:
    """Replace this process with the Streamlit server (signals and exit status go straight to it)."""
    arguments = [*streamlit_command(settings), "--server.port", str(port), "--server.address", address]
    announce_when_ready("http", address, port)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, arguments)


def _oidc_secrets_file(settings: Settings) -> Path:
    """Streamlit's secrets file with st.login's settings (the app client's secret read from Cognito)."""
    from dashboard.oidc import write_streamlit_secrets

    return write_streamlit_secrets(settings)


def ensure_port_free(address: str, port: int) -> None:
    """Raise `DashboardUnavailable` now, in one line, if the dashboard could not listen there."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with socket.socket(family) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((address, port))
        except OSError as error:
            reason = "already in use (another dashboard?)" if error.errno == 98 else error.strerror
            raise DashboardUnavailable(
                f"cannot listen on {address}:{port}: {reason}; choose another with --port or --address"
            ) from None


def public_url(scheme: str, address: str, port: int) -> str:
    """The URL to open: a wildcard address is reached on this machine as localhost."""
    host = "localhost" if address in ("0.0.0.0", "::", "") else address
    return f"{scheme}://{f'[{host}]' if ':' in host else host}:{port}"


def announce_when_ready(scheme: str, address: str, port: int, note: str = "") -> None:
    """Print the dashboard's URL once it answers its health check, from a detached process.

    This process becomes the server (exec) or runs it, so a grandchild waits for the first answer (at
    most READY_WAIT_SECONDS, then it gives up without a word: the server's own error is what matters) and
    prints one line; it is adopted by init, so nothing is left to reap.
    """
    url = public_url(scheme, address, port)
    sys.stdout.flush()
    sys.stderr.flush()
    child = os.fork()
    if child:
        os.waitpid(child, 0)
        return
    try:
        if os.fork() == 0 and _wait_for_health(url):
            sys.stderr.write(f"dashboard: {url}{f' ({note})' if note else ''}\n")
            sys.stderr.flush()
    finally:
        os._exit(0)


def _wait_for_health(base_url: str) -> bool:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # the TLS mode's certificate is self-signed; this is only a probe
    deadline = time.monotonic() + READY_WAIT_SECONDS
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{base_url}/_stcore/health", timeout=2, context=context) as answer:
                if answer.status == 200:
                    return True
        except OSError:
            pass
        time.sleep(0.25)
    return False
