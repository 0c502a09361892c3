"""Faults of the raw zone and of what the APIs sent, against the ETL: each loses nothing, tells the user
one line naming the object, and a re-run (after the repair, where one is needed) loads everything.

Re-fetches arrive as the ingestion stores them (`pipeline.rawzone.keep_fetch`: a response with other
bytes beside the first, never over it); damage is done to the files the way a disk or an operator would.
"""

from __future__ import annotations

import datetime as dt
import json

import psycopg
import pytest

from cli.status import status_report
from etl.run import run_etl
from pipeline import catalog
from pipeline.market_time import market_today
from pipeline.rawzone import keep_fetch, make_metadata, parse_raw_key, raw_key
from pipeline.settings import get_settings
from tests.conftest import create_database, drop_database, reset_settings_caches
from tests.integration.etl.conftest import (
    FIRST_DAY,
    STATES,
    RawZoneWriter,
    chart_body,
    table_checksums,
    trading_days,
    walk,
)

DAYS = trading_days(dt.date(2024, 1, 2), 10)


def rows(url: str, query: str, *params) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(query, params).fetchall()


def refetch(writer: RawZoneWriter, key: str, body: bytes, *, fetched_at: dt.datetime) -> str:
    """Store a later (or earlier) response of `key`'s window as the ingestion does; return its key."""
    stored = writer.store.head(key)
    metadata = make_metadata(
        body,
        source_url=stored.source_url,
        http_status=200,
        content_type=stored.content_type,
        fetched_at=fetched_at,
        extra=stored.extra,
    )
    return keep_fetch(writer.store, key, body, metadata)


def weather_body(writer: RawZoneWriter, key: str, change) -> bytes:
    document = json.loads(writer.store.get(key).body)
    for element in document:
        change(element["daily"])
    return json.dumps(document).encode()


def test_a_refetch_with_null_values_keeps_the_stored_values_and_the_good_response(
    migrated_database_url, raw_zone
):
    # Given weather loaded from a good response,
    good = raw_zone.weather(DAYS)
    assert run_etl(get_settings()).exit_code == 0
    before = rows(
        migrated_database_url,
        "SELECT state, obs_date, precipitation_mm, temp_max_c FROM weather_daily ORDER BY 1, 2",
    )

    # when the same window is fetched again and every value array comes back null,
    def nulls(daily):
        for name in ("precipitation_sum", "temperature_2m_max", "temperature_2m_min"):
            daily[name] = [None] * len(daily["time"])

    later = refetch(
        raw_zone, good, weather_body(raw_zone, good, nulls), fetched_at=raw_zone.clock + dt.timedelta(hours=1)
    )
    result = run_etl(get_settings())

    # then the run loads it without harm: every stored value stays,
    assert result.exit_code == 0
    after = rows(
        migrated_database_url,
        "SELECT state, obs_date, precipitation_mm, temp_max_c FROM weather_daily ORDER BY 1, 2",
    )
    assert after == before and len(after) == len(STATES) * len(DAYS)
    # and the raw zone still holds the good response beside the null one.
    assert later != good and raw_zone.store.exists(good) and raw_zone.store.exists(later)
    assert json.loads(raw_zone.store.get(good).body)[0]["daily"]["temperature_2m_max"][0] is not None


def put_chart(writer: RawZoneWriter, days: list[dt.date], *, scale: float, fetched_at: dt.datetime) -> str:
    """AAPL's chart of `days` with every price times `scale`, fetched at `fetched_at`."""
    bars = [bar for bar in walk("AAPL", trading_days(FIRST_DAY, 400)) if bar["day"] in set(days)]
    scaled = [
        {**bar, **{name: bar[name] * scale for name in ("open", "high", "low", "close", "adjclose")}}
        for bar in bars
    ]
    body = chart_body("AAPL", scaled)
    extra = {"symbol": "AAPL", "window_start": days[0].isoformat(), "window_end": days[-1].isoformat()}
    metadata = make_metadata(
        body,
        source_url="https://example.test/yahoo",
        http_status=200,
        content_type="application/json",
        fetched_at=fetched_at,
        extra=extra,
    )
    return keep_fetch(writer.store, raw_key(catalog.YAHOO, days[0], f"AAPL_{days[-1]}.json"), body, metadata)


@pytest.mark.parametrize("newer_first", [True, False])
def test_the_newest_fetch_wins_in_either_load_order(
    migrated_database_url, raw_zone, pg_server, monkeypatch, newer_first
):
    # Given a five-day window fetched first, and its last day fetched again an hour later with other prices,
    older_at = dt.datetime(2024, 6, 1, 12, tzinfo=dt.UTC)
    newer_at = older_at + dt.timedelta(hours=1)
    loads = [(DAYS[:5], 1.0, older_at), (DAYS[4:5], 1.5, newer_at)]
    # loaded one run each, in either order (a late delivery of the older one after the newer),
    for days, scale, fetched_at in reversed(loads) if newer_first else loads:
        put_chart(raw_zone, days, scale=scale, fetched_at=fetched_at)
        assert run_etl(get_settings()).exit_code == 0
    # then the last day's close is the newer fetch's, the others the older's,
    closes = dict(
        rows(migrated_database_url, "SELECT trade_date, close FROM stock_daily WHERE ticker = 'AAPL'")
    )
    expected = {
        bar["day"]: bar["close"]
        for bar in walk("AAPL", trading_days(FIRST_DAY, 400))
        if bar["day"] in DAYS[:5]
    }
    assert closes == pytest.approx({**expected, DAYS[4]: expected[DAYS[4]] * 1.5})
    # and a --full load of the same raw zone into an empty database agrees row for row.
    fresh = create_database(pg_server)
    try:
        monkeypatch.setenv("DATABASE_URL", fresh)
        reset_settings_caches()
        from pipeline.migrations import migrate

        migrate()
        assert run_etl(get_settings(), full=True).exit_code == 0
        assert table_checksums(fresh) == table_checksums(migrated_database_url)
    finally:
        drop_database(pg_server, fresh)


def test_the_archive_outranks_a_newer_forecast_of_the_same_day(migrated_database_url, raw_zone):
    # Given the archive's values of some days, and a forecast of the same days fetched later,
    archive = raw_zone.weather(DAYS[:3])

    def hotter(daily):
        daily["temperature_2m_max"] = [value + 5 for value in daily["temperature_2m_max"]]

    forecast_body = weather_body(raw_zone, archive, hotter)
    stored = raw_zone.store.head(archive)
    extra = {**stored.extra, "endpoint": "forecast"}
    forecast = raw_key(catalog.OPEN_METEO, DAYS[0], f"forecast_{DAYS[2]}.json")
    raw_zone.store.put(
        forecast,
        forecast_body,
        make_metadata(
            forecast_body,
            source_url="https://example.test/forecast",
            http_status=200,
            content_type="application/json",
            fetched_at=stored.fetched_at + dt.timedelta(days=1),
            extra=extra,
        ),
    )
    # when both load (in one run),
    assert run_etl(get_settings()).exit_code == 0
    # then the archive's values stand.
    assert rows(
        migrated_database_url, "SELECT DISTINCT temp_max_c FROM weather_daily WHERE state = 'CA'"
    ) == [(20.0,)]


def test_a_csv_cut_mid_value_is_quarantined_by_name(migrated_database_url, raw_zone):
    # Given FRED's CSV stored cut in the middle of its last value ("...,15.7" arriving as "...,1"),
    good = raw_zone.fred("VIXCLS", DAYS)
    body = raw_zone.store.get(good).body
    cut = body.rstrip(b"\n")[:-4]
    bad = raw_zone.fred("DGS10", DAYS)
    raw_zone.replace_body(bad, cut.replace(b"VIXCLS", b"DGS10"))
    # when the ETL runs, then that object alone is refused, named, with the reason,
    result = run_etl(get_settings())
    assert result.exit_code == 3
    assert result.quarantined == [(bad, result.quarantined[0][1])]
    assert "ends mid-line" in result.quarantined[0][1]
    assert f"quarantined {bad}: " in result.summary()
    # no wrong number is stored for it, and the good series loads.
    assert rows(migrated_database_url, "SELECT count(*) FROM macro_daily WHERE series_id = 'DGS10'") == [(0,)]
    assert rows(migrated_database_url, "SELECT count(*) FROM macro_daily WHERE series_id = 'VIXCLS'") == [
        (len(DAYS),)
    ]


def test_a_body_cut_after_it_was_stored_is_quarantined_and_loads_once_repaired(
    migrated_database_url, raw_zone
):
    keys = raw_zone.everything(DAYS)
    damaged = keys[0]
    path = raw_zone.store.root / damaged
    whole = path.read_bytes()
    path.write_bytes(whole[: len(whole) // 2])
    result = run_etl(get_settings())
    assert result.exit_code == 3
    assert [key for key, _ in result.quarantined] == [damaged]
    assert "does not match its metadata" in result.quarantined[0][1]
    assert damaged in status_report(get_settings())
    # Restored (from a backup, or S3's previous version), it loads on the next run.
    path.write_bytes(whole)
    assert run_etl(get_settings()).exit_code == 0
    assert rows(migrated_database_url, "SELECT status FROM raw_objects WHERE key = %s", damaged) == [
        ("loaded",)
    ]


@pytest.mark.parametrize("damage", ["corrupt", "not_an_object", "missing_field", "removed"])
def test_a_damaged_sidecar_quarantines_that_object_alone(migrated_database_url, raw_zone, damage):
    # Given every source's objects, one of whose metadata sidecars is damaged,
    keys = raw_zone.everything(DAYS)
    damaged = keys[1]
    sidecar = raw_zone.store.root / (damaged + ".meta.json")
    if damage == "corrupt":
        sidecar.write_bytes(sidecar.read_bytes()[:20])
    elif damage == "not_an_object":
        sidecar.write_text("[1, 2]")
    elif damage == "missing_field":
        flat = json.loads(sidecar.read_text())
        del flat["fetched_at"]
        sidecar.write_text(json.dumps(flat))
    else:
        sidecar.unlink()
    # when the ETL runs, then everything else loads and that object is quarantined, named,
    result = run_etl(get_settings())
    assert result.exit_code == 3 and result.error is None
    assert [key for key, _ in result.quarantined] == [damaged]
    assert rows(migrated_database_url, "SELECT count(*) FROM raw_objects WHERE status = 'loaded'") == [
        (len(keys) - 1,)
    ]
    # shown by pipeline status, and not retried while unchanged (no run fails or nags for it again);
    assert damaged in status_report(get_settings())
    assert run_etl(get_settings()).exit_code == 0
    # once its metadata is written again, a --full run loads it.
    parsed = parse_raw_key(damaged)
    body = (raw_zone.store.root / damaged).read_bytes()
    raw_zone.store.put(
        damaged,
        body,
        make_metadata(
            body,
            source_url="https://example.test/repaired",
            http_status=200,
            content_type="application/json",
            extra={"symbol": "MSFT", "window_start": DAYS[0].isoformat(), "window_end": DAYS[-1].isoformat()},
        ),
    )
    assert parsed.source == catalog.YAHOO
    assert run_etl(get_settings(), full=True).exit_code == 0
    assert rows(migrated_database_url, "SELECT status FROM raw_objects WHERE key = %s", damaged) == [
        ("loaded",)
    ]


def test_data_beyond_the_sources_horizon_is_refused_with_the_reason(migrated_database_url, raw_zone):
    today = market_today()
    future = [today + dt.timedelta(days=60 + offset) for offset in range(3)]
    good = raw_zone.fred("VIXCLS", DAYS)
    bad = raw_zone.fred("DGS10", future)
    result = run_etl(get_settings())
    assert result.exit_code == 3
    assert [key for key, _ in result.quarantined] == [bad]
    assert "beyond the source's horizon" in result.quarantined[0][1]
    assert rows(migrated_database_url, "SELECT count(*) FROM macro_daily WHERE obs_date > %s", today) == [
        (0,)
    ]
    assert rows(migrated_database_url, "SELECT status FROM raw_objects WHERE key = %s", good) == [("loaded",)]


def test_table_stats_stay_exact_after_runs_that_write_no_curated_row(migrated_database_url, raw_zone):
    raw_zone.everything(DAYS)
    assert run_etl(get_settings()).exit_code == 0
    # Runs with nothing new, and one that only quarantines an object: no curated row changes.
    assert run_etl(get_settings()).exit_code == 0
    raw_zone.yahoo("MSFT", DAYS[:2], body=b"Too Many Requests")
    assert run_etl(get_settings()).exit_code == 3
    url = migrated_database_url
    for table in ("pipeline_runs", "raw_objects"):
        (stats,) = rows(url, "SELECT row_count FROM dashboard_table_stats WHERE table_name = %s", table)[0]
        (real,) = rows(url, f"SELECT count(*) FROM {table}")[0]
        assert stats == real
