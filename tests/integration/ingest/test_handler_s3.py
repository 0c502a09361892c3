"""The Lambda handler against moto S3 and the local API stand-in."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from lambda_src.handler import FINISH_SECONDS, IngestionFailed, InvalidEvent, handler
from lambda_src.ingestion.runner import NOT_ATTEMPTED
from pipeline.rawzone import S3RawStore
from tests.conftest import reset_settings_caches
from tests.integration.ingest.conftest import write_universe
from tests.support.fake_apis import FakeApis, fixture

BUCKET = "raw-zone-test"


@pytest.fixture
def bucket(monkeypatch: pytest.MonkeyPatch) -> Iterator[S3RawStore]:
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        monkeypatch.setenv("RAW_BUCKET", BUCKET)
        reset_settings_caches()
        yield S3RawStore(BUCKET, client)


def use_universe(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, *tickers: str) -> None:
    monkeypatch.setenv("PIPELINE_UNIVERSE", str(write_universe(tmp_path, *tickers)))
    reset_settings_caches()


@pytest.mark.usefixtures("no_pacing")
def test_handler_writes_objects_and_manifest_to_s3(
    fake_apis: FakeApis, bucket: S3RawStore, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    use_universe(monkeypatch, tmp_path, "AAPL")
    outcome = handler({"date": "2024-03-28", "sources": ["yahoo", "fred"]}, None)
    assert outcome["status"] == "success"
    assert outcome["written"] == 4  # AAPL, ^GSPC, VIXCLS, DGS10
    keys = set(bucket.list())
    assert "raw/yahoo/2024-03-28/AAPL_2024-03-28.json" in keys
    assert outcome["manifest"] in keys
    stored = bucket.get("raw/yahoo/2024-03-28/AAPL_2024-03-28.json")
    assert stored.body == fixture("yahoo/chart_aapl.json")
    assert stored.metadata.extra["symbol"] == "AAPL"
    assert stored.metadata.sha256 == json.loads(bucket.get(outcome["manifest"]).body)["written"][0]["sha256"]


@pytest.mark.usefixtures("no_pacing")
def test_handler_raises_after_writing_the_rest_when_a_symbol_fails(
    fake_apis: FakeApis, bucket: S3RawStore, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    use_universe(monkeypatch, tmp_path, "ZZZZ", "AAPL")
    with pytest.raises(IngestionFailed, match="failed yahoo ZZZZ"):
        handler({"date": "2024-03-28", "sources": ["yahoo"]}, None)
    keys = set(bucket.list())
    assert "raw/yahoo/2024-03-28/AAPL_2024-03-28.json" in keys
    [manifest_key] = [key for key in keys if key.startswith("raw/manifest/")]
    manifest = json.loads(bucket.get(manifest_key).body)
    assert manifest["status"] == "partial"
    assert [item["entity"] for item in manifest["failed"]] == ["ZZZZ"]


def test_handler_rejects_a_bad_event_before_fetching(fake_apis: FakeApis, bucket: S3RawStore) -> None:
    with pytest.raises(InvalidEvent, match="'date' must be a YYYY-MM-DD date"):
        handler({"date": "yesterday"}, None)
    assert fake_apis.paths() == []
    assert list(bucket.list()) == []


class LambdaContext:
    """The part of Lambda's context object the handler reads."""

    def __init__(self, remaining_seconds: float) -> None:
        self.remaining_seconds = remaining_seconds

    def get_remaining_time_in_millis(self) -> int:
        return int(self.remaining_seconds * 1000)


@pytest.mark.usefixtures("no_pacing")
def test_handler_stops_before_the_function_timeout_and_says_what_it_left(
    fake_apis: FakeApis, bucket: S3RawStore, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    use_universe(monkeypatch, tmp_path, "AAPL")
    event = {"date": "2024-03-28", "sources": ["yahoo", "fred"]}
    # Less time left than the manifest's reserve plus one request's timeouts: nothing is started ...
    too_short = LambdaContext(FINISH_SECONDS + 70.0 - 1.0)
    with pytest.raises(IngestionFailed, match="4 failed") as failed:
        handler(event, too_short)
    # The summary tells each reason once per source, naming what it left.
    assert f"failed fred VIXCLS, DGS10: {NOT_ATTEMPTED}" in str(failed.value)
    assert str(failed.value).count(NOT_ATTEMPTED) == 2
    assert fake_apis.paths() == []
    # ... and the manifest says so, written before the function's time is up.
    [manifest_key] = list(bucket.list())
    manifest = json.loads(bucket.get(manifest_key).body)
    assert {item["reason"] for item in manifest["failed"]} == {NOT_ATTEMPTED}

    # With the time a scheduled run has, everything is fetched.
    outcome = handler(event, LambdaContext(15 * 60))
    assert outcome["status"] == "success" and outcome["written"] == 4
