"""Faults of the ETL process: a backfill SIGKILLed mid-run leaves no worker behind, loses nothing,
and a re-run gives exactly the tables of a clean load."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import psutil

from etl.run import run_etl
from pipeline.migrations import migrate
from pipeline.settings import get_settings
from tests.conftest import create_database, drop_database, reset_settings_caches
from tests.integration.etl.conftest import FIRST_DAY, RawZoneWriter, table_checksums, trading_days

ROOT = Path(__file__).resolve().parents[3]


def _start_backfill(env: dict[str, str]) -> tuple[subprocess.Popen[str], list[int]]:
    driver = subprocess.Popen(
        [sys.executable, "-m", "tests.integration.faults.backfill_driver"],
        cwd=ROOT,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert driver.stdout is not None
    line = driver.stdout.readline()
    assert line.startswith("workers "), line + (driver.stderr.read() if driver.stderr else "")
    return driver, [int(pid) for pid in line.split()[1:]]


def test_a_sigkilled_backfill_leaves_no_worker_and_a_re_run_equals_a_clean_load(
    raw_zone: RawZoneWriter,
    universe,
    migrated_database_url: str,
    subprocess_env: dict[str, str],
    pg_server: str,
) -> None:
    days = trading_days(FIRST_DAY, 60)
    raw_zone.everything(days[:30])
    raw_zone.everything(days[30:])

    driver, worker_pids = _start_backfill(subprocess_env)
    helpers = psutil.Process(driver.pid).children(recursive=True)  # the fork server and the workers
    assert set(worker_pids) <= {process.pid for process in helpers}
    os.kill(driver.pid, signal.SIGKILL)
    driver.wait()

    # Every worker (and the fork server) died with the killed ETL.
    _, alive = psutil.wait_procs(helpers, timeout=30)
    assert alive == [], f"left alive after SIGKILL: {[process.pid for process in alive]}"

    # A re-run loads everything; its tables equal a clean load of the same raw zone in a new database.
    rerun = run_etl(get_settings())
    assert rerun.exit_code == 0, rerun.summary()
    after_kill = table_checksums(migrated_database_url)
    clean_url = create_database(pg_server)
    try:
        os.environ["DATABASE_URL"] = clean_url
        reset_settings_caches()
        migrate()
        assert run_etl(get_settings()).exit_code == 0
        assert table_checksums(clean_url) == after_kill
    finally:
        os.environ["DATABASE_URL"] = migrated_database_url
        reset_settings_caches()
        drop_database(pg_server, clean_url)


def test_the_backfill_driver_finishes_when_told(
    raw_zone: RawZoneWriter, universe, migrated_database_url: str, subprocess_env: dict[str, str]
) -> None:
    """The driver is a real backfill: let through, it loads and exits 0 (so the kill above is mid-run)."""
    raw_zone.everything(trading_days(FIRST_DAY, 20))
    driver, _ = _start_backfill(subprocess_env)
    _, errors = driver.communicate("go\n", timeout=300)
    assert driver.returncode == 0, errors
    assert table_checksums(migrated_database_url)["stock_daily"].split(":")[0] != "0"
