"""RawStore round trips on the local folder and on S3 (moto), metadata included."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from pipeline.rawzone import (
    LocalRawStore,
    RawObjectNotFound,
    RawStore,
    S3RawStore,
    make_metadata,
    open_raw_store,
    raw_key,
)
from pipeline.settings import load_settings

BUCKET = "pipeline-raw-test"


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RawStore]:
    if request.param == "local":
        yield LocalRawStore(tmp_path / "zone")
        return
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        yield S3RawStore(BUCKET, client)


def put(store: RawStore, source: str, day: dt.date, name: str, body: bytes, **extra: str) -> str:
    key = raw_key(source, day, name)
    metadata = make_metadata(
        body,
        source_url=f"https://api.example.test/{source}?q=1&x=%5EGSPC",
        http_status=200,
        content_type="application/json; charset=utf-8",
        fetched_at=dt.datetime(2024, 1, 3, 13, 5, 7, tzinfo=dt.UTC),
        extra=extra,
    )
    store.put(key, body, metadata)
    return key


def test_put_get_round_trip_keeps_bytes_and_metadata(store: RawStore) -> None:
    body = b'{"chart":{"result":[{"meta":{"symbol":"AAPL"}}],"error":null}}\n'
    key = put(
        store, "yahoo", dt.date(2024, 1, 2), "AAPL_2024-01-02.json", body, symbol="AAPL", synthetic="true"
    )
    obj = store.get(key)
    assert obj.body == body
    assert obj.metadata.http_status == 200
    assert obj.metadata.content_type == "application/json; charset=utf-8"
    assert obj.metadata.source_url == "https://api.example.test/yahoo?q=1&x=%5EGSPC"
    assert obj.metadata.fetched_at == dt.datetime(2024, 1, 3, 13, 5, 7, tzinfo=dt.UTC)
    assert obj.metadata.extra == {"symbol": "AAPL", "synthetic": "true"}
    assert store.head(key) == obj.metadata
    assert store.read(key) == body


def test_exists_list_and_overwrite(store: RawStore) -> None:
    day = dt.date(2024, 1, 2)
    a = put(store, "yahoo", day, "AAPL_2024-01-02.json", b"1")
    b = put(store, "yahoo", day, "MSFT_2024-01-02.json", b"2")
    c = put(store, "fred", day, "VIXCLS_2024-01-02.csv", b"observation_date,VIXCLS\n")
    assert store.exists(a) and not store.exists(raw_key("yahoo", day, "NOPE.json"))
    assert list(store.list("raw/yahoo/")) == [a, b]
    assert sorted(store.list()) == sorted([a, b, c])
    put(store, "yahoo", day, "AAPL_2024-01-02.json", b"replaced")
    assert store.get(a).body == b"replaced"
    assert list(store.list("raw/yahoo/")) == [a, b]


def test_listed_versions_change_with_the_bytes_only(store: RawStore) -> None:
    day = dt.date(2024, 1, 2)
    key = put(store, "fred", day, "VIXCLS_2024-01-02.csv", b"observation_date,VIXCLS\n")
    other = put(store, "fred", day, "DGS10_2024-01-02.csv", b"observation_date,DGS10\n")
    first = dict(store.list_versions())
    assert list(first) == sorted([key, other]) == list(store.list())
    put(store, "fred", day, "VIXCLS_2024-01-02.csv", b"observation_date,VIXCLS\n")
    same = dict(store.list_versions())
    put(store, "fred", day, "VIXCLS_2024-01-02.csv", b"observation_date,VIXCLS\n2024-01-02,13.2\n")
    changed = dict(store.list_versions())
    if isinstance(store, S3RawStore):
        # S3's ETag: the same for the same bytes, another for other bytes, per object.
        assert first[key] and first[key] != first[other]
        assert same == first
        assert changed[key] != first[key] and changed[other] == first[other]
    else:
        # The local token is a stat of the body file: any rewrite (a new file renamed into place)
        # changes it, even with the same bytes; the ETL then reads that one sidecar, as on a new ETag.
        assert first[key] and first[other] and first[key] != first[other]
        assert same[key] != first[key] and same[other] == first[other]
        assert changed[key] not in {first[key], same[key]} and changed[other] == first[other]


def test_the_local_listing_leaves_out_sidecars_temporary_files_and_other_prefixes(tmp_path: Path) -> None:
    store = LocalRawStore(tmp_path / "zone")
    day = dt.date(2024, 1, 2)
    key = put(store, "fred", day, "VIXCLS_2024-01-02.csv", b"x")
    yahoo = put(store, "yahoo", day, "AAPL_2024-01-02.json", b"{}")
    # A write interrupted before its rename leaves a temporary file beside the body.
    (tmp_path / "zone" / "raw" / "fred" / day.isoformat() / ".VIXCLS_2024-01-02.csv.abc.tmp").write_bytes(
        b"x"
    )
    assert [listed for listed, _ in store.list_versions()] == [key, yahoo] == list(store.list())
    assert [listed for listed, _ in store.list_versions("raw/yahoo/")] == [yahoo]
    assert list(store.list("raw/fred/2024-01-0")) == [key]


def test_listing_after_a_key_skips_older_date_partitions(store: RawStore) -> None:
    keys = [put(store, "fred", dt.date(2024, 1, day), f"DGS10_2024-01-0{day}.csv", b"x") for day in (1, 2, 3)]
    after = [key for key, _ in store.list_versions("raw/fred/", start_after="raw/fred/2024-01-02")]
    assert after == keys[1:]
    assert [key for key, _ in store.list_versions("raw/fred/", start_after=None)] == keys


def test_missing_object_is_a_clear_error(store: RawStore) -> None:
    with pytest.raises(RawObjectNotFound):
        store.get(raw_key("gdelt", dt.date(2024, 1, 2), "none.json"))
    with pytest.raises(RawObjectNotFound):
        store.head(raw_key("gdelt", dt.date(2024, 1, 2), "none.json"))
    with pytest.raises(RawObjectNotFound):
        store.read(raw_key("gdelt", dt.date(2024, 1, 2), "none.json"))


def test_put_refuses_a_key_outside_the_layout_or_a_wrong_hash(store: RawStore) -> None:
    metadata = make_metadata(b"x", source_url="u", http_status=200, content_type="text/plain")
    with pytest.raises(ValueError):
        store.put("elsewhere/file.json", b"x", metadata)
    with pytest.raises(ValueError, match="sha256"):
        store.put(raw_key("fred", dt.date(2024, 1, 2), "a.csv"), b"not x", metadata)


def test_local_store_leaves_no_partial_files(tmp_path: Path) -> None:
    store = LocalRawStore(tmp_path)
    key = put(store, "gdelt", dt.date(2024, 1, 2), "depression_2024-01-02.json", b"{}")
    files = sorted(p.name for p in (tmp_path / "raw" / "gdelt" / "2024-01-02").iterdir())
    assert files == ["depression_2024-01-02.json", "depression_2024-01-02.json.meta.json"]
    assert list(store.list()) == [key]


def test_settings_choose_the_store(monkeypatch: pytest.MonkeyPatch, isolated_environment: Path) -> None:
    local = open_raw_store(load_settings())
    assert isinstance(local, LocalRawStore)
    assert local.describe() == str(isolated_environment / "raw")
    monkeypatch.setenv("RAW_BUCKET", BUCKET)
    with mock_aws():
        remote = open_raw_store(load_settings())
        assert isinstance(remote, S3RawStore)
        assert remote.bucket == BUCKET
