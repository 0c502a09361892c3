"""Raw objects for the ETL's integration tests, byte-faithful to the APIs (docs/ingestion.md).

`RawZoneWriter` writes them through `pipeline.rawzone` with the metadata extras of docs/internals.md,
the way ingestion does; the prices follow a deterministic random walk so every test can rebuild them.
"""

from __future__ import annotations

import datetime as dt
import json
import random
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import quote
from zoneinfo import ZoneInfo

import psycopg

from pipeline import catalog
from pipeline.rawzone import LocalRawStore, make_metadata, parse_raw_key, raw_key
from tests.support.fake_apis import fixture

NEW_YORK = ZoneInfo("America/New_York")
STATES = ("CA", "NY", "TX")
FIRST_DAY = dt.date(2024, 1, 2)


def trading_days(first: dt.date, count: int) -> list[dt.date]:
    """`count` weekdays from `first` on."""
    days, day = [], first
    while len(days) < count:
        if day.weekday() < 5:
            days.append(day)
        day += dt.timedelta(days=1)
    return days


def open_timestamp(day: dt.date) -> int:
    """The bar's stamp: the New York open in UTC seconds, as Yahoo sends it."""
    return int(dt.datetime.combine(day, dt.time(9, 30), NEW_YORK).timestamp())


def walk(symbol: str, days: Sequence[dt.date]) -> list[dict]:
    """Deterministic daily bars for `symbol` (same symbol and days, same bars)."""
    generator = random.Random(symbol)
    price, bars = 100.0 + generator.random() * 50, []
    for day in days:
        price *= 1 + generator.gauss(0, 0.02)
        spread = price * 0.01
        bars.append(
            {
                "day": day,
                "open": round(price - spread / 2, 4),
                "high": round(price + spread, 4),
                "low": round(price - spread, 4),
                "close": round(price, 4),
                "adjclose": round(price * 0.99, 4),
                "volume": generator.randint(1_000_000, 5_000_000),
            }
        )
    return bars


def chart_body(symbol: str, bars: Sequence[dict], *, live_day: dt.date | None = None) -> bytes:
    """A Yahoo v8 chart response for `bars` (a live partial bar on `live_day` when given)."""
    rows = list(bars)
    if live_day:
        rows.append({**rows[-1], "day": live_day, "volume": 1000})
    quote_arrays = {name: [row[name] for row in rows] for name in ("open", "high", "low", "close", "volume")}
    result: dict = {
        "meta": {
            "currency": "USD",
            "symbol": symbol,
            "exchangeTimezoneName": "America/New_York",
            "gmtoffset": -18000,
        },
        "indicators": {
            "quote": [quote_arrays if rows else {}],
            "adjclose": [{"adjclose": [r["adjclose"] for r in rows]}],
        },
    }
    if rows:
        result["timestamp"] = [open_timestamp(row["day"]) for row in rows]
    return json.dumps({"chart": {"result": [result], "error": None}}).encode()


def weather_element(
    position: int, days: Sequence[dt.date], *, precipitation: list, temp_max: list, temp_min: list
) -> dict:
    """One location's element of an Open-Meteo daily response (the `position`-th requested)."""
    element = {
        "latitude": 30.0 + position + 0.02,
        "longitude": -90.0 - position + 0.03,
        "timezone": "America/New_York",
        "daily_units": {
            "time": "iso8601",
            "precipitation_sum": "mm",
            "temperature_2m_max": "°C",
            "temperature_2m_min": "°C",
        },
        "daily": {
            "time": [day.isoformat() for day in days],
            "precipitation_sum": precipitation,
            "temperature_2m_max": temp_max,
            "temperature_2m_min": temp_min,
        },
    }
    if position:
        element["location_id"] = position
    return element


class RawZoneWriter:
    """Writes raw objects into the local raw zone of the test's PIPELINE_HOME."""

    def __init__(self, home: Path) -> None:
        self.store = LocalRawStore(home)
        self.clock = dt.datetime(2024, 6, 1, tzinfo=dt.UTC)

    def put(self, source: str, day: dt.date, name: str, body: bytes, extra: dict, content_type: str) -> str:
        key = raw_key(source, day, name)
        # Each object is fetched a second after the previous one: later fetches win on the same day.
        self.clock += dt.timedelta(seconds=1)
        metadata = make_metadata(
            body,
            source_url=f"https://example.test/{source}",
            http_status=200,
            content_type=content_type,
            fetched_at=self.clock,
            extra={**extra, "synthetic": "true"},
        )
        self.store.put(key, body, metadata)
        return key

    def replace_body(self, key: str, body: bytes) -> None:
        """Overwrite an object's bytes (a re-fetch that returned something else), keeping its extras."""
        stored = self.store.head(key)
        extra = {name: value for name, value in stored.extra.items() if name != "synthetic"}
        parsed = parse_raw_key(key)
        self.put(parsed.source, parsed.day, parsed.name, body, extra, stored.content_type)

    def yahoo(
        self, symbol: str, days: Sequence[dt.date], *, body: bytes | None = None, live: bool = False
    ) -> str:
        """The chart of `symbol` over `days` (its window: first to last day)."""
        bars = walk(symbol, trading_days(FIRST_DAY, 400))
        chosen = [bar for bar in bars if bar["day"] in set(days)]
        live_day = days[-1] + dt.timedelta(days=1) if live else None
        window = {"symbol": symbol, "window_start": days[0].isoformat(), "window_end": days[-1].isoformat()}
        name = f"{quote(symbol, safe='')}_{days[-1].isoformat()}.json"
        payload = body if body is not None else chart_body(symbol, chosen, live_day=live_day)
        return self.put(catalog.YAHOO, days[0], name, payload, window, "application/json")

    def weather(self, days: Sequence[dt.date]) -> str:
        elements = [
            weather_element(
                position,
                days,
                precipitation=[round(position + index * 0.5, 1) for index in range(len(days))],
                temp_max=[20.0 + position for _ in days],
                temp_min=[None if index == 0 else 10.0 for index in range(len(days))],
            )
            for position in range(len(STATES))
        ]
        extra = {"endpoint": "archive", "locations": ",".join(STATES), **_window(days)}
        body = json.dumps(elements).encode()
        return self.put(
            catalog.OPEN_METEO, days[0], f"archive_{days[-1]}.json", body, extra, "application/json"
        )

    def news(self, days: Sequence[dt.date], topic: str = "depression") -> str:
        data = [
            {"date": f"{day:%Y%m%d}T000000Z", "value": 10 + index, "norm": 1000 + index}
            for index, day in enumerate(days)
        ]
        body = json.dumps(
            {
                "query_details": {"title": topic, "date_resolution": "day"},
                "timeline": [{"series": "Article Count", "data": data}],
            }
        ).encode()
        extra = {"topic": topic, **_window(days)}
        return self.put(catalog.GDELT, days[0], f"{topic}_{days[-1]}.json", body, extra, "application/json")

    def gdelt_fixture(self, fixture_name: str, topic: str = "depression", *, tone: bool) -> str:
        """A captured-format GDELT body (tests/fixtures/api/gdelt/) as the ingestion stores it: its
        window the days its points cover, the tone beside the volume under its own name."""
        body = fixture(f"gdelt/{fixture_name}")
        stamps = [point["date"] for point in json.loads(body)["timeline"][0]["data"]]
        days = sorted({dt.datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").date() for stamp in stamps})
        mode = catalog.GDELT_TONE_MODE if tone else catalog.GDELT_VOLUME_MODE
        name = f"{topic}{'_tone' if tone else ''}_{days[-1]}.json"
        extra = {"topic": topic, "mode": mode, **_window(days)}
        return self.put(catalog.GDELT, days[0], name, body, extra, "application/json")

    def fred(self, series_id: str, days: Sequence[dt.date]) -> str:
        lines = [f"observation_date,{series_id}"]
        lines += [
            f"{day},{'.' if index == 1 else f'{15 + index * 0.25:.2f}'}" for index, day in enumerate(days)
        ]
        body = ("\n".join(lines) + "\n").encode()
        extra = {"series_id": series_id, **_window(days)}
        return self.put(catalog.FRED, days[0], f"{series_id}_{days[-1]}.csv", body, extra, "text/csv")

    def manifest(self, run_id: str, day: dt.date, written: Sequence[str]) -> str:
        body = json.dumps(
            {
                "run_id": run_id,
                "kind": "ingest",
                "started_at": f"{day}T06:00:00+00:00",
                "finished_at": f"{day}T06:05:00+00:00",
                "status": "success",
                "window": {"start": day.isoformat(), "end": day.isoformat()},
                "sources": ["yahoo"],
                "written": [{"key": key, "source": "yahoo", "sha256": "0" * 64} for key in written],
                "skipped": [],
                "failed": [],
                "synthetic": True,
            }
        ).encode()
        return self.put(catalog.MANIFEST, day, f"{run_id}.json", body, {"run_id": run_id}, "application/json")

    def everything(
        self, days: Sequence[dt.date], tickers: Sequence[str] = ("AAPL", "MSFT", "XOM")
    ) -> list[str]:
        """One object per source (and per ticker, plus ^GSPC) over `days`, and a manifest."""
        keys = [self.yahoo(symbol, days, live=True) for symbol in (*tickers, "^GSPC")]
        keys += [self.weather(days), self.news(days), self.fred("VIXCLS", days), self.fred("DGS10", days)]
        keys.append(self.manifest(f"ingest-{days[-1]}", days[-1], keys))
        return keys


def _window(days: Sequence[dt.date]) -> dict[str, str]:
    return {"window_start": days[0].isoformat(), "window_end": days[-1].isoformat()}


CHECKSUM_TABLES = (
    "companies",
    "stock_daily",
    "index_daily",
    "weather_daily",
    "news_daily",
    "macro_daily",
    "dim_date",
    "sector_daily",
    "market_daily",
)


def table_checksums(url: str) -> dict[str, str]:
    """An md5 over every row of each curated and analytics table, in key order."""
    sums = {}
    with psycopg.connect(url) as conn:
        for table in CHECKSUM_TABLES:
            row = conn.execute(
                f"SELECT count(*) || ':' || coalesce(md5(string_agg(t::text, '|' ORDER BY t::text)), '') FROM {table} AS t"
            ).fetchone()
            sums[table] = row[0]
    return sums
