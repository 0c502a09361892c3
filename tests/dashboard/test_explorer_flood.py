"""The SQL explorer flooded on a real Streamlit server: the cap holds, memory stays low, pages still render.

More slow statements than the explorer runs at once, and a result of a few enormous rows, are sent
from their own browser tabs at once; meanwhile the Overview is loaded in another. The server's peak
resident memory (VmHWM of its process) is read from /proc.
"""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest

from dashboard.explorer import EXPLORER_MAX_CONCURRENT
from pipeline.catalog import EXPLORER_ROLE
from tests.dashboard.conftest import INDEX_NAME
from tests.dashboard.test_browser import RENDER_TIMEOUT_MS, dashboard_server, offline_chromium_page

# Slow but needing neither temp files nor a sleeping function: the role's 5 s timeout cancels it.
SLOW = "SELECT count(*) FROM stock_daily a, stock_daily b, stock_daily c, stock_daily d"
# Rows of about 3.5 KB, 50,000 of them: forty times the explorer's byte budget, which the server cuts off.
# (Values that grow, such as repeat('x', 10000000), are refused by the statement check.)
WIDE = (
    "SELECT n, "
    + ", ".join(f"md5((n + {column})::text) AS c{column}" for column in range(100))
    + " FROM generate_series(1, 50000) AS n"
)
MEMORY_LIMIT_MB = 600
OUTCOMES = ("ran longer than", "running already", "row(s) in")


def peak_memory_mb(pid: int) -> float:
    """The process's peak resident set size (VmHWM), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmHWM for process {pid}")


class ExplorerBackends(threading.Thread):
    """Samples, until stopped, the most explorer statements the database ran at one time."""

    def __init__(self, database_url: str) -> None:
        super().__init__(daemon=True)
        self.database_url = database_url
        self.most = 0
        self.done = threading.Event()

    def run(self) -> None:
        with psycopg.connect(self.database_url, autocommit=True) as conn:
            while not self.done.wait(0.05):
                [(active,)] = conn.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE usename = %s AND state = 'active'",
                    (EXPLORER_ROLE,),
                ).fetchall()
                self.most = max(self.most, active)


def render_overview(page, base_url: str) -> float:
    # A background tab draws nothing (Chromium pauses its animation frames), so this one comes first.
    page.bring_to_front()
    started = time.perf_counter()
    page.goto(base_url)
    page.get_by_text(f"{INDEX_NAME} close").wait_for(timeout=RENDER_TIMEOUT_MS)
    page.get_by_text("Best sector").wait_for(timeout=RENDER_TIMEOUT_MS)
    return time.perf_counter() - started


@pytest.mark.browser
def test_a_flooded_explorer_keeps_its_cap_and_memory_and_the_pages_render(seeded_database_url, tmp_path):
    with (
        dashboard_server(seeded_database_url, tmp_path / "dashboard.log") as (base_url, server),
        offline_chromium_page(base_url) as (first_page, _),
    ):
        context = first_page.context
        quiet_seconds = render_overview(first_page, base_url)
        statements = [WIDE] + [SLOW] * (EXPLORER_MAX_CONCURRENT + 2)
        tabs = []
        for statement in statements:
            tab = context.new_page()
            tab.goto(f"{base_url}/sql_explorer?sql={quote(statement)}")
            tab.get_by_role("button", name="Run").wait_for(timeout=RENDER_TIMEOUT_MS)
            tabs.append(tab)
        backends = ExplorerBackends(seeded_database_url)
        backends.start()
        for tab in tabs:
            tab.get_by_role("button", name="Run").click()
        flooded_seconds = render_overview(first_page, base_url)
        answers = []
        for tab in tabs:
            tab.bring_to_front()
            outcome = tab.get_by_text(re.compile("|".join(map(re.escape, OUTCOMES)))).first
            outcome.wait_for(timeout=RENDER_TIMEOUT_MS)
            answers.append(outcome.text_content() or "")
        peak_mb = peak_memory_mb(server.pid)
        backends.done.set()
        backends.join()

    print(
        f"\nexplorer flood: Overview {quiet_seconds:.1f} s quiet, {flooded_seconds:.1f} s flooded; "
        f"server peak RSS {peak_mb:.0f} MB; at most {backends.most} explorer statements at once; answers: {answers}"
    )
    wide_answer, *slow_answers = answers
    assert sum("running already" in answer for answer in slow_answers) >= 1
    assert 1 <= backends.most <= EXPLORER_MAX_CONCURRENT
    assert "row(s) in" in wide_answer
    assert peak_mb < MEMORY_LIMIT_MB
