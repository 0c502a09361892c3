"""End to end: data made the real way (`pipeline sample` into the raw zone, then the ETL) shown right.

The other dashboard tests seed the tables with INSERTs; this one lets the sample generator and the ETL
build them, so the dashboard is checked against the tables exactly as the pipeline writes them.
"""

from __future__ import annotations

import datetime as dt

import pytest

from dashboard.formatting import level, percent
from dashboard.vocabulary import index_name
from etl import run_etl
from pipeline.rawzone import open_raw_store
from pipeline.settings import get_settings
from sample_data.generator import write_sample
from tests.dashboard.test_pages import coloured_state_tiles, metrics, open_page

SAMPLE_END = dt.date(2024, 6, 28)
SAMPLE_TRADING_DAYS = 60


@pytest.fixture
def sampled_database_url(migrated_database_url: str) -> str:
    """The migrated database after `pipeline sample` (20 tickers x 60 days, seed 3) and one ETL run."""
    settings = get_settings()
    write_sample(
        settings,
        open_raw_store(settings),
        tickers=20,
        days=SAMPLE_TRADING_DAYS,
        seed=3,
        end=SAMPLE_END,
        progress=False,
    )
    etl_result = run_etl(settings, full=False, progress=False)
    assert etl_result.exit_code == 0, etl_result.summary()
    return migrated_database_url


def test_sampled_and_loaded_data_shows_the_index_figures_computed_in_sql(sampled_database_url, owner_query):
    index_symbol = get_settings().pipeline_indexes[0]
    [(last_day, last_close, last_return, last_volatility)] = owner_query(
        """
        SELECT trade_date, close, daily_return, volatility_7 FROM index_daily
        WHERE symbol = %s ORDER BY trade_date DESC LIMIT 1
        """,
        (index_symbol,),
    )
    [(first_close, period_close, trading_days)] = owner_query(
        """
        SELECT (array_agg(close ORDER BY trade_date))[1], (array_agg(close ORDER BY trade_date DESC))[1],
               count(*)
        FROM index_daily WHERE symbol = %s
        """,
        (index_symbol,),
    )
    assert last_day <= SAMPLE_END
    assert trading_days >= SAMPLE_TRADING_DAYS

    overview = open_page("overview")
    market = open_page("market", start=str(last_day - dt.timedelta(days=365)), end=str(last_day))

    shown = metrics(overview)
    assert shown[f"{index_name(index_symbol)} close"] == level(last_close)
    assert shown["Daily return"] == percent(last_return, signed=True)
    assert shown["7-day volatility"] == percent(last_volatility)
    assert any("Synthetic sample data" in warning.value for warning in overview.warning)
    shown = metrics(market)
    assert shown[f"{index_name(index_symbol)} close on {last_day}"] == level(period_close)
    assert shown["Change over the period"] == percent(period_close / first_close - 1, signed=True)
    assert shown["Trading days"] == f"{trading_days:,}"


def test_sampled_and_loaded_weather_colours_one_tile_per_observed_state(sampled_database_url, owner_query):
    start, end = SAMPLE_END - dt.timedelta(days=29), SAMPLE_END
    mean_precipitation = owner_query(
        """
        SELECT state, avg(precipitation_mm) FROM weather_daily
        WHERE obs_date BETWEEN %s AND %s GROUP BY state HAVING count(precipitation_mm) > 0
        """,
        (start, end),
    )
    assert len(mean_precipitation) == 50

    app = open_page("weather_sentiment", start=str(start), end=str(end))

    assert coloured_state_tiles(app) == pytest.approx(dict(mean_precipitation))


def test_sampled_and_loaded_news_tone_reaches_the_page(sampled_database_url, owner_query):
    # The sample's tone objects loaded beside the volume: a tone on every day with articles, none without
    [(days, toned, empty_with_tone)] = owner_query(
        """
        SELECT count(*), count(average_tone),
               count(*) FILTER (WHERE matching_articles = 0 AND average_tone IS NOT NULL)
        FROM news_daily
        """
    )
    assert days > SAMPLE_TRADING_DAYS and toned == days and empty_with_tone == 0
    # and the page counts the negative- and positive-tone trading days as the core tables do
    [(negative, positive)] = owner_query(
        """
        SELECT count(*) FILTER (WHERE n.average_tone < 0), count(*) FILTER (WHERE n.average_tone > 0)
        FROM index_daily AS i JOIN news_daily AS n ON n.news_date = i.trade_date
        WHERE i.daily_return IS NOT NULL AND n.matching_articles > 0
        """
    )
    start, end = SAMPLE_END - dt.timedelta(days=365), SAMPLE_END

    app = open_page("weather_sentiment", start=str(start), end=str(end))

    # (the sample's tone runs below neutral: its 60 days hold too few positive ones to compare)
    assert positive < 20 <= negative
    [refusal] = [info.value for info in app.info if info.value.startswith("Not compared")]
    assert f"{negative:,} trading days of negative news tone" in refusal
    assert f"and {positive:,} of positive tone" in refusal
    assert not any(label.startswith("Mean index daily return, negative") for label in metrics(app))


def test_sampled_and_loaded_weather_and_market_page_places_days_by_the_states_mean_high(
    sampled_database_url, owner_query
):
    index = owner_query(
        """
        WITH days AS (
            SELECT i.trade_date, i.daily_return, avg(w.temp_max_c) AS high
            FROM index_daily AS i JOIN weather_daily AS w ON w.obs_date = i.trade_date
            WHERE i.daily_return IS NOT NULL AND w.temp_max_c IS NOT NULL GROUP BY 1, 2
        ), bounds AS (
            SELECT percentile_cont(0.25) WITHIN GROUP (ORDER BY high) AS low_bound,
                   percentile_cont(0.75) WITHIN GROUP (ORDER BY high) AS high_bound FROM days
        )
        SELECT CASE WHEN high >= high_bound THEN 'Hottest 25% of days'
                    WHEN high <= low_bound THEN 'Coolest 25% of days' ELSE 'Other days' END,
               count(*), avg(daily_return)
        FROM days, bounds GROUP BY 1
        """
    )
    start, end = SAMPLE_END - dt.timedelta(days=365), SAMPLE_END

    app = open_page("weather_market", start=str(start), end=str(end), measure="temp_max_c", extremes="25")

    shown = metrics(app)
    for words, days, mean_return in index:
        assert shown[f"{words} ({days} days)"] == percent(mean_return, signed=True)
