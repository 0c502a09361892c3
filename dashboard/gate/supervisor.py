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
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import uvicorn

from dashboard.gate.credentials import Credentials
from dashboard.gate.nginx import GateUnavailable, Listen, nginx_config
from dashboard.gate.service import Gate, gate_app

NGINX_CANDIDATES = ("nginx", "/usr/sbin/nginx")
#: Streamlit may ignore SIGTERM while a script runs; the test harness waits 10 s for the whole.
STOP_SECONDS = 5


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
    server = _Server(
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
    for number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(number, lambda *_: setattr(server, "should_exit", True))
    try:
        server.run()
    finally:
        _stop(children)
    return 1 if stopped.is_set() else 0


class _Server(uvicorn.Server):
    """uvicorn's server without its own signal handling: uvicorn re-raises a caught SIGTERM once it has
    stopped, which would end this process before it stops nginx and Streamlit."""

    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


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


def _stop(children: list[subprocess.Popen[bytes]]) -> None:
    """Ask every child to stop, then kill any still running after STOP_SECONDS."""
    for child in children:
        if child.poll() is None:
            child.terminate()
    deadline = time.monotonic() + STOP_SECONDS
    for child in children:
        try:
            child.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
