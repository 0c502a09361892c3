"""Parsers on byte-faithful API responses, with hand-computed expectations."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pytest

from etl.parse import ParseError, parse_fred_csv, parse_open_meteo
from etl.parse_gdelt import parse_gdelt_timeline, parse_gdelt_tone
from pipeline.market_time import window_period_bounds
from tests.support.fake_apis import fixture
from tests.support.oracles import parse_yahoo_chart

# 2024-07-01 09:30 New York (EDT, UTC-4) is 13:30Z; 2024-01-02 09:30 (EST, UTC-5) is 14:30Z.
SUMMER_OPEN = 1719840600
WINTER_OPEN = 1704205800


def chart(timestamps, close, *, adjclose=None, end_key=True) -> bytes:
    quote = {"open": close, "high": close, "low": close, "close": close, "volume": [100] * len(close)}
    result = {
        "meta": {"symbol": "AAPL", "exchangeTimezoneName": "America/New_York", "gmtoffset": -14400},
        "indicators": {"quote": [quote], "adjclose": [{"adjclose": adjclose or close}]},
    }
    if end_key:
        result["timestamp"] = timestamps
    return json.dumps({"chart": {"result": [result], "error": None}}).encode()


def test_trade_date_is_the_new_york_date_in_summer_and_winter():
    # Given bars stamped at the open: 13:30Z in summer, 14:30Z in winter; a late-evening UTC stamp
    # (2024-07-02 02:00Z) is still July 1st in New York.
    late_evening = SUMMER_OPEN + 12 * 3600 + 30 * 60
    body = chart([WINTER_OPEN, SUMMER_OPEN, late_evening], [10.0, 11.0, 12.0])
    bars = parse_yahoo_chart(body, dt.date(2024, 7, 31))
    dates = [day.date() for day in bars["trade_date"]]
    assert dates == [dt.date(2024, 1, 2), dt.date(2024, 7, 1)]
    assert bars["close"].tolist() == [10.0, 12.0]  # the later bar of the same day wins


def test_null_close_bars_are_dropped():
    body = chart([WINTER_OPEN, WINTER_OPEN + 86400, WINTER_OPEN + 2 * 86400], [10.0, None, 12.0])
    bars = parse_yahoo_chart(body, dt.date(2024, 1, 31))
    assert [day.date() for day in bars["trade_date"]] == [dt.date(2024, 1, 2), dt.date(2024, 1, 4)]


def test_live_bar_after_the_window_end_is_dropped():
    body = chart([WINTER_OPEN, WINTER_OPEN + 86400], [10.0, 10.5])
    bars = parse_yahoo_chart(body, dt.date(2024, 1, 2))
    assert len(bars) == 1
    assert bars["trade_date"].iloc[0].date() == dt.date(2024, 1, 2)


def test_live_bar_stamped_after_period2_on_the_last_trade_date_is_dropped():
    # Given a window ending 2024-01-02 (period2 = 2024-01-03T00:00Z) and Yahoo's live bar stamped
    # 19:30 New York time on that same day, i.e. after period2 but on the window's last trade date.
    _, period2 = window_period_bounds(dt.date(2024, 1, 2), dt.date(2024, 1, 2))
    live_stamp = period2 + 30 * 60
    body = chart([WINTER_OPEN - 86400 * 1, WINTER_OPEN, live_stamp], [9.5, 10.0, 99.0])
    bars = parse_yahoo_chart(body, dt.date(2024, 1, 2))
    # Then the day keeps its real bar; the live one never replaces it.
    assert [day.date() for day in bars["trade_date"]] == [dt.date(2024, 1, 1), dt.date(2024, 1, 2)]
    assert bars["close"].tolist() == [9.5, 10.0]


def test_a_bar_stamped_just_before_period2_on_the_last_day_still_counts():
    _, period2 = window_period_bounds(dt.date(2024, 1, 2), dt.date(2024, 1, 2))
    body = chart([WINTER_OPEN, period2 - 1], [10.0, 10.25])
    bars = parse_yahoo_chart(body, dt.date(2024, 1, 2))
    assert bars["close"].tolist() == [10.25]


def test_empty_window_without_timestamps_gives_no_bars():
    body = json.dumps(
        {
            "chart": {
                "result": [
                    {"meta": {"exchangeTimezoneName": "America/New_York"}, "indicators": {"quote": [{}]}}
                ],
                "error": None,
            }
        }
    ).encode()
    assert parse_yahoo_chart(body, dt.date(2024, 1, 2)).empty


@pytest.mark.parametrize(
    "body",
    [
        b'{"chart":{"result":null,"error":{"code":"Not Found","description":"No data found, symbol may be delisted"}}}',
        b"Too Many Requests",
        b'{"chart":{"result":[{"meta":{"exchangeTimezoneName":"America/New_York"},"timestamp":[1704205800]',
    ],
)
def test_yahoo_errors_are_parse_errors(body):
    with pytest.raises(ParseError):
        parse_yahoo_chart(body, dt.date(2024, 1, 2))


def weather_element(latitude, precipitation, location_id=None):
    element = {
        "latitude": latitude,
        "longitude": -100.0,
        "daily_units": {
            "time": "iso8601",
            "precipitation_sum": "mm",
            "temperature_2m_max": "°C",
            "temperature_2m_min": "°C",
        },
        "daily": {
            "time": ["2024-01-02"],
            "precipitation_sum": [precipitation],
            "temperature_2m_max": [5.0],
            "temperature_2m_min": [None],
        },
    }
    if location_id:
        element["location_id"] = location_id
    return element


def test_open_meteo_array_joins_states_by_position_not_coordinates():
    # Given coordinates snapped to grid cells, in an order that would sort differently by latitude.
    body = json.dumps([weather_element(47.61, 1.5), weather_element(25.77, 0.0, location_id=1)]).encode()
    weather = parse_open_meteo(body, ["WA", "FL"])
    assert weather["state"].tolist() == ["WA", "FL"]
    assert weather["precipitation_mm"].tolist() == [1.5, 0.0]
    assert np.isnan(weather["temp_min_c"]).all()


def test_open_meteo_single_object_and_count_mismatch():
    body = json.dumps(weather_element(40.0, 2.0)).encode()
    assert parse_open_meteo(body, ["NY"])["state"].tolist() == ["NY"]
    with pytest.raises(ParseError, match="1 location"):
        parse_open_meteo(body, ["NY", "CA"])


def test_open_meteo_wrong_unit_is_rejected():
    element = weather_element(40.0, 2.0)
    element["daily_units"]["temperature_2m_max"] = "°F"
    with pytest.raises(ParseError, match="°F"):
        parse_open_meteo(json.dumps(element).encode(), ["NY"])


def test_open_meteo_bad_dates_name_the_state_they_are_in():
    # Given a three-state response whose second state sends a date that is not YYYY-MM-DD
    elements = [weather_element(40.0, 1.0), weather_element(36.7, 2.0), weather_element(47.6, 3.0)]
    elements[1]["daily"]["time"] = ["2024/01/02"]
    body = json.dumps(elements).encode()
    # Then the error names that state, and the same response with good dates parses, states in order
    with pytest.raises(ParseError, match="bad dates in the daily series of CA"):
        parse_open_meteo(body, ["NY", "CA", "WA"])
    elements[1]["daily"]["time"] = ["2024-01-02"]
    weather = parse_open_meteo(json.dumps(elements).encode(), ["NY", "CA", "WA"])
    assert weather["state"].tolist() == ["NY", "CA", "WA"]
    assert weather["precipitation_mm"].tolist() == [1.0, 2.0, 3.0]


def test_gdelt_finer_buckets_are_summed_per_day():
    data = [
        {"date": "20240102T000000Z", "value": 3, "norm": 100},
        {"date": "20240102T001500Z", "value": 0, "norm": 50},
        {"date": "20240102T234500Z", "value": 4, "norm": 70},
        {"date": "20240103T000000Z", "value": 1, "norm": 10},
    ]
    body = json.dumps(
        {
            "query_details": {"title": "depression", "date_resolution": "15m"},
            "timeline": [{"series": "Article Count", "data": data}],
        }
    ).encode()
    news = parse_gdelt_timeline(body, "depression")
    assert news["news_date"].astype("datetime64[D]").tolist() == [dt.date(2024, 1, 2), dt.date(2024, 1, 3)]
    assert news["matching_articles"].tolist() == [7, 1]
    assert news["total_articles"].tolist() == [220, 10]


def test_gdelt_no_match_and_plain_text_error():
    assert all(len(column) == 0 for column in parse_gdelt_timeline(b"{}", "depression").values())
    with pytest.raises(ParseError, match="not JSON"):
        parse_gdelt_timeline(b"Please limit requests to one every 5 seconds", "depression")


def test_gdelt_tone_at_daily_resolution_and_an_empty_day_without_tone():
    # Given GDELT's tone response for three days, the middle one without articles (its 0 is no mean)
    news = parse_gdelt_tone(fixture("gdelt/tone_day.json"), "depression")
    # Then each day has its tone, the empty one none, and the counts are left to the volume's object
    assert news["news_date"].astype("datetime64[D]").tolist() == [
        dt.date(2024, 1, 2),
        dt.date(2024, 1, 3),
        dt.date(2024, 1, 4),
    ]
    assert news["average_tone"][[0, 2]].tolist() == [-1.8745298372491, 0.4127768522981]
    assert np.isnan(news["average_tone"][1])
    assert np.isnan(news["matching_articles"]).all() and np.isnan(news["total_articles"]).all()


def test_gdelt_tone_finer_buckets_average_the_non_empty_ones_per_day():
    news = parse_gdelt_tone(fixture("gdelt/tone_15min.json"), "depression")
    assert news["news_date"].astype("datetime64[D]").tolist() == [dt.date(2024, 1, 2), dt.date(2024, 1, 3)]
    # (-2.5 - 1.5 + 0.5) / 3: the empty quarter hour (0) does not pull the day towards neutral.
    assert news["average_tone"][0] == pytest.approx(-3.5 / 3)
    assert np.isnan(news["average_tone"][1])


def test_gdelt_volume_rows_leave_the_tone_missing():
    news = parse_gdelt_timeline(fixture("gdelt/timeline_day.json"), "depression")
    assert news["matching_articles"].tolist() == [1203, 0, 1187]
    assert np.isnan(news["average_tone"]).all()


@pytest.mark.parametrize(
    ("point", "message"),
    [
        ({"date": "20240102T000000Z", "value": "-1.2"}, "malformed tone point"),
        ({"date": "20240102T000000Z", "value": True}, "malformed tone point"),
        ({"date": "20240102T000000Z"}, "malformed tone point"),
        ({"date": "2024-01-02", "value": -1.2}, "malformed timeline point"),
    ],
)
def test_gdelt_tone_a_malformed_point_is_one_parse_error(point, message):
    body = json.dumps({"timeline": [{"series": "Average Tone", "data": [point]}]}).encode()
    with pytest.raises(ParseError, match=message):
        parse_gdelt_tone(body, "depression")


def test_gdelt_a_body_of_the_other_mode_is_refused_not_misread():
    with pytest.raises(ParseError, match="expected 'Average Tone'"):
        parse_gdelt_tone(fixture("gdelt/timeline_day.json"), "depression")
    with pytest.raises(ParseError, match="expected 'Article Count'"):
        parse_gdelt_timeline(fixture("gdelt/tone_day.json"), "depression")


def test_gdelt_tone_no_match_is_no_rows():
    assert all(len(column) == 0 for column in parse_gdelt_tone(b"{}", "depression").values())
    assert all(len(column) == 0 for column in parse_gdelt_tone(b'{"timeline": []}', "depression").values())


@pytest.mark.parametrize("date_header", ["observation_date", "DATE"])
def test_fred_dot_and_empty_are_missing(date_header):
    body = f"{date_header},VIXCLS\n2024-01-01,.\n2024-01-02,13.2\n2024-01-03,\n".encode()
    macro = parse_fred_csv(body, "VIXCLS")
    assert macro["obs_date"].astype("datetime64[D]").tolist() == [
        dt.date(2024, 1, 1),
        dt.date(2024, 1, 2),
        dt.date(2024, 1, 3),
    ]
    values = macro["value"]
    assert np.isnan(values[0]) and values[1] == 13.2 and np.isnan(values[2])


def test_fred_html_is_rejected():
    with pytest.raises(ParseError):
        parse_fred_csv(b"<!DOCTYPE html><html>maintenance</html>", "VIXCLS")


@pytest.mark.parametrize("stamp", ["20240102T250000Z", "2024-01-02", None])
def test_gdelt_a_malformed_point_date_is_one_parse_error(stamp):
    body = json.dumps({"timeline": [{"data": [{"date": stamp, "value": 1, "norm": 2}]}]}).encode()
    with pytest.raises(ParseError, match="malformed timeline point"):
        parse_gdelt_timeline(body, "depression")


@pytest.mark.parametrize("day", [None, "2024-01", "2024-01-02T00:00", "2024-13-01"])
def test_open_meteo_a_day_that_is_not_a_calendar_date_is_one_parse_error(day):
    element = weather_element(40.0, 2.0)
    element["daily"]["time"] = [day]
    with pytest.raises(ParseError, match="bad dates in the daily series of NY"):
        parse_open_meteo(json.dumps(element).encode(), ["NY"])
