"""`pipeline lake compact`: a partition crowded by daily runs becomes one file, the rows stay the same
to the bit (the two sinks still agree), and snapshots older than a week are expired."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from cli.main import run_cli
from etl import run_etl
from etl.lake import open_catalog, table_identifier
from etl.lake_maintenance import MAX_FILES_PER_PARTITION, compact
from pipeline.rawzone import open_raw_store
from pipeline.settings import Settings, get_settings
from sample_data.generator import next_session, write_sample
from tests.conftest import reset_settings_caches
from tests.integration.etl.test_lake_parity import assert_parity


@pytest.fixture
def lake_settings(migrated_database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("LAKE_WAREHOUSE", str(tmp_path / "lake"))
    reset_settings_caches()
    return get_settings()


def stock_files(settings: Settings) -> int:
    table = open_catalog(settings).load_table(table_identifier(settings, "stock_daily"))
    return table.inspect.files().num_rows


def test_daily_runs_files_are_merged_and_the_rows_stay_the_same(lake_settings, migrated_database_url, capsys):
    store = open_raw_store(lake_settings)
    day = dt.date(2024, 6, 3)
    write_sample(lake_settings, store, tickers=3, days=5, seed=1, end=day, progress=False)
    assert run_etl(lake_settings).exit_code == 0
    for _ in range(MAX_FILES_PER_PARTITION + 2):  # a week of daily runs into June's partition
        day = next_session(day)
        write_sample(lake_settings, store, tickers=3, days=1, seed=1, end=day, progress=False)
        assert run_etl(lake_settings).exit_code == 0
    before = stock_files(lake_settings)
    assert before > MAX_FILES_PER_PARTITION + 1
    rows_before = assert_parity(migrated_database_url, lake_settings)

    assert run_cli(["lake", "compact"]) == 0
    assert "stock_daily: " in capsys.readouterr().out
    assert stock_files(lake_settings) <= 2  # May's partition and June's, one file each
    assert assert_parity(migrated_database_url, lake_settings) == rows_before

    # A week later, every snapshot but the current one is expired
    result = compact(lake_settings, now=dt.datetime.now(dt.UTC) + dt.timedelta(days=8))
    assert result.snapshots_expired["stock_daily"] > 0
    table = open_catalog(lake_settings).load_table(table_identifier(lake_settings, "stock_daily"))
    assert len(table.snapshots()) == 1
    assert assert_parity(migrated_database_url, lake_settings) == rows_before
    # ... and the files only the expired snapshots read are gone: what is left is what the table reads
    assert result.orphans_removed["stock_daily"] > 0
    assert files_on_disk(table, ".parquet") == referenced(table.inspect.files().column("file_path"))
    assert files_on_disk(table, ".avro") == referenced(
        [table.current_snapshot().manifest_list, *table.inspect.manifests().column("path").to_pylist()]
    )


def files_on_disk(table, suffix: str) -> set[str]:
    return {str(path) for path in Path(table.location().removeprefix("file://")).rglob(f"*{suffix}")}


def referenced(locations) -> set[str]:
    return {str(location).removeprefix("file://") for location in locations}


def test_a_file_no_snapshot_reads_is_deleted_once_it_is_a_day_old(lake_settings):
    store = open_raw_store(lake_settings)
    write_sample(lake_settings, store, tickers=2, days=3, seed=2, end=dt.date(2024, 6, 3), progress=False)
    assert run_etl(lake_settings).exit_code == 0
    table = open_catalog(lake_settings).load_table(table_identifier(lake_settings, "stock_daily"))
    kept = files_on_disk(table, ".parquet")
    stray = Path(table.location().removeprefix("file://")) / "data" / "stray-write.parquet"
    stray.write_bytes(b"PAR1 a write that never committed")
    other = stray.with_suffix(".txt")  # not a file type the table writes: never touched
    other.write_text("kept")

    now = dt.datetime.now(dt.UTC)
    assert compact(lake_settings, now=now).orphans_removed["stock_daily"] == 0  # it may be in progress
    assert stray.exists()
    result = compact(lake_settings, now=now + dt.timedelta(hours=25))
    assert result.orphans_removed["stock_daily"] == 1
    assert not stray.exists() and other.exists()
    assert files_on_disk(table, ".parquet") == kept


def test_without_a_lake_there_is_nothing_to_compact(capsys):
    assert run_cli(["lake", "compact"]) == 0
    assert "LAKE_WAREHOUSE is not set" in capsys.readouterr().out
