"""The raw-zone key layout and metadata round trips (pure functions)."""

from __future__ import annotations

import datetime as dt

import pytest

from pipeline.rawzone import (
    RawKey,
    RawKeyError,
    RawMetadata,
    make_metadata,
    parse_raw_key,
    raw_key,
    source_prefix,
)


def test_key_layout() -> None:
    assert (
        raw_key("yahoo", dt.date(2024, 1, 2), "AAPL_2024-01-31.json")
        == "raw/yahoo/2024-01-02/AAPL_2024-01-31.json"
    )
    assert source_prefix("fred") == "raw/fred/"
    assert source_prefix("fred", dt.date(2024, 3, 1)) == "raw/fred/2024-03-01/"


def test_parse_is_the_inverse_of_build() -> None:
    key = raw_key("open_meteo", dt.date(2023, 12, 31), "archive_2024-01-30.json")
    parsed = parse_raw_key(key)
    assert parsed == RawKey("open_meteo", dt.date(2023, 12, 31), "archive_2024-01-30.json")
    assert str(parsed) == key


@pytest.mark.parametrize(
    "key",
    [
        "yahoo/2024-01-02/AAPL.json",
        "raw/yahoo/2024-13-02/AAPL.json",
        "raw/yahoo/2024-01-02",
        "raw/yahoo/2024-01-02/sub/AAPL.json",
        "raw//2024-01-02/AAPL.json",
    ],
)
def test_parse_rejects_keys_outside_the_layout(key: str) -> None:
    with pytest.raises(RawKeyError):
        parse_raw_key(key)


@pytest.mark.parametrize(
    ("source", "name"), [("ya/hoo", "a.json"), ("", "a.json"), ("yahoo", "a/b"), ("yahoo", ".hidden")]
)
def test_build_rejects_unsafe_parts(source: str, name: str) -> None:
    with pytest.raises(RawKeyError):
        raw_key(source, dt.date(2024, 1, 2), name)


def test_metadata_round_trip_keeps_extras_and_hash() -> None:
    body = b'{"chart":{"result":null}}'
    fetched = dt.datetime(2024, 1, 3, 13, 0, tzinfo=dt.UTC)
    metadata = make_metadata(
        body,
        source_url="https://example.test/chart/AAPL?period1=1",
        http_status=404,
        content_type="application/json",
        fetched_at=fetched,
        extra={"symbol": "AAPL", "window_end": dt.date(2024, 1, 2)},
    )
    assert metadata.sha256 == "4b10f3a9662819277470c26ea4dabc4cb2dc772f11c019c33748016b6f7593ec"
    restored = RawMetadata.from_strings(metadata.to_strings())
    assert restored == metadata
    assert restored.extra == {"symbol": "AAPL", "window_end": "2024-01-02"}
