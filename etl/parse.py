"""Pure parsers: the bytes of one raw object (and its metadata extras) to curated rows, as columns.

No I/O here. Each parser raises `ParseError` with one line when the body is not what the API promises
(an error object, HTML, truncated JSON, misaligned arrays); the caller quarantines that object. The
formats are those docs/ingestion.md describes; GDELT's timelines are parsed in `etl.parse_gdelt`.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import io
import zoneinfo
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import orjson

from etl.columns import Columns, last_per_key, object_array
from pipeline.outcomes import RUN_STATUSES

BAR_COLUMNS = ("trade_date", "open", "high", "low", "close", "adj_close", "volume")
WEATHER_COLUMNS = ("state", "obs_date", "precipitation_mm", "temp_max_c", "temp_min_c")
MACRO_COLUMNS = ("series_id", "obs_date", "value")
RUN_COLUMNS = ("run_id", "kind", "started_at", "finished_at", "status", "details")

# Open-Meteo daily variables and the units the curated table stores them in.
OPEN_METEO_VARIABLES = {
    "precipitation_sum": ("precipitation_mm", "mm"),
    "temperature_2m_max": ("temp_max_c", "°C"),
    "temperature_2m_min": ("temp_min_c", "°C"),
}


class ParseError(ValueError):
    """The body of a raw object is not a valid response of its API; the message is one line."""


def load_json(body: bytes) -> object:
    """The JSON document of a whole body; a `ParseError` for anything else (text, a cut document)."""
    text = body.lstrip()
    if not text.startswith((b"{", b"[")):
        raise ParseError(f"not JSON: {excerpt(body)}")
    try:
        # orjson: about 5x the standard library on these bodies, with the same values (benchmarks/
        # decoders.py measures it against msgspec too); it rejects what json rejects, and NaN.
        return orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise ParseError(f"invalid JSON: {error}") from None


def _object(value: object, what: str) -> dict:
    """`value` when it is a JSON object; else a `ParseError` naming `what` it should have been."""
    if not isinstance(value, dict):
        raise ParseError(f"{what} is not a JSON object")
    return value


def first_object(value: object, what: str) -> dict:
    """The first element of a JSON array of objects (an empty object for a missing or empty array)."""
    if value is None or value == []:
        return {}
    if not isinstance(value, list):
        raise ParseError(f"{what} is not a JSON array")
    return _object(value[0] if value[0] is not None else {}, f"{what}[0]")


def excerpt(body: bytes) -> str:
    """The start of a body, on one line, for a message."""
    text = body[:80].decode("utf-8", "replace")
    return repr(" ".join(text.split()))


def _float_array(values: object, name: str, length: int) -> np.ndarray:
    if values is None:
        return np.full(length, np.nan)
    if not isinstance(values, list) or len(values) != length:
        raise ParseError(f"array {name!r} does not line up with the timestamps")
    if not all(
        value is None or (isinstance(value, int | float) and not isinstance(value, bool)) for value in values
    ):
        raise ParseError(f"array {name!r} holds non-numeric values")
    try:
        array = np.array(values, dtype=float)
    except (TypeError, ValueError, OverflowError):
        raise ParseError(f"array {name!r} holds non-numeric values") from None
    if np.isinf(array).any():
        raise ParseError(f"array {name!r} holds a number out of range")
    return array


@dataclass(frozen=True)
class YahooChart:
    """One Yahoo chart response as arrays, before the trade dates are worked out.

    `stamps` are the bars' UTC seconds; `prices` holds the float columns of `BAR_COLUMNS` (all but
    `trade_date`), NaN where Yahoo sent null. Splitting this step out lets the transform convert the
    stamps of many responses to exchange dates in one vectorised call.
    """

    time_zone: str
    stamps: np.ndarray
    prices: dict[str, np.ndarray]

    def __len__(self) -> int:
        return len(self.stamps)


def read_yahoo_chart(body: bytes) -> YahooChart:
    """The arrays of one Yahoo chart response, checked in the order the one-response reader of the tests (`tests.support.oracles`) checks them."""
    document = load_json(body)
    chart = document.get("chart") if isinstance(document, dict) else None
    if not isinstance(chart, dict):
        raise ParseError("no 'chart' object in the response")
    if chart.get("error"):
        error = chart["error"]
        detail = f"{error.get('code')}: {error.get('description')}" if isinstance(error, dict) else error
        raise ParseError(f"Yahoo error: {detail}")
    results = chart.get("result")
    if not isinstance(results, list) or not results or not isinstance(results[0], dict):
        raise ParseError("no chart result in the response")
    result = results[0]
    time_zone = _object(result.get("meta") or {}, "meta").get("exchangeTimezoneName")
    if not time_zone:
        raise ParseError("meta.exchangeTimezoneName is missing")
    timestamps = result.get("timestamp") or []
    if not isinstance(timestamps, list):
        raise ParseError("'timestamp' is not a JSON array")
    if not timestamps:
        return YahooChart(time_zone, np.array([], dtype=np.int64), _no_prices())
    length = len(timestamps)
    indicators = _object(result.get("indicators") or {}, "indicators")
    quote = first_object(indicators.get("quote"), "indicators.quote")
    if not isinstance(quote.get("close"), list):
        raise ParseError("timestamps without a 'close' array")
    adjclose = first_object(indicators.get("adjclose"), "indicators.adjclose")
    if not all(isinstance(stamp, int) and not isinstance(stamp, bool) for stamp in timestamps):
        raise ParseError("bad timestamps or time zone: a timestamp is not an integer")
    try:
        stamps = np.array(timestamps, dtype=np.int64)
    except (TypeError, ValueError, OverflowError) as error:
        raise ParseError(f"bad timestamps or time zone: {error}") from None
    _check_time_zone(time_zone)
    prices = {
        "open": _float_array(quote.get("open"), "open", length),
        "high": _float_array(quote.get("high"), "high", length),
        "low": _float_array(quote.get("low"), "low", length),
        "close": _float_array(quote.get("close"), "close", length),
        "adj_close": _float_array(adjclose.get("adjclose"), "adjclose", length),
        "volume": _float_array(quote.get("volume"), "volume", length),
    }
    return YahooChart(time_zone, stamps, prices)


def _no_prices() -> dict[str, np.ndarray]:
    return {name: np.array([], dtype=float) for name in BAR_COLUMNS[1:]}


def _check_time_zone(time_zone: object) -> None:
    # Checked on one stamp, once per zone name, so that a bad zone fails here, where the one-object
    # parser used to fail, and not later when a whole batch of stamps is converted.
    error = _time_zone_error(time_zone) if isinstance(time_zone, str) else _conversion_error(time_zone)
    if error:
        raise ParseError(f"bad timestamps or time zone: {error}")


@functools.cache
def _time_zone_error(time_zone: str) -> str | None:
    return _conversion_error(time_zone)


def _conversion_error(time_zone: object) -> str | None:
    try:
        local_trade_days(np.zeros(1, dtype=np.int64), time_zone)
    except ParseError as error:
        return str(error).removeprefix("bad timestamps or time zone: ")
    return None


def local_trade_days(stamps: np.ndarray, time_zone: object) -> np.ndarray:
    """The dates (midnight, datetime64[ns]) in `time_zone` (an IANA name) of UTC second stamps.

    The zone's offset is looked up once per distinct stamp: a backfill's bars share a few thousand
    (the exchange's opening times), whatever the number of symbols.
    """
    stamps = np.asarray(stamps, dtype=np.int64)
    try:
        zone = zoneinfo.ZoneInfo(time_zone)  # type: ignore[arg-type]
        if len(stamps) and (stamps.min() < _FIRST_STAMP or stamps.max() > _LAST_STAMP):
            raise OverflowError(f"a timestamp is outside {_FIRST_STAMP}..{_LAST_STAMP}")
        distinct, position = np.unique(stamps, return_inverse=True)
        offsets = [_offset_seconds(stamp, zone) for stamp in distinct.tolist()]
    except (TypeError, ValueError, OverflowError, OSError, LookupError) as error:
        # LookupError: zoneinfo's unknown-zone error is a KeyError.
        raise ParseError(f"bad timestamps or time zone: {error}") from None
    local = distinct + np.array(offsets, dtype=np.int64)
    days = (local // _SECONDS_PER_DAY).astype("datetime64[D]")
    return days[position.ravel()].astype("datetime64[ns]")


_SECONDS_PER_DAY = 86_400
# The stamps whose dates datetime64[ns] can hold (1678 to 2261).
_FIRST_STAMP, _LAST_STAMP = -(2**63) // 10**9 + _SECONDS_PER_DAY, (2**63 - 1) // 10**9 - _SECONDS_PER_DAY


def _offset_seconds(stamp: int, zone: dt.tzinfo) -> int:
    offset = dt.datetime.fromtimestamp(stamp, zone).utcoffset()
    return 0 if offset is None else offset // dt.timedelta(seconds=1)


def select_bars(
    days: np.ndarray,
    close: np.ndarray,
    stamps: np.ndarray,
    window_end: np.ndarray | np.datetime64,
    period_end: np.ndarray | np.int64,
    owner: np.ndarray | None = None,
) -> np.ndarray:
    """Positions of the bars to load, by owner then date: close not null, stamped before the
    requested end (``period2``) and dated no later than the window end (each a scalar or one per row),
    and of several bars of an owner on one day the last one sent.

    Both limits are needed: Yahoo's live bar can be stamped after ``period2`` yet fall on the window's
    last trade date, where it would replace that day's real bar; a stamp before ``period2`` can still
    fall on a later local date on exchanges east of UTC.

    `owner` (default: all one object) numbers the object each row comes from, so that the bars of
    many responses laid end to end are selected in one pass.
    """
    owner = np.zeros(len(days), dtype=np.int64) if owner is None else owner
    kept = np.flatnonzero(~np.isnan(close) & (stamps < period_end) & (days <= window_end))
    # Of each (owner, day) the last one sent.
    return last_per_key([owner, days], kept)


def parse_open_meteo(body: bytes, states: Sequence[str]) -> Columns:
    """Daily weather per state from an Open-Meteo response (one object, or an array in request order).

    Elements are joined to `states` by position, never by coordinates (the API returns its grid cell's).
    Units must be millimetres and degrees Celsius; nulls stay missing. Columns: `WEATHER_COLUMNS`.
    """
    document = load_json(body)
    if isinstance(document, dict) and document.get("error"):
        raise ParseError(f"Open-Meteo error: {document.get('reason')}")
    elements = [document] if isinstance(document, dict) else document
    if not isinstance(elements, list) or not all(isinstance(element, dict) for element in elements):
        raise ParseError("expected a JSON object or an array of objects")
    if len(elements) != len(states):
        raise ParseError(f"{len(elements)} location(s) in the response for {len(states)} requested state(s)")
    # Checked location by location, the dates converted once for them all: 50 states of ten years.
    series = [_open_meteo_location(element, state) for element, state in zip(elements, states, strict=True)]
    if not series:
        return no_rows(WEATHER_COLUMNS)
    try:
        dates = _iso_dates([day for days, _ in series for day in days])
    except ParseError:
        for (days, _), state in zip(series, states, strict=True):
            try:
                _iso_dates(days)
            except ParseError:
                raise ParseError(f"bad dates in the daily series of {state}") from None
        raise
    columns: Columns = {
        "state": np.repeat(object_array(states), [len(days) for days, _ in series]),
        "obs_date": dates,
    }
    for column, _ in OPEN_METEO_VARIABLES.values():
        columns[column] = np.concatenate([values[column] for _, values in series])
    return columns


def no_rows(names: Sequence[str]) -> Columns:
    """Columns `names` with no rows."""
    return {name: np.array([], dtype=object) for name in names}


def _iso_dates(days: list) -> np.ndarray:
    """`YYYY-MM-DD` strings as datetime64[ns] (midnight); anything else is a `ParseError`."""
    # numpy reads other ISO forms too (a month, a time of day): only the ten-character date is one.
    if not all(isinstance(day, str) and len(day) == 10 and day[4] == day[7] == "-" for day in days):
        raise ParseError("bad dates in a daily series")
    try:
        return np.array(days, dtype="datetime64[D]").astype("datetime64[ns]")
    except ValueError:
        raise ParseError("bad dates in a daily series") from None


def _open_meteo_location(element: dict, state: str) -> tuple[list, dict[str, np.ndarray]]:
    """One location's days (as sent) and its values by curated column, checked."""
    daily = element.get("daily")
    units = _object(element.get("daily_units") or {}, f"daily_units of {state}")
    if not isinstance(daily, dict) or not isinstance(daily.get("time"), list):
        raise ParseError(f"no daily series for {state}")
    days = daily["time"]
    values = {}
    for variable, (column, unit) in OPEN_METEO_VARIABLES.items():
        if units.get(variable) != unit:
            raise ParseError(f"{variable} of {state} is in {units.get(variable)!r}, expected {unit!r}")
        if variable not in daily:
            raise ParseError(f"{variable} missing for {state}")
        values[column] = _float_array(daily[variable], variable, len(days))
    return days, values


def parse_fred_csv(body: bytes, series_id: str) -> Columns:
    """Observations of one FRED graph CSV; `.` and empty values are missing (None).

    The date is read from the first column by position (its header is `observation_date` or `DATE`);
    the second column's header must be the series id. Columns: `MACRO_COLUMNS`.
    """
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ParseError("not UTF-8 text") from None
    try:
        rows = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as error:
        raise ParseError(f"not a well-formed CSV: {error}") from None
    if not rows or len(rows[0]) < 2 or text.lstrip().startswith("<"):
        raise ParseError(f"not a FRED CSV: {excerpt(body)}")
    if not text.endswith("\n"):
        # FRED ends every line with a newline: a last line without one was cut, maybe mid-value
        # ("2025-06-30,1" of "2025-06-30,1.5"), and would load as a wrong number.
        raise ParseError(f"the CSV ends mid-line (cut short?): ...{text[-40:]!r}")
    header = rows[0]
    if header[1].strip() != series_id:
        raise ParseError(f"CSV column {header[1]!r} is not the series {series_id!r}")
    dates, values = [], []
    for number, row in enumerate(rows[1:], start=2):
        if not row:
            continue
        if len(row) < 2:
            raise ParseError(f"line {number} has no value column")
        try:
            dates.append(dt.date.fromisoformat(row[0].strip()))
            raw = row[1].strip()
            values.append(None if raw in ("", ".") else float(raw))
        except ValueError:
            raise ParseError(f"line {number} is not a date and a number: {row[:2]}") from None
    return {
        "series_id": np.full(len(dates), series_id, dtype=object),
        "obs_date": np.array(dates, dtype="datetime64[D]").astype("datetime64[ns]"),
        "value": np.array([np.nan if value is None else value for value in values], dtype=float),
    }


def parse_manifest(body: bytes) -> dict[str, object]:
    """The `pipeline_runs` row (kind 'ingest') of one ingest manifest; the whole manifest is its details."""
    document = load_json(body)
    if not isinstance(document, dict):
        raise ParseError("a manifest is a JSON object")
    try:
        run_id = str(document["run_id"])
        started_at = dt.datetime.fromisoformat(document["started_at"])
        finished_at = (
            dt.datetime.fromisoformat(document["finished_at"]) if document.get("finished_at") else None
        )
        status = document["status"]
    except (KeyError, TypeError, ValueError) as error:
        raise ParseError(f"manifest without a valid run_id, started_at or status: {error}") from None
    if document.get("kind", "ingest") != "ingest":
        raise ParseError(f"manifest kind {document.get('kind')!r} is not 'ingest'")
    if status not in RUN_STATUSES:
        raise ParseError(f"manifest status {status!r} is not one of {', '.join(RUN_STATUSES)}")
    return {
        "run_id": run_id,
        "kind": "ingest",
        "started_at": started_at,
        "finished_at": finished_at,
        "status": status,
        "details": document,
    }
