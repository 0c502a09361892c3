"""The dashboard's pages through the sign-in gate while four signed-in visitors run the explorer's heaviest.

`pipeline dashboard` with a password (nginx, the sign-in service, Streamlit) serves the benchmark
database (the 500-ticker load of `make bench`; run alone, a 100-ticker, two-year sample is loaded first
if the database is empty). Four headless Chromium visitors sign in and run, over and over, the heaviest
statements the explorer allows (`tests.support.backend_memory.ALLOWED_HEAVY`: 16 spilling sorts, a
hash aggregate over a self-join, a window over every row, the mode of 3 million texts); meanwhile a
fifth visitor opens each page `ROUNDS` times. Printed: each page's median and p95 time from navigation
to its title and the end of the script run, against the 2 s target, and the explorer's outcomes.
Run alone: `python -m benchmarks.gate_concurrency` (BENCH_HOME, else a temporary folder).
"""

from __future__ import annotations

import asyncio
import math
import os
import re
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from pathlib import Path
from urllib.parse import quote

import psycopg

from tests.support.backend_memory import ALLOWED_HEAVY

ROUNDS = 4
PAGE_TARGET_S = 2.0
PAGES = (
    ("/", "Market overview"),
    ("/market", "Market"),
    ("/sectors", "Sectors and industries"),
    ("/stock", "Stock"),
    ("/correlations", "Correlations"),
    ("/weather_sentiment", "Weather and sentiment"),
    ("/weather_market", "Weather and the market"),
    ("/pipeline_health", "Pipeline health"),
    ("/sql_explorer", "SQL explorer"),
)
OUTCOMES = re.compile("ran longer than|statements are running already|row\\(s\\) in|database refused|Refused")
TIMEOUT_MS = 120_000
#: A page not rendered after this long counts with this time (and is named).
PAGE_WAIT_MS = 30_000
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _ensure_data(environment: dict[str, str]) -> None:
    from pipeline.db import database_url
    from pipeline.settings import load_settings

    url = database_url(load_settings(pipeline_home=Path(environment["PIPELINE_HOME"])))
    pipeline = str(Path(sys.executable).parent / "pipeline")
    subprocess.run([pipeline, "db", "migrate"], env=environment, check=True, capture_output=True)
    with psycopg.connect(url) as conn:
        [(rows,)] = conn.execute("SELECT count(*) FROM stock_daily").fetchall()
    if rows == 0:
        for command in (["sample", "--tickers", "100", "--days", "520"], ["etl"]):
            subprocess.run([pipeline, *command], env=environment, check=True, capture_output=True)


def _wait_for(url: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"pipeline dashboard exited with {server.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2):
                return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError("pipeline dashboard did not answer within 90 s")


async def _signed_in_page(browser, base_url: str, password: str):
    context = await browser.new_context(viewport={"width": 1440, "height": 1000})
    page = await context.new_page()
    await page.goto(base_url)
    await page.get_by_role("textbox", name="Password").fill(password)
    await page.get_by_role("button", name="Sign in").click()
    await page.get_by_role("heading", name=re.compile("Market overview")).wait_for(timeout=TIMEOUT_MS)
    return page


async def _run_statements(page, base_url: str, sql: str, stop: asyncio.Event, outcomes: Counter[str]) -> None:
    """Open the explorer with `sql`, run it, wait for its answer, and again, until stopped."""
    while not stop.is_set():
        # A fresh page each time: the answer waited for is this run's, not the one before.
        await page.goto(f"{base_url}/sql_explorer?sql={quote(sql)}")
        await page.get_by_role("button", name="Run").click()
        answer = page.get_by_text(OUTCOMES).first
        await answer.wait_for(timeout=TIMEOUT_MS)
        found = OUTCOMES.search(await answer.text_content() or "")
        outcomes[found.group(0) if found else "other"] += 1


async def _open_pages(page, base_url: str) -> dict[str, list[float]]:
    """Each page's seconds to its title and the end of its run; one not there in PAGE_WAIT_MS counts so."""
    from playwright.async_api import TimeoutError as PlaywrightTimeout

    seconds: dict[str, list[float]] = {path: [] for path, _ in PAGES}
    timed_out: list[str] = []
    for _ in range(ROUNDS):
        for path, title in PAGES:
            started = time.perf_counter()
            try:
                await page.goto(f"{base_url}{path}")
                await page.get_by_role("heading", name=re.compile(title)).first.wait_for(timeout=PAGE_WAIT_MS)
                await page.locator('[data-testid="stStatusWidget"]').wait_for(
                    state="detached", timeout=PAGE_WAIT_MS
                )
            except PlaywrightTimeout:
                timed_out.append(path)
            seconds[path].append(time.perf_counter() - started)
    if timed_out:
        print(f"gate bench: not rendered within {PAGE_WAIT_MS / 1000:.0f} s: {timed_out}")
    return seconds


async def _measure(base_url: str, password: str) -> tuple[dict[str, list[float]], Counter[str]]:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            reader = await _signed_in_page(browser, base_url, password)
            visitors = [await _signed_in_page(browser, base_url, password) for _ in range(4)]
            stop, outcomes = asyncio.Event(), Counter[str]()
            load = [
                asyncio.create_task(_run_statements(page, base_url, sql, stop, outcomes))
                for page, sql in zip(visitors, list(ALLOWED_HEAVY.values())[:4], strict=True)
            ]
            await asyncio.sleep(3)  # the four statements are running
            seconds = await _open_pages(reader, base_url)
            stop.set()
            for task in load:
                task.cancel()
            await asyncio.gather(*load, return_exceptions=True)
        finally:
            await browser.close()
    return seconds, outcomes


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def main(home: Path) -> None:
    """Serve the dashboard of `home` behind the gate, load it with four explorer visitors, print p95s."""
    password = secrets.token_urlsafe(16)
    environment = {**os.environ, "PIPELINE_HOME": str(home), "DASHBOARD_PASSWORD": password}
    _ensure_data(environment)
    port = _free_port()
    base_url = f"http://127.0.0.1:{port}"
    pipeline = str(Path(sys.executable).parent / "pipeline")
    with (home / "gate-bench.log").open("w") as log:
        server = subprocess.Popen(
            [pipeline, "dashboard", "--port", str(port), "--address", "127.0.0.1"],
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_for(base_url, server)
        seconds, outcomes = asyncio.run(_measure(base_url, password))
    finally:
        server.terminate()
        server.wait(timeout=20)
    print(
        f"\ngate: pages through nginx while 4 visitors run the explorer's heaviest (target p95 < {PAGE_TARGET_S} s)"
    )
    print(f"{'page':<22} {'median':>8} {'p95':>8}")
    for path, _ in PAGES:
        p95 = percentile(seconds[path], 0.95)
        flag = "" if p95 < PAGE_TARGET_S else "  over target"
        print(f"{path:<22} {percentile(seconds[path], 0.5):>7.2f}s {p95:>7.2f}s{flag}")
    every = [value for values in seconds.values() for value in values]
    print(f"all pages: p95 {percentile(every, 0.95):.2f} s over {len(every)} renders")
    print(f"explorer outcomes meanwhile: {dict(outcomes)}")


if __name__ == "__main__":
    main(Path(os.environ.get("BENCH_HOME") or tempfile.mkdtemp(prefix="gate-bench-")))
