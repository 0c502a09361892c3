"""The dashboard's pages through the sign-in gate while four signed-in visitors run the explorer's heaviest.

`pipeline dashboard` with a password (nginx, the sign-in service, Streamlit) serves the benchmark
database (the 500-ticker load of `make bench`; run alone, a 100-ticker, two-year sample is loaded first
if the database is empty). Four signed-in visitors run, over and over, the heaviest statements the
explorer allows (`tests.support.backend_memory.ALLOWED_HEAVY`: 16 spilling sorts, a hash aggregate over
a self-join, a window over every row, the mode of 3 million texts); meanwhile a fifth visitor, a headless
Chromium, opens each page `ROUNDS` times. The four submit the explorer's form over Streamlit's websocket
as their browsers would (`tests.support.streamlit_stream`), without a browser: on the internet their
browsers run on their own machines, and four Chromium tabs reloading the explorer on this 2-core
machine measured the benchmark's own browsers more than the server. The explorer runs one statement at
a time; a visitor told another is running tries again `BUSY_RETRY_S` later, as the message asks.
Printed: each page's median and p95 time from navigation to its title and the end of the script run,
against the 2 s target, and the explorer's outcomes.
Run alone: `python -m benchmarks.gate_concurrency` (BENCH_HOME, else a temporary folder).
"""

from __future__ import annotations

import asyncio
import os
import re
import tempfile
import time
from collections import Counter
from pathlib import Path

from benchmarks.served import ServedDashboard, percentile, served_dashboard
from tests.support.backend_memory import ALLOWED_HEAVY
from tests.support.chromium import launch_options
from tests.support.streamlit_stream import StreamVisitor, signed_in_cookie

ROUNDS = 8
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
OUTCOMES = re.compile("ran longer than|busy|row\\(s\\) in|database refused|Refused")
TIMEOUT_MS = 120_000
#: How long a visitor told "the explorer is busy" (another statement is running) waits to try again.
BUSY_RETRY_S = 3.0
#: A page not rendered after this long counts with this time (and is named).
PAGE_WAIT_MS = 30_000


async def _signed_in_page(browser, base_url: str, password: str):
    context = await browser.new_context(viewport={"width": 1440, "height": 1000})
    page = await context.new_page()
    await page.goto(base_url)
    await page.get_by_role("textbox", name="Password").fill(password)
    await page.get_by_role("button", name="Sign in").click()
    await page.get_by_role("heading", name=re.compile("Market overview")).wait_for(timeout=TIMEOUT_MS)
    return page


async def _run_statements(
    served: ServedDashboard, sql: str, stop: asyncio.Event, outcomes: Counter[str]
) -> None:
    """Sign in, open the explorer, run `sql` and wait for its answer, and again, until stopped."""
    visitor = await StreamVisitor.open(
        served.host, served.port, signed_in_cookie(served.host, served.port, served.password)
    )
    try:
        shown = await visitor.open_page("sql_explorer")
        while not stop.is_set():
            shown = await visitor.submit(
                shown, "sql_explorer", {"Statement": sql}, "Run", timeout=TIMEOUT_MS / 1000
            )
            found = OUTCOMES.search(" ".join(shown.notices))
            outcome = found.group(0) if found else "other"
            outcomes[outcome] += 1
            if outcome == "busy":
                await asyncio.sleep(BUSY_RETRY_S)
    finally:
        await visitor.close()


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


async def _measure(served: ServedDashboard) -> tuple[dict[str, list[float]], Counter[str]]:
    from playwright.async_api import async_playwright

    base_url = served.base_url
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(**launch_options())
        try:
            reader = await _signed_in_page(browser, base_url, served.password)
            stop, outcomes = asyncio.Event(), Counter[str]()
            load = [
                asyncio.create_task(_run_statements(served, sql, stop, outcomes))
                for sql in list(ALLOWED_HEAVY.values())[:4]
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


def main(home: Path) -> None:
    """Serve the dashboard of `home` behind the gate, load it with four explorer visitors, print p95s."""
    with served_dashboard(home, "gate-bench.log") as served:
        seconds, outcomes = asyncio.run(_measure(served))
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
