"""Real-browser tests: `pipeline dashboard` served to headless Chromium that can reach nothing but the app.

The Overview shows its figures, and the weather page draws its state map with no internet access.
"""

from __future__ import annotations

import contextlib
import csv
import os
import socket
import ssl
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from dashboard.formatting import level
from dashboard.state_grid import state_tiles
from pipeline.settings import US_STATES_FILE
from stacks.instance_bootstrap import TLS_ENVIRONMENT, tls_certificate_command
from tests.dashboard.conftest import INDEX_NAME
from tests.support.chromium import launch_options

if TYPE_CHECKING:
    from playwright.sync_api import Page, Route

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
SERVER_START_SECONDS = 60
RENDER_TIMEOUT_MS = 60_000


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until_serving(base_url: str, process: subprocess.Popen, log_path: Path) -> None:
    deadline = time.monotonic() + SERVER_START_SECONDS
    # The TLS test's certificate is self-signed: the health check only needs the server to answer.
    unverified = ssl.create_default_context()
    unverified.check_hostname = False
    unverified.verify_mode = ssl.CERT_NONE
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"pipeline dashboard exited with {process.returncode}: {log_path.read_text()}")
        try:
            with urllib.request.urlopen(
                f"{base_url}/_stcore/health", timeout=2, context=unverified
            ) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    pytest.fail(f"pipeline dashboard did not answer within {SERVER_START_SECONDS} s: {log_path.read_text()}")


@contextlib.contextmanager
def dashboard_server(
    database_url: str,
    log_path: Path,
    environment: dict[str, str] | None = None,
    *,
    scheme: str = "http",
    port: int | None = None,
) -> Iterator[tuple[str, subprocess.Popen]]:
    """`pipeline dashboard` on a (free) local port for the block; yields its base URL and its process."""
    port = port or free_port()
    base_url = f"{scheme}://127.0.0.1:{port}"
    environment = {**os.environ, "DATABASE_URL": database_url, **(environment or {})}
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
        yield base_url, server
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


@contextlib.contextmanager
def served_dashboard(database_url: str, log_path: Path) -> Iterator[str]:
    """`pipeline dashboard` on a free local port for the block; yields its base URL."""
    with dashboard_server(database_url, log_path) as (base_url, _):
        yield base_url


@contextlib.contextmanager
def offline_chromium_page(
    base_url: str, *, ignore_https_errors: bool = False, also_reachable: tuple[str, ...] = ()
) -> Iterator[tuple[Page, list[str]]]:
    """A headless Chromium page that may reach `base_url` (and `also_reachable`) only, as on a network
    without internet.

    Yields the page and the list of URLs it tried to reach elsewhere (each one refused).
    """
    from playwright.sync_api import sync_playwright

    refused: list[str] = []
    reachable = (base_url, *also_reachable)

    def local_only(route: Route) -> None:
        if route.request.url.startswith(reachable):
            route.continue_()
        else:
            refused.append(route.request.url)
            route.abort("internetdisconnected")

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(**launch_options())
        try:
            # Routed on the context, so further tabs of `page.context` are offline too.
            context = browser.new_context(
                viewport={"width": 1440, "height": 1100}, ignore_https_errors=ignore_https_errors
            )
            context.route("**/*", local_only)
            yield context.new_page(), refused
        finally:
            browser.close()


@pytest.mark.browser
def test_the_overview_renders_its_figures_in_headless_chromium(seeded_database_url, owner_query, tmp_path):
    [(last_close,)] = owner_query("SELECT close FROM index_daily ORDER BY trade_date DESC LIMIT 1")

    with (
        served_dashboard(seeded_database_url, tmp_path / "dashboard.log") as base_url,
        offline_chromium_page(base_url) as (page, _),
    ):
        page.goto(base_url)
        page.get_by_text(f"{INDEX_NAME} close").wait_for(timeout=RENDER_TIMEOUT_MS)
        page.get_by_text("Best sector").wait_for(timeout=RENDER_TIMEOUT_MS)
        close_shown = page.get_by_text(level(last_close), exact=True)
        close_shown.first.wait_for(timeout=RENDER_TIMEOUT_MS)
        assert close_shown.first.is_visible()
        assert page.get_by_text("Synthetic sample data").first.is_visible()
        # Let the charts and tables finish drawing before the picture is taken.
        page.wait_for_load_state("networkidle")
        page.screenshot(path=str(ARTIFACTS / "dashboard-overview.png"), full_page=True)


@pytest.mark.browser
def test_the_weather_map_draws_every_state_tile_without_internet(seeded_database_url, owner_query, tmp_path):
    [(wettest, mean_precipitation)] = owner_query(
        "SELECT state, avg(precipitation_mm) FROM weather_daily GROUP BY state ORDER BY 2 DESC LIMIT 1"
    )
    with US_STATES_FILE.open(newline="") as states_file:
        name = next(row["name"] for row in csv.DictReader(states_file) if row["code"] == wettest)

    with (
        served_dashboard(seeded_database_url, tmp_path / "dashboard.log") as base_url,
        offline_chromium_page(base_url) as (page, refused),
    ):
        page.goto(f"{base_url}/weather_sentiment?start=2024-01-01&end=2024-12-31")
        tile_map = page.locator(".js-plotly-plot").first
        tile_map.wait_for(timeout=RENDER_TIMEOUT_MS)
        page.wait_for_load_state("networkidle")
        drawn_labels = set(tile_map.locator("text").all_text_contents())
        # plotly's drag layer covers the tiles, so point the mouse at the tile rather than its label.
        label = tile_map.locator("text").get_by_text(wettest, exact=True).first
        label.scroll_into_view_if_needed()
        box = label.bounding_box()
        page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        hover = tile_map.locator(".hovertext").first
        hover.wait_for(timeout=RENDER_TIMEOUT_MS)
        hover_text = hover.text_content()
        page.screenshot(path=str(ARTIFACTS / "dashboard-weather.png"), full_page=True)

    assert set(state_tiles()["state"]) <= drawn_labels, "every state's tile carries its code"
    assert "null" not in drawn_labels
    assert f"{name} ({wettest})" in hover_text
    assert f"{mean_precipitation:.1f}" in hover_text
    # Nothing on the page needs the internet: the map is drawn locally and the page icon is a local file.
    assert refused == []


@pytest.mark.browser
def test_signing_in_at_the_gate_shows_the_pages_and_signing_out_or_a_wrong_password_does_not(
    seeded_database_url, tmp_path
):
    from playwright.sync_api import expect

    password = "a long passphrase for the browser test"
    with (
        dashboard_server(
            seeded_database_url, tmp_path / "dashboard.log", {"DASHBOARD_PASSWORD": password}
        ) as (base_url, _),
        offline_chromium_page(base_url) as (page, _),
    ):
        page.goto(base_url)
        page.get_by_role("textbox", name="Password").wait_for(timeout=RENDER_TIMEOUT_MS)
        assert page.url == f"{base_url}/signin", "the gate's own page, before anything of Streamlit"
        assert page.get_by_text(f"{INDEX_NAME} close").count() == 0

        page.get_by_role("textbox", name="Password").fill("not the password")
        page.get_by_role("button", name="Sign in").click()
        page.get_by_text("Wrong user name or password.").wait_for(timeout=RENDER_TIMEOUT_MS)
        expect(page.get_by_text(f"{INDEX_NAME} close")).to_have_count(0, timeout=RENDER_TIMEOUT_MS)

        # This address failed once: its next attempt is checked after a second (the throttle's first step).
        page.wait_for_timeout(1100)
        page.get_by_role("textbox", name="Password").fill(password)
        page.get_by_role("button", name="Sign in").click()
        page.get_by_text(f"{INDEX_NAME} close").wait_for(timeout=RENDER_TIMEOUT_MS)
        # Viewer toolbar: no Deploy button, no developer menu.
        assert page.get_by_text("Deploy", exact=True).count() == 0
        page.get_by_text("Signed in as admin").wait_for(timeout=RENDER_TIMEOUT_MS)
        page.screenshot(path=str(ARTIFACTS / "dashboard-signed-in.png"), full_page=True)

        # Streamlit's link button opens the gate's /signout in a new tab, which clears the session.
        with page.context.expect_page() as signed_out:
            page.get_by_text("Sign out").click()
        signed_out.value.get_by_role("textbox", name="Password").wait_for(timeout=RENDER_TIMEOUT_MS)
        page.goto(base_url)
        page.get_by_role("textbox", name="Password").wait_for(timeout=RENDER_TIMEOUT_MS)
        # The password box appears while Streamlit's rerun may still be replacing the old page:
        # wait (bounded) for the page's state, the figures gone, rather than reading it once.
        expect(page.get_by_text(f"{INDEX_NAME} close")).to_have_count(0, timeout=RENDER_TIMEOUT_MS)


@pytest.mark.browser
def test_over_tls_with_a_first_boot_certificate_the_gate_and_pages_work(seeded_database_url, tmp_path):
    key, certificate = tmp_path / "dashboard.key", tmp_path / "dashboard.crt"
    subprocess.run(
        tls_certificate_command(str(key), str(certificate)), shell=True, check=True, capture_output=True
    )
    tls = {name: str(certificate if name.endswith("CERT_FILE") else key) for name in TLS_ENVIRONMENT}
    password = "another long passphrase"
    with (
        dashboard_server(
            seeded_database_url,
            tmp_path / "dashboard.log",
            {**tls, "DASHBOARD_PASSWORD": password},
            scheme="https",
        ) as (base_url, _),
        offline_chromium_page(base_url, ignore_https_errors=True) as (page, refused),
    ):
        page.goto(base_url)
        page.get_by_role("textbox", name="Password").fill(password)
        page.get_by_role("button", name="Sign in").click()
        # The figures arrive over the WebSocket, so this is wss:// working too.
        page.get_by_text(f"{INDEX_NAME} close").wait_for(timeout=RENDER_TIMEOUT_MS)
    assert base_url.startswith("https://")
    assert refused == []
