"""News tone through the ETL: GDELT's tone objects beside the volume's, into `news_daily` and
`market_daily`, merged by rank like every other column (docs/internals.md)."""

from __future__ import annotations

import datetime as dt
import json

import psycopg
import pytest

from etl import run_etl
from pipeline import catalog
from pipeline.settings import get_settings
from tests.integration.etl.conftest import trading_days
from tests.support.fake_apis import fixture

pytestmark = pytest.mark.usefixtures("universe")
# The fixtures' days: 2 to 4 January 2024, the 3rd without a matching article.
DAYS = trading_days(dt.date(2024, 1, 2), 3)


def news(url: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "SELECT news_date, matching_articles, average_tone FROM news_daily ORDER BY news_date"
        ).fetchall()


def market_tone(url: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT trade_date, news_tone FROM market_daily ORDER BY trade_date").fetchall()


def tone_body(values: list[float | None]) -> bytes:
    data = [
        {"date": f"{day:%Y%m%d}T000000Z", "value": value} for day, value in zip(DAYS, values, strict=True)
    ]
    return json.dumps({"timeline": [{"series": "Average Tone", "data": data}]}).encode()


def test_volume_and_tone_fixtures_load_into_one_row_per_day(migrated_database_url, raw_zone):
    # Given GDELT's volume and tone responses for three days (captured format) and the index's bars
    raw_zone.yahoo("^GSPC", DAYS)
    raw_zone.gdelt_fixture("tone_day.json", tone=True)
    raw_zone.gdelt_fixture("timeline_day.json", tone=False)
    # When the ETL loads them
    result = run_etl(get_settings())
    assert result.exit_code == 0, result.summary()
    # Then each day has its counts and tone, the day without articles no tone (GDELT's 0 is not one)
    assert news(migrated_database_url) == [
        (DAYS[0], 1203, -1.8745298372491),
        (DAYS[1], 0, None),
        (DAYS[2], 1187, 0.4127768522981),
    ]
    # and the market summary carries the topic's tone on each trading day
    assert market_tone(migrated_database_url) == [
        (DAYS[0], -1.8745298372491),
        (DAYS[1], None),
        (DAYS[2], 0.4127768522981),
    ]


def test_finer_tone_buckets_load_as_the_mean_of_each_days_non_empty_buckets(migrated_database_url, raw_zone):
    raw_zone.gdelt_fixture("tone_15min.json", tone=True)
    assert run_etl(get_settings()).exit_code == 0
    assert news(migrated_database_url) == [(DAYS[0], None, pytest.approx(-3.5 / 3)), (DAYS[1], None, None)]


def test_the_newest_tone_wins_and_a_null_tone_never_erases_one(migrated_database_url, raw_zone):
    # Given a loaded volume and tone
    raw_zone.news(DAYS)
    key = raw_zone.put(
        catalog.GDELT,
        DAYS[0],
        f"depression_tone_{DAYS[-1]}.json",
        tone_body([-1.5, -0.5, 2.0]),
        {
            "topic": "depression",
            "mode": catalog.GDELT_TONE_MODE,
            "window_start": str(DAYS[0]),
            "window_end": str(DAYS[-1]),
        },
        "application/json",
    )
    assert run_etl(get_settings()).exit_code == 0
    # When a newer tone fetch brings a new value, a null and an empty bucket's 0
    raw_zone.replace_body(key, tone_body([-3.25, None, 0]))
    assert run_etl(get_settings()).exit_code == 0
    # Then the new value wins and the missing ones leave the stored tone, the counts untouched
    assert news(migrated_database_url) == [(DAYS[0], 10, -3.25), (DAYS[1], 11, -0.5), (DAYS[2], 12, 2.0)]
    # and the result is what one full load of the raw zone gives
    before = news(migrated_database_url)
    assert run_etl(get_settings(), full=True).exit_code == 0
    assert news(migrated_database_url) == before


@pytest.mark.parametrize(
    ("mode", "fixture_name", "reason"),
    [
        ("timelinevol", "tone_day.json", "metadata extra 'mode' is 'timelinevol', not a GDELT timeline mode"),
        (catalog.GDELT_VOLUME_MODE, "tone_day.json", "expected 'Article Count'"),
        (catalog.GDELT_TONE_MODE, "throttle.txt", "not JSON"),
    ],
)
def test_a_bad_tone_object_is_quarantined_alone(migrated_database_url, raw_zone, mode, fixture_name, reason):
    # Given a good volume and, beside it, a tone object with a bad mode or body
    raw_zone.news(DAYS)
    window = {"window_start": str(DAYS[0]), "window_end": str(DAYS[-1])}
    bad = raw_zone.put(
        catalog.GDELT,
        DAYS[0],
        f"depression_tone_{DAYS[-1]}.json",
        fixture(f"gdelt/{fixture_name}"),
        {"topic": "depression", "mode": mode, **window},
        "application/json",
    )
    # When the ETL runs, then that object alone is quarantined, with the reason, and the volume loads
    result = run_etl(get_settings())
    assert result.exit_code == 3
    with psycopg.connect(migrated_database_url) as conn:
        [(key, error)] = conn.execute(
            "SELECT key, error FROM raw_objects WHERE status = 'quarantined'"
        ).fetchall()
    assert key == bad and reason in error
    assert [row[1] for row in news(migrated_database_url)] == [10, 11, 12]
