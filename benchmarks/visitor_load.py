"""Many visitors at once: 20 signed-in visitors, each opening every page in turn, 2 s between pages.

The dashboard is served as deployed (`pipeline dashboard` with a password: nginx, the sign-in service,
Streamlit) over the benchmark database (the 500-ticker x 10-year load of `make bench`). Visitors are
simulated over Streamlit's websocket, without a browser (`tests.support.streamlit_stream`): each signs
in through the gate, opens `/_stcore/stream` and asks for each page as a browser does (a `rerun_script`
message naming the page); a page's time runs from that request to Streamlit's `script_finished`, so it
holds the script run, the queries and the transfer of every element, not the browser's drawing. The
visitors start within the first 2 s, then go through the pages of the app's navigation `ROUNDS` times.
Printed: p50, p95 and max per page against the targets (p95 < 1 s, no page over 3 s).
Run alone: `python -m benchmarks.visitor_load` (BENCH_HOME, else a temporary folder).
"""

from __future__ import annotations

import asyncio
import os
import random
import tempfile
from pathlib import Path

from benchmarks.served import ServedDashboard, percentile, served_dashboard
from tests.support.streamlit_stream import PageRun, StreamVisitor, signed_in_cookie

VISITORS = 20
ROUNDS = 2
PAUSE_S = 2.0
P95_TARGET_S = 1.0
MAX_TARGET_S = 3.0


async def _visit(served: ServedDashboard, cookie: str, number: int, runs: dict[str, list[PageRun]]) -> None:
    await asyncio.sleep(random.Random(number).uniform(0, PAUSE_S))
    visitor = await StreamVisitor.open(served.host, served.port, cookie)
    try:
        first = await visitor.open_page("")
        runs.setdefault("", []).append(first)
        for round_ in range(ROUNDS):
            for path in visitor.page_paths:
                if round_ == 0 and path == visitor.page_paths[0]:
                    continue  # the default page was the first one opened
                await asyncio.sleep(PAUSE_S)
                runs.setdefault(path, []).append(await visitor.open_page(path))
    finally:
        await visitor.close()


async def _measure(served: ServedDashboard) -> dict[str, list[PageRun]]:
    cookies = [signed_in_cookie(served.host, served.port, served.password) for _ in range(VISITORS)]
    runs: dict[str, list[PageRun]] = {}
    await asyncio.gather(*(_visit(served, cookie, number, runs) for number, cookie in enumerate(cookies)))
    return runs


def report(runs: dict[str, list[PageRun]]) -> None:
    print(
        f"\nvisitors: {VISITORS} signed-in visitors over Streamlit's websocket, every page x {ROUNDS}, "
        f"{PAUSE_S:g} s between pages (targets: p95 < {P95_TARGET_S:g} s, max < {MAX_TARGET_S:g} s)"
    )
    print(f"{'page':<26}{'runs':>6}{'p50':>8}{'p95':>8}{'max':>8}")
    for path, page_runs in runs.items():
        seconds = [run.seconds for run in page_runs]
        p95, worst = percentile(seconds, 0.95), max(seconds)
        flag = "" if p95 < P95_TARGET_S and worst < MAX_TARGET_S else "  over target"
        print(
            f"{path or '(overview)':<26}{len(seconds):>6}{percentile(seconds, 0.5):>7.2f}s{p95:>7.2f}s"
            f"{worst:>7.2f}s{flag}"
        )
    every = [run.seconds for page_runs in runs.values() for run in page_runs]
    print(
        f"all pages: p50 {percentile(every, 0.5):.2f} s, p95 {percentile(every, 0.95):.2f} s, max {max(every):.2f} s"
    )
    failed = [
        (path, run)
        for path, page_runs in runs.items()
        for run in page_runs
        if run.exceptions or run.status != "FINISHED_SUCCESSFULLY"
    ]
    if failed:
        print(
            f"runs that failed: {len(failed)}, e.g. {failed[0][0]}: {failed[0][1].status} {failed[0][1].exceptions[:1]}"
        )


def main(home: Path) -> None:
    """Serve the dashboard of `home` behind the gate, run the visitors, print the figures."""
    with served_dashboard(home, "visitor-load.log") as served:
        runs = asyncio.run(_measure(served))
    report(runs)


if __name__ == "__main__":
    main(Path(os.environ.get("BENCH_HOME") or tempfile.mkdtemp(prefix="visitor-load-")))
