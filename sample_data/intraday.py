"""`pipeline sample --intraday`: synthetic one-minute chart responses, in Yahoo's format, for the lake.

They continue the daily sample: the same tickers, seed and price model, so each day's minutes open
at that day's open, close at its close and reach exactly its high and low. Within a day, prices
follow a Brownian bridge, and volume the U shape of a real session (busy at the open and the close).
Like Yahoo's: one bar a minute from 09:30 to 15:59 New York, stamped in UTC seconds; a minute
without trades now and then carries nulls, another is missing altogether; no ``adjclose``;
``meta.dataGranularity`` is ``1m``; and past the last window's end, the first bar of the next
session (the live bar a fetch during it gets). Only the days Yahoo would still serve on the day
after `end` are written (about 20 sessions), one object per symbol and calendar week, under the
keys and metadata the ingestion's planner gives.
"""

from __future__ import annotations

import datetime as dt
import json

import numpy as np

from lambda_src.ingestion import yahoo_intraday
from lambda_src.ingestion.manifest import WrittenObject, write_manifest
from lambda_src.ingestion.plan import Window
from pipeline import catalog
from pipeline.market_time import MARKET_TIME_ZONE
from pipeline.rawzone import RawStore, make_metadata
from pipeline.reference import load_universe
from pipeline.settings import Settings
from sample_data.bodies import Instrument, PriceModel, normals, uniforms
from sample_data.generator import next_session, sample_window, select_companies, synthetic_companies

MINUTES = 390  # 09:30 to 15:59
_OPEN = dt.time(9, 30)


def minute_prices(model: PriceModel, column: int, row: int, symbol: str) -> dict[str, np.ndarray]:
    """One session's minute bars (open, high, low, close, volume) of the instrument in `column`."""
    day_open, day_close = model.open[row, column], model.close[row, column]
    day_high, day_low = model.high[row, column], model.low[row, column]
    counters = model.ordinals[row] * 1000 + np.arange(MINUTES)
    walk = np.cumsum(normals(model.seed, symbol, "minute", counters))
    steps = np.arange(1, MINUTES + 1) / MINUTES
    bridge = walk - steps * walk[-1]
    span = max(np.ptp(bridge), 1e-9)
    path = day_open + (day_close - day_open) * steps + bridge * (day_high - day_low) * 0.8 / span
    path = np.clip(path, day_low, day_high)
    path[-1] = day_close
    opens = np.concatenate([[day_open], path[:-1]])
    wiggle = uniforms(model.seed, symbol, "minute-range", counters) * (day_high - day_low) * 0.02
    highs = np.minimum(np.maximum(opens, path) + wiggle, day_high)
    lows = np.maximum(np.minimum(opens, path) - wiggle, day_low)
    highs[np.argmax(highs)] = day_high
    lows[np.argmin(lows)] = day_low
    minutes = np.arange(MINUTES)
    shape = 1 + 2.5 * np.exp(-minutes / 25) + 1.8 * np.exp(-(MINUTES - 1 - minutes) / 15)
    noise = np.exp(0.5 * normals(model.seed, symbol, "minute-volume", counters))
    base = 2_000 * np.exp(3 * uniforms(model.seed, symbol, "minute-volume-base", np.zeros(1, np.int64))[0])
    volume = np.round(base * shape * noise)
    return {"open": opens, "high": highs, "low": lows, "close": path, "volume": volume}


def minute_body(
    model: PriceModel, column: int, instrument: Instrument, days: list[dt.date], live: dt.date | None
) -> bytes:
    """The one-minute chart response of `instrument` for the sessions `days` (and `live`'s first bar)."""
    stamps: list[int] = []
    columns: dict[str, list] = {name: [] for name in ("open", "high", "low", "close", "volume")}
    for day in [*days, live] if live else days:
        row = int(np.searchsorted(model.ordinals, day.toordinal()))
        first = int(dt.datetime.combine(day, _OPEN, MARKET_TIME_ZONE).timestamp())
        prices = minute_prices(model, column, row, instrument.symbol)
        counters = model.ordinals[row] * 1000 + np.arange(MINUTES)
        gaps = uniforms(model.seed, instrument.symbol, "minute-gap", counters) < 0.002
        nulls = uniforms(model.seed, instrument.symbol, "minute-null", counters) < 0.003
        count = 1 if day == live else MINUTES
        for minute in range(count):
            if gaps[minute]:
                continue
            stamps.append(first + 60 * minute)
            for name, values in prices.items():
                value = None if nulls[minute] else float(values[minute])
                if value is not None:
                    value = int(value) if name == "volume" else float(np.float32(round(value, 4)))
                columns[name].append(value)
    meta = {
        "currency": "USD",
        "symbol": instrument.symbol,
        "exchangeName": "NYQ",
        "instrumentType": "EQUITY",
        "regularMarketTime": stamps[-1] if stamps else None,
        "gmtoffset": -14400,
        "timezone": "EDT",
        "exchangeTimezoneName": "America/New_York",
        "dataGranularity": yahoo_intraday.INTERVAL,
        "range": "",
        "validRanges": ["1d", "5d", "1mo", "3mo", "6mo", "1y", "2y", "5y", "10y", "ytd", "max"],
    }
    result = {"meta": meta, "timestamp": stamps, "indicators": {"quote": [columns]}}
    return json.dumps({"chart": {"result": [result], "error": None}}, separators=(",", ":")).encode()


def write_intraday_sample(
    settings: Settings, store: RawStore, *, tickers: int, days: int, seed: int, end: dt.date
) -> str:
    """Write the minute bars of the daily sample's tickers for its last `days` sessions that Yahoo
    would still serve the day after `end`; return a line saying what was written."""
    companies = select_companies(
        synthetic_companies(load_universe(settings.pipeline_universe), tickers), tickers
    )
    instruments = [Instrument(company.ticker, company.name, company.sector, False) for company in companies]
    window, sessions = sample_window(days, end)
    today = end + dt.timedelta(days=1)
    served = window.clip(start=today - dt.timedelta(days=yahoo_intraday.HORIZON_DAYS))
    if served is None:
        return "sample --intraday: no day of the sample is within Yahoo's minute-bar horizon"
    live = next_session(end)
    model = PriceModel(seed, instruments, [*sessions, live])
    fetched_at = dt.datetime.combine(today, dt.time(21, 30), dt.UTC)
    written = []
    for column, instrument in enumerate(instruments):
        for week in yahoo_intraday.weeks(served):
            request = yahoo_intraday.plan_symbol(settings, instrument.symbol, week, today)
            week_sessions = [day for day in sessions if week.start <= day <= week.end]
            last_week = week.end == served.end
            body = minute_body(model, column, instrument, week_sessions, live if last_week else None)
            metadata = make_metadata(
                body,
                source_url=request.full_url,
                http_status=200,
                content_type="application/json;charset=utf-8",
                fetched_at=fetched_at,
                extra={**request.extras, "synthetic": "true"},
            )
            store.put(request.key, body, metadata)
            written.append(WrittenObject(request.key, request.source, metadata.sha256))
    write_manifest(
        store,
        run_id=f"sample-intraday-{end:%Y%m%d}-seed{seed}-tickers{tickers}",
        day=today,
        started_at=fetched_at,
        finished_at=fetched_at,
        window=Window(served.start, served.end),
        sources=(catalog.YAHOO_INTRADAY,),
        written=written,
        skipped=[],
        failed=[],
        synthetic=True,
    )
    return (
        f"sample --intraday {served}: {len(instruments)} tickers, {len(written)} minute-bar objects written"
    )
