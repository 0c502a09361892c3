"""Parity of the two sinks: with LAKE_WAREHOUSE set, every curated table the lake holds equals its
PostgreSQL table row for row (same keys, same count, every value to the bit), read back through
DuckDB as the dashboard reads it: after a first load, after one more day, after a re-run that
changes nothing, and after `pipeline etl --full`.
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from etl import run_etl
from etl.lake import CURATED_LAKE_TABLES, lake_spec, open_catalog, table_identifier
from etl.lake_duckdb import lake_connection
from pipeline.rawzone import open_raw_store
from pipeline.settings import Settings, get_settings
from sample_data.generator import next_session, write_sample
from tests.conftest import reset_settings_caches

FIRST_END = dt.date(2024, 6, 28)


def comparable(value: object) -> object:
    """A value as compared: a float by its exact bits (so -0.0 differs from 0.0 and NaN equals NaN)."""
    if isinstance(value, float):
        return "nan" if math.isnan(value) else value.hex()
    return value


def postgres_rows(url: str, name: str) -> list[tuple]:
    spec = lake_spec(name)
    columns = sql.SQL(", ").join(
        sql.SQL("{}::text").format(sql.Identifier(column)) if pg_type == "jsonb" else sql.Identifier(column)
        for column, pg_type in spec.columns
    )
    with psycopg.connect(url) as conn:
        rows = conn.execute(sql.SQL("SELECT {} FROM {}").format(columns, sql.Identifier(name))).fetchall()
    return sorted(tuple(comparable(value) for value in row) for row in rows)


def lake_rows(settings: Settings, name: str) -> list[tuple]:
    columns = ", ".join(f'"{column}"' for column in lake_spec(name).column_names)
    with lake_connection(settings, [name]) as connection:
        rows = connection.execute(f'SELECT {columns} FROM "{name}"').fetchall()
    return sorted(tuple(comparable(value) for value in row) for row in rows)


def assert_parity(url: str, settings: Settings) -> dict[str, int]:
    counts = {}
    for name in CURATED_LAKE_TABLES:
        expected = postgres_rows(url, name)
        found = lake_rows(settings, name)
        assert len(found) == len(expected), name
        assert found == expected, name
        counts[name] = len(found)
    return counts


def snapshot_ids(settings: Settings) -> dict[str, int | None]:
    catalog = open_catalog(settings)
    ids = {}
    for name in CURATED_LAKE_TABLES:
        snapshot = catalog.load_table(table_identifier(settings, name)).current_snapshot()
        ids[name] = snapshot.snapshot_id if snapshot else None
    return ids


@pytest.fixture
def lake_settings(migrated_database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("LAKE_WAREHOUSE", str(tmp_path / "lake"))
    reset_settings_caches()
    return get_settings()


def sample(settings: Settings, *, days: int, end: dt.date) -> None:
    write_sample(settings, open_raw_store(settings), tickers=6, days=days, seed=5, end=end, progress=False)


def test_both_sinks_hold_the_same_rows_run_after_run(
    lake_settings: Settings, migrated_database_url: str
) -> None:
    # Given a first load of 40 trading days
    sample(lake_settings, days=40, end=FIRST_END)
    first = run_etl(lake_settings)
    assert first.exit_code == 0, first.summary()
    counts = assert_parity(migrated_database_url, lake_settings)
    assert counts["stock_daily"] == 6 * 40
    assert set(first.lake_rows) == set(CURATED_LAKE_TABLES)
    with psycopg.connect(migrated_database_url) as conn:
        recorded = conn.execute(
            "SELECT details -> 'lake_rows_written' FROM pipeline_runs WHERE run_id = %s", (first.run_id,)
        ).fetchone()
    assert recorded == (first.lake_rows,)

    # When one more day arrives, the lake rewrites only what changed: that day (and the derived values)
    next_day = next_session(FIRST_END)
    sample(lake_settings, days=1, end=next_day)
    second = run_etl(lake_settings)
    assert second.exit_code == 0, second.summary()
    after_day = assert_parity(migrated_database_url, lake_settings)
    assert after_day["stock_daily"] == 6 * 41
    assert 0 < second.lake_rows["stock_daily"] < after_day["stock_daily"]

    # A re-run with nothing new writes nothing anywhere: the lake's snapshots stay as they were
    before = snapshot_ids(lake_settings)
    third = run_etl(lake_settings)
    assert third.exit_code == 0 and third.curated_rows == 0 and third.lake_rows == {}
    assert snapshot_ids(lake_settings) == before
    assert assert_parity(migrated_database_url, lake_settings) == after_day

    # --full rewrites every lake table whole, to the same rows
    full = run_etl(lake_settings, full=True)
    assert full.exit_code == 0, full.summary()
    assert full.lake_rows == after_day
    assert assert_parity(migrated_database_url, lake_settings) == after_day


def test_a_lake_set_on_a_loaded_database_is_filled_whole(
    migrated_database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a database loaded without a lake
    settings = get_settings()
    sample(settings, days=10, end=FIRST_END)
    assert run_etl(settings).exit_code == 0
    # When LAKE_WAREHOUSE is set and the next day loads, every lake table is new, so written whole
    monkeypatch.setenv("LAKE_WAREHOUSE", str(tmp_path / "lake"))
    reset_settings_caches()
    settings = get_settings()
    sample(settings, days=1, end=next_session(FIRST_END))
    result = run_etl(settings)
    assert result.exit_code == 0, result.summary()
    assert assert_parity(migrated_database_url, settings)["stock_daily"] == 6 * 11


def test_a_lake_that_cannot_be_written_rolls_the_load_back(
    lake_settings: Settings, migrated_database_url: str
) -> None:
    # Given a warehouse folder that is not writable (a file where its catalog should be a database)
    warehouse = Path(str(lake_settings.lake_warehouse))
    warehouse.mkdir(parents=True)
    (warehouse / "catalog.db").write_text("not a database")
    sample(lake_settings, days=5, end=FIRST_END)
    # When the ETL runs, it fails with one message and PostgreSQL keeps nothing of the load
    result = run_etl(lake_settings)
    assert result.exit_code == 1 and result.error
    with psycopg.connect(migrated_database_url) as conn:
        assert conn.execute("SELECT count(*) FROM stock_daily").fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM raw_objects").fetchone() == (0,)
    # And once the lake is usable again, the same objects load into both
    (warehouse / "catalog.db").unlink()
    assert run_etl(lake_settings).exit_code == 0
    assert assert_parity(migrated_database_url, lake_settings)["stock_daily"] == 6 * 5
