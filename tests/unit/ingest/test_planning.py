"""Planning: windows, keys, parameters and endpoints for each source, from the settings."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from lambda_src.ingestion import fred, gdelt, open_meteo, yahoo
from lambda_src.ingestion.plan import Window, split_by_calendar
from lambda_src.ingestion.runner import IngestWindowError, ingest_window
from pipeline.rawzone import parse_raw_key
from pipeline.reference import ReferenceDataError, load_states, load_universe
from pipeline.settings import DEFAULT_UNIVERSE, load_settings

D = dt.date


def small_universe(tmp_path: Path) -> Path:
    path = tmp_path / "universe.csv"
    path.write_text(
        "ticker,name,sector,industry\nAAPL,Apple Inc.,Information Technology,Technology Hardware\n"
        "BRK-B,Berkshire Hathaway,Financials,Multi-Sector Holdings\n"
    )
    return path


def test_split_by_calendar_cuts_at_year_and_quarter_boundaries() -> None:
    window = Window(D(2015, 11, 20), D(2017, 2, 3))
    assert split_by_calendar(window, 12) == [
        Window(D(2015, 11, 20), D(2015, 12, 31)),
        Window(D(2016, 1, 1), D(2016, 12, 31)),
        Window(D(2017, 1, 1), D(2017, 2, 3)),
    ]
    quarters = split_by_calendar(Window(D(2024, 2, 10), D(2024, 7, 1)), 3)
    assert [(piece.start, piece.end) for piece in quarters] == [
        (D(2024, 2, 10), D(2024, 3, 31)),
        (D(2024, 4, 1), D(2024, 6, 30)),
        (D(2024, 7, 1), D(2024, 7, 1)),
    ]


def test_yahoo_plans_every_ticker_and_index_with_encoded_symbols(tmp_path: Path) -> None:
    settings = load_settings(
        pipeline_universe=small_universe(tmp_path), yahoo_chart_url="http://yahoo.test/chart/"
    )
    requests = yahoo.plan(settings, Window(D(2024, 1, 2), D(2024, 3, 28)), today=D(2024, 4, 2)).requests
    assert [request.entity for request in requests] == ["AAPL", "BRK-B", "^GSPC"]
    index = requests[2]
    assert index.url == "http://yahoo.test/chart/%5EGSPC"
    assert index.key == "raw/yahoo/2024-01-02/%5EGSPC_2024-03-28.json"
    params = dict(index.params)
    assert params["period1"] == "1704153600"  # 2024-01-02T00:00Z
    assert params["period2"] == "1711670400"  # 2024-03-29T00:00Z: the day after the window
    assert params["interval"] == "1d"
    assert index.extras == {"symbol": "^GSPC", "window_start": "2024-01-02", "window_end": "2024-03-28"}
    assert not index.revisable


def test_open_meteo_splits_archive_years_and_recent_forecast_days() -> None:
    parts = open_meteo.split_endpoints(Window(D(2023, 12, 1), D(2024, 3, 28)), today=D(2024, 3, 29))
    assert parts == [
        ("archive", Window(D(2023, 12, 1), D(2023, 12, 31))),
        ("archive", Window(D(2024, 1, 1), D(2024, 3, 23))),
        ("forecast", Window(D(2024, 3, 24), D(2024, 3, 28))),
    ]


def test_open_meteo_request_carries_all_states_in_file_order(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPEN_METEO_FORECAST_URL", "http://meteo.test/v1/forecast")
    settings = load_settings()
    request = open_meteo.plan(
        settings, Window(D(2024, 3, 27), D(2024, 3, 28)), today=D(2024, 3, 29)
    ).requests[0]
    states = load_states()
    params = dict(request.params)
    assert request.url == "http://meteo.test/v1/forecast"
    assert len(params["latitude"].split(",")) == 50 == len(states)
    assert params["daily"] == "precipitation_sum,temperature_2m_max,temperature_2m_min"
    assert params["timezone"] == "America/New_York"
    assert request.extras["locations"].split(",")[:3] == ["AL", "AK", "AZ"]
    assert request.key == "raw/open_meteo/2024-03-27/forecast_2024-03-28.json"
    assert request.revisable


def test_open_meteo_year_window_weighs_about_390_calls() -> None:
    assert open_meteo.request_weight(50, Window(D(2023, 1, 1), D(2023, 12, 31))) == pytest.approx(
        391.07, abs=0.01
    )
    assert open_meteo.request_weight(1, Window(D(2024, 1, 1), D(2024, 1, 1))) == 1.0  # never below one call


def test_gdelt_uses_quarters_from_2017_and_notes_earlier_days() -> None:
    settings = load_settings(pipeline_news_topics="depression,(stock OR market)")
    plan = gdelt.plan(settings, Window(D(2016, 11, 1), D(2017, 4, 2)), today=D(2024, 1, 1))
    assert plan.uncovered == ["days before 2017-01-01 are outside GDELT DOC's history"]
    windows = sorted({(request.window.start, request.window.end) for request in plan.requests})
    assert windows == [(D(2017, 1, 1), D(2017, 3, 31)), (D(2017, 4, 1), D(2017, 4, 2))]
    first, tone = plan.requests[:2]
    assert dict(first.params) == {
        "query": "depression",
        "mode": "timelinevolraw",
        "format": "json",
        "startdatetime": "20170101000000",
        "enddatetime": "20170331235959",
    }
    assert first.key == "raw/gdelt/2017-01-01/depression_2017-03-31.json"
    assert first.extras["mode"] == "timelinevolraw"
    # The tone: the same query and window in the other mode, beside the volume under its own name
    assert dict(tone.params) == {**dict(first.params), "mode": "timelinetone"}
    assert tone.key == "raw/gdelt/2017-01-01/depression_tone_2017-03-31.json"
    assert {**tone.extras, "mode": "timelinevolraw"} == first.extras
    assert (first.entity, tone.entity) == ("depression", "depression (tone)")  # in failures' words
    assert len(plan.requests) == 2 * 2 * 2  # windows x topics x modes
    other = plan.requests[2]
    assert other.extras["topic"] == "(stock OR market)"
    assert parse_raw_key(other.key).name.startswith("stock-or-market-")


def test_gdelt_tone_names_never_meet_volume_names_and_unknown_modes_are_refused() -> None:
    settings = load_settings()
    window = Window(D(2024, 1, 1), D(2024, 3, 31))
    # "tone" as a topic: its volume's slug is "tone", never the "_tone" part of another topic's name
    names = {
        gdelt.plan_topic(settings, topic, window, D(2025, 1, 1), mode).key
        for topic in ("tone", "depression tone", "depression")
        for mode in gdelt.MODES
    }
    assert len(names) == 6
    with pytest.raises(ValueError, match="timeline mode 'timelinevol' is not one of"):
        gdelt.plan_topic(settings, "depression", window, D(2025, 1, 1), "timelinevol")


def test_fred_one_request_per_series_for_the_window() -> None:
    requests = fred.plan(
        load_settings(), Window(D(2015, 1, 1), D(2024, 12, 31)), today=D(2025, 1, 2)
    ).requests
    assert [request.key for request in requests] == [
        "raw/fred/2015-01-01/VIXCLS_2024-12-31.csv",
        "raw/fred/2015-01-01/DGS10_2024-12-31.csv",
    ]
    assert dict(requests[0].params) == {"id": "VIXCLS", "cosd": "2015-01-01", "coed": "2024-12-31"}
    assert requests[0].full_url.startswith("https://fred.stlouisfed.org/graph/fredgraph.csv?id=VIXCLS&cosd=")


def test_same_window_always_maps_to_the_same_keys(tmp_path: Path) -> None:
    settings = load_settings(pipeline_universe=small_universe(tmp_path))
    window = Window(D(2024, 1, 2), D(2024, 3, 28))
    first = [r.key for r in yahoo.plan(settings, window, D(2024, 4, 1)).requests]
    second = [r.key for r in yahoo.plan(settings, window, D(2024, 6, 1)).requests]
    assert first == second


def test_windows_in_the_future_or_reversed_are_refused() -> None:
    with pytest.raises(IngestWindowError, match="after today"):
        ingest_window(D(2024, 1, 1), D(2024, 1, 5), today=D(2024, 1, 4))
    with pytest.raises(IngestWindowError, match="after its end"):
        ingest_window(D(2024, 1, 5), D(2024, 1, 1), today=D(2024, 2, 1))


def test_shipped_universe_is_the_sp500_in_yahoo_form() -> None:
    companies = load_universe(DEFAULT_UNIVERSE)
    tickers = {company.ticker for company in companies}
    assert 490 <= len(companies) <= 510
    assert {"BRK-B", "BF-B", "AAPL", "MSFT"} <= tickers
    assert len({company.sector for company in companies}) == 11
    assert all(company.industry for company in companies)


def test_universe_with_dotted_ticker_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("ticker,name,sector,industry\nBRK.B,Berkshire,Financials,Multi-Sector Holdings\n")
    with pytest.raises(ReferenceDataError, match="use Yahoo form"):
        load_universe(path)


def test_shipped_states_are_the_fifty_with_valid_coordinates() -> None:
    states = load_states()
    assert len({state.code for state in states}) == 50
    assert all(18 < state.latitude < 72 and -170 < state.longitude < -66 for state in states)
