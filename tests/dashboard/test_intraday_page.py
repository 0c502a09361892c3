"""The Intraday page, served for real (`pipeline dashboard`) to headless Chromium, over a lake the ETL
wrote from `pipeline sample --intraday`: the figures it shows equal those computed here from the lake's
rows (read with pyiceberg, not DuckDB), in words, and the page is offered only when there is a lake.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from dashboard.formatting import level, percent
from etl import run_etl
from etl.lake import open_catalog, table_identifier
from pipeline.rawzone import open_raw_store
from pipeline.settings import Settings, get_settings
from sample_data.generator import write_sample
from sample_data.intraday import write_intraday_sample
from tests.conftest import reset_settings_caches
from tests.dashboard.conftest import APP_PATH
from tests.dashboard.test_browser import RENDER_TIMEOUT_MS, dashboard_server, offline_chromium_page
from tests.dashboard.test_browser_words import (
    SCREENSHOTS,
    WIDTHS,
    show_whole_page,
    wait_until_drawn,
    words_out_of_place,
)

END = dt.date(2024, 6, 28)


@pytest.fixture
def lake_settings(migrated_database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("LAKE_WAREHOUSE", str(tmp_path / "lake"))
    reset_settings_caches()
    settings = get_settings()
    store = open_raw_store(settings)
    write_sample(settings, store, tickers=4, days=10, seed=9, end=END, progress=False)
    write_intraday_sample(settings, store, tickers=4, days=10, seed=9, end=END)
    result = run_etl(settings)
    assert result.exit_code == 0, result.summary()
    return settings


def expected_day(settings: Settings, ticker: str, day: dt.date) -> dict[str, float]:
    """The day's close, VWAP, range and volatility from the lake's rows, computed in Python."""
    table = open_catalog(settings).load_table(table_identifier(settings, "stock_minute"))
    rows = [
        row
        for row in table.scan(row_filter=f"ticker = '{ticker}'").to_arrow().to_pylist()
        if row["trade_date"] == day
    ]
    rows.sort(key=lambda row: row["bar_time"])
    volume = sum(row["volume"] for row in rows)
    vwap = sum((row["high"] + row["low"] + row["close"]) / 3 * row["volume"] for row in rows) / volume
    returns = [math.log(b["close"] / a["close"]) for a, b in itertools.pairwise(rows)]
    mean = sum(returns) / len(returns)
    deviation = math.sqrt(sum((value - mean) ** 2 for value in returns) / (len(returns) - 1))
    high, low = max(row["high"] for row in rows), min(row["low"] for row in rows)
    return {
        "close": rows[-1]["close"],
        "session_return": rows[-1]["close"] / rows[0]["open"] - 1,
        "vwap": vwap,
        "intraday_range": (high - low) / rows[0]["open"],
        "intraday_volatility": deviation * math.sqrt(len(rows)),
    }


@pytest.mark.browser
def test_the_intraday_page_shows_a_days_figures_in_headless_chromium(
    lake_settings, migrated_database_url, tmp_path
):
    minute_table = open_catalog(lake_settings).load_table(table_identifier(lake_settings, "stock_minute"))
    ticker, day = (
        sorted(set(minute_table.scan(selected_fields=("ticker",)).to_arrow()["ticker"].to_pylist()))[-1],
        END,
    )
    expected = expected_day(lake_settings, ticker, day)
    environment = {"LAKE_WAREHOUSE": str(lake_settings.lake_warehouse)}
    with (
        dashboard_server(migrated_database_url, tmp_path / "dashboard.log", environment) as (base_url, _),
        offline_chromium_page(base_url) as (page, refused),
    ):
        texts, cells = {}, {}
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        for width in WIDTHS.values():  # as the other pages: a desktop and a phone, each pictured
            page.set_viewport_size({"width": width, "height": 900})
            page.goto(f"{base_url}/intraday?ticker={ticker}&day={day}&day=2024-06-26")
            wait_until_drawn(page)
            page.get_by_text("Intraday volatility").first.wait_for(timeout=RENDER_TIMEOUT_MS)
            show_whole_page(page)
            texts[width] = page.locator('[data-testid="stMain"]').inner_text()
            chart_text = " ".join(page.locator(".js-plotly-plot svg text").all_text_contents())
            texts[width] += " " + chart_text
            cells[width] = page.locator('[data-testid="stMain"] [role="gridcell"]').all_text_contents()
            page.screenshot(path=str(SCREENSHOTS / f"intraday-{width}.png"), full_page=True)
        text = texts[WIDTHS["desktop"]]
    for figure in (
        level(expected["close"]),
        percent(expected["session_return"], signed=True),
        level(expected["vwap"]),
        percent(expected["intraday_range"]),
        percent(expected["intraday_volatility"]),
    ):
        assert figure in text, figure
    assert "VWAP (volume-weighted average price)" in text and "The days compared" in text
    # The grid writes a price as the card does, with two decimals (the VWAP is never round).
    assert level(expected["vwap"]) in cells[WIDTHS["desktop"]], cells[WIDTHS["desktop"]]
    assert "2024-06-26 VWAP" in text and "Time of day (New York)" in text
    assert {width: words_out_of_place(shown) for width, shown in texts.items()} == {1440: [], 390: []}
    assert refused == []


def test_the_page_is_offered_only_with_a_lake(seeded_database_url, monkeypatch, tmp_path):
    app = AppTest.from_file(str(APP_PATH), default_timeout=30).run()
    assert not app.exception, app.exception
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        app.switch_page("app_pages/intraday.py")
    monkeypatch.setenv("LAKE_WAREHOUSE", str(tmp_path / "empty-lake"))
    reset_settings_caches()
    app = AppTest.from_file(str(APP_PATH), default_timeout=30).run()
    app.switch_page("app_pages/intraday.py").run()
    assert not app.exception, app.exception
    assert any("No minute bars in the lake yet" in info.value for info in app.info)
