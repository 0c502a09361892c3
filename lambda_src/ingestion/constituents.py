"""Wikipedia's "List of S&P 500 companies": a snapshot of the page, and the universe parsed from it.

The page is reference data, not market data: one request per run, stored verbatim under the ingest
day (``raw/constituents/<today>/sp500.html``) and fetched again on every run. The constituents table
(``id="constituents"``) is read with the standard library's `html.parser`, by its header names rather
than by column position, and Wikipedia's class-share dots become Yahoo's hyphens (``BRK.B`` ->
``BRK-B``). A table with fewer than `MIN_ROWS` companies is refused: a changed page layout must never
silently shrink the universe.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from html.parser import HTMLParser

from lambda_src.ingestion.httpclient import HttpResponse, InvalidResponse, describe_body
from lambda_src.ingestion.plan import PlannedRequest, SourcePlan, Window
from pipeline import catalog
from pipeline.rawzone import raw_key
from pipeline.reference import Company
from pipeline.settings import Settings

SOURCE = catalog.CONSTITUENTS
PACING_SECONDS = 1.0
OBJECT_NAME = "sp500.html"
TABLE_ID = "constituents"
#: The header cells the table must have, and the universe column each one fills.
COLUMNS = {"Symbol": "ticker", "Security": "name", "GICS Sector": "sector", "GICS Sub-Industry": "industry"}
#: The S&P 500 holds about 503 stocks; far fewer means the page changed, not the index.
MIN_ROWS = 400
_TICKER = re.compile(r"^[A-Z][A-Z0-9]*(?:[.\-][A-Z0-9]+)*$")


class ConstituentsError(ValueError):
    """The page holds no usable constituents table; `truncated` when the body ends inside the table."""

    def __init__(self, reason: str, *, truncated: bool = False) -> None:
        super().__init__(reason)
        self.truncated = truncated


def snapshot_key(today: dt.date) -> str:
    """Where the page fetched on `today` is kept."""
    return raw_key(SOURCE, today, OBJECT_NAME)


def plan(settings: Settings, window: Window, today: dt.date) -> SourcePlan:
    """One request for the page, whatever the window: the snapshot belongs to the ingest day."""
    request = PlannedRequest(
        source=SOURCE,
        entity="sp500",
        window=window,
        url=settings.url("wikipedia_constituents_url"),
        params=(),
        key=snapshot_key(today),
        extras={},
        check=check_page,
        revisable=True,  # today's list may change during the day: always fetch it again
    )
    return SourcePlan([request])


def check_page(response: HttpResponse, minimum_rows: int = MIN_ROWS) -> None:
    """HTTP 200, ``text/html``, and a constituents table that parses into at least `minimum_rows` rows.

    A wrong content type or a page cut off inside the table may be transient and is retried; a page
    without the table, with other headers or with too few rows is a changed layout and fails at once.
    """
    if response.status != 200:
        raise InvalidResponse(
            f"Wikipedia answered HTTP {response.status}, not 200: {describe_body(response.body)}",
            retryable=False,
        )
    if response.media_type != "text/html":
        raise InvalidResponse(
            f"Wikipedia sent {response.content_type or 'no content type'}, not text/html: "
            f"{describe_body(response.body)}",
            retryable=True,
        )
    try:
        parse_constituents(page_text(response.body, response.content_type), minimum_rows=minimum_rows)
    except ConstituentsError as error:
        raise InvalidResponse(f"Wikipedia constituents page: {error}", retryable=error.truncated) from None


def page_text(body: bytes, content_type: str) -> str:
    """The page's text in the charset its content type names (Wikipedia's is always UTF-8)."""
    match = re.search(r"charset=([\w.\-]+)", content_type, re.IGNORECASE)
    try:
        return body.decode(match.group(1) if match else "utf-8")
    except (LookupError, UnicodeDecodeError) as error:
        raise ConstituentsError(f"the body is not text in its charset ({error})", truncated=True) from None


def yahoo_ticker(symbol: str) -> str:
    """Yahoo's form of a Wikipedia symbol: class shares take a hyphen (``BRK.B`` -> ``BRK-B``)."""
    return symbol.replace(".", "-")


def parse_constituents(html: str, *, minimum_rows: int = MIN_ROWS) -> list[Company]:
    """The companies of the page's constituents table, in page order, tickers in Yahoo form.

    Raises `ConstituentsError` (one line) when the table is missing or cut off, lacks one of the
    `COLUMNS` headers, has a row with an empty cell, an invalid or repeated ticker, or holds fewer than
    `minimum_rows` companies.
    """
    reader = _TableReader(TABLE_ID)
    reader.feed(html)
    reader.close()
    if not reader.found:
        raise ConstituentsError(f'no table with id="{TABLE_ID}"')
    if not reader.finished:
        raise ConstituentsError(f'the page ends inside the table id="{TABLE_ID}"', truncated=True)
    if not reader.rows:
        raise ConstituentsError("the constituents table has no rows")
    header, *body = reader.rows
    missing = [name for name in COLUMNS if name not in header]
    if missing:
        raise ConstituentsError(
            f"the constituents table lacks the header(s) {', '.join(missing)} (found: {', '.join(header)})"
        )
    positions = {column: header.index(name) for name, column in COLUMNS.items()}
    companies = [
        _company(row, positions, number) for number, row in enumerate(body, start=2) if row != header
    ]
    repeated = sorted(ticker for ticker, count in Counter(c.ticker for c in companies).items() if count > 1)
    if repeated:
        raise ConstituentsError(f"repeated ticker(s) {', '.join(repeated)}")
    if len(companies) < minimum_rows:
        raise ConstituentsError(
            f"only {len(companies)} companies in the constituents table (at least {minimum_rows} expected): "
            "the page layout has probably changed, so the universe is left as it is"
        )
    return companies


def _company(row: list[str], positions: dict[str, int], number: int) -> Company:
    if len(row) <= max(positions.values()):
        raise ConstituentsError(f"row {number} has {len(row)} cells, fewer than the header: {row}")
    fields = {column: row[index] for column, index in positions.items()}
    empty = [column for column, value in fields.items() if not value]
    if empty:
        raise ConstituentsError(f"row {number} has an empty {', '.join(empty)}: {row}")
    if not _TICKER.match(fields["ticker"]):
        raise ConstituentsError(f"row {number}: {fields['ticker']!r} is not a ticker symbol")
    return Company(yahoo_ticker(fields["ticker"]), fields["name"], fields["sector"], fields["industry"])


class _TableReader(HTMLParser):
    """Collects the text of every cell, row by row, of the table with a given id (not nested tables).

    A cell's text is everything inside it, with whitespace collapsed, less footnote markers
    (``<sup class="reference">``), hidden sort keys and style or script elements.
    """

    def __init__(self, table_id: str) -> None:
        super().__init__(convert_charrefs=True)
        self.table_id = table_id
        self.found = False
        self.finished = False
        self.rows: list[list[str]] = []
        self._depth = 0  # tables open inside the wanted one, itself included
        self._row: list[str] | None = None
        self._cell: list[str] | None = None
        self._skipping: str | None = None  # the tag whose content is being left out
        self._skip_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.finished:
            return
        if self._depth == 0:
            if tag == "table" and dict(attrs).get("id") == self.table_id:
                self.found = True
                self._depth = 1
            return
        if self._skipping:
            if tag == self._skipping:
                self._skip_depth += 1
            return
        if tag == "table":
            self._depth += 1
        elif self._depth > 1:
            return
        elif tag == "tr":
            self._end_row()
            self._row = []
        elif tag in ("td", "th"):
            self._end_cell()
            if self._row is None:
                self._row = []
            self._cell = []
        elif _is_hidden(tag, dict(attrs)):
            self._skipping, self._skip_depth = tag, 1
        elif tag == "br" and self._cell is not None:
            self._cell.append(" ")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br" and self._cell is not None and not self._skipping and self._depth == 1:
            self._cell.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if self.finished or self._depth == 0:
            return
        if self._skipping:
            if tag == self._skipping:
                self._skip_depth -= 1
                if self._skip_depth == 0:
                    self._skipping = None
            return
        if tag == "table":
            self._depth -= 1
            if self._depth == 0:
                self._end_row()
                self.finished = True
        elif self._depth > 1:
            return
        elif tag in ("td", "th"):
            self._end_cell()
        elif tag in ("tr", "tbody", "thead", "tfoot"):
            self._end_row()

    def handle_data(self, data: str) -> None:
        if self._cell is not None and not self._skipping and self._depth == 1:
            self._cell.append(data)

    def _end_cell(self) -> None:
        if self._cell is not None and self._row is not None:
            self._row.append(" ".join("".join(self._cell).split()))
        self._cell = None

    def _end_row(self) -> None:
        self._end_cell()
        if self._row:
            self.rows.append(self._row)
        self._row = None


def _is_hidden(tag: str, attrs: dict[str, str | None]) -> bool:
    classes = (attrs.get("class") or "").split()
    style = (attrs.get("style") or "").replace(" ", "").lower()
    return (
        tag in ("style", "script")
        or (tag == "sup" and "reference" in classes)
        or "sortkey" in classes
        or "display:none" in style
    )
