"""`pipeline etl` and `pipeline status` through the command line."""

from __future__ import annotations

import subprocess
import sys

import pytest

from cli.main import run_cli
from tests.conftest import reset_settings_caches
from tests.integration.etl.conftest import FIRST_DAY, trading_days

pytestmark = pytest.mark.usefixtures("universe")


def test_etl_then_status(migrated_database_url, raw_zone, capsys):
    raw_zone.everything(trading_days(FIRST_DAY, 10))
    bad = raw_zone.fred("DGS10", trading_days(FIRST_DAY, 3))
    raw_zone.replace_body(bad, b"<!DOCTYPE html><html>Service unavailable</html>")
    assert run_cli(["etl"]) == 3
    printed = capsys.readouterr().out
    assert "9 object(s) loaded, 1 quarantined" in printed
    assert "stock_daily: 30" in printed

    assert run_cli(["status"]) == 0
    report = capsys.readouterr().out
    assert "yahoo" in report and "[synthetic data]" in report
    assert "quarantined objects: 1" in report and bad in report
    assert "stock_daily" in report and "30" in report


def test_unreachable_database_is_one_line_and_exit_1(monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_URL", "postgresql://nobody@127.0.0.1:1/nothing")
    reset_settings_caches()
    assert run_cli(["etl"]) == 1
    error = capsys.readouterr().err.strip()
    assert error.startswith("pipeline: error: cannot connect to") and "\n" not in error


def test_a_pipeline_etl_with_nothing_new_imports_neither_pandas_nor_numpy(
    migrated_database_url, raw_zone, subprocess_env
):
    # Given a raw zone already loaded
    raw_zone.everything(trading_days(FIRST_DAY, 10))
    assert run_cli(["etl"]) == 0
    # When `pipeline etl` runs again as a process of its own (as the benchmark and the timer run it)
    run = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "cli", "etl"],
        capture_output=True,
        text=True,
        env=subprocess_env,
        timeout=120,
    )
    # Then it finds nothing, and never imported pandas, numpy, the transform, the worker machinery or
    # pydantic-settings (the settings read their variables themselves)
    assert run.returncode == 0, run.stderr
    assert "0 object(s) loaded" in run.stdout
    imported = {line.rsplit("|", 1)[-1].strip() for line in run.stderr.splitlines() if "|" in line}
    assert "cli.main" in imported and "etl.run" in imported  # the probe sees the run's imports
    heavy = {
        "pandas",
        "numpy",
        "pyarrow",
        "etl.transform",
        "etl.stage",
        "multiprocessing",
        "pydantic_settings",
    }
    assert not imported & heavy


def _run_etl_in_a_worker() -> str:
    from etl.run import run_etl
    from pipeline.settings import load_settings

    try:
        run_etl(load_settings())
    except RuntimeError as error:
        return str(error)
    return "no error"


def test_run_etl_refuses_to_run_in_a_worker_process(migrated_database_url):
    # Given a worker process (as an unguarded script's would be, re-importing its main module)
    import multiprocessing

    with multiprocessing.get_context("fork").Pool(1) as pool:
        # When it calls run_etl
        message = pool.apply(_run_etl_in_a_worker)
    # Then it is refused, before it could wait forever on the lock its parent holds
    assert "guard the script with if __name__ == '__main__'" in message
