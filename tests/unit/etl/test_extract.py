"""The data date recorded in the ledger: the last day of data an object covers."""

from __future__ import annotations

import datetime as dt

import pytest

from etl.extract import data_date_of

KEY_DAY = dt.date(2025, 11, 12)


def test_a_window_object_is_dated_by_its_window_end_not_its_key():
    extra = {"symbol": "AAPL", "window_start": "2025-11-12", "window_end": "2026-11-24"}
    assert data_date_of(KEY_DAY, extra) == dt.date(2026, 11, 24)


@pytest.mark.parametrize(
    "extra",
    [
        {},  # manifests and constituent snapshots: dated by the day they were written
        {"run_id": "ingest-1"},
        {"window_end": ""},
        {"window_end": "24/11/2026"},
        {"window_end": "2025-11-11"},  # before the window's first day: not trusted
    ],
)
def test_without_a_valid_window_end_the_key_date_is_the_data_date(extra):
    assert data_date_of(KEY_DAY, extra) == KEY_DAY
