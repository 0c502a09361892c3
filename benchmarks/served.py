"""The dashboard served as deployed for the benchmarks: `pipeline dashboard` with a password (nginx, the
sign-in service, Streamlit on 127.0.0.1) on a free port, over the database of a PIPELINE_HOME."""

from __future__ import annotations

import contextlib
import math
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg

SERVER_START_SECONDS = 90


@dataclass(frozen=True)
class ServedDashboard:
    """Where the served dashboard listens and its password."""

    host: str
    port: int
    password: str

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"


def percentile(values: list[float], fraction: float) -> float:
    """The nearest-rank percentile of `values` (0 < fraction <= 1)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _pipeline() -> str:
    return str(Path(sys.executable).parent / "pipeline")


def ensure_data(environment: dict[str, str]) -> None:
    """Migrate the database; load a 100-ticker, two-year sample if it holds no prices (a run alone)."""
    from pipeline.db import database_url
    from pipeline.settings import load_settings

    url = database_url(load_settings(pipeline_home=Path(environment["PIPELINE_HOME"])))
    subprocess.run([_pipeline(), "db", "migrate"], env=environment, check=True, capture_output=True)
    with psycopg.connect(url) as conn:
        [(rows,)] = conn.execute("SELECT count(*) FROM stock_daily").fetchall()
    if rows == 0:
        for command in (["sample", "--tickers", "100", "--days", "520"], ["etl"]):
            subprocess.run([_pipeline(), *command], env=environment, check=True, capture_output=True)


def _wait_for(url: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + SERVER_START_SECONDS
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"pipeline dashboard exited with {server.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2):
                return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"pipeline dashboard did not answer within {SERVER_START_SECONDS} s")


@contextlib.contextmanager
def served_dashboard(home: Path, log_name: str) -> Iterator[ServedDashboard]:
    """`pipeline dashboard` behind its sign-in gate over the database of `home`, for the block."""
    password = secrets.token_urlsafe(16)
    environment = {**os.environ, "PIPELINE_HOME": str(home), "DASHBOARD_PASSWORD": password}
    ensure_data(environment)
    served = ServedDashboard("127.0.0.1", _free_port(), password)
    with (home / log_name).open("w") as log:
        server = subprocess.Popen(
            [_pipeline(), "dashboard", "--port", str(served.port), "--address", served.host],
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_for(served.base_url, server)
        yield served
    finally:
        server.terminate()
        server.wait(timeout=20)
