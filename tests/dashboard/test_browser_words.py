"""Every page read in a real browser at 1440 px and at 390 px (a phone): words and values people can read.

Headless Chromium opens each page of `pipeline dashboard` on the seeded database and reads everything
it shows: the page's text, the charts' SVG text (axes, legends, titles) and `st.dataframe`'s ARIA grid
(its headers and cells, which the canvas draws but the accessibility table carries). No snake_case
identifier and no missing-value word (None, nan, null, undefined) may appear anywhere but in the SQL
explorer's own results. The sample-data notice is on every page, and each view is kept as a
screenshot under `artifacts/screenshots/` (named in the README).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.dashboard.test_browser import ARTIFACTS, RENDER_TIMEOUT_MS, offline_chromium_page, served_dashboard

SCREENSHOTS = ARTIFACTS / "screenshots"
#: Every page by its URL path, with a query that gives it a full period (the seeded 60 trading days).
PAGES = {
    "overview": "",
    "market": "market?start=2024-01-01&end=2024-03-31",
    "sectors": "sectors?start=2024-01-01&end=2024-03-31",
    "stock": "stock?start=2024-01-01&end=2024-03-31",
    "correlations": "correlations?start=2024-01-01&end=2024-03-31",
    "weather_sentiment": "weather_sentiment?start=2024-01-01&end=2024-03-31",
    "weather_market": "weather_market?start=2024-01-01&end=2024-03-31&measure=temp_max_c&extremes=25",
    "pipeline_health": "pipeline_health",
    "sql_explorer": "sql_explorer",
}
WIDTHS = {"desktop": 1440, "phone": 390}
#: Pages offered only with a lake (LAKE_WAREHOUSE), read and pictured at both widths by their own test.
READ_ELSEWHERE = {"intraday": "tests/dashboard/test_intraday_page.py"}
#: lower_snake_case words (two or more parts): identifiers that escaped the vocabulary.
SNAKE_CASE = re.compile(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b")
MISSING_WORDS = re.compile(r"\b(?:None|nan|NaN|NaT|null|undefined|<NA>)\b")
#: Raw-zone paths (raw/gdelt/2024-01-02/depression_2024-03-25.json) are shown as they are, so that an
#: operator can find the object; they are the one place an underscore may appear.
RAW_ZONE_PATH = re.compile(r"\braw/\S+")

# Everything a visitor can read: the page's text, chart text, the grids' headers and cells, and the
# options of open selectors. The SQL explorer's statement box and results are the visitor's own words.
_READ_PAGE = """
() => {
  const main = document.querySelector('[data-testid="stMain"]') || document.body;
  const sidebar = document.querySelector('[data-testid="stSidebar"]');
  const parts = [main.innerText, sidebar ? sidebar.innerText : ""];
  for (const node of main.querySelectorAll('svg text')) parts.push(node.textContent);
  for (const node of main.querySelectorAll('[role="columnheader"], [role="gridcell"], [role="rowheader"]'))
    parts.push(node.textContent);
  // Material icons are a ligature font: the glyph's name is its text, but people see the picture.
  const icons = [...document.querySelectorAll('[data-testid="stIconMaterial"]')].map((n) => n.textContent);
  return {text: parts.join("\\n"), icons: icons};
}
"""


def wait_until_drawn(page) -> None:
    """Until the script has finished its run and the charts have drawn."""
    page.locator('[data-testid="stApp"][data-test-script-state="notRunning"]').wait_for(
        timeout=RENDER_TIMEOUT_MS
    )
    page.locator("h1").first.wait_for(timeout=RENDER_TIMEOUT_MS)
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(500)  # plotly and the grids draw in the frame after their data arrives


def show_whole_page(page) -> None:
    """Make the window as tall as the page's content: Streamlit scrolls inside its main block, and grids
    below the fold draw no cells, so the whole page is read and pictured at once."""
    size = page.viewport_size
    height = page.evaluate("document.querySelector('[data-testid=\"stMain\"]').scrollHeight")
    page.set_viewport_size({"width": size["width"], "height": max(size["height"], height)})
    page.wait_for_timeout(1000)  # charts and grids redraw at the new size


def words_out_of_place(text: str) -> list[str]:
    text = RAW_ZONE_PATH.sub(" ", text)
    return sorted(set(SNAKE_CASE.findall(text)) | set(MISSING_WORDS.findall(text)))


def test_every_page_of_the_app_is_read_and_pictured():
    # A page added to the navigation is read and screenshotted too (.ci/run counts one per page).
    app = (Path(__file__).resolve().parents[2] / "dashboard" / "app.py").read_text()
    assert set(re.findall(r'st\.Page\("app_pages/(\w+)\.py"', app)) == set(PAGES) | set(READ_ELSEWHERE)


def test_the_patterns_find_what_they_should():
    assert words_out_of_place("Mean return mean_volatility_7 traded from None, nan") == [
        "None",
        "mean_volatility_7",
        "nan",
    ]
    assert words_out_of_place("Quarantined: raw/gdelt/2024-01-02/depression_2024-03-25.json") == []
    assert words_out_of_place("Index daily return +1.23% · S&P 500 · 2024-03-25 · 7-day volatility") == []


@pytest.mark.browser
@pytest.mark.parametrize("width_name", list(WIDTHS))
def test_every_page_shows_words_and_values_not_identifiers(seeded_database_url, tmp_path, width_name):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    found: dict[str, list[str]] = {}
    texts: dict[str, str] = {}
    with (
        served_dashboard(seeded_database_url, tmp_path / "dashboard.log") as base_url,
        offline_chromium_page(base_url) as (page, refused),
    ):
        for name, path in PAGES.items():
            page.set_viewport_size({"width": WIDTHS[width_name], "height": 900})
            page.goto(f"{base_url}/{path}")
            wait_until_drawn(page)
            show_whole_page(page)
            assert page.get_by_text("Synthetic sample data").first.is_visible(), name
            read = page.evaluate(_READ_PAGE)
            text = read["text"]
            for icon in read["icons"]:
                text = text.replace(icon, " ")
            if name == "sql_explorer":
                text = text.split("Statement")[0]  # before the visitor's statement and its results
            texts[name], found[name] = text, words_out_of_place(text)
            page.screenshot(path=str(SCREENSHOTS / f"{name}-{WIDTHS[width_name]}.png"), full_page=True)
    assert {name: words for name, words in found.items() if words} == {}
    # The reading reached the grids' cells and the charts' text, not only the page's prose.
    assert "Daily stock prices" in texts["pipeline_health"]
    assert "GDELT (news)" in texts["overview"]
    assert "Cumulative mean return per sector" in texts["sectors"]
    # The news tone (chart titles, the regimes' grid) and the weather-and-market view, charts and grid
    assert "Mean news tone" in texts["weather_sentiment"]
    assert "Positive-tone days" in texts["weather_sentiment"]
    assert "Hottest 25% of days" in texts["weather_market"]
    assert "Utilities" in texts["weather_market"] or "Energy" in texts["weather_market"]
    assert refused == []


@pytest.mark.browser
def test_an_invalid_link_parameter_is_named_on_the_page(seeded_database_url, tmp_path):
    with (
        served_dashboard(seeded_database_url, tmp_path / "dashboard.log") as base_url,
        offline_chromium_page(base_url) as (page, _),
    ):
        page.goto(f"{base_url}/stock?ticker=NOPE&start=yesterday")
        wait_until_drawn(page)
        notices = page.get_by_text("is not valid here").all_text_contents()
    assert any("ticker parameter, “NOPE”" in notice for notice in notices), notices
    assert any("start parameter, “yesterday”" in notice for notice in notices), notices
