"""The data path's invariants (docs/internals.md), proven on generated histories of fetches.

Each example generates fetches of every source over a few days (re-fetches with changed values, with
nulls, duplicates of earlier bytes, an archive and a forecast of the same days, bodies cut before or
after they were stored), writes them into a raw zone in a shuffled order, and loads them run by run
with some runs killed half-way. The database must then equal one `pipeline etl --full` of the same raw
zone into an empty database, table for table and row for row, with every bad object quarantined by name.

`make test` runs a few dozen examples; `make test-deep` (HYPOTHESIS_PROFILE=deep) runs many more.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from etl import run as etl_run
from etl.run import run_etl
from pipeline import catalog
from pipeline.rawzone import LocalRawStore, keep_fetch, make_metadata, raw_key
from pipeline.settings import get_settings
from tests.conftest import create_database, database_name, drop_database, reset_settings_caches
from tests.integration.etl.conftest import (
    CHECKSUM_TABLES,
    STATES,
    chart_body,
    table_checksums,
    trading_days,
    weather_element,
)
from tests.support.examples import examples

DAYS = trading_days(dt.date(2024, 3, 4), 5)
SOURCES = ("AAPL", "^GSPC", "archive", "forecast", "news", "tone", "fred")
FETCHED = dt.datetime(2024, 6, 1, tzinfo=dt.UTC)


@dataclass(frozen=True)
class Fetch:
    """One generated response: whose, which days, when fetched, which values, and what went wrong."""

    source: str
    first: int
    length: int
    minute: int
    seed: int
    nulls: frozenset[int]
    fault: str  # "none", "cut_before_store", "cut_after_store"
    cut: float

    @property
    def days(self) -> list[dt.date]:
        return DAYS[self.first : self.first + self.length]


fetches = st.builds(
    Fetch,
    source=st.sampled_from(SOURCES),
    first=st.integers(0, len(DAYS) - 1),
    length=st.integers(1, 3),
    minute=st.integers(0, 6),  # few distinct fetch times: ties happen
    seed=st.integers(0, 3),
    nulls=st.frozensets(st.integers(0, 8), max_size=4),
    fault=st.sampled_from(["none"] * 6 + ["cut_before_store", "cut_after_store"]),
    cut=st.floats(0.05, 0.95),
)


def _value(seed: int, base: float, index: int) -> float:
    return round(base * (1 + 0.01 * seed) + 0.25 * index, 2)


def _body(fetch: Fetch) -> tuple[str, str, str, bytes, dict[str, str], str]:
    """Source, key day, object name, body, metadata extras and content type of one fetch."""
    days = fetch.days
    window = {"window_start": days[0].isoformat(), "window_end": days[-1].isoformat()}
    if fetch.source in ("AAPL", "^GSPC"):
        bars = []
        for index, day in enumerate(days):
            close = None if index in fetch.nulls else _value(fetch.seed, 100.0, index)
            bars.append(
                {
                    "day": day,
                    "open": _value(fetch.seed, 99.0, index),
                    "high": _value(fetch.seed, 102.0, index),
                    "low": _value(fetch.seed, 98.0, index),
                    "close": close,
                    # A null adjusted close or volume in a bar that has a close: a partial bar.
                    "adjclose": None if index + 4 in fetch.nulls else _value(fetch.seed, 99.5, index),
                    "volume": None if index + 5 in fetch.nulls else 1_000_000 + fetch.seed * 1000 + index,
                }
            )
        body = chart_body(fetch.source, bars)
        name = f"{quote(fetch.source, safe='')}_{days[-1]}.json"
        return catalog.YAHOO, days[0], name, body, {"symbol": fetch.source, **window}, "application/json"
    if fetch.source in ("archive", "forecast"):
        elements = []
        for position in range(len(STATES)):
            cell = position * 3

            def series(offset: int, base: float, position: int = position, cell: int = cell) -> list:
                return [
                    None
                    if (cell + offset + index) % 9 in fetch.nulls
                    else _value(fetch.seed, base + position, index)
                    for index in range(len(days))
                ]

            elements.append(
                weather_element(
                    position,
                    days,
                    precipitation=series(0, 1.0),
                    temp_max=series(1, 25.0),
                    temp_min=series(2, 5.0),
                )
            )
        extra = {"endpoint": fetch.source, "locations": ",".join(STATES), **window}
        name = f"{fetch.source}_{days[-1]}.json"
        return catalog.OPEN_METEO, days[0], name, json.dumps(elements).encode(), extra, "application/json"
    if fetch.source == "news":
        data = [
            {"date": f"{day:%Y%m%d}T000000Z", "value": 10 + fetch.seed + index, "norm": 1000 + index}
            for index, day in enumerate(days)
        ]
        document = {
            "query_details": {"title": "depression", "date_resolution": "day"},
            "timeline": [{"series": "Article Count", "data": data}],
        }
        extra = {"topic": "depression", **window}
        return (
            catalog.GDELT,
            days[0],
            f"depression_{days[-1]}.json",
            json.dumps(document).encode(),
            extra,
            "application/json",
        )
    if fetch.source == "tone":
        # GDELT's tone of the same topic: negative and positive means, a null now and then, and the
        # 0 of a bucket without articles (no tone: it must never win over a stored tone).
        data = [
            {
                "date": f"{day:%Y%m%d}T000000Z",
                "value": None
                if index in fetch.nulls
                else 0
                if index + 3 in fetch.nulls
                else _tone(fetch, index),
            }
            for index, day in enumerate(days)
        ]
        document = {
            "query_details": {"title": "depression", "date_resolution": "day"},
            "timeline": [{"series": "Average Tone", "data": data}],
        }
        extra = {"topic": "depression", "mode": catalog.GDELT_TONE_MODE, **window}
        return (
            catalog.GDELT,
            days[0],
            f"depression_tone_{days[-1]}.json",
            json.dumps(document).encode(),
            extra,
            "application/json",
        )
    lines = ["observation_date,VIXCLS"]
    lines += [
        f"{day},{'.' if index in fetch.nulls else _value(fetch.seed, 15.0, index)}"
        for index, day in enumerate(days)
    ]
    body = ("\n".join(lines) + "\n").encode()
    return (
        catalog.FRED,
        days[0],
        f"VIXCLS_{days[-1]}.csv",
        body,
        {"series_id": "VIXCLS", **window},
        "text/csv",
    )


def _tone(fetch: Fetch, index: int) -> float:
    return round(-2.0 + 1.3 * fetch.seed - 0.7 * index, 4)


def write_fetch(store: LocalRawStore, fetch: Fetch) -> tuple[str, bool]:
    """Store one fetch as the ingestion does (`keep_fetch`); return its key and whether it is bad."""
    source, day, name, body, extra, content_type = _body(fetch)
    fetched_at = FETCHED + dt.timedelta(minutes=fetch.minute)
    cut = max(1, int(len(body) * fetch.cut))
    if fetch.fault == "cut_before_store":
        # Stored as received, cut: the sidecar matches, the format's own end is missing.
        body = body[:cut]
        if body.endswith(b"\n"):
            body = body[:-1]
    metadata = make_metadata(
        body,
        source_url=f"https://example.test/{source}",
        http_status=200,
        content_type=content_type,
        fetched_at=fetched_at,
        extra=extra,
    )
    before = set(store.list())
    key = keep_fetch(store, raw_key(source, day, name), body, metadata)
    if key in before:
        return key, False  # the same bytes as a stored fetch: nothing new was written
    if fetch.fault == "cut_after_store":
        # Cut on disk after it was stored: the sidecar keeps the whole body's sha256.
        path = store.root / key
        path.write_bytes(path.read_bytes()[:cut])
    return key, fetch.fault != "none"


@pytest.fixture(scope="module")
def template_database(pg_server: str) -> Iterator[str]:
    """A migrated database to copy for each example (CREATE DATABASE ... TEMPLATE is a file copy)."""
    from pipeline.migrations import migrate

    url = create_database(pg_server)
    previous = os.environ.get("DATABASE_URL")
    os.environ["DATABASE_URL"] = url
    reset_settings_caches()
    migrate()
    with psycopg.connect(url) as conn:
        conn.execute("SELECT 1")
    yield database_name(url)
    if previous is None:
        os.environ.pop("DATABASE_URL", None)
    else:
        os.environ["DATABASE_URL"] = previous
    drop_database(pg_server, url)


def database_from(pg_server: str, template: str) -> str:
    name = f"inv_{os.urandom(6).hex()}"
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    return pg_server.replace("/postgres?", f"/{name}?")


def run_with(monkeypatch: pytest.MonkeyPatch, database: str, **options) -> etl_run.EtlResult:
    monkeypatch.setenv("DATABASE_URL", database)
    reset_settings_caches()
    return run_etl(get_settings(), **options)


class Killed(Exception):
    """The ETL process dying half-way through a load (its transaction never commits)."""


def quarantined(database: str) -> dict[str, str]:
    with psycopg.connect(database) as conn:
        rows = conn.execute("SELECT key, error FROM raw_objects WHERE status = 'quarantined'").fetchall()
    return dict(rows)


def fact_rows(database: str) -> dict[str, int]:
    with psycopg.connect(database) as conn:
        return {
            table: conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            for table in ("stock_daily", "index_daily", "weather_daily", "news_daily", "macro_daily")
        }


@settings(
    max_examples=examples(25),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    history=st.lists(fetches, min_size=1, max_size=10),
    order=st.randoms(use_true_random=False),
    cuts=st.lists(st.integers(0, 10), max_size=3),
    kills=st.sets(st.integers(0, 3), max_size=2),
)
def test_incremental_loads_in_any_order_equal_one_full_load(
    pg_server, template_database, universe, monkeypatch, history, order, cuts, kills
):
    home = Path(tempfile.mkdtemp(prefix="invariants-"))
    monkeypatch.setenv("PIPELINE_HOME", str(home))
    monkeypatch.setenv("PIPELINE_INDEXES", "^GSPC")
    monkeypatch.setenv("PIPELINE_FRED_SERIES", "VIXCLS")
    store = LocalRawStore(home)
    incremental = database_from(pg_server, template_database)
    full = database_from(pg_server, template_database)
    try:
        # Given the fetches written in a shuffled order, the ETL run after each batch of them,
        writes = list(history)
        order.shuffle(writes)
        bounds = sorted({0, len(writes), *(min(cut, len(writes)) for cut in cuts)})
        bad: set[str] = set()
        written: list[tuple[Fetch, str]] = []
        for number, (start, end) in enumerate(itertools.pairwise(bounds)):
            for fetch in writes[start:end]:
                key, is_bad = write_fetch(store, fetch)
                written.append((fetch, key))
                if is_bad:
                    bad.add(key)
            if number in kills:
                # a run killed after it staged everything, before it recorded the ledger: nothing stays.
                with monkeypatch.context() as patch:
                    patch.setattr(etl_run, "record_objects", _die)
                    killed = run_with(monkeypatch, incremental)
                assert killed.exit_code == 1 and "Killed" in (killed.error or "")
            run_with(monkeypatch, incremental)
        run_with(monkeypatch, incremental)  # the run after the last kill repairs everything
        # when one --full load of the same raw zone fills an empty database,
        result = run_with(monkeypatch, full, full=True)
        assert result.error is None
        # then both hold the same rows, ranks included,
        assert table_checksums(incremental) == table_checksums(full)
        # every bad object is quarantined, by name, in both, and no good one is,
        assert set(quarantined(incremental)) == set(quarantined(full)) == bad
        # and a good fetch with data leaves rows (the comparison above is not one of empty tables).
        good_data = [fetch for fetch, key in written if key not in bad and _has_rows(fetch)]
        assert (sum(fact_rows(full).values()) > 0) == bool(good_data)
    finally:
        drop_database(pg_server, incremental)
        drop_database(pg_server, full)


def _die(*args, **kwargs):
    raise Killed("the ETL process was killed")


def _has_rows(fetch: Fetch) -> bool:
    """Whether a good fetch holds a row: a chart only the bars with a close; the others every day."""
    if fetch.source in ("AAPL", "^GSPC"):
        return any(index not in fetch.nulls for index in range(len(fetch.days)))
    return True


def test_the_checksums_cover_every_curated_and_analytics_table():
    # The comparison above means something only if it reads every table the ETL writes.
    from etl.schema import ANALYTICS_TABLES, CORE_TABLES

    assert set(CHECKSUM_TABLES) == (set(CORE_TABLES) | set(ANALYTICS_TABLES)) - {
        "pipeline_runs",
        "raw_objects",
    }
