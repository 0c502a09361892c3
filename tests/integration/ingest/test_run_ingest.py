"""run_ingest against the local API stand-in: every object, the failures, the manifest, the waits."""

from __future__ import annotations

import datetime as dt
import json
import random
from pathlib import Path

import pytest

from lambda_src.ingestion import run_ingest
from lambda_src.ingestion.httpclient import RequestsTransport, RetryPolicy
from lambda_src.ingestion.runner import NOT_ATTEMPTED
from pipeline.catalog import DATA_SOURCES
from pipeline.rawzone import LocalRawStore
from pipeline.settings import load_settings
from tests.integration.ingest.conftest import write_universe
from tests.support.doubles import FakeClock
from tests.support.fake_apis import FakeApis, fixture

START, END, TODAY = dt.date(2024, 1, 2), dt.date(2024, 3, 28), dt.date(2024, 4, 2)

EXPECTED_KEYS = {
    "raw/yahoo/2024-01-02/AAPL_2024-03-28.json",
    "raw/yahoo/2024-01-02/FLAKY_2024-03-28.json",
    "raw/yahoo/2024-01-02/BUSY_2024-03-28.json",
    "raw/yahoo/2024-01-02/%5EGSPC_2024-03-28.json",
    "raw/open_meteo/2024-01-02/archive_2024-03-27.json",
    "raw/open_meteo/2024-03-28/forecast_2024-03-28.json",
    "raw/gdelt/2024-01-02/depression_2024-03-28.json",
    "raw/gdelt/2024-01-02/depression_tone_2024-03-28.json",
    "raw/fred/2024-01-02/VIXCLS_2024-03-28.csv",
    "raw/fred/2024-01-02/DGS10_2024-03-28.csv",
}


def ingest(tmp_path: Path, clock: FakeClock, **options):
    settings = load_settings(pipeline_universe=write_universe(tmp_path, "AAPL", "ZZZZ", "FLAKY", "BUSY"))
    store = LocalRawStore(tmp_path / "zone")
    result = run_ingest(
        settings,
        store,
        sources=DATA_SOURCES,
        start=START,
        end=END,
        today=TODAY,
        clock=clock,
        transport_factory=lambda source: RequestsTransport(),
        retry_policy=RetryPolicy(jitter_seconds=0.0, rng=random.Random(1)),
        **options,
    )
    return result, store


def test_a_failing_symbol_lets_everything_else_be_written(
    fake_apis: FakeApis, tmp_path: Path, clock: FakeClock
) -> None:
    result, store = ingest(tmp_path, clock)

    assert result.exit_code == 1
    assert result.status == "partial"
    assert {item.key for item in result.written} == EXPECTED_KEYS
    assert [(item.source, item.entity) for item in result.failed] == [("yahoo", "ZZZZ")]
    assert "HTTP 404" in result.failed[0].reason and "symbol may be delisted" in result.failed[0].reason
    assert "failed yahoo ZZZZ" in result.summary()
    stored = store.get("raw/yahoo/2024-01-02/AAPL_2024-03-28.json")
    assert stored.body == fixture("yahoo/chart_aapl.json")  # verbatim
    assert stored.metadata.http_status == 200
    assert stored.metadata.source_url.endswith("/AAPL?period1=1704153600&period2=1711670400&interval=1d")
    assert stored.metadata.extra == {
        "symbol": "AAPL",
        "window_start": "2024-01-02",
        "window_end": "2024-03-28",
    }
    weather = store.get("raw/open_meteo/2024-01-02/archive_2024-03-27.json")
    assert len(json.loads(weather.body)) == 50
    assert weather.metadata.extra["endpoint"] == "archive"


def test_manifest_is_written_last_and_says_what_failed(
    fake_apis: FakeApis, tmp_path: Path, clock: FakeClock
) -> None:
    result, store = ingest(tmp_path, clock)
    manifest = json.loads(store.get(result.manifest_key).body)
    assert result.manifest_key == f"raw/manifest/2024-04-02/{result.run_id}.json"
    assert manifest["status"] == "partial" and manifest["kind"] == "ingest" and manifest["synthetic"] is False
    assert manifest["window"] == {"start": "2024-01-02", "end": "2024-03-28"}
    assert manifest["sources"] == list(DATA_SOURCES)
    assert {item["key"] for item in manifest["written"]} == EXPECTED_KEYS
    [failure] = manifest["failed"]
    assert failure["source"] == "yahoo" and failure["entity"] == "ZZZZ"
    assert failure["url"].endswith("/yahoo/chart/ZZZZ?period1=1704153600&period2=1711670400&interval=1d")


def test_waits_are_exactly_pacing_backoff_and_retry_after(
    fake_apis: FakeApis, tmp_path: Path, clock: FakeClock
) -> None:
    ingest(tmp_path, clock)
    weather_weight = 50 * 86 * 3 / 140  # the archive window 2024-01-02..2024-03-27
    assert clock.sleeps == pytest.approx(
        [
            # Sources shortest first: FRED (2 x 1 s), Yahoo (5 x 1 s), GDELT (2 x 5 s), Open-Meteo (weight).
            1.0,  # FRED DGS10: 1 s after VIXCLS
            1.0,  # yahoo ZZZZ: 1 s after AAPL
            1.0,  # FLAKY: 1 s after ZZZZ
            1.0,  # FLAKY's HTTP 500: first backoff (no jitter); the pacer then owes nothing
            1.0,  # BUSY: 1 s after FLAKY's retry
            1.0,  # BUSY's 429: Retry-After 1
            1.0,  # ^GSPC: 1 s after BUSY's retry
            1.0,  # GDELT's throttle text: first backoff
            4.0,  # ...and the pacer makes it 5 s since the throttled request
            5.0,  # the tone: 5 s after the volume
            weather_weight * 60 / 500,  # forecast request waits for the archive request's weight
        ]
    )


def test_rerun_skips_complete_windows_and_force_fetches_again(fake_apis: FakeApis, tmp_path: Path) -> None:
    ingest(tmp_path, FakeClock())
    calls_before = len(fake_apis.paths())
    again, _ = ingest(tmp_path, FakeClock())
    new_paths = fake_apis.paths()[calls_before:]
    # Only the failed symbol and the provisional forecast window are fetched again.
    assert sorted(new_paths) == ["/open-meteo/forecast", "/yahoo/chart/ZZZZ"]
    assert {item.key for item in again.written} == {"raw/open_meteo/2024-03-28/forecast_2024-03-28.json"}
    assert len(again.skipped) == len(EXPECTED_KEYS) - 1
    forced, _ = ingest(tmp_path, FakeClock(), force=True)
    assert {item.key for item in forced.written} == EXPECTED_KEYS


def test_every_request_identifies_itself(
    fake_apis: FakeApis, tmp_path: Path, clock: FakeClock, monkeypatch
) -> None:
    seen: list[tuple[str, str]] = []
    original = RequestsTransport.get

    def spy(self, url, params, headers, timeout):
        seen.append((url, headers["User-Agent"]))
        assert timeout == (10.0, 60.0)
        return original(self, url, params, headers, timeout)

    monkeypatch.setattr(RequestsTransport, "get", spy)
    ingest(tmp_path, clock)
    yahoo_agents = {agent for url, agent in seen if "/yahoo/" in url}
    other_agents = {agent for url, agent in seen if "/yahoo/" not in url}
    assert len(yahoo_agents) == 1 and next(iter(yahoo_agents)).startswith("Mozilla/5.0")
    assert other_agents == {"market-weather-pipeline/0.1 (open-data ingestion; python)"}


def test_an_unplannable_source_fails_alone(fake_apis: FakeApis, tmp_path: Path, clock: FakeClock) -> None:
    settings = load_settings(pipeline_universe=write_universe(tmp_path, "AAPL"))
    (tmp_path / "universe.csv").write_text("symbol,company\nAAPL,Apple\n")  # broken after validation
    result = run_ingest(
        settings,
        LocalRawStore(tmp_path / "zone"),
        sources=("yahoo", "fred"),
        start=START,
        end=END,
        today=TODAY,
        clock=clock,
        transport_factory=lambda source: RequestsTransport(),
    )
    assert [(item.source, item.entity) for item in result.failed] == [("yahoo", "*")]
    assert "expected columns ticker,name,sector,industry" in result.failed[0].reason
    assert {item.source for item in result.written} == {"fred"}
    assert result.exit_code == 1


def test_a_run_that_reaches_its_deadline_records_the_rest_and_a_rerun_fetches_only_that(
    fake_apis: FakeApis, tmp_path: Path
) -> None:
    settings = load_settings(pipeline_universe=write_universe(tmp_path, "AAPL"))
    store = LocalRawStore(tmp_path / "zone")

    def run(clock: FakeClock, deadline: float | None):
        return run_ingest(
            settings,
            store,
            sources=("yahoo", "fred"),
            start=START,
            end=END,
            today=TODAY,
            clock=clock,
            transport_factory=lambda source: RequestsTransport(),
            deadline=deadline,
        )

    # Yahoo (2 requests, 1 s apart) and then FRED (2 requests; a tie keeps the plan's order); each
    # request may take its two timeouts (70 s). A deadline at 71.5 s leaves time to start requests until
    # 1.5 s: AAPL (0 s), ^GSPC and VIXCLS (1 s); DGS10 would start at 2 s.
    cut = run(FakeClock(), deadline=70.0 + 1.5)
    assert [item.key.split("/")[-1] for item in cut.written] == [
        "AAPL_2024-03-28.json",
        "%5EGSPC_2024-03-28.json",
        "VIXCLS_2024-03-28.csv",
    ]
    assert [(item.source, item.entity, item.reason) for item in cut.failed] == [
        ("fred", "DGS10", NOT_ATTEMPTED)
    ]
    assert cut.exit_code == 1
    manifest = json.loads(store.get(cut.manifest_key).body)
    assert [item["entity"] for item in manifest["failed"]] == ["DGS10"]
    assert len(fake_apis.paths()) == 3  # DGS10 was never sent

    rerun = run(FakeClock(), deadline=None)
    assert [item.key.split("/")[-1] for item in rerun.written] == ["DGS10_2024-03-28.csv"]
    assert len(rerun.skipped) == 3 and rerun.exit_code == 0
