"""The synthetic response bodies of `pipeline sample`, byte for byte in the real APIs' formats.

Every value is a function of (seed, instrument, date) alone: random draws come from a counter-based hash
of (seed, entity, stream, date), never from a sequential generator, and the path-dependent series
(prices, VIX, the 10-year yield) always run from `EPOCH`. `sample_data.generator` plans what to
write and writes it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from lambda_src.ingestion import open_meteo
from lambda_src.ingestion.plan import Window
from pipeline.market_time import MARKET_TIME_ZONE
from pipeline.reference import (
    StatePoint,
)

#: Every path-dependent series starts here, whatever the sample's window.
EPOCH = dt.date(2000, 1, 3)
#: Dividends are spread over the years before this day: adjclose == close from it on.
ADJUSTMENT_ANCHOR = dt.date(2026, 1, 1)
_SESSION_OPEN = dt.time(9, 30)
_LIVE_BAR_DELAY_SECONDS = 5820
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


# --- deterministic randomness -------------------------------------------------------------------


def _splitmix(values: np.ndarray) -> np.ndarray:
    z = values + _GOLDEN
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def _entity_key(seed: int, entity: str, stream: str) -> np.uint64:
    digest = hashlib.sha256(f"{seed}\x00{entity}\x00{stream}".encode()).digest()
    return np.uint64(int.from_bytes(digest[:8], "little"))


def uniforms(seed: int, entity: str, stream: str, ordinals: np.ndarray) -> np.ndarray:
    """Uniforms in (0, 1), one per day ordinal, depending only on (seed, entity, stream, ordinal)."""
    with np.errstate(over="ignore"):
        mixed = _splitmix(_splitmix(ordinals.astype(np.uint64) ^ _entity_key(seed, entity, stream)))
    return ((mixed >> np.uint64(11)).astype(np.float64) + 0.5) / float(1 << 53)


def normals(seed: int, entity: str, stream: str, ordinals: np.ndarray) -> np.ndarray:
    """Standard normals per day ordinal (Box-Muller on two hashed uniform streams)."""
    first = uniforms(seed, entity, stream + ":a", ordinals)
    second = uniforms(seed, entity, stream + ":b", ordinals)
    return np.sqrt(-2.0 * np.log(first)) * np.cos(2.0 * np.pi * second)


def _scalar(seed: int, entity: str, stream: str) -> float:
    return float(uniforms(seed, entity, stream, np.zeros(1, dtype=np.int64))[0])


def day_ordinals(days: Sequence[dt.date]) -> np.ndarray:
    """The proleptic ordinals of `days`, the counter of the hashed random streams."""
    return np.fromiter((day.toordinal() for day in days), dtype=np.int64, count=len(days))


def _ar1(shocks: np.ndarray, persistence: float) -> np.ndarray:
    """x[t] = persistence * x[t-1] + shocks[t] along the first axis, from x[-1] = 0."""
    path = np.empty_like(shocks)
    level = np.zeros(shocks.shape[1:])
    for index in range(shocks.shape[0]):
        level = persistence * level + shocks[index]
        path[index] = level
    return path


# --- Yahoo --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Instrument:
    symbol: str
    name: str
    sector: str
    is_index: bool


def _open_timestamps(sessions: Sequence[dt.date]) -> np.ndarray:
    stamps = [int(dt.datetime.combine(day, _SESSION_OPEN, MARKET_TIME_ZONE).timestamp()) for day in sessions]
    return np.array(stamps, dtype=np.int64)


def _float32(values: np.ndarray) -> list[float]:
    # Yahoo stores prices as float32 and prints their float64 expansion (e.g. 185.63999938964844).
    return np.round(values, 2).astype(np.float32).astype(np.float64).tolist()


class PriceModel:
    """Closes, opens, highs, lows, volumes and adjustment factors for instruments over every session."""

    def __init__(self, seed: int, instruments: Sequence[Instrument], sessions: Sequence[dt.date]):
        self.seed = seed
        self.sessions = list(sessions)
        self.ordinals = day_ordinals(self.sessions)
        market = 0.0003 + 0.010 * normals(seed, "market", "return", self.ordinals)
        self.market = market
        sectors = {
            name: 0.007 * normals(seed, f"sector:{name}", "return", self.ordinals)
            for name in {instrument.sector for instrument in instruments}
        }
        count = len(instruments)
        shocks = np.empty((len(self.sessions), count))
        self.sigma = np.empty(count)
        level = np.empty(count)
        drift = np.empty(count)
        for column, instrument in enumerate(instruments):
            symbol = instrument.symbol
            sigma = 0.002 if instrument.is_index else 0.008 + 0.012 * _scalar(seed, symbol, "sigma")
            beta = 1.0 if instrument.is_index else 0.6 + 0.8 * _scalar(seed, symbol, "beta")
            sector_part = 0.0 if instrument.is_index else sectors[instrument.sector]
            idiosyncratic = sigma * normals(seed, symbol, "return", self.ordinals)
            shocks[:, column] = beta * (market - 0.0003) + sector_part + idiosyncratic
            self.sigma[column] = sigma
            if instrument.is_index:
                level[column] = np.log(
                    1450.0 if symbol == "^GSPC" else 1000.0 + 19000.0 * _scalar(seed, symbol, "level")
                )
                drift[column] = 0.00022
            else:
                level[column] = np.log(5.0 + 55.0 * _scalar(seed, symbol, "level"))
                drift[column] = 0.0001 + 0.0003 * _scalar(seed, symbol, "drift")
        steps = np.arange(len(self.sessions))[:, None]
        log_close = level + drift * steps + _ar1(shocks, 0.998)
        self.close = np.exp(log_close)
        previous = np.vstack([self.close[:1], self.close[:-1]])
        gap = np.column_stack(
            [
                0.3 * self.sigma[c] * normals(seed, i.symbol, "open", self.ordinals)
                for c, i in enumerate(instruments)
            ]
        )
        self.open = previous * np.exp(gap)
        spread_up = np.abs(
            np.column_stack([normals(seed, i.symbol, "high", self.ordinals) for i in instruments])
        )
        spread_down = np.abs(
            np.column_stack([normals(seed, i.symbol, "low", self.ordinals) for i in instruments])
        )
        self.high = np.maximum(self.open, self.close) * np.exp(0.4 * self.sigma * spread_up)
        self.low = np.minimum(self.open, self.close) * np.exp(-0.4 * self.sigma * spread_down)


def _dividend_factor(seed: int, symbol: str, sessions: Sequence[dt.date]) -> np.ndarray:
    """adjclose / close: one quarterly step of the symbol's dividend per quarter before the anchor."""
    quarterly = 0.002 + 0.006 * _scalar(seed, symbol, "dividend")
    quarters = np.array(
        [max(0, (ADJUSTMENT_ANCHOR.year - day.year) * 4 - (day.month - 1) // 3) for day in sessions],
        dtype=float,
    )
    return (1.0 - quarterly) ** quarters


def _listing_day(seed: int, instrument: Instrument) -> dt.date:
    """Most instruments trade from the epoch on; about one in fifty lists later (empty windows before)."""
    if instrument.is_index or _scalar(seed, instrument.symbol, "late-listing") >= 0.02:
        return EPOCH
    span = (dt.date(2024, 12, 31) - EPOCH).days
    return EPOCH + dt.timedelta(days=int(span * _scalar(seed, instrument.symbol, "listing-day")))


def _yahoo_meta(instrument: Instrument, first_trade: int, market_time: int, price: float | None) -> dict:
    exchange = ("SNP", "SNP") if instrument.is_index else ("NYQ", "NYSE")
    return {
        "currency": "USD",
        "symbol": instrument.symbol,
        "exchangeName": exchange[0],
        "fullExchangeName": exchange[1],
        "instrumentType": "INDEX" if instrument.is_index else "EQUITY",
        "firstTradeDate": first_trade,
        "regularMarketTime": market_time,
        "hasPrePostMarketData": not instrument.is_index,
        "gmtoffset": -18000,
        "timezone": "EST",
        "exchangeTimezoneName": "America/New_York",
        "regularMarketPrice": price,
        "longName": instrument.name,
        "shortName": instrument.name[:25],
        "priceHint": 2,
        "dataGranularity": "1d",
        "range": "",
        "validRanges": ["1d", "5d", "1mo", "3mo", "6mo", "1y", "2y", "5y", "10y", "ytd", "max"],
    }


def yahoo_body(
    model: PriceModel, column: int, instrument: Instrument, window: Window, live_session: dt.date | None
) -> bytes:
    """The chart response for one instrument and window, with the live bar when `live_session` is set."""
    seed = model.seed
    listing = _listing_day(seed, instrument)
    sessions = model.sessions
    first = np.searchsorted(model.ordinals, max(window.start, listing).toordinal())
    last = np.searchsorted(model.ordinals, window.end.toordinal(), side="right")
    rows = np.arange(first, last)
    first_trade = int(_open_timestamps([max(listing, EPOCH)])[0])
    if live_session is not None and listing <= window.end:
        rows = np.append(rows, np.searchsorted(model.ordinals, live_session.toordinal()))
    if rows.size == 0:
        meta = _yahoo_meta(instrument, first_trade, first_trade, None)
        result = {"meta": meta, "indicators": {"quote": [{}], "adjclose": [{}]}}
        return compact_json({"chart": {"result": [result], "error": None}})
    days = [sessions[row] for row in rows]
    stamps = _open_timestamps(days)
    close = model.close[rows, column]
    open_ = model.open[rows, column]
    high = model.high[rows, column]
    low = model.low[rows, column]
    base_volume = (
        0.0 if instrument.is_index else 1e6 * np.exp(3.4 * _scalar(seed, instrument.symbol, "volume"))
    )
    volume = np.round(
        base_volume * np.exp(0.35 * normals(seed, instrument.symbol, "volume", model.ordinals[rows]))
    )
    adjusted = close * _dividend_factor(seed, instrument.symbol, days)
    if live_session is not None and days[-1] == live_session:
        # The live bar: stamped at the last trade, a partial session (Yahoo appends it past period2).
        stamps[-1] += _LIVE_BAR_DELAY_SECONDS
        close[-1] = open_[-1] + 0.4 * (close[-1] - open_[-1])
        high[-1] = max(open_[-1], close[-1]) + 0.3 * (high[-1] - max(open_[-1], close[-1]))
        low[-1] = min(open_[-1], close[-1]) - 0.3 * (min(open_[-1], close[-1]) - low[-1])
        volume[-1] = np.round(volume[-1] * 0.3)
        adjusted[-1] = close[-1]
    missing = uniforms(seed, instrument.symbol, "null-bar", model.ordinals[rows]) < 0.0005
    quote = {
        "open": _with_nulls(_float32(open_), missing),
        "low": _with_nulls(_float32(low), missing),
        "high": _with_nulls(_float32(high), missing),
        "volume": _with_nulls([int(value) for value in volume], missing),
        "close": _with_nulls(_float32(close), missing),
    }
    meta = _yahoo_meta(instrument, first_trade, int(stamps[-1]), _float32(close[-1:])[0])
    meta["chartPreviousClose"] = _float32(model.close[max(first - 1, 0) : max(first, 1), column])[0]
    result = {
        "meta": meta,
        "timestamp": stamps.tolist(),
        "indicators": {
            "quote": [quote],
            "adjclose": [{"adjclose": _with_nulls(_float32(adjusted), missing)}],
        },
    }
    return compact_json({"chart": {"result": [result], "error": None}})


def _with_nulls(values: list, missing: np.ndarray) -> list:
    if missing.any():
        for index in np.flatnonzero(missing):
            values[index] = None
    return values


def compact_json(document: object) -> bytes:
    """A document as the APIs write JSON: no spaces, UTF-8 as is."""
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()


# --- Open-Meteo ---------------------------------------------------------------------------------


def weather_body(seed: int, states: Sequence[StatePoint], window: Window) -> bytes:
    """The Open-Meteo daily response for every state over `window` (an array in request order)."""
    days = list(window.dates())
    ordinals = day_ordinals(days)
    season = np.cos(2.0 * np.pi * (np.array([day.timetuple().tm_yday for day in days]) - 201) / 365.25)
    items = []
    for position, state in enumerate(states):
        entity = f"state:{state.code}"
        annual_max = 27.0 - 0.5 * (state.latitude - 25.0)
        amplitude = 2.0 + 0.3 * (state.latitude - 20.0)
        t_max = annual_max + amplitude * season + 3.0 * normals(seed, entity, "tmax", ordinals)
        t_min = t_max - 7.0 - 5.0 * uniforms(seed, entity, "range", ordinals)
        wet = uniforms(seed, entity, "wet", ordinals) < 0.33
        rain = np.where(wet, -np.log(uniforms(seed, entity, "rain", ordinals)) * 6.0, 0.0)
        missing = uniforms(seed, entity, "null-day", ordinals) < 0.001
        item: dict = {
            "latitude": round(state.latitude + 0.02, 2),
            "longitude": round(state.longitude - 0.03, 2),
            "generationtime_ms": 0.3,
            "utc_offset_seconds": -18000,
            "timezone": open_meteo.TIME_ZONE,
            "timezone_abbreviation": "GMT-5",
            "elevation": round(2000.0 * _scalar(seed, entity, "elevation")),
        }
        if position:
            item["location_id"] = position
        item["daily_units"] = {
            "time": "iso8601",
            "precipitation_sum": "mm",
            "temperature_2m_max": "°C",
            "temperature_2m_min": "°C",
        }
        item["daily"] = {
            "time": [day.isoformat() for day in days],
            "precipitation_sum": _with_nulls(np.round(rain, 1).tolist(), missing),
            "temperature_2m_max": _with_nulls(np.round(t_max, 1).tolist(), missing),
            "temperature_2m_min": _with_nulls(np.round(t_min, 1).tolist(), missing),
        }
        items.append(item)
    return compact_json(items[0] if len(items) == 1 else items)


# --- FRED ---------------------------------------------------------------------------------------


def macro_path(seed: int, series_id: str, sessions: Sequence[dt.date], market: np.ndarray) -> np.ndarray:
    """A series' value on every session since EPOCH (VIX follows the market, yields mean-revert)."""
    ordinals = day_ordinals(sessions)
    noise = normals(seed, f"fred:{series_id}", "shock", ordinals)
    if series_id == "VIXCLS":
        shocks = 0.05 * noise - 2.5 * (market - 0.0003)
        return np.clip(18.0 * np.exp(_ar1(shocks[:, None], 0.97)[:, 0]), 9.0, 80.0)
    if series_id == "DGS10":
        return np.clip(3.0 + _ar1(0.05 * noise[:, None], 0.999)[:, 0], 0.5, 6.0)
    level = 1.0 + 99.0 * _scalar(seed, f"fred:{series_id}", "level")
    return level * np.exp(_ar1(0.01 * noise[:, None], 0.999)[:, 0])


def fred_body(series_id: str, window: Window, sessions: Sequence[dt.date], path: np.ndarray) -> bytes:
    """The fredgraph.csv response: every weekday of the window, empty on exchange holidays."""
    value_by_day = dict(zip(sessions, path, strict=True))
    lines = [f"observation_date,{series_id}"]
    for day in window.dates():
        if day.weekday() < 5:
            value = value_by_day.get(day)
            lines.append(f"{day.isoformat()},{'' if value is None else f'{value:.2f}'}")
    return ("\n".join(lines) + "\n").encode()
