"""A run of named keys or of recent date partitions loads only those: no listing of the whole history."""

from __future__ import annotations

import datetime as dt

import psycopg
import pytest

import etl.run
from etl import run_etl
from pipeline.settings import get_settings
from tests.integration.etl.conftest import FIRST_DAY, trading_days

pytestmark = pytest.mark.usefixtures("universe")


def loaded_keys(url: str) -> list[str]:
    with psycopg.connect(url) as conn:
        return [row[0] for row in conn.execute("SELECT key FROM raw_objects ORDER BY key")]


def test_recent_partitions_load_the_last_days_and_leave_history_to_a_full_listing(
    migrated_database_url, raw_zone, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a January object (history) and a June week's object, with "today" the Saturday after.
    days = trading_days(FIRST_DAY, 400)
    january = raw_zone.yahoo("AAPL", days[:4])
    june = [day for day in days if dt.date(2024, 6, 3) <= day <= dt.date(2024, 6, 7)]
    recent = raw_zone.yahoo("AAPL", june)
    monkeypatch.setattr(etl.run, "market_today", lambda: dt.date(2024, 6, 8))
    # When the safety-net run lists only the last 7 days' partitions.
    result = run_etl(get_settings(), recent_days=7)
    # Then only the June object is loaded; a run without the option still finds the January one.
    assert result.exit_code == 0 and loaded_keys(migrated_database_url) == [recent]
    assert run_etl(get_settings()).loaded == 1
    assert loaded_keys(migrated_database_url) == sorted([january, recent])


def test_named_keys_load_only_those_and_a_vanished_or_foreign_key_loses_nothing(
    migrated_database_url, raw_zone
) -> None:
    days = trading_days(FIRST_DAY, 10)
    first, second = raw_zone.yahoo("AAPL", days[:5]), raw_zone.yahoo("MSFT", days[:5])
    result = run_etl(get_settings(), keys=[first, "raw/yahoo/2024-01-02/GONE.json", "not/a/raw/key"])
    assert result.exit_code == 3  # the foreign key is quarantined, once
    assert result.metadata_lookups == 2
    assert loaded_keys(migrated_database_url) == sorted(["not/a/raw/key", first])
    # The same key again is already loaded: nothing to do.
    assert run_etl(get_settings(), keys=[first]).loaded == 0
    assert run_etl(get_settings(), keys=[second]).loaded == 1
