"""Dashboard timings on the benchmark database: every page rendered with a cold cache, and its queries.

Run by `benchmarks.run` after the ETL benchmark has loaded 500 tickers x 10 years into the database of
PIPELINE_HOME=home. Each page is rendered ROUNDS times through Streamlit's AppTest, the data cache
cleared before each render; the queries' durations come from the DEBUG records of `dashboard.connections`.
Targets: each page's queries under 100 ms at the 95th percentile, each page under 1.5 s.
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections import defaultdict
from pathlib import Path

import streamlit as st
from streamlit.testing.v1 import AppTest

from dashboard import connections

APP_PATH = Path(__file__).resolve().parent.parent / "dashboard" / "app.py"
PAGES = (
    "overview",
    "market",
    "sectors",
    "stock",
    "correlations",
    "weather_sentiment",
    "weather_market",
    "pipeline_health",
    "sql_explorer",
)
ROUNDS = 5
QUERY_TARGET_MS = 100.0
PAGE_TARGET_S = 1.5
RENDER_TIMEOUT_S = 60


class QueryTimings(logging.Handler):
    """Collects (query name, milliseconds) from the dashboard's query log records."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.records: list[tuple[str, float]] = []

    def emit(self, record: logging.LogRecord) -> None:
        extra = vars(record)  # the `extra=` of the dashboard's query log call
        if "elapsed_ms" in extra:
            self.records.append((extra["query_name"], extra["elapsed_ms"]))

    def take(self) -> list[tuple[str, float]]:
        taken, self.records = self.records, []
        return taken


def percentile(values: list[float], fraction: float) -> float:
    """The nearest-rank percentile of `values` (0 < fraction <= 1)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def _render(app: AppTest, page: str) -> float:
    st.cache_data.clear()
    started = time.perf_counter()
    app.switch_page(f"app_pages/{page}.py").run(timeout=RENDER_TIMEOUT_S)
    elapsed = time.perf_counter() - started
    if app.exception or app.error:
        problems = [item.value for item in (*app.exception, *app.error)]
        raise RuntimeError(f"page {page} failed to render: {problems}")
    return elapsed


def main(home: Path) -> None:
    """Render every page ROUNDS times with a cold cache on the database of `home`; print the figures."""
    os.environ["PIPELINE_HOME"] = str(home)
    timings = QueryTimings()
    query_log = logging.getLogger(connections.__name__)
    query_log.addHandler(timings)
    query_log.setLevel(logging.DEBUG)
    logging.getLogger("streamlit").setLevel(logging.ERROR)
    try:
        connections.forget_connection()
        app = AppTest.from_file(str(APP_PATH), default_timeout=RENDER_TIMEOUT_S).run()
        if not app.metric:
            raise RuntimeError("the overview shows no figures: is the benchmark database loaded?")
        timings.take()
        page_seconds: dict[str, list[float]] = defaultdict(list)
        page_queries: dict[str, list[tuple[str, float]]] = defaultdict(list)
        for _ in range(ROUNDS):
            for page in PAGES:
                page_seconds[page].append(_render(app, page))
                page_queries[page].extend(timings.take())
    finally:
        query_log.removeHandler(timings)
    _report(page_seconds, page_queries)


def _report(page_seconds: dict[str, list[float]], page_queries: dict[str, list[tuple[str, float]]]) -> None:
    print(
        f"\ndashboard: {ROUNDS} cold-cache renders per page (targets: queries p95 < {QUERY_TARGET_MS:.0f} ms, "
        f"page < {PAGE_TARGET_S} s)"
    )
    print(
        f"{'page':<20}{'render p95 s':>14}{'render max s':>14}{'queries':>9}{'query p95 ms':>14}  slowest query"
    )
    slowest_query = ("", "", 0.0)
    slowest_page = ("", 0.0)
    for page in PAGES:
        durations = [ms for _, ms in page_queries[page]]
        name, worst_ms = max(page_queries[page], key=lambda item: item[1], default=("-", 0.0))
        render_p95 = percentile(page_seconds[page], 0.95)
        query_p95 = percentile(durations, 0.95) if durations else 0.0
        verdict = "ok" if query_p95 < QUERY_TARGET_MS and render_p95 < PAGE_TARGET_S else "OVER TARGET"
        print(
            f"{page:<20}{render_p95:>14.3f}{max(page_seconds[page]):>14.3f}{len(durations) // ROUNDS:>9}"
            f"{query_p95:>14.1f}  {name} {worst_ms:.1f} ms  {verdict}"
        )
        if worst_ms > slowest_query[2]:
            slowest_query = (page, name, worst_ms)
        if render_p95 > slowest_page[1]:
            slowest_page = (page, render_p95)
    print(f"slowest query: {slowest_query[1]} on {slowest_query[0]}, {slowest_query[2]:.1f} ms")
    print(f"slowest page: {slowest_page[0]}, {slowest_page[1]:.3f} s at the 95th percentile")


if __name__ == "__main__":
    main(Path(os.environ.get("PIPELINE_HOME", ".pipeline-bench")).resolve())
