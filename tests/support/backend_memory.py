"""The SQL explorer's memory attacks, and a sampler of its database backends' memory (from /proc).

Shared by the memory tests (tests/dashboard/test_explorer_memory.py) and their benchmark
(benchmarks/explorer_memory.py). The backends are processes of this machine: the embedded PostgreSQL.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import psycopg

#: Statements that build values in the backend's memory, which work_mem does not bound.
ATTACKS: dict[str, str] = {
    "repeat 600 MB": "SELECT length(repeat('x', 600000000))",
    "lpad 600 MB": "SELECT length(lpad('', 600000000, 'x'))",
    # generate_series in the select list: its rows are not kept in a tuplestore (which would spill).
    "array_agg 60M": "SELECT cardinality(array_agg(g)) FROM (SELECT generate_series(1, 60000000) AS g) AS s",
    "string_agg 600 MB": "SELECT length(string_agg('0123456789', '')) "
    "FROM (SELECT generate_series(1, 60000000) AS g) AS s",
    "json_agg 30M": "SELECT length(json_agg(g)::text) FROM (SELECT generate_series(1, 30000000) AS g) AS s",
    "regexp_replace": "SELECT length(regexp_replace(repeat('x', 30000000), 'x', 'xxxxxxxxxx', 'g'))",
    # The planner pulls each subquery up, doubling the expression per level: at 28 levels it held 13 GB
    # and ignored statement_timeout and pg_terminate_backend, so these stop at 20.
    "|| doubling x20": "SELECT length(s) FROM "
    + "(SELECT s || s AS s FROM " * 20
    + "(SELECT 'xx'::text AS s) AS t"
    + ") AS t" * 20,
    "+ doubling x20": "SELECT s FROM "
    + "(SELECT s + s AS s FROM " * 20
    + "(SELECT 1 AS s) AS t"
    + ") AS t" * 20,
    "whole-row doubling x20": "SELECT length(t::text) FROM "
    + "(SELECT t AS a, t AS b FROM " * 20
    + "(SELECT 'xxxxxxxxxxxxxxxx'::text AS a) AS t"
    + ") AS t" * 20,
    "char(10485760) x60": "SELECT " + ", ".join(["length(''::char(10485760))"] * 60),
    "regex compile": "SELECT 'a' ~ '((((a{1,100}){1,100}){1,100}){1,100})'",
    "EXPLAIN VERBOSE 40 MB": "EXPLAIN VERBOSE SELECT repeat('x', 40000000)",
    "error with 100 MB": "SELECT repeat('x', 100000000)::int",
    "100 sorts": "SELECT count(*) FROM ("
    + " UNION ALL ".join(["(SELECT close FROM stock_daily ORDER BY close * random())"] * 100)
    + ") AS u",
}
SAMPLE_SECONDS = 0.005
#: A backend above this is killed (SIGKILL: the planner does not stop for a cancel), to spare the machine.
KILL_ABOVE_MB = 3072


def rss_anon_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("RssAnon:"):
            return int(line.split()[1]) / 1024
    return 0.0


class Peak(threading.Thread):
    """The highest RssAnon of any explorer backend, and of all of them together, sampled until stopped."""

    def __init__(self, owner_url: str) -> None:
        super().__init__(daemon=True)
        self.owner_url, self.peak, self.total, self.done = owner_url, 0.0, 0.0, threading.Event()

    killed = False

    def run(self) -> None:
        with psycopg.connect(self.owner_url, autocommit=True) as conn:
            while not self.done.is_set():
                pids = conn.execute(
                    "SELECT pid FROM pg_stat_activity WHERE usename = 'dashboard_explorer'"
                ).fetchall()
                together = 0.0
                for (pid,) in pids:
                    try:
                        resident = rss_anon_mb(pid)
                        if resident > KILL_ABOVE_MB:
                            os.kill(pid, signal.SIGKILL)
                            self.killed = True
                            return
                        self.peak = max(self.peak, resident)
                        together += resident
                    except OSError:
                        pass
                self.total = max(self.total, together)
                time.sleep(SAMPLE_SECONDS)


#: The heaviest statements the check lets through: at the plan's step budget, spilling sorts, hashes and
#: windows, and a result forty times the byte budget.
ALLOWED_HEAVY: dict[str, str] = {
    "16 sorts": "SELECT count(*) FROM ("
    + " UNION ALL ".join(["(SELECT close FROM stock_daily ORDER BY close * random())"] * 16)
    + ") AS u",
    "hash aggregate": "SELECT count(*) FROM (SELECT a.trade_date, b.trade_date, count(*) "
    "FROM stock_daily AS a JOIN stock_daily AS b ON a.close = b.close GROUP BY 1, 2) AS g",
    "window over all rows": "SELECT max(x) FROM (SELECT sum(close) OVER (ORDER BY trade_date "
    "ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) AS x FROM stock_daily) AS w",
    "mode of 3M texts": "SELECT mode() WITHIN GROUP (ORDER BY md5(g::text)) FROM generate_series(1, 3000000) AS g",
    "wide result": "SELECT n, "
    + ", ".join(f"md5((n + {column})::text) AS c{column}" for column in range(100))
    + " FROM generate_series(1, 50000) AS n",
}
