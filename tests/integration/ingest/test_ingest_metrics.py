"""The ingestion's structured lines against the local API stand-in: requests, retries, throttles and
failures per source, one line per shard."""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path

import pytest

from lambda_src.ingestion import run_ingest
from lambda_src.ingestion.httpclient import RequestsTransport, RetryPolicy
from pipeline.catalog import DATA_SOURCES
from pipeline.rawzone import LocalRawStore
from pipeline.settings import load_settings
from tests.integration.ingest.conftest import write_universe
from tests.support.doubles import FakeClock
from tests.support.fake_apis import FakeApis
from tests.support.telemetry import metric_lines, metric_names, of_event

START, END, TODAY = dt.date(2024, 1, 2), dt.date(2024, 3, 28), dt.date(2024, 4, 2)


def test_each_shard_reports_its_requests_retries_throttles_and_failures(
    fake_apis: FakeApis, tmp_path: Path, clock: FakeClock, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given ZZZZ (Yahoo's 404 error object), FLAKY (one 500), BUSY (one 429) and GDELT throttling once.
    settings = load_settings(
        pipeline_universe=write_universe(tmp_path, "AAPL", "ZZZZ", "FLAKY", "BUSY"),
        pipeline_metrics_namespace="MarketWeatherPipeline/test",
    )
    result = run_ingest(
        settings,
        LocalRawStore(tmp_path / "zone"),
        sources=DATA_SOURCES,
        start=START,
        end=END,
        today=TODAY,
        clock=clock,
        transport_factory=lambda source: RequestsTransport(),
        retry_policy=RetryPolicy(jitter_seconds=0.0, rng=random.Random(1)),
    )
    shards = of_event(metric_lines(capsys.readouterr().out), "ingest_shard")
    assert len(shards) == result.shards
    by_source = {line["Source"]: line for line in shards}
    assert sorted(by_source) == sorted(DATA_SOURCES)
    for line in shards:
        assert line["run_id"] == result.run_id and line["shards"] == result.shards
        assert metric_names(line) == [
            "Requests",
            "Retries",
            "Throttles",
            "Failures",
            "ObjectsWritten",
            "ShardSeconds",
        ]

    yahoo = by_source["yahoo"]
    # AAPL, ZZZZ, FLAKY twice, BUSY twice, ^GSPC: 7 attempts, 2 retries, 1 throttle, ZZZZ failed.
    assert (yahoo["Requests"], yahoo["Retries"], yahoo["Throttles"], yahoo["Failures"]) == (7, 2, 1, 1)
    assert yahoo["ObjectsWritten"] == 4 and yahoo["status"] == "partial"
    assert yahoo["requests_given_up"] == 1 and yahoo["failed"][0].startswith("ZZZZ: ")

    gdelt = by_source["gdelt"]
    # The volume (throttled once, then answered) and the tone.
    assert (gdelt["Requests"], gdelt["Retries"], gdelt["Throttles"], gdelt["Failures"]) == (3, 1, 1, 0)
    fred = by_source["fred"]
    assert (fred["Requests"], fred["Retries"], fred["Throttles"], fred["Failures"]) == (2, 0, 0, 0)
