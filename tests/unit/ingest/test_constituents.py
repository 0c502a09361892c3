"""Wikipedia's constituents table: the plan, the response check, the parse and its guards."""

from __future__ import annotations

import datetime as dt

import pytest

from lambda_src.ingestion import constituents
from lambda_src.ingestion.constituents import ConstituentsError, check_page, parse_constituents
from lambda_src.ingestion.httpclient import InvalidResponse
from lambda_src.ingestion.plan import Window
from pipeline.settings import load_settings
from tests.support.doubles import response
from tests.support.fake_apis import fixture

PAGE = fixture("wikipedia/sp500_constituents.html")
PAGE_TEXT = PAGE.decode("utf-8")
FIXTURE_ROWS = 12
HTML_UTF8 = "text/html; charset=UTF-8"


def page_response(body: bytes = PAGE, status: int = 200, content_type: str = HTML_UTF8):
    return response(status, content_type, body)


def test_the_table_parses_into_yahoo_tickers_with_plain_text_fields() -> None:
    companies = parse_constituents(PAGE_TEXT, minimum_rows=FIXTURE_ROWS)

    tickers = [company.ticker for company in companies]
    assert tickers == [
        "MMM",
        "AOS",
        "ABBV",
        "ACN",
        "ABNB",
        "GOOGL",
        "AAPL",
        "T",
        "BRK-B",
        "BF-B",
        "CHD",
        "JNJ",
    ]
    by_ticker = {company.ticker: company for company in companies}
    assert by_ticker["BRK-B"].name == "Berkshire Hathaway"
    assert by_ticker["BF-B"].name == "Brown–Forman"  # the en dash survives, as in the shipped universe
    assert by_ticker["T"].name == "AT&T"  # &amp; decoded
    assert by_ticker["JNJ"].name == "Johnson & Johnson"
    assert by_ticker["GOOGL"].name == "Alphabet Inc. (Class A)"  # the footnote marker [6] is left out
    assert by_ticker["AAPL"].industry == "Technology Hardware, Storage & Peripherals"
    assert by_ticker["MMM"].sector == "Industrials"  # no trailing newline from "Industrials\n</td>"
    assert "DASH" not in tickers  # the "changes" table after it is not read


def test_fewer_than_400_companies_are_refused_by_default() -> None:
    with pytest.raises(ConstituentsError) as error:
        parse_constituents(PAGE_TEXT)
    assert "only 12 companies" in str(error.value) and "at least 400" in str(error.value)
    assert constituents.MIN_ROWS == 400
    with pytest.raises(ConstituentsError, match="only 12 companies"):
        parse_constituents(PAGE_TEXT, minimum_rows=FIXTURE_ROWS + 1)


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        (("GICS Sub-Industry", "Sub-Industry"), "lacks the header(s) GICS Sub-Industry"),
        (('id="constituents"', 'id="members"'), 'no table with id="constituents"'),
        (('XNYS:AOS">AOS</a>', 'XNYS:AOS"></a>'), "row 3 has an empty ticker"),
        (('XNYS:MMM">MMM</a>', 'XNYS:MMM">MMM Corp</a>'), "'MMM Corp' is not a ticker symbol"),
        (('XNYS:AOS">AOS</a>', 'XNYS:AOS">MMM</a>'), "repeated ticker(s) MMM"),
    ],
)
def test_a_changed_table_is_refused_with_its_reason(change: tuple[str, str], fragment: str) -> None:
    old, new = change
    assert old in PAGE_TEXT
    with pytest.raises(ConstituentsError) as error:
        parse_constituents(PAGE_TEXT.replace(old, new, 1), minimum_rows=1)
    assert fragment in str(error.value)
    assert not error.value.truncated


def test_a_page_cut_off_inside_the_table_is_called_truncated() -> None:
    cut = PAGE_TEXT[: PAGE_TEXT.index("BRK.B")]
    with pytest.raises(ConstituentsError) as error:
        parse_constituents(cut, minimum_rows=1)
    assert error.value.truncated


def test_parsoid_markup_with_ids_thead_and_hidden_sort_keys_parses_too() -> None:
    html = (
        '<table class="wikitable sortable sticky-header" id="constituents"><thead><tr id="mwIQ">'
        '<th id="mwIg"><a rel="mw:WikiLink" href="./Ticker_symbol">Symbol</a></th><th>Security</th>'
        '<th><a href="./GICS">GICS</a>\n Sector</th><th>GICS Sub-Industry</th></tr></thead>'
        '<tbody id="mwIA"><tr id="mwLQ"><td id="mwLg"><a rel="mw:ExtLink nofollow" class="external text" '
        'href="https://www.nyse.com/quote/XNYS:BRK.B" data-mw=\'{"parts":[]}\'>BRK.B</a></td>'
        '<td><span class="sortkey" style="display:none">Berkshire</span>Berkshire<br>Hathaway</td>'
        "<td>Financials</td><td>Multi-Sector Holdings</td></tr></tbody></table>"
    )
    [company] = parse_constituents(html, minimum_rows=1)
    assert (company.ticker, company.name, company.sector) == ("BRK-B", "Berkshire Hathaway", "Financials")


def test_check_accepts_the_page_and_refuses_a_short_table_for_good() -> None:
    check_page(page_response(), minimum_rows=FIXTURE_ROWS)  # no exception: usable data

    with pytest.raises(InvalidResponse) as error:
        check_page(page_response())
    assert not error.value.retryable
    assert error.value.reason.startswith("Wikipedia constituents page: only 12 companies")


@pytest.mark.parametrize(
    ("body", "status", "content_type", "fragment", "retryable"),
    [
        (fixture("wikipedia/wikimedia_error.html"), 200, HTML_UTF8, 'no table with id="constituents"', False),
        (PAGE, 203, HTML_UTF8, "HTTP 203, not 200", False),
        (b'{"error":"rate limited"}', 200, "application/json", "not text/html", True),
        (PAGE[: PAGE.index(b"BRK.B")], 200, HTML_UTF8, "ends inside the table", True),
        (PAGE.replace("Brown–Forman".encode(), b"Brown\x96Forman"), 200, HTML_UTF8, "not text", True),
    ],
)
def test_check_refuses_what_is_not_the_constituents_page(
    body: bytes, status: int, content_type: str, fragment: str, retryable: bool
) -> None:
    with pytest.raises(InvalidResponse) as error:
        check_page(page_response(body, status, content_type), minimum_rows=1)
    assert fragment in error.value.reason
    assert error.value.retryable is retryable


def test_plan_is_one_request_for_todays_snapshot_at_the_configured_url() -> None:
    settings = load_settings(
        wikipedia_constituents_url="http://mirror.test/wiki/List_of_S%26P_500_companies/"
    )
    today = dt.date(2024, 4, 2)

    [request] = constituents.plan(settings, Window(dt.date(2024, 1, 2), dt.date(2024, 3, 28)), today).requests

    assert request.key == "raw/constituents/2024-04-02/sp500.html"  # the ingest day, not the window
    assert request.url == "http://mirror.test/wiki/List_of_S%26P_500_companies"
    assert request.full_url == request.url  # no dangling "?" in the stored source URL
    assert request.params == ()
    assert request.revisable  # fetched again on every run


def test_the_default_endpoint_is_wikipedia(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WIKIPEDIA_CONSTITUENTS_URL", raising=False)
    assert (
        load_settings().url("wikipedia_constituents_url")
        == "https://en.wikipedia.org/wiki/List_of_S%26P_500_companies"
    )
