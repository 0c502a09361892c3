"""Parity of the two sinks on generated inputs: whatever daily fetches arrive (a few tickers, indexes,
weather, news, macro series over a few days; re-fetches with changed values, nulls, ties of fetch
time, bodies cut before or after they were stored), one ETL run with LAKE_WAREHOUSE set leaves every
curated table the lake holds equal, row for row and to the bit, to its PostgreSQL table (real
PostgreSQL, a local SQL-catalog lake), and so does the next, incremental, run of more fetches.

The fetches are `test_invariants`' generator; the comparison is `test_lake_parity`'s. Each example
loads two runs into its own database and lake, so the example count stays small (`make test-deep`
runs ten times as many).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from etl.run import run_etl
from pipeline.rawzone import LocalRawStore
from pipeline.settings import Settings, get_settings
from tests.conftest import drop_database, reset_settings_caches
from tests.integration.etl.test_invariants import (  # the generated fetches and a database per example
    Fetch,
    database_from,
    fetches,
    template_database,
    write_fetch,
)
from tests.integration.etl.test_lake_parity import assert_parity
from tests.support.examples import examples

__all__ = ["template_database"]  # a fixture, used by name

# About 7 s an example on a busy machine: pytest-timeout's 300 s would stop a deep run (its alarm
# reaches DuckDB as "Query interrupted"), so the limit grows with the examples.
pytestmark = pytest.mark.timeout(examples(300))

# One chart only: every other lake table is new and empty, so exported empty from PostgreSQL (COPY
# sends no byte at all, which Arrow's CSV reader refused: the run failed whenever a source was missing).
ONE_CHART = Fetch("AAPL", 0, 1, 0, 0, frozenset(), "none", 0.5)


def load(settings: Settings) -> None:
    result = run_etl(settings)
    assert result.error is None, result.summary()


@settings(
    max_examples=examples(6),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@example(first=[ONE_CHART], second=[ONE_CHART])
@given(first=st.lists(fetches, min_size=1, max_size=7), second=st.lists(fetches, min_size=1, max_size=4))
def test_generated_daily_inputs_leave_the_same_rows_in_both_sinks_run_after_run(
    pg_server, template_database, universe, monkeypatch, first, second
):
    home = Path(tempfile.mkdtemp(prefix="lake-parity-"))
    database = database_from(pg_server, template_database)
    try:
        monkeypatch.setenv("PIPELINE_HOME", str(home))
        monkeypatch.setenv("PIPELINE_INDEXES", "^GSPC")
        monkeypatch.setenv("PIPELINE_FRED_SERIES", "VIXCLS")
        monkeypatch.setenv("LAKE_WAREHOUSE", str(home / "lake"))
        monkeypatch.setenv("DATABASE_URL", database)
        reset_settings_caches()
        settings = get_settings()
        store = LocalRawStore(home)
        # Given a first batch of fetches loaded through both sinks, the tables are equal,
        for fetch in first:
            write_fetch(store, fetch)
        load(settings)
        assert_parity(database, settings)
        # and after a second batch (re-fetches of the same days among them), loaded incrementally
        for fetch in second:
            write_fetch(store, fetch)
        load(settings)
        assert_parity(database, settings)
    finally:
        drop_database(pg_server, database)
        shutil.rmtree(home, ignore_errors=True)
