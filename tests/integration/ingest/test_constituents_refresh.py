"""`--source constituents` end to end: Wikipedia (through `responses`) to the raw zone and the universe."""

from __future__ import annotations

import datetime as dt
import json
import random
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
import responses
from moto import mock_aws

from cli.main import run_cli
from lambda_src.handler import handler
from lambda_src.ingestion import run_ingest, runner
from lambda_src.ingestion.httpclient import PROJECT_USER_AGENT, RequestsTransport, RetryPolicy
from pipeline.rawzone import LocalRawStore, S3RawStore, sha256_hex
from pipeline.reference import load_universe
from pipeline.settings import DEFAULT_UNIVERSE, Settings, load_settings
from tests.conftest import reset_settings_caches
from tests.integration.ingest.conftest import constituents_page
from tests.support.doubles import FakeClock
from tests.support.fake_apis import fixture

WIKI_URL = "http://wiki.test/wiki/List_of_S%26P_500_companies"
FRED_URL = "http://fred.test/graph/fredgraph.csv"
HTML_UTF8 = "text/html; charset=UTF-8"
DAY, TODAY = dt.date(2024, 3, 28), dt.date(2024, 4, 2)
SNAPSHOT_KEY = "raw/constituents/2024-04-02/sp500.html"
SHIPPED = DEFAULT_UNIVERSE.read_bytes()
FULL_PAGE = constituents_page(load_universe(DEFAULT_UNIVERSE))


@pytest.fixture
def mocked() -> Iterator[responses.RequestsMock]:
    """Every `requests` call answered by `responses`; a registered answer never asked for fails the test."""
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


def serve_page(
    mocked: responses.RequestsMock, body: bytes = FULL_PAGE, status: int = 200, content_type: str = HTML_UTF8
) -> None:
    mocked.add(responses.GET, WIKI_URL, body=body, status=status, content_type=content_type)


def serve_fred(mocked: responses.RequestsMock) -> None:
    mocked.add(responses.GET, FRED_URL, body=fixture("fred/VIXCLS.csv"), content_type="text/csv")


def settings_for(home: Path, **overrides: object) -> Settings:
    return load_settings(
        pipeline_home=home,
        wikipedia_constituents_url=WIKI_URL,
        fred_graph_url=FRED_URL,
        pipeline_fred_series="VIXCLS",
        **overrides,
    )


def ingest(settings: Settings, store: LocalRawStore, *sources: str, clock: FakeClock | None = None):
    return run_ingest(
        settings,
        store,
        sources=sources,
        start=DAY,
        end=DAY,
        today=TODAY,
        clock=clock or FakeClock(),
        transport_factory=lambda source: RequestsTransport(),
        retry_policy=RetryPolicy(jitter_seconds=0.0, rng=random.Random(1)),
    )


def test_the_page_is_kept_verbatim_and_the_universe_written_under_pipeline_home(
    mocked: responses.RequestsMock, isolated_environment: Path
) -> None:
    serve_page(mocked)
    store = LocalRawStore(isolated_environment)

    result = ingest(settings_for(isolated_environment), store, "constituents")

    assert result.exit_code == 0 and result.failed == []
    assert [item.key for item in result.written] == [SNAPSHOT_KEY]
    snapshot = store.get(SNAPSHOT_KEY)
    assert snapshot.body == FULL_PAGE
    assert snapshot.metadata.source_url == WIKI_URL
    assert (snapshot.metadata.http_status, snapshot.metadata.content_type) == (200, HTML_UTF8)
    assert snapshot.metadata.sha256 == sha256_hex(FULL_PAGE)
    manifest = json.loads(store.get(result.manifest_key).body)
    assert manifest["written"] == [
        {"key": SNAPSHOT_KEY, "source": "constituents", "sha256": sha256_hex(FULL_PAGE)}
    ]
    # The page built from the shipped universe gives the shipped universe back, byte for byte.
    refreshed = isolated_environment / "universe.csv"
    assert refreshed.read_bytes() == SHIPPED
    assert DEFAULT_UNIVERSE.read_bytes() == SHIPPED  # the packaged file is never rewritten
    assert f"set PIPELINE_UNIVERSE={refreshed.resolve()} to use it" in result.summary()
    assert "wrote 503 companies" in result.summary()
    assert mocked.calls[0].request.headers["User-Agent"] == PROJECT_USER_AGENT


def test_a_universe_outside_the_package_is_updated_in_place(
    mocked: responses.RequestsMock, isolated_environment: Path, tmp_path: Path
) -> None:
    serve_page(mocked)
    own = tmp_path / "my-universe.csv"
    own.write_text("ticker,name,sector,industry\nOLD,Old Co,Energy,Integrated Oil & Gas\n")

    result = ingest(
        settings_for(isolated_environment, pipeline_universe=own),
        LocalRawStore(tmp_path / "zone"),
        "constituents",
    )

    assert result.exit_code == 0
    assert own.read_bytes() == SHIPPED
    assert not (isolated_environment / "universe.csv").exists()
    assert f"universe: updated {own.resolve()} (503 companies)" in result.summary()
    assert "set PIPELINE_UNIVERSE" not in result.summary()


def test_a_403_is_a_failure_with_its_reason_and_other_sources_still_run(
    mocked: responses.RequestsMock, isolated_environment: Path
) -> None:
    serve_page(mocked, fixture("wikipedia/forbidden_user_agent.txt"), status=403, content_type="text/plain")
    serve_fred(mocked)
    store = LocalRawStore(isolated_environment)

    result = ingest(settings_for(isolated_environment), store, "constituents", "fred")

    assert result.exit_code == 1 and result.status == "partial"
    [failure] = result.failed
    assert (failure.source, failure.entity, failure.url) == ("constituents", "sp500", WIKI_URL)
    assert "HTTP 403: Please set a user-agent and respect our robot policy" in failure.reason
    assert len([call for call in mocked.calls if call.request.url == WIKI_URL]) == 1  # a 403 is not retried
    assert {item.source for item in result.written} == {"fred"}
    assert not store.exists(SNAPSHOT_KEY)
    assert not (isolated_environment / "universe.csv").exists()
    manifest = json.loads(store.get(result.manifest_key).body)
    assert manifest["failed"][0]["source"] == "constituents" and "HTTP 403" in manifest["failed"][0]["reason"]
    assert "failed constituents sp500: HTTP 403" in result.summary()


def test_a_wikimedia_error_page_is_retried_then_recorded(
    mocked: responses.RequestsMock, isolated_environment: Path
) -> None:
    serve_page(mocked, fixture("wikipedia/wikimedia_error.html"), status=503)
    serve_fred(mocked)
    clock = FakeClock()

    result = ingest(
        settings_for(isolated_environment),
        LocalRawStore(isolated_environment),
        "constituents",
        "fred",
        clock=clock,
    )

    [failure] = result.failed
    assert "HTTP 503" in failure.reason and "Wikimedia Error" in failure.reason
    assert "after 4 attempt(s)" in failure.reason
    assert clock.sleeps[:3] == [1.0, 2.0, 4.0]  # backoff between the four attempts
    assert {item.source for item in result.written} == {"fred"}


def test_a_page_whose_table_shrank_is_refused_and_the_universe_kept(
    mocked: responses.RequestsMock, isolated_environment: Path, tmp_path: Path
) -> None:
    serve_page(mocked, fixture("wikipedia/sp500_constituents.html"))  # a real layout, but only 12 rows
    own = tmp_path / "my-universe.csv"
    own.write_bytes(SHIPPED)
    store = LocalRawStore(isolated_environment)

    result = ingest(settings_for(isolated_environment, pipeline_universe=own), store, "constituents")

    [failure] = result.failed
    assert "only 12 companies in the constituents table (at least 400 expected)" in failure.reason
    assert len(mocked.calls) == 1  # a changed layout is not retried
    assert own.read_bytes() == SHIPPED
    assert not store.exists(SNAPSHOT_KEY)
    assert result.exit_code == 1


def test_a_universe_that_cannot_be_written_is_a_failure_and_the_snapshot_stays(
    mocked: responses.RequestsMock, isolated_environment: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    serve_page(mocked)
    store = LocalRawStore(isolated_environment)

    def disk_full(path: Path, companies: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(runner, "save_universe", disk_full)
    result = ingest(settings_for(isolated_environment), store, "constituents")

    [failure] = result.failed
    assert (failure.source, failure.entity) == ("constituents", "universe")
    assert "universe not written" in failure.reason and "No space left" in failure.reason
    assert result.status == "partial" and store.exists(SNAPSHOT_KEY)
    assert json.loads(store.get(result.manifest_key).body)["failed"][0]["entity"] == "universe"


def test_with_raw_bucket_set_only_the_snapshot_is_written(
    mocked: responses.RequestsMock, isolated_environment: Path
) -> None:
    serve_page(mocked)
    store = LocalRawStore(isolated_environment)

    result = ingest(settings_for(isolated_environment, raw_bucket="raw-zone-test"), store, "constituents")

    assert result.exit_code == 0
    assert store.exists(SNAPSHOT_KEY)
    assert not (isolated_environment / "universe.csv").exists()
    assert "universe: not changed (RAW_BUCKET is set)" in result.summary()


def test_the_lambda_keeps_the_snapshot_in_s3(
    monkeypatch: pytest.MonkeyPatch, isolated_environment: Path
) -> None:
    monkeypatch.setenv("WIKIPEDIA_CONSTITUENTS_URL", WIKI_URL)
    monkeypatch.setenv("RAW_BUCKET", "raw-zone-test")
    reset_settings_caches()
    # moto routes `requests` through its own `responses` mock: ours must start inside it to take over.
    with mock_aws(), responses.RequestsMock(assert_all_requests_are_fired=True) as mocked:
        serve_page(mocked)
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket="raw-zone-test")
        outcome = handler({"sources": ["constituents"], "date": "2024-03-28"}, None)
        store = S3RawStore("raw-zone-test", client)
        [snapshot_key] = list(store.list("raw/constituents/"))
        assert store.get(snapshot_key).body == FULL_PAGE
    assert outcome["status"] == "success" and outcome["written"] == 1
    assert snapshot_key.endswith("/sp500.html")
    assert not (isolated_environment / "universe.csv").exists()


@pytest.mark.usefixtures("no_pacing")
def test_cli_tells_the_user_how_to_use_the_refreshed_universe(
    mocked: responses.RequestsMock,
    monkeypatch: pytest.MonkeyPatch,
    isolated_environment: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    serve_page(mocked)
    monkeypatch.setenv("WIKIPEDIA_CONSTITUENTS_URL", WIKI_URL)
    reset_settings_caches()

    assert run_cli(["ingest", "--source", "constituents"]) == 0

    refreshed = (isolated_environment / "universe.csv").resolve()
    out = capsys.readouterr().out
    assert "success: 1 written" in out
    assert f"universe: wrote 503 companies to {refreshed}; set PIPELINE_UNIVERSE={refreshed} to use it" in out
    # Following the advice: the next refresh updates that file in place.
    monkeypatch.setenv("PIPELINE_UNIVERSE", str(refreshed))
    reset_settings_caches()
    assert run_cli(["ingest", "--source", "constituents"]) == 0
    assert f"universe: updated {refreshed} (503 companies)" in capsys.readouterr().out
    assert "BRK-B" in [company.ticker for company in load_universe(refreshed)]
