"""The sample generator: deterministic bytes, seamless continuation, and the real APIs' formats."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from lambda_src.ingestion import fred, gdelt, open_meteo, yahoo
from lambda_src.ingestion.httpclient import HttpResponse
from lambda_src.ingestion.plan import Window
from pipeline.market_time import MARKET_TIME_ZONE
from pipeline.rawzone import LocalRawStore, parse_raw_key
from pipeline.reference import load_universe
from pipeline.settings import load_settings
from pipeline.trading_calendar import is_trading_day
from sample_data.generator import write_sample
from sample_data.news import gdelt_body, gdelt_tone_body

D = dt.date
UNIVERSE = """ticker,name,sector,industry
AAPL,Apple Inc.,Information Technology,"Technology Hardware, Storage & Peripherals"
MSFT,Microsoft,Information Technology,Systems Software
JPM,JPMorgan Chase,Financials,Diversified Banks
XOM,ExxonMobil,Energy,Integrated Oil & Gas
BRK-B,Berkshire Hathaway,Financials,Multi-Sector Holdings
"""


@pytest.fixture
def settings(tmp_path: Path):
    universe = tmp_path / "universe.csv"
    universe.write_text(UNIVERSE)
    return load_settings(pipeline_universe=universe)


def sample(settings, root: Path, **arguments) -> LocalRawStore:
    store = LocalRawStore(root)
    write_sample(settings, store, progress=False, **{"tickers": 3, "seed": 7, **arguments})
    return store


def bodies(store: LocalRawStore) -> dict[str, bytes]:
    return {key: store.get(key).body for key in store.list()}


def bars(store: LocalRawStore, symbol: str) -> dict[dt.date, tuple]:
    """Every bar of every Yahoo object of `symbol`, by New York date, up to each window's end."""
    found: dict[dt.date, tuple] = {}
    for key in store.list("raw/yahoo/"):
        obj = store.get(key)
        if obj.metadata.extra["symbol"] != symbol:
            continue
        result = json.loads(obj.body)["chart"]["result"][0]
        quote = result["indicators"]["quote"][0]
        window_end = D.fromisoformat(obj.metadata.extra["window_end"])
        for index, stamp in enumerate(result.get("timestamp", [])):
            day = dt.datetime.fromtimestamp(stamp, MARKET_TIME_ZONE).date()
            if day <= window_end:
                found[day] = tuple(
                    quote[field][index] for field in ("open", "high", "low", "close", "volume")
                )
    return found


def csv_lines(store: LocalRawStore, series_id: str) -> list[str]:
    key = next(key for key in store.list("raw/fred/") if f"/{series_id}_" in key)
    return store.get(key).body.decode().splitlines()


def test_same_seed_same_bytes_other_seed_other_prices(settings, tmp_path: Path) -> None:
    first = bodies(sample(settings, tmp_path / "a", days=30, end=D(2024, 3, 28)))
    second = bodies(sample(settings, tmp_path / "b", days=30, end=D(2024, 3, 28)))
    other = bodies(sample(settings, tmp_path / "c", days=30, end=D(2024, 3, 28), seed=8))
    assert first == second
    data_keys = {key for key in first if not key.startswith("raw/manifest/")}
    assert data_keys <= other.keys()
    yahoo_key = next(key for key in data_keys if "/AAPL_" in key)
    assert first[yahoo_key] != other[yahoo_key]


def test_next_day_sample_continues_without_a_jump(settings, tmp_path: Path) -> None:
    day = D(2024, 3, 27)
    before = sample(settings, tmp_path / "before", days=40, end=day)
    after = sample(settings, tmp_path / "after", days=1, end=day + dt.timedelta(days=1))
    whole = sample(settings, tmp_path / "whole", days=41, end=day + dt.timedelta(days=1))
    for symbol in ("AAPL", "JPM", "^GSPC"):
        combined = {**bars(before, symbol), **bars(after, symbol)}
        assert combined == bars(whole, symbol)
        assert day + dt.timedelta(days=1) in bars(after, symbol)
    vix_after = csv_lines(after, "VIXCLS")
    assert vix_after == ["observation_date,VIXCLS", vix_after[-1]]
    assert vix_after[-1] in csv_lines(whole, "VIXCLS")


def test_sample_objects_pass_the_real_response_checks(settings, tmp_path: Path) -> None:
    store = sample(settings, tmp_path, days=30, end=D(2024, 3, 28))
    checks = {
        "yahoo": yahoo.check_chart,
        "gdelt": gdelt.check_timeline,
        "open_meteo": lambda response: open_meteo.check_daily(response, 50),
    }
    sources = set()
    for key in store.list():
        obj = store.get(key)
        source = parse_raw_key(key).source
        sources.add(source)
        response = HttpResponse(
            obj.metadata.source_url, 200, {"content-type": obj.metadata.content_type}, obj.body
        )
        if source == "fred":
            fred.check_csv(response, obj.metadata.extra["series_id"])
        elif source in checks:
            checks[source](response)
        assert obj.metadata.extra["synthetic"] == "true"
    assert sources == {"yahoo", "open_meteo", "gdelt", "fred", "manifest"}


def test_yahoo_shape_holidays_open_stamps_and_the_live_bar(settings, tmp_path: Path) -> None:
    store = sample(settings, tmp_path, days=60, end=D(2024, 3, 27))
    key = next(k for k in store.list("raw/yahoo/") if "AAPL" in k)
    result = json.loads(store.get(key).body)["chart"]["result"][0]
    stamps = [dt.datetime.fromtimestamp(stamp, MARKET_TIME_ZONE) for stamp in result["timestamp"]]
    days = [stamp.date() for stamp in stamps]
    assert all(is_trading_day(day) for day in days)
    assert D(2024, 1, 15) not in days and D(2024, 2, 19) not in days  # MLK day, Presidents' Day
    assert all((stamp.hour, stamp.minute) == (9, 30) for stamp in stamps[:-1])
    assert days[-1] == D(2024, 3, 28)  # the live bar after the requested window
    assert (stamps[-1].hour, stamps[-1].minute) != (9, 30)
    assert result["meta"]["exchangeTimezoneName"] == "America/New_York"
    quote = result["indicators"]["quote"][0]
    assert (
        len(quote["close"])
        == len(result["timestamp"])
        == len(result["indicators"]["adjclose"][0]["adjclose"])
    )


def test_index_has_zero_volume_and_plausible_macro_and_weather(settings, tmp_path: Path) -> None:
    store = sample(settings, tmp_path, days=250, end=D(2024, 12, 31))
    index = bars(store, "^GSPC")
    assert {bar[4] for bar in index.values()} == {0}
    vix_lines = csv_lines(store, "VIXCLS")
    assert vix_lines[0] == "observation_date,VIXCLS"
    assert "2024-12-25," in vix_lines  # a holiday: listed with an empty value, as FRED does
    values = [float(line.split(",")[1]) for line in vix_lines[1:] if not line.endswith(",")]
    assert min(values) >= 9 and max(values) <= 80 and 12 <= sum(values) / len(values) <= 30
    archive_key = next(key for key in store.list("raw/open_meteo/") if "/archive_" in key)
    weather = json.loads(store.get(archive_key).body)
    assert "location_id" not in weather[0] and weather[1]["location_id"] == 1
    rain = [value for item in weather for value in item["daily"]["precipitation_sum"] if value is not None]
    assert min(rain) == 0.0 and rain.count(0.0) > len(rain) / 3


def test_gdelt_short_windows_are_hourly_long_ones_daily(settings, tmp_path: Path) -> None:
    store = sample(settings, tmp_path, days=30, end=D(2024, 4, 2))
    documents = {
        key: json.loads(store.get(key).body)
        for key in store.list("raw/gdelt/")
        if not key.endswith(".meta.json")
    }
    resolutions = {key: doc["query_details"]["date_resolution"] for key, doc in documents.items()}
    assert resolutions == {
        "raw/gdelt/2024-02-20/depression_2024-03-31.json": "day",
        "raw/gdelt/2024-04-01/depression_2024-04-02.json": "hour",
        "raw/gdelt/2024-02-20/depression_tone_2024-03-31.json": "day",
        "raw/gdelt/2024-04-01/depression_tone_2024-04-02.json": "hour",
    }
    norms = [
        point["norm"]
        for point in documents["raw/gdelt/2024-02-20/depression_2024-03-31.json"]["timeline"][0]["data"]
    ]
    assert all(100_000 <= norm <= 400_000 for norm in norms)


@pytest.mark.parametrize(
    "window", [Window(D(2024, 1, 1), D(2024, 3, 31)), Window(D(2024, 4, 1), D(2024, 4, 2))]
)
def test_gdelt_tone_has_the_volumes_buckets_and_no_tone_where_no_article(window: Window) -> None:
    # Given the volume and tone bodies of one topic and window (daily, and hourly for a short window)
    volume = json.loads(gdelt_body(11, "depression", window))["timeline"][0]
    tone = json.loads(gdelt_tone_body(11, "depression", window))["timeline"][0]
    # Then the tone is GDELT's series in its format, over exactly the volume's buckets,
    assert (volume["series"], tone["series"]) == ("Article Count", "Average Tone")
    assert [point["date"] for point in tone["data"]] == [point["date"] for point in volume["data"]]
    assert all(set(point) == {"date", "value"} for point in tone["data"])
    # a bucket without articles has GDELT's 0 and every other bucket a real mean, both signs seen
    pairs = [(v["value"], t["value"]) for v, t in zip(volume["data"], tone["data"], strict=True)]
    assert all((count == 0) == (value == 0) for count, value in pairs)
    values = [value for _, value in pairs if value]
    assert all(-15 < value < 15 for value in values) and min(values) < 0 < max(values)
    # and the bodies are the same bytes every time for the same seed, others for another seed
    assert gdelt_tone_body(11, "depression", window) == gdelt_tone_body(11, "depression", window)
    assert gdelt_tone_body(11, "depression", window) != gdelt_tone_body(12, "depression", window)


def test_gdelt_sample_objects_name_their_mode(settings, tmp_path: Path) -> None:
    store = sample(settings, tmp_path, days=10, end=D(2024, 4, 2))
    modes = {
        key: store.head(key).extra["mode"]
        for key in store.list("raw/gdelt/")
        if not key.endswith(".meta.json")
    }
    assert modes == {
        "raw/gdelt/2024-03-19/depression_2024-03-31.json": "timelinevolraw",
        "raw/gdelt/2024-03-19/depression_tone_2024-03-31.json": "timelinetone",
        "raw/gdelt/2024-04-01/depression_2024-04-02.json": "timelinevolraw",
        "raw/gdelt/2024-04-01/depression_tone_2024-04-02.json": "timelinetone",
    }


def test_more_tickers_than_the_sample_can_hold_is_one_clear_error(settings, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"--tickers 10001 is out of range: 1 to 10000"):
        sample(settings, tmp_path / "raw", tickers=10_001, days=5, end=D(2024, 3, 28))
    assert not list(LocalRawStore(tmp_path / "raw").list())
    assert settings.pipeline_universe.read_text() == UNIVERSE


def test_tickers_beyond_the_universe_are_synthetic_and_join_the_universe_file(
    settings, tmp_path: Path
) -> None:
    # Given a universe of 5 tickers in 3 sectors, when 12 are sampled
    store = LocalRawStore(tmp_path / "raw")
    result = write_sample(settings, store, tickers=12, days=5, seed=7, end=D(2024, 3, 28), progress=False)
    # Then the universe file (PIPELINE_UNIVERSE, outside the package) holds the 5 and 7 synthetic ones,
    companies = load_universe(settings.pipeline_universe)
    assert [company.ticker for company in companies[:5]] == ["AAPL", "MSFT", "JPM", "XOM", "BRK-B"]
    assert [company.ticker for company in companies[5:]] == [f"SYN{number:04d}" for number in range(1, 8)]
    # each in a sector of the universe, the sectors taken in turn
    assert {company.sector for company in companies[5:]} == {"Information Technology", "Financials", "Energy"}
    assert result.universe == settings.pipeline_universe.resolve() and result.universe_in_use
    # and every ticker, synthetic or not, has its Yahoo object
    symbols = {store.head(key).extra.get("symbol") for key in store.list() if "/yahoo/" in key}
    assert {company.ticker for company in companies} <= symbols


def test_a_sample_past_the_shipped_universe_writes_its_own_universe_file(tmp_path: Path) -> None:
    settings = load_settings(pipeline_home=tmp_path / "home")
    shipped = len(load_universe(settings.pipeline_universe))
    result = write_sample(
        settings,
        LocalRawStore(tmp_path / "raw"),
        tickers=shipped + 2,
        days=2,
        seed=7,
        end=D(2024, 3, 28),
        progress=False,
    )
    # The shipped file is never rewritten: the universe goes to $PIPELINE_HOME, and the summary says so
    assert len(load_universe(settings.pipeline_universe)) == shipped
    assert result.universe == (tmp_path / "home" / "universe.csv").resolve() and not result.universe_in_use
    assert len(load_universe(result.universe)) == shipped + 2
    assert f"set PIPELINE_UNIVERSE={result.universe}" in result.summary()


def test_manifest_lists_every_object_and_is_synthetic(settings, tmp_path: Path) -> None:
    store = sample(settings, tmp_path, days=5, end=D(2024, 3, 28))
    manifest_key = next(store.list("raw/manifest/"))
    assert manifest_key == "raw/manifest/2024-03-29/sample-20240328-seed7-tickers3-days5.json"
    manifest = json.loads(store.get(manifest_key).body)
    assert manifest["synthetic"] is True and manifest["status"] == "success" and manifest["failed"] == []
    data_keys = {key for key in store.list() if not key.startswith("raw/manifest/")}
    assert {item["key"] for item in manifest["written"]} == data_keys
