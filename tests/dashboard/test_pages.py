"""Every page renders on the seeded database, and the figures it shows equal the same figures in SQL.

Expected values are computed from the core tables (not from the analytics layer the pages read), so a
wrong aggregation in either the dashboard or the analytics would show up as a mismatch.
"""

from __future__ import annotations

import json

import pytest
from streamlit.testing.v1 import AppTest

from dashboard.formatting import level, percent
from tests.dashboard.conftest import APP_PATH, INDEX_NAME

APP_TIMEOUT_SECONDS = 30


def open_page(page: str, **query_params: str | list[str]) -> AppTest:
    """Run the app, switch to `page` (a file of app_pages/) with the given filters, and run it."""
    app = AppTest.from_file(str(APP_PATH), default_timeout=APP_TIMEOUT_SECONDS).run()
    assert not app.exception, app.exception
    app.query_params.update(query_params)
    app.switch_page(f"app_pages/{page}.py").run()
    assert not app.exception, app.exception
    assert not app.error, [error.value for error in app.error]
    return app


def metrics(app: AppTest) -> dict[str, str]:
    return {metric.label: metric.value for metric in app.metric}


def coloured_state_tiles(app: AppTest) -> dict[str, float]:
    """The weather page's state map as plotly.js receives it: each coloured tile's state and value."""
    tile_map = json.loads(app.get("plotly_chart")[0].proto.spec)
    assert {trace["type"] for trace in tile_map["data"]} == {"heatmap"}, "no geo trace: nothing to download"
    coloured = next(trace for trace in tile_map["data"] if trace["name"] != "No observations")
    return {
        label: value
        for labels, values in zip(coloured["text"], coloured["z"], strict=True)
        for label, value in zip(labels, values, strict=True)
        if label
    }


def test_overview_shows_the_last_index_day_best_and_worst_sector_and_the_synthetic_badge(
    seeded_database_url, owner_query
):
    [(last_close, last_return, last_volatility)] = owner_query(
        "SELECT close, daily_return, volatility_7 FROM index_daily ORDER BY trade_date DESC LIMIT 1"
    )
    sector_returns = owner_query(
        """
        SELECT c.sector, avg(s.daily_return) FROM stock_daily AS s JOIN companies AS c USING (ticker)
        WHERE s.trade_date = (SELECT max(trade_date) FROM stock_daily)
        GROUP BY c.sector ORDER BY 2 DESC
        """
    )

    app = AppTest.from_file(str(APP_PATH), default_timeout=APP_TIMEOUT_SECONDS).run()

    assert not app.exception, app.exception
    shown = metrics(app)
    assert shown[f"{INDEX_NAME} close"] == level(last_close)
    assert shown["Daily return"] == percent(last_return, signed=True)
    assert shown["7-day volatility"] == percent(last_volatility)
    assert shown["Best sector"] == sector_returns[0][0]
    assert shown["Worst sector"] == sector_returns[-1][0]
    assert any("Synthetic sample data" in warning.value for warning in app.warning)


def test_market_page_reports_the_change_over_the_period_in_the_url(seeded_database_url, owner_query):
    start, end = "2024-02-01", "2024-03-15"
    [(first_close, last_close, days)] = owner_query(
        """
        SELECT (array_agg(close ORDER BY trade_date))[1], (array_agg(close ORDER BY trade_date DESC))[1],
               count(*)
        FROM index_daily WHERE trade_date BETWEEN %s AND %s
        """,
        (start, end),
    )

    app = open_page("market", start=start, end=end)

    shown = metrics(app)
    assert shown["Change over the period"] == percent(last_close / first_close - 1, signed=True)
    assert shown["Trading days"] == str(days)
    assert app.query_params["start"] == start
    assert app.query_params["end"] == end


def test_sectors_page_ranks_sectors_by_compounded_mean_return(seeded_database_url, owner_query):
    ranking = owner_query(
        """
        WITH daily AS (
            SELECT c.sector, s.trade_date, avg(s.daily_return) AS mean_return
            FROM stock_daily AS s JOIN companies AS c USING (ticker)
            WHERE s.daily_return IS NOT NULL GROUP BY 1, 2
        )
        SELECT sector, exp(sum(ln(1 + mean_return))) - 1 FROM daily GROUP BY sector ORDER BY 2 DESC
        """
    )

    app = open_page("sectors", start="2024-01-01", end="2024-12-31", sector="Energy")

    shown = {metric.label: metric for metric in app.metric}
    assert shown["Best sector over the period"].value == ranking[0][0]
    assert shown["Best sector over the period"].delta == percent(ranking[0][1], signed=True)
    assert shown["Worst sector over the period"].value == ranking[-1][0]
    members = app.dataframe[-1].value
    assert sorted(members["ticker"]) == ["EEE", "FFF"]
    # 59 trading days with a return: fewer than an annualised figure needs, and the page says so.
    assert any("No annualised figures" in info.value for info in app.info)
    assert "annualised_return" not in members.columns


def test_stock_page_shows_the_chosen_tickers_last_close_and_range(seeded_database_url, owner_query):
    [(last_day, last_close, low, high)] = owner_query(
        """
        SELECT max(trade_date), (array_agg(close ORDER BY trade_date DESC))[1], min(low), max(high)
        FROM stock_daily WHERE ticker = 'CCC'
        """
    )

    app = open_page("stock", ticker="CCC")

    shown = metrics(app)
    assert shown[f"Last close ({last_day})"] == level(last_close)
    assert shown["52-week low"] == level(low)
    assert shown["52-week high"] == level(high)
    assert any("Gamma Care plc (CCC)" in header.value for header in app.header)


def test_correlations_page_lists_the_pair_correlation_computed_in_sql(seeded_database_url, owner_query):
    [(expected,)] = owner_query(
        """
        SELECT corr(i.daily_return, m.value) FROM index_daily AS i
        JOIN macro_daily AS m ON m.series_id = 'VIXCLS' AND m.obs_date = i.trade_date
        """
    )

    app = open_page("correlations", start="2024-01-01", end="2024-12-31", series=["index_return", "vix"])

    pairs = app.dataframe[0].value
    assert len(pairs) == 1
    assert pairs["correlation"].iloc[0] == pytest.approx(expected)


def test_weather_page_names_the_wettest_state_and_splits_days_by_news_volume(
    seeded_database_url, owner_query
):
    mean_precipitation = owner_query(
        "SELECT state, avg(precipitation_mm) FROM weather_daily GROUP BY state ORDER BY 2 DESC"
    )
    wettest = mean_precipitation[0][0]
    regimes = owner_query(
        """
        WITH days AS (
            SELECT i.daily_return, n.matching_articles FROM index_daily AS i
            JOIN news_daily AS n ON n.news_date = i.trade_date
        ), median AS (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY matching_articles) AS m FROM days)
        SELECT CASE WHEN matching_articles > m THEN 'high' ELSE 'low' END, count(*), avg(daily_return)
        FROM days, median GROUP BY 1 ORDER BY 1
        """
    )

    app = open_page("weather_sentiment", start="2024-01-01", end="2024-12-31")

    shown = metrics(app)
    assert (
        shown["Wettest state (mean daily precipitation)"] == f"{wettest}: {mean_precipitation[0][1]:.1f} mm"
    )
    assert coloured_state_tiles(app) == pytest.approx(dict(mean_precipitation))
    for regime, days, mean_return in regimes:
        label = f"Mean index daily return, {regime} news volume ({days} days)"
        assert shown[label] == percent(mean_return, signed=True)


def test_weather_page_compares_the_market_on_negative_and_positive_tone_days(
    seeded_database_url, owner_query
):
    # Expected from the core tables: the index's return on trading days with a tone (and articles)
    regimes = owner_query(
        """
        SELECT CASE WHEN n.average_tone < 0 THEN 'negative' ELSE 'positive' END, count(*),
               avg(i.daily_return), stddev_samp(i.daily_return)
        FROM index_daily AS i JOIN news_daily AS n ON n.news_date = i.trade_date
        WHERE n.average_tone IS NOT NULL AND n.matching_articles > 0 AND i.daily_return IS NOT NULL
        GROUP BY 1 ORDER BY 1
        """
    )
    assert all(days >= 20 for _, days, _, _ in regimes), "the seeded market should be compared"

    app = open_page("weather_sentiment", start="2024-01-01", end="2024-12-31")

    shown = metrics(app)
    for regime, days, mean_return, volatility in regimes:
        assert shown[f"Mean index daily return, {regime}-tone days ({days} days)"] == percent(
            mean_return, signed=True
        )
        assert shown[f"Volatility of daily returns, {regime}-tone days"] == percent(volatility)
    # The topic is named with its volume and tone
    assert any("News on “depression”: volume and tone" in header.value for header in app.header)


def test_weather_page_refuses_a_tone_comparison_on_too_few_days(seeded_database_url):
    app = open_page("weather_sentiment", start="2024-03-01", end="2024-03-15")
    [refusal] = [info.value for info in app.info if info.value.startswith("Not compared")]
    assert "each side needs at least 20" in refusal
    assert not any(label.startswith("Mean index daily return, negative") for label in metrics(app))


_WEATHER_CLASSES = """
    WITH days AS (
        SELECT i.trade_date, i.daily_return, avg(w.temp_max_c) AS high
        FROM index_daily AS i JOIN weather_daily AS w ON w.obs_date = i.trade_date
        WHERE i.daily_return IS NOT NULL GROUP BY 1, 2
    ), bounds AS (
        SELECT percentile_cont(0.25) WITHIN GROUP (ORDER BY high) AS low_bound,
               percentile_cont(0.75) WITHIN GROUP (ORDER BY high) AS high_bound FROM days
    )
    SELECT trade_date, daily_return,
           CASE WHEN high >= high_bound THEN 'hottest' WHEN high <= low_bound THEN 'coolest' ELSE 'other' END
    FROM days, bounds
"""


def test_weather_and_market_page_compares_the_hottest_and_coolest_quarter_of_days(
    seeded_database_url, owner_query
):
    # Expected from the core tables: days placed by the states' mean daily high, the index's and the
    # Energy stocks' mean return on each group
    index = owner_query(
        f"SELECT c, count(*), avg(daily_return) FROM ({_WEATHER_CLASSES}) AS t(d, daily_return, c) GROUP BY c"
    )
    energy = dict(
        owner_query(
            f"""
            SELECT t.c, avg(s.r) FROM ({_WEATHER_CLASSES}) AS t(d, daily_return, c)
            JOIN (SELECT s.trade_date, avg(s.daily_return) AS r FROM stock_daily AS s
                  JOIN companies AS c USING (ticker) WHERE c.sector = 'Energy' GROUP BY 1) AS s
              ON s.trade_date = t.d
            GROUP BY t.c
            """
        )
    )

    app = open_page(
        "weather_market", start="2024-01-01", end="2024-12-31", measure="temp_max_c", extremes="25"
    )

    shown = metrics(app)
    words = {"hottest": "Hottest 25% of days", "coolest": "Coolest 25% of days", "other": "Other days"}
    assert any(header.value == f"{INDEX_NAME} mean daily return" for header in app.subheader)
    for weather_class, days, mean_return in index:
        assert shown[f"{words[weather_class]} ({days} days)"] == percent(mean_return, signed=True)
    # The method is stated on the page
    assert any("**Method.**" in caption.value for caption in app.caption)
    # and the sector table gives Energy's mean return on each group, under the group's name
    grid = app.dataframe[0].value
    energy_row = grid[grid["sector"] == "Energy"].iloc[0]
    # (in percentage points, rounded as the grid shows them)
    assert energy_row["high_days_return"] == pytest.approx(round(energy["hottest"] * 100, 2))
    assert energy_row["low_days_return"] == pytest.approx(round(energy["coolest"] * 100, 2))
    assert energy_row["other_days_return"] == pytest.approx(round(energy["other"] * 100, 2))


def test_weather_and_market_page_refuses_too_few_extreme_days_and_says_why(seeded_database_url):
    # 60 seeded trading days: their top and bottom deciles hold 6 days each
    app = open_page("weather_market", start="2024-01-01", end="2024-12-31", measure="precipitation_mm")
    [refusal] = [info.value for info in app.info]
    assert refusal.startswith("Not compared: this period has 6 wettest and 6 driest trading days")
    assert "at least 10" in refusal
    assert not metrics(app)


def test_pipeline_health_lists_failures_quarantined_objects_and_row_counts(seeded_database_url, owner_query):
    [(stock_rows,)] = owner_query("SELECT count(*) FROM stock_daily")

    app = open_page("pipeline_health")

    shown = metrics(app)
    assert shown["Runs not fully successful"] == "1"
    assert shown["Quarantined objects"] == "1"
    # Reasons wrap in static tables, with words for headers and sources.
    failures, quarantined = (table.value for table in app.table)
    assert failures["Reason"].tolist() == ["HTTP 429 after 4 attempts"]
    assert failures["Source"].tolist() == ["GDELT (news)"]
    assert quarantined["Reason"].tolist() == ["truncated JSON at byte 512"]
    frames = [frame.value for frame in app.dataframe]
    table_stats = next(frame for frame in frames if "row_count" in frame.columns)
    counts = dict(zip(table_stats["table_name"], table_stats["row_count"], strict=True))
    assert counts["Daily stock prices"] == stock_rows
