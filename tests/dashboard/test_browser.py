"""One real-browser test: `pipeline dashboard` served to headless Chromium shows the Overview's figures."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from dashboard.formatting import level
from tests.dashboard.conftest import INDEX_SYMBOL

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
SERVER_START_SECONDS = 60
RENDER_TIMEOUT_MS = 60_000


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until_serving(base_url: str, process: subprocess.Popen, log_path: Path) -> None:
    deadline = time.monotonic() + SERVER_START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"pipeline dashboard exited with {process.returncode}: {log_path.read_text()}")
        try:
            with urllib.request.urlopen(f"{base_url}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    pytest.fail(f"pipeline dashboard did not answer within {SERVER_START_SECONDS} s: {log_path.read_text()}")


@pytest.mark.browser
def test_the_overview_renders_its_figures_in_headless_chromium(seeded_database_url, owner_query, tmp_path):
    from playwright.sync_api import sync_playwright

    [(last_close,)] = owner_query("SELECT close FROM index_daily ORDER BY trade_date DESC LIMIT 1")
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    log_path = tmp_path / "dashboard.log"
    environment = {**os.environ, "DATABASE_URL": seeded_database_url}
    pipeline_command = str(Path(sys.executable).parent / "pipeline")
    with log_path.open("w") as log:
        server = subprocess.Popen(
            [pipeline_command, "dashboard", "--port", str(port), "--address", "127.0.0.1"],
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_until_serving(base_url, server, log_path)
        ARTIFACTS.mkdir(exist_ok=True)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            try:
                page = browser.new_page(viewport={"width": 1440, "height": 1100})
                page.goto(base_url)
                page.get_by_text(f"{INDEX_SYMBOL} close").wait_for(timeout=RENDER_TIMEOUT_MS)
                page.get_by_text("Best sector").wait_for(timeout=RENDER_TIMEOUT_MS)
                close_shown = page.get_by_text(level(last_close), exact=True)
                close_shown.first.wait_for(timeout=RENDER_TIMEOUT_MS)
                assert close_shown.first.is_visible()
                assert page.get_by_text("Synthetic sample data").first.is_visible()
                # Let the charts and tables finish drawing before the picture is taken.
                page.wait_for_load_state("networkidle")
                page.screenshot(path=str(ARTIFACTS / "dashboard-overview.png"), full_page=True)
            finally:
                browser.close()
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
