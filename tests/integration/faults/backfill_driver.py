"""`pipeline etl` as a backfill (worker processes whatever its size) that stops mid-run until told.

Run as ``python -m tests.integration.faults.backfill_driver``: once its worker processes are up it
prints ``workers <pid> ...`` and waits for a line on stdin inside the run, so that a test can SIGKILL
it at a known point of a real backfill; given a line, it finishes the run and exits with its code.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor

from etl import run, workers


@contextlib.contextmanager
def pool_then_wait(parallel: bool) -> Iterator[ProcessPoolExecutor | None]:
    with workers.instrument_pool(True) as pool:
        assert pool is not None
        pids = {pool.submit(os.getpid).result() for _ in range(4 * workers.WORKERS)}
        print("workers", *sorted(pids), flush=True)
        sys.stdin.readline()
        yield pool


def main() -> int:
    run.instrument_pool = pool_then_wait  # type: ignore[assignment]
    from pipeline.settings import get_settings

    return run.run_etl(get_settings()).exit_code


if __name__ == "__main__":
    sys.exit(main())
