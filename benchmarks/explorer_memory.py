"""What the SQL explorer's heaviest statements cost the database: peak memory of the backend, log bytes.

Each attack statement goes through the explorer as a visitor's would (the statement check, then the
runner as `dashboard_explorer`); while it runs, the anonymous resident memory (RssAnon) of its database
backend is sampled from /proc every 5 ms. Printed per statement: the outcome, the peak, the bytes that
reached the dashboard (result or message) and what the database's log grew by. Needs the embedded
PostgreSQL (its backends are processes of this machine). Run: `python -m benchmarks.explorer_memory`.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import psycopg

from tests.support.backend_memory import ALLOWED_HEAVY, ATTACKS, KILL_ABOVE_MB, Peak


def server_log_bytes(owner_url: str) -> int:
    """The size of what the postmaster wrote to its stderr (the embedded server's log) so far."""
    for _ in range(100):  # after a killed backend, the server restarts its sessions
        try:
            psycopg.connect(owner_url).close()
            break
        except psycopg.OperationalError:
            time.sleep(0.2)
    with psycopg.connect(owner_url) as conn:
        [(backend,)] = conn.execute("SELECT pg_backend_pid()").fetchall()
        status = Path(f"/proc/{backend}/status").read_text()
    postmaster = next(line.split()[1] for line in status.splitlines() if line.startswith("PPid:"))
    return os.stat(f"/proc/{postmaster}/fd/2").st_size


def measure(owner_url: str, sql: str) -> tuple[str, float, int, int]:
    from dashboard.explorer import run_explorer_statement
    from dashboard.statement_check import RefusedStatement, check_read_only_statement

    log_before = server_log_bytes(owner_url)
    try:
        checked = check_read_only_statement(sql)
    except RefusedStatement as refusal:
        return f"refused: {str(refusal)[:60]}", 0.0, len(str(refusal)), 0
    sampler = Peak(owner_url)
    sampler.start()
    try:
        result = run_explorer_statement(checked)
        outcome, shown = f"{len(result.frame)} row(s)", len(result.frame.to_json())
    except Exception as error:  # the outcome is what is measured
        outcome, shown = f"{type(error).__name__}: {str(error)[:50]}", len(str(error))
    sampler.done.set()
    sampler.join()
    if sampler.killed:
        outcome = f"killed above {KILL_ABOVE_MB} MB ({outcome[:30]})"
    time.sleep(0.2)  # the log is written by the server's logging collector or the backend
    return outcome, sampler.peak, shown, server_log_bytes(owner_url) - log_before


def main(home: Path) -> None:
    os.environ["PIPELINE_HOME"] = str(home)
    from pipeline.db import database_url
    from pipeline.migrations import migrate
    from pipeline.settings import get_settings

    owner_url = database_url(get_settings())
    migrate()
    with psycopg.connect(owner_url, autocommit=True) as conn:
        if conn.execute("SELECT count(*) FROM companies").fetchone() == (0,):
            conn.execute("INSERT INTO companies VALUES ('AAA', 'A', 'S', 'I')")
            conn.execute(
                "INSERT INTO stock_daily (ticker, trade_date, close) SELECT 'AAA', d, 1 "
                "FROM generate_series(DATE '1900-01-01', DATE '2030-01-01', '1 day') AS d"
            )
    print(f"{'statement':<24} {'peak RssAnon':>12} {'to dashboard':>13} {'log grew':>10}  outcome")
    for name, sql in {**ATTACKS, **ALLOWED_HEAVY}.items():
        outcome, peak, shown, logged = measure(owner_url, sql)
        print(f"{name:<24} {peak:>9.0f} MB {shown / 2**20:>10.2f} MB {logged / 2**20:>7.2f} MB  {outcome}")
    together = four_at_once(owner_url, list(ALLOWED_HEAVY.values())[:4])
    print(f"four heaviest allowed at once: {together:.0f} MB of explorer backends together")


def four_at_once(owner_url: str, statements: list[str]) -> float:
    """The most memory the explorer's backends held together while `statements` ran at once."""
    from concurrent.futures import ThreadPoolExecutor

    sampler = Peak(owner_url)
    sampler.start()
    with ThreadPoolExecutor(len(statements)) as pool:
        list(pool.map(lambda sql: measure(owner_url, sql), statements))
    sampler.done.set()
    sampler.join()
    return sampler.total


if __name__ == "__main__":
    main(Path(os.environ.get("BENCH_HOME") or tempfile.mkdtemp(prefix="explorer-memory-")))
