"""The ETL's worker processes, for a backfill: started before the transform's modules are imported.

Only the standard library here, so that `etl.run` can start the workers first: the fork server
imports the transform (numpy and the parsers) while the calling process imports the same
modules and then loads the small objects, instead of one after the other.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from concurrent.futures import ProcessPoolExecutor

# Below this many days of instrument windows (about 16 MB of responses; a daily run of 500 symbols
# spans 500), starting worker processes costs more than it saves: the vectorised transform handles a
# day of updates for the whole universe in a fraction of a second.
PARALLEL_THRESHOLD_WINDOW_DAYS = 250_000
WORKERS = os.cpu_count() or 2


def is_backfill(instrument_window_days: int) -> bool:
    """Whether instrument windows spanning this many days in all are worth worker processes."""
    return instrument_window_days >= PARALLEL_THRESHOLD_WINDOW_DAYS


@contextlib.contextmanager
def instrument_pool(parallel: bool) -> Iterator[ProcessPoolExecutor | None]:
    """Worker processes for a big load (None for a small one), started in the background."""
    if not parallel:
        yield None
        return
    # Imported here: a run with nothing new, or a daily one, starts no process (about 4 ms).
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

    # forkserver: a worker forked from this process would inherit its open database connection.
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["etl.transform"])
    with (
        ProcessPoolExecutor(max_workers=WORKERS, mp_context=context) as pool,
        ThreadPoolExecutor(1) as starter,
    ):
        # Starting the workers waits for the fork server to import the transform: a helper thread
        # does the waiting while the caller imports and loads the small objects.
        starter.submit(lambda: [pool.submit(int) for _ in range(WORKERS)])
        yield pool
