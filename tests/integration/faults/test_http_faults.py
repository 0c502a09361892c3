"""Faults at the HTTP surface: hostile servers on 127.0.0.1 against the real transports and checks.

Each fault is refused with one line naming what went wrong; a run that meets them still stores every
good response and writes its manifest, and a re-run against healthy servers repairs everything.
"""

from __future__ import annotations

import datetime as dt
import json
import random
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lambda_src.ingestion import fred, gdelt, open_meteo, run_ingest, yahoo
from lambda_src.ingestion.bodies import MAX_BODY_BYTES
from lambda_src.ingestion.httpclient import (
    CurlCffiTransport,
    HttpResponse,
    InvalidResponse,
    RequestsTransport,
    RetryPolicy,
    Transport,
    TransportError,
)
from pipeline.catalog import DATA_SOURCES
from pipeline.rawzone import LocalRawStore
from pipeline.settings import load_settings
from tests.conftest import reset_settings_caches
from tests.integration.faults.hostile_http import BOMB_GIB, hostile_server
from tests.integration.ingest.conftest import write_universe
from tests.support.doubles import FakeClock
from tests.support.fake_apis import FakeApis, fixture

SMALL_LIMIT = 4 * 1024 * 1024
SHORT_DEADLINE = 2.0
TRANSPORTS: dict[str, Callable[[], Transport]] = {
    "requests": lambda: RequestsTransport(max_body_bytes=SMALL_LIMIT, deadline_seconds=SHORT_DEADLINE),
    "curl_cffi": lambda: CurlCffiTransport(max_body_bytes=SMALL_LIMIT, deadline_seconds=SHORT_DEADLINE),
}
TIMEOUT = (5.0, 30.0)


def get(transport: Transport, url: str) -> HttpResponse:
    return transport.get(url, {}, {"User-Agent": "test"}, TIMEOUT)


@pytest.fixture(scope="module")
def server():
    with hostile_server() as (base, completed):
        yield base, completed


@pytest.mark.parametrize("name", TRANSPORTS)
@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
def test_a_compression_bomb_is_refused_early_without_inflating_it(server, name: str, encoding: str) -> None:
    base, completed = server
    with pytest.raises(TransportError) as refused:
        get(TRANSPORTS[name](), f"{base}/bomb/{encoding}")

    assert "MAX_BODY_BYTES" in str(refused.value) and f"{SMALL_LIMIT:,} bytes" in str(refused.value)
    assert not refused.value.retryable, "a bomb is refused, not fetched again"
    # The client stopped reading long before the 16 MB carrying 16 GiB were sent.
    assert completed.wait(f"/bomb/{encoding}") is False, f"{BOMB_GIB} GiB bomb was read whole"


def test_the_default_limit_is_named_and_generous() -> None:
    assert RequestsTransport().max_body_bytes == MAX_BODY_BYTES >= 32 * 1024 * 1024


@pytest.mark.parametrize("name", TRANSPORTS)
def test_a_dripping_server_is_cut_at_the_overall_deadline(server, name: str) -> None:
    base, _ = server
    with pytest.raises(TransportError) as cut:
        get(TRANSPORTS[name](), f"{base}/drip")

    reason = str(cut.value)
    assert "REQUEST_DEADLINE_SECONDS" in reason and f"{SHORT_DEADLINE:.0f} s" in reason
    assert cut.value.retryable


@pytest.mark.parametrize("name", TRANSPORTS)
@pytest.mark.parametrize("path", ["/short", "/chunked-cut"])
def test_a_body_shorter_than_declared_is_an_error_not_a_shorter_success(server, name: str, path: str) -> None:
    base, _ = server
    with pytest.raises(TransportError) as cut:
        get(TRANSPORTS[name](), f"{base}{path}")

    if name == "requests" and path == "/short":
        assert "500 of 1000 declared bytes received" in str(cut.value)


@pytest.mark.parametrize(
    ("path", "check", "expected"),
    [
        ("/fred-cut", lambda r: fred.check_csv(r, "VIXCLS"), "ends mid-line"),
        ("/json-cut", yahoo.check_chart, "not valid JSON"),
        ("/html", yahoo.check_chart, "HTML page instead of JSON"),
        ("/html", lambda r: fred.check_csv(r, "VIXCLS"), "not CSV"),
    ],
)
def test_a_body_ended_by_a_close_is_judged_by_its_format(server, path: str, check, expected: str) -> None:
    base, _ = server
    response = get(TRANSPORTS["requests"](), f"{base}{path}")

    with pytest.raises(InvalidResponse) as refused:
        check(response)
    assert expected in refused.value.reason and refused.value.retryable


# --- a whole run meeting hostile servers ----------------------------------------------------------

START, END, TODAY = dt.date(2024, 1, 2), dt.date(2024, 3, 28), dt.date(2024, 4, 2)


def _run(tmp_path: Path, store: LocalRawStore):
    settings = load_settings(pipeline_universe=write_universe(tmp_path, "AAPL"))
    return run_ingest(
        settings,
        store,
        sources=DATA_SOURCES,
        start=START,
        end=END,
        today=TODAY,
        clock=FakeClock(),
        transport_factory=lambda source: TRANSPORTS["requests"](),
        retry_policy=RetryPolicy(attempts=2, jitter_seconds=0.0, rng=random.Random(1)),
    )


def test_a_run_meeting_hostile_servers_keeps_the_good_responses_and_a_re_run_repairs(
    server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    base, _ = server
    store = LocalRawStore(tmp_path / "zone")
    with FakeApis() as apis:
        for name, value in apis.environment().items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("FRED_GRAPH_URL", f"{base}/fred-cut")
        monkeypatch.setenv("GDELT_DOC_URL", f"{base}/drip")
        monkeypatch.setenv("OPEN_METEO_ARCHIVE_URL", f"{base}/bomb/gzip")
        reset_settings_caches()
        hostile = _run(tmp_path, store)

        manifest = json.loads(store.get(hostile.manifest_key).body)
        failed = {(item["source"], item["entity"]): item["reason"] for item in manifest["failed"]}
        assert set(failed) == {
            ("fred", "VIXCLS"),
            ("fred", "DGS10"),
            ("gdelt", "depression"),
            ("gdelt", "depression (tone)"),
            ("open_meteo", "archive"),
        }
        assert "ends mid-line" in failed[("fred", "VIXCLS")]
        assert "REQUEST_DEADLINE_SECONDS" in failed[("gdelt", "depression")]
        assert "REQUEST_DEADLINE_SECONDS" in failed[("gdelt", "depression (tone)")]
        assert "MAX_BODY_BYTES" in failed[("open_meteo", "archive")]
        assert all("\n" not in reason for reason in failed.values())
        assert manifest["status"] == "partial" and hostile.exit_code == 1
        # Nothing fetched before or after a fault is lost, and nothing incomplete is stored.
        assert {item["source"] for item in manifest["written"]} == {"yahoo", "open_meteo"}
        assert not store.exists("raw/fred/2024-01-02/VIXCLS_2024-03-28.csv")
        for line in hostile.summary().splitlines()[1:-1]:
            assert line.startswith("  failed ")

        for name, value in apis.environment().items():
            monkeypatch.setenv(name, value)
        reset_settings_caches()
        repaired = _run(tmp_path, store)

    assert repaired.exit_code == 0
    assert store.get("raw/fred/2024-01-02/VIXCLS_2024-03-28.csv").body == fixture("fred/VIXCLS.csv")
    assert store.exists("raw/gdelt/2024-01-02/depression_2024-03-28.json")
    assert store.get("raw/gdelt/2024-01-02/depression_tone_2024-03-28.json").body == fixture(
        "gdelt/tone_day.json"
    )
    assert store.exists("raw/open_meteo/2024-01-02/archive_2024-03-27.json")


def test_an_unexpected_error_in_one_request_still_writes_the_manifest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def exhausted(response: HttpResponse, series_id: str) -> None:
        raise MemoryError("cannot allocate")

    monkeypatch.setattr(fred, "check_csv", exhausted)
    store = LocalRawStore(tmp_path / "zone")
    with FakeApis() as apis:
        for name, value in apis.environment().items():
            monkeypatch.setenv(name, value)
        reset_settings_caches()
        result = _run(tmp_path, store)

    manifest = json.loads(store.get(result.manifest_key).body)
    reasons = {item["entity"]: item["reason"] for item in manifest["failed"]}
    assert reasons == {
        "VIXCLS": "unexpected error: MemoryError: cannot allocate",
        "DGS10": "unexpected error: MemoryError: cannot allocate",
    }
    assert {item["source"] for item in manifest["written"]} == {"yahoo", "open_meteo", "gdelt"}


# --- generated bodies through the response checks --------------------------------------------------

CHECKS = {
    "yahoo": ("yahoo/chart_aapl.json", "application/json", yahoo.check_chart),
    "open_meteo": (
        "open_meteo/archive_two_locations.json",
        "application/json",
        lambda r: open_meteo.check_daily(r, 2),
    ),
    "gdelt": ("gdelt/timeline_day.json", "application/json", gdelt.check_timeline),
    "gdelt_tone": ("gdelt/tone_15min.json", "application/json", gdelt.check_timeline),
    "fred": ("fred/VIXCLS.csv", "text/csv", lambda r: fred.check_csv(r, "VIXCLS")),
}


def _complete(source: str, body: bytes) -> None:
    """What an accepted body must be: a whole JSON document, or a CSV of whole ``date,value`` lines."""
    if source != "fred":
        document = json.loads(body)
        if source.startswith("gdelt") and document.get("timeline"):
            assert isinstance(document["timeline"][0].get("data", []), list)
        return
    assert body.endswith(b"\n")
    for line in body.decode("utf-8-sig").splitlines()[1:]:
        if line:
            day, value = line.split(",")
            dt.date.fromisoformat(day)
            assert value in ("", ".") or float(value) == float(value)


@st.composite
def damaged(draw: st.DrawFn, source: str) -> bytes:
    body = fixture(CHECKS[source][0])
    cut = draw(st.integers(0, len(body)))
    damaged_body = bytearray(body[:cut])
    for _ in range(draw(st.integers(0, 3))):
        if damaged_body:
            position = draw(st.integers(0, len(damaged_body) - 1))
            damaged_body[position] = draw(st.integers(0, 255))
    return bytes(damaged_body)


@pytest.mark.parametrize("source", CHECKS)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_a_truncated_or_mutated_body_is_accepted_whole_or_refused_with_a_reason(source: str, data) -> None:
    _, content_type, check = CHECKS[source]
    body = data.draw(damaged(source))
    response = HttpResponse("http://api.test/x", 200, {"content-type": content_type}, body)
    try:
        check(response)
    except InvalidResponse as refused:
        assert refused.reason and "\n" not in refused.reason
        return
    _complete(source, body)
