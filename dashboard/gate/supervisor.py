"""`pipeline dashboard` with a password login: nginx, the sign-in service and Streamlit, run together.

This process runs the sign-in service (uvicorn, on 127.0.0.1) and starts Streamlit (on 127.0.0.1 only)
and nginx (on the dashboard's address) as its children. When any of the three stops, or this process
is asked to stop (SIGTERM, SIGINT), the others are stopped too and the exit status is non-zero unless
asked. The signing key is made at each start, so a restart signs everyone out. nginx's files live in
``$PIPELINE_HOME/dashboard/gate`` (0700).
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import threading
from collections.abc import Sequence
from pathlib import Path

import uvicorn

from dashboard.gate.credentials import Credentials
from dashboard.gate.nginx import GateUnavailable, Listen, nginx_config
from dashboard.gate.service import Gate, gate_app

NGINX_CANDIDATES = ("nginx", "/usr/sbin/nginx")
STOP_SECONDS = 10


def find_nginx() -> str:
    for candidate in NGINX_CANDIDATES:
        found = shutil.which(candidate)
        if found:
            return found
    raise GateUnavailable(
        "a password login is served through nginx, which is not installed "
        "(Debian: apt-get install nginx-light; Amazon Linux: dnf install nginx)"
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def serve_behind_gate(
    credentials: Credentials,
    listen: Listen,
    streamlit_command: Sequence[str],
    folder: Path,
) -> int:
    """Run the three processes until one stops; the exit status (0 when asked to stop)."""
    nginx = find_nginx()
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    folder.chmod(0o700)
    key = secrets.token_urlsafe(32)
    gate_port, streamlit_port = free_port(), free_port()
    (folder / "nginx.conf").write_text(nginx_config(listen, gate_port, streamlit_port, folder))
    children = [
        subprocess.Popen(
            [*streamlit_command, "--server.port", str(streamlit_port), "--server.address", "127.0.0.1"],
            env={**os.environ, "DASHBOARD_GATE_SECRET": key},
        ),
        subprocess.Popen(
            [nginx, "-p", str(folder), "-e", str(folder / "error.log"), "-c", str(folder / "nginx.conf")]
        ),
    ]
    server = uvicorn.Server(
        uvicorn.Config(
            gate_app(Gate(credentials, key)),
            host="127.0.0.1",
            port=gate_port,
            log_level="warning",
            access_log=False,
            # Sign-in requests are small; a client that sends more is cut off.
            h11_max_incomplete_event_size=16 * 1024,
        )
    )
    stopped = threading.Event()
    watcher = threading.Thread(target=_stop_when_any_exits, args=(children, server, stopped), daemon=True)
    watcher.start()
    try:
        server.run()
    finally:
        for child in children:
            _stop(child)
    return 1 if stopped.is_set() else 0


def _stop_when_any_exits(
    children: list[subprocess.Popen[bytes]], server: uvicorn.Server, stopped: threading.Event
) -> None:
    while not server.should_exit:
        for child in children:
            if child.poll() is not None:
                stopped.set()
                server.should_exit = True
                return
        threading.Event().wait(0.5)


def _stop(child: subprocess.Popen[bytes]) -> None:
    if child.poll() is None:
        child.terminate()
        try:
            child.wait(STOP_SECONDS)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
