"""Each source's response check: real payloads pass, errors, throttles and truncations do not."""

from __future__ import annotations

import pytest

from lambda_src.ingestion import fred, gdelt, open_meteo, yahoo
from lambda_src.ingestion.httpclient import InvalidResponse
from tests.support.doubles import fixture_response, response
from tests.support.fake_apis import fixture

JSON = "application/json;charset=utf-8"


def test_yahoo_chart_and_empty_window_pass() -> None:
    yahoo.check_chart(fixture_response("yahoo/chart_aapl.json", content_type=JSON))
    yahoo.check_chart(fixture_response("yahoo/chart_empty_window.json", content_type=JSON))


def test_yahoo_error_object_with_200_is_a_permanent_failure() -> None:
    with pytest.raises(InvalidResponse) as raised:
        yahoo.check_chart(fixture_response("yahoo/chart_not_found.json", content_type=JSON))
    assert not raised.value.retryable
    assert raised.value.reason == "Yahoo error: Not Found: No data found, symbol may be delisted"


@pytest.mark.parametrize(
    ("body", "content_type", "fragment"),
    [
        (fixture("yahoo/chart_aapl.json")[:-40], JSON, "not valid JSON"),
        (b"<!DOCTYPE html><html><body>Will be right back</body></html>", "text/html", "HTML page"),
        (fixture("yahoo/chart_aapl.json"), "text/plain", "unexpected content type"),
    ],
)
def test_yahoo_truncated_html_or_mistyped_bodies_are_retryable(
    body: bytes, content_type: str, fragment: str
) -> None:
    with pytest.raises(InvalidResponse) as raised:
        yahoo.check_chart(response(200, content_type, body))
    assert raised.value.retryable
    assert fragment in raised.value.reason


def test_open_meteo_object_for_one_location_and_array_for_many() -> None:
    open_meteo.check_daily(fixture_response("open_meteo/archive_one_location.json"), 1)
    open_meteo.check_daily(fixture_response("open_meteo/archive_two_locations.json"), 2)


def test_open_meteo_wrong_location_count_fails() -> None:
    with pytest.raises(InvalidResponse, match="not 3 location"):
        open_meteo.check_daily(fixture_response("open_meteo/archive_two_locations.json"), 3)


def test_open_meteo_error_object_fails_with_its_reason() -> None:
    with pytest.raises(InvalidResponse, match="out of allowed range"):
        open_meteo.check_daily(fixture_response("open_meteo/bad_request.json"), 50)


def test_open_meteo_text_appended_mid_stream_fails() -> None:
    body = fixture("open_meteo/archive_two_locations.json") + b"\nerror: Timeout while reading data"
    with pytest.raises(InvalidResponse, match="not valid JSON") as raised:
        open_meteo.check_daily(response(200, "application/json; charset=utf-8", body), 2)
    assert raised.value.retryable


def test_gdelt_timeline_and_no_match_pass() -> None:
    gdelt.check_timeline(fixture_response("gdelt/timeline_day.json"))
    gdelt.check_timeline(fixture_response("gdelt/no_match.json"))
    gdelt.check_timeline(fixture_response("gdelt/tone_day.json"))
    gdelt.check_timeline(fixture_response("gdelt/tone_15min.json"))


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b'{"timeline": {"series": "Average Tone"}}', "GDELT timeline is not a list"),
        (b'{"timeline": ["Average Tone"]}', "no series with a list of data points"),
        (b'{"timeline": [{"series": "Average Tone", "data": 1.5}]}', "no series with a list of data points"),
        (b'{"timeline": [{"series": "Average Tone", "data": [{"date": "2024', "not valid JSON"),
        (b'["Average Tone"]', "GDELT error"),
    ],
)
def test_gdelt_a_bad_timeline_body_is_a_failed_request(body: bytes, reason: str) -> None:
    # Whichever mode asked for it, a body that is not a timeline is the request's failure, never data
    with pytest.raises(InvalidResponse) as failed:
        gdelt.check_timeline(response(body=body))
    assert reason in failed.value.reason


def test_gdelt_throttle_text_is_retryable_other_text_is_not() -> None:
    with pytest.raises(InvalidResponse) as throttled:
        gdelt.check_timeline(fixture_response("gdelt/throttle.txt", content_type="text/html"))
    assert throttled.value.retryable
    assert throttled.value.reason.startswith("GDELT throttled: Please limit requests")
    with pytest.raises(InvalidResponse) as query_error:
        gdelt.check_timeline(fixture_response("gdelt/query_error.txt", content_type="text/html"))
    assert not query_error.value.retryable
    assert "OR'd terms" in query_error.value.reason


def test_fred_new_and_old_csv_formats_pass() -> None:
    fred.check_csv(fixture_response("fred/VIXCLS.csv", content_type="text/csv"), "VIXCLS")
    fred.check_csv(fixture_response("fred/DGS10.csv", content_type="text/csv"), "DGS10")


def test_fred_html_page_and_wrong_series_fail() -> None:
    with pytest.raises(InvalidResponse, match="not CSV"):
        fred.check_csv(fixture_response("fred/not_found.html", content_type="text/html"), "VIXCLS")
    with pytest.raises(InvalidResponse, match="header is not date,DGS10"):
        fred.check_csv(fixture_response("fred/VIXCLS.csv", content_type="text/csv"), "DGS10")


def test_fred_truncated_line_fails() -> None:
    body = fixture("fred/VIXCLS.csv")[:-9]
    with pytest.raises(InvalidResponse, match="ends mid-line"):
        fred.check_csv(response(200, "text/csv", body), "VIXCLS")


def test_fred_value_cut_mid_number_fails_not_a_smaller_number() -> None:
    body = fixture("fred/VIXCLS.csv")[:-4]  # "13.84\n" cut to "13"
    with pytest.raises(InvalidResponse, match="ends mid-line") as refused:
        fred.check_csv(response(200, "text/csv", body), "VIXCLS")
    assert refused.value.retryable


def test_fred_line_with_a_value_that_is_not_a_number_fails() -> None:
    body = b"observation_date,VIXCLS\n2024-01-16,13.8x\n"
    with pytest.raises(InvalidResponse, match="is not 'date,value'"):
        fred.check_csv(response(200, "text/csv", body), "VIXCLS")
