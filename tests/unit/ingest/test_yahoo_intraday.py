"""Yahoo's one-minute bars: the planning (weekly windows within Yahoo's reach) and the response check."""

from __future__ import annotations

import datetime as dt
import json
from urllib.parse import parse_qs, urlsplit

import pytest

from lambda_src.ingestion import yahoo_intraday
from lambda_src.ingestion.httpclient import InvalidResponse
from lambda_src.ingestion.plan import Window
from pipeline.catalog import YAHOO_INTRADAY, default_sources
from pipeline.settings import load_settings
from tests.support.doubles import fixture_response, response
from tests.support.fake_apis import fixture

JSON = "application/json;charset=utf-8"
D = dt.date


def test_a_window_is_cut_into_calendar_weeks_of_at_most_seven_days() -> None:
    pieces = yahoo_intraday.weeks(Window(D(2024, 6, 5), D(2024, 6, 20)))
    assert [(piece.start, piece.end) for piece in pieces] == [
        (D(2024, 6, 5), D(2024, 6, 9)),
        (D(2024, 6, 10), D(2024, 6, 16)),
        (D(2024, 6, 17), D(2024, 6, 20)),
    ]
    assert all(piece.days <= yahoo_intraday.MAX_REQUEST_DAYS for piece in pieces)


def test_the_plan_asks_for_one_minute_bars_per_symbol_and_week(tmp_path) -> None:
    universe = tmp_path / "universe.csv"
    universe.write_text("ticker,name,sector,industry\nBRK-B,Berkshire,Financials,Insurance\n")
    settings = load_settings(pipeline_universe=universe)
    today = D(2024, 6, 21)
    plan = yahoo_intraday.plan(settings, Window(D(2024, 6, 12), D(2024, 6, 20)), today)
    assert plan.uncovered == []
    request = plan.requests[0]
    assert [r.entity for r in plan.requests] == ["BRK-B", "BRK-B", "^GSPC", "^GSPC"]
    assert request.key == "raw/yahoo_intraday/2024-06-12/BRK-B_2024-06-16.json"
    assert request.url.endswith("/BRK-B")
    query = parse_qs(urlsplit(request.full_url).query)
    assert query["interval"] == ["1m"] and query["includePrePost"] == ["false"]
    assert query["period1"] == [str(int(dt.datetime(2024, 6, 12, tzinfo=dt.UTC).timestamp()))]
    assert query["period2"] == [str(int(dt.datetime(2024, 6, 17, tzinfo=dt.UTC).timestamp()))]
    assert request.extras == {
        "symbol": "BRK-B",
        "interval": "1m",
        "window_start": "2024-06-12",
        "window_end": "2024-06-16",
    }
    assert not request.revisable and plan.requests[1].window.end == D(2024, 6, 20)
    assert plan.requests[-1].url.endswith("/%5EGSPC")


def test_days_beyond_yahoos_reach_are_left_out_with_a_note() -> None:
    settings = load_settings()
    today = D(2024, 6, 30)
    plan = yahoo_intraday.plan(settings, Window(D(2024, 5, 20), D(2024, 6, 3)), today)
    assert {request.window.start for request in plan.requests} == {D(2024, 6, 1), D(2024, 6, 3)}
    assert plan.uncovered == [
        "yahoo_intraday: 2024-05-20..2024-05-31 is before 2024-06-01: Yahoo serves minute bars for the "
        "last 30 days only"
    ]
    nothing = yahoo_intraday.plan(settings, Window(D(2024, 1, 2), D(2024, 1, 5)), today)
    assert nothing.requests == [] and "2024-01-02..2024-01-05 is before" in nothing.uncovered[0]


def test_the_lake_adds_minute_bars_to_the_default_sources() -> None:
    assert YAHOO_INTRADAY not in default_sources(lake=False)
    assert YAHOO_INTRADAY in default_sources(lake=True)


def test_a_minute_chart_passes_the_check() -> None:
    yahoo_intraday.check_minute_chart(fixture_response("yahoo/chart_aapl_1m.json", content_type=JSON))
    # A window without trades (a holiday): no timestamps, an empty quote
    empty = json.loads(fixture("yahoo/chart_aapl_1m.json"))
    del empty["chart"]["result"][0]["timestamp"]
    empty["chart"]["result"][0]["indicators"] = {"quote": [{}]}
    yahoo_intraday.check_minute_chart(response(200, JSON, json.dumps(empty).encode()))


def test_coarser_bars_than_asked_for_are_a_permanent_failure() -> None:
    body = json.loads(fixture("yahoo/chart_aapl_1m.json"))
    body["chart"]["result"][0]["meta"]["dataGranularity"] = "1d"
    with pytest.raises(InvalidResponse) as raised:
        yahoo_intraday.check_minute_chart(response(200, JSON, json.dumps(body).encode()))
    assert raised.value.reason == "Yahoo served '1d' bars, not '1m'" and not raised.value.retryable


@pytest.mark.parametrize(
    ("body", "content_type", "retryable"),
    [
        (fixture("yahoo/chart_aapl_1m.json")[:-30], JSON, True),
        (b"<!DOCTYPE html><html><body>Will be right back</body></html>", "text/html", True),
        (b"Too Many Requests\r\n", "text/plain", True),
        (fixture("yahoo/chart_not_found.json"), JSON, False),
        (
            b'{"chart":{"result":null,"error":{"code":"Unprocessable Entity","description":"1m data not '
            b"available for startTime=1714521600 and endTime=1715126400. The requested range must be "
            b'within the last 30 days."}}}',
            JSON,
            False,
        ),
    ],
)
def test_bad_minute_bodies_are_failures(body: bytes, content_type: str, retryable: bool) -> None:
    with pytest.raises(InvalidResponse) as raised:
        yahoo_intraday.check_minute_chart(response(200, content_type, body))
    assert raised.value.retryable == retryable
