"""Fixtures for the ingestion integration tests: the local API stand-in and a small universe."""

from __future__ import annotations

import html
from collections.abc import Iterator, Sequence
from pathlib import Path
from urllib.parse import quote

import pytest

from lambda_src.ingestion import runner
from pipeline.reference import Company
from tests.conftest import reset_settings_caches
from tests.support.doubles import FakeClock
from tests.support.fake_apis import FakeApis, fixture


@pytest.fixture
def clock() -> FakeClock:
    """A clock whose sleeps return at once and are recorded."""
    return FakeClock()


@pytest.fixture
def fake_apis(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeApis]:
    """The local API server, with every *_URL setting pointing at it."""
    with FakeApis(gdelt_throttle_first=True) as apis:
        for name, value in apis.environment().items():
            monkeypatch.setenv(name, value)
        reset_settings_caches()
        yield apis


def write_universe(directory: Path, *tickers: str) -> Path:
    """A universe file with `tickers` (sector Information Technology)."""
    path = directory / "universe.csv"
    rows = "".join(
        f"{ticker},{ticker} Inc.,Information Technology,Application Software\n" for ticker in tickers
    )
    path.write_text("ticker,name,sector,industry\n" + rows)
    return path


@pytest.fixture
def no_pacing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Real-clock runs (CLI, Lambda handler) without the APIs' pacing, so tests stay fast."""
    for source in runner.PACING_SECONDS:
        monkeypatch.setitem(runner.PACING_SECONDS, source, 0.0)


def constituents_page(companies: Sequence[Company]) -> bytes:
    """The Wikipedia fixture page with its table rows replaced by `companies`, in the page's own markup.

    The fixture holds 12 companies, too few for the 400-row guard; a full-size page for end-to-end runs
    is this one, built from a real universe (symbols back in Wikipedia's dotted form).
    """
    page = fixture("wikipedia/sp500_constituents.html").decode("utf-8")
    header_end = "</th></tr>\n"
    first_row = page.index(header_end, page.index('id="constituents"')) + len(header_end)
    table_end = page.index("</tbody></table>", first_row)
    rows = "".join(_constituent_row(company) for company in companies)
    return (page[:first_row] + rows + page[table_end:]).encode("utf-8")


def _constituent_row(company: Company) -> str:
    symbol = company.ticker.replace("-", ".")
    cells = [
        f'<a rel="nofollow" class="external text" href="https://www.nyse.com/quote/XNYS:{symbol}">{symbol}</a>',
        f'<a href="/wiki/{quote(company.name.replace(" ", "_"))}" title="{html.escape(company.name)}">'
        f"{html.escape(company.name, quote=False)}</a>",
        html.escape(company.sector, quote=False),
        html.escape(company.industry, quote=False),
        '<a href="/wiki/New_York_City" title="New York City">New York City</a>, New York',
        "1957-03-04",
        "0000000000",
        "1900",
    ]
    return (
        "<tr>\n" + "".join(f"<td>{cell}\n</td>\n" for cell in cells[:-1]) + f"<td>{cells[-1]}\n</td></tr>\n"
    )
