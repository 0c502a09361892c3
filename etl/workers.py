"""The ETL's worker processes, for a backfill: started before the transform's modules are imported.

Only the standard library here, so that `etl.run` can start the workers first: the fork server
imports the transform (numpy and the parsers) while the calling process imports the same
modules and then loads the small objects, instead of one after the other.

Workers die with the ETL (`die_with_etl`), and the fork server with its last worker: a SIGKILLed
backfill leaves no process holding its 160-200 MB.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import threading
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from concurrent.futures import ProcessPoolExecutor

# Below this many days of instrument windows (about 16 MB of responses; a daily run of 500 symbols
# spans 500), starting worker processes costs more than it saves: the vectorised transform handles a
# day of updates for the whole universe in a fraction of a second.
PARALLEL_THRESHOLD_WINDOW_DAYS = 250_000
WORKERS = os.cpu_count() or 2
#: How often a worker checks that the ETL lives where it cannot be told (no pidfd: not Linux).
ETL_POLL_SECONDS = 1.0


def die_with_etl(etl_pid: int) -> None:
    """The workers' initializer: a daemon thread that kills this worker once the ETL process ends.

    The parent's death signal (``PR_SET_PDEATHSIG``) would not do: a worker's parent is the fork
    server, and the fork server lives until every worker has closed the pipe it was handed, so a
    SIGKILLed ETL would leave both waiting for ever. A pidfd of the ETL becomes readable when it
    ends, whoever the worker's parent is (Linux 5.3); elsewhere the thread polls the pid.
    """
    try:
        watch = os.pidfd_open(etl_pid)
    except ProcessLookupError:  # the ETL died between this worker's start and now
        os._exit(1)
    except (AttributeError, OSError):
        threading.Thread(target=_poll_etl, args=(etl_pid,), daemon=True, name="die-with-etl").start()
        return
    threading.Thread(target=_wait_for_etl, args=(watch,), daemon=True, name="die-with-etl").start()


def _wait_for_etl(watch: int) -> None:
    select.select([watch], [], [])
    os.kill(os.getpid(), signal.SIGKILL)


def _poll_etl(etl_pid: int) -> None:
    while True:
        time.sleep(ETL_POLL_SECONDS)
        try:
            os.kill(etl_pid, 0)
        except ProcessLookupError:
            os.kill(os.getpid(), signal.SIGKILL)
        except PermissionError:
            pass  # alive, as another user


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
        ProcessPoolExecutor(
            max_workers=WORKERS, mp_context=context, initializer=die_with_etl, initargs=(os.getpid(),)
        ) as pool,
        ThreadPoolExecutor(1) as starter,
    ):
        # Starting the workers waits for the fork server to import the transform: a helper thread
        # does the waiting while the caller imports and loads the small objects.
        starter.submit(lambda: [pool.submit(int) for _ in range(WORKERS)])
        yield pool
