"""Transform: parse, validate and derive, per instrument or per object, with no I/O.

The functions here take plain, picklable inputs (bytes and metadata extras) so that they run as well in
a worker process as in the caller's. Every object gets an `ObjectOutcome`: rows parsed, or the error
that quarantines it. A quarantined object contributes no rows; the other objects still load.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from etl.copy_binary import encode_tuples
from etl.derive import add_returns_and_volatility
from etl.parse import (
    BAR_COLUMNS,
    ParseError,
    parse_fred_csv,
    parse_gdelt_timeline,
    parse_manifest,
    parse_open_meteo,
    parse_yahoo_chart,
)
from etl.validate import ValidationError, validate_bars, validate_macro, validate_news, validate_weather
from pipeline.catalog import (
    FRED,
    GDELT,
    INDEX_DAILY,
    MACRO_DAILY,
    MANIFEST,
    NEWS_DAILY,
    OPEN_METEO,
    PIPELINE_RUNS,
    STOCK_DAILY,
    WEATHER_DAILY,
    YAHOO,
)
from pipeline.rawzone import sha256_hex


class MetadataError(ValueError):
    """A raw object lacks a metadata extra its source needs (symbol, window, locations...)."""


@dataclass(frozen=True)
class ObjectInput:
    """One raw object as the transform sees it: key, source, metadata extras, fetch time and bytes."""

    key: str
    source: str
    extra: Mapping[str, str]
    fetched_at: dt.datetime
    body: bytes

    def required(self, name: str) -> str:
        value = self.extra.get(name, "").strip()
        if not value:
            raise MetadataError(f"metadata extra {name!r} is missing")
        return value

    def window(self) -> tuple[dt.date, dt.date]:
        try:
            start = dt.date.fromisoformat(self.required("window_start"))
            end = dt.date.fromisoformat(self.required("window_end"))
        except ValueError as error:
            raise MetadataError(f"bad window in the metadata: {error}") from None
        if start > end:
            raise MetadataError(f"window_start {start} is after window_end {end}")
        return start, end


@dataclass(frozen=True)
class ObjectOutcome:
    """What became of one object: the sha256 of the bytes read, rows parsed, or the quarantine error."""

    key: str
    sha256: str
    rows: int
    error: str | None = None


@dataclass
class EncodedRows:
    """An instrument's rows as binary COPY tuples, with what the loader needs to know about them.

    Shipping these bytes instead of the frame keeps the loader's share of the work (unpickling and
    formatting a million rows) to forwarding a buffer.
    """

    copy_tuples: bytes
    rows: int
    days: np.ndarray
    missing_volume: int


@dataclass
class TransformResult:
    """Rows for one curated table (`table` None when there are none) and the outcome of each object.

    The rows come as a `frame`, or for instruments asked for COPY tuples, as `encoded`.
    """

    table: str | None
    frame: pd.DataFrame | None
    outcomes: list[ObjectOutcome] = field(default_factory=list)
    encoded: EncodedRows | None = None


@dataclass(frozen=True)
class InstrumentTask:
    """Every pending object of one Yahoo symbol, with the stored bars an incremental load must re-read.

    `context` holds the stored bars from `since` on plus the `CONTEXT_BARS` before it; rows from
    `since` on are rewritten with recomputed returns and volatility. `copy_columns`, the table's
    (name, type) pairs, asks for the rows as binary COPY tuples too.
    """

    symbol: str
    table: str
    objects: Sequence[ObjectInput]
    context: pd.DataFrame
    since: dt.date
    copy_columns: tuple[tuple[str, str], ...] = ()


_QUARANTINE_ERRORS = (ParseError, ValidationError, MetadataError)


def transform_instrument(task: InstrumentTask) -> TransformResult:
    """Parse and validate the objects of one symbol, merge them over its stored bars, derive the rest.

    Objects are applied in fetch order, so a later response of the same day wins; the result holds the
    symbol's rows from `task.since` on, with `daily_return` and `volatility_7` over the whole history.
    """
    frames = [task.context[list(BAR_COLUMNS)]]
    outcomes = []
    for item in sorted(task.objects, key=lambda item: item.fetched_at):
        digest = sha256_hex(item.body)
        try:
            start, end = item.window()
            bars = parse_yahoo_chart(item.body, end)
            validate_bars(bars, start, end)
        except _QUARANTINE_ERRORS as error:
            outcomes.append(ObjectOutcome(item.key, digest, 0, str(error)))
            continue
        frames.append(bars)
        outcomes.append(ObjectOutcome(item.key, digest, len(bars)))
    merged = pd.concat([frame for frame in frames if len(frame)] or frames, ignore_index=True)
    merged = merged.drop_duplicates("trade_date", keep="last").sort_values("trade_date", kind="stable")
    derived = add_returns_and_volatility(merged.reset_index(drop=True))
    rows = derived[derived["trade_date"] >= pd.Timestamp(task.since)].reset_index(drop=True)
    rows.insert(0, "ticker" if task.table == STOCK_DAILY else "symbol", task.symbol)
    if not task.copy_columns:
        return TransformResult(task.table, rows, outcomes)
    encoded = EncodedRows(
        copy_tuples=encode_tuples(rows, task.copy_columns),
        rows=len(rows),
        days=rows["trade_date"].to_numpy().astype("datetime64[D]"),
        missing_volume=int(rows["volume"].isna().sum()),
    )
    return TransformResult(task.table, None, outcomes, encoded)


def transform_object(item: ObjectInput) -> TransformResult:
    """Parse and validate one Open-Meteo, GDELT, FRED or manifest object into rows of its table."""
    digest = sha256_hex(item.body)
    try:
        table, frame = _parse_object(item)
    except _QUARANTINE_ERRORS as error:
        return TransformResult(None, None, [ObjectOutcome(item.key, digest, 0, str(error))])
    frame = frame.assign(fetched_at=pd.Timestamp(item.fetched_at))
    return TransformResult(table, frame, [ObjectOutcome(item.key, digest, len(frame))])


def _parse_object(item: ObjectInput) -> tuple[str, pd.DataFrame]:
    if item.source == MANIFEST:
        return PIPELINE_RUNS, pd.DataFrame([parse_manifest(item.body)])
    start, end = item.window()
    if item.source == OPEN_METEO:
        states = [state.strip() for state in item.required("locations").split(",") if state.strip()]
        frame = parse_open_meteo(item.body, states)
        validate_weather(frame, start, end)
        return WEATHER_DAILY, frame
    if item.source == GDELT:
        frame = parse_gdelt_timeline(item.body, item.required("topic"))
        validate_news(frame, start, end)
        return NEWS_DAILY, frame
    if item.source == FRED:
        frame = parse_fred_csv(item.body, item.required("series_id"))
        validate_macro(frame, start, end)
        return MACRO_DAILY, frame
    if item.source == YAHOO:
        raise MetadataError("metadata extra 'symbol' is missing")
    raise MetadataError(f"no parser for source {item.source!r}")


def instrument_table(symbol: str, indexes: Sequence[str]) -> str:
    """`index_daily` for the configured indexes (and any ``^`` symbol), else `stock_daily`."""
    return INDEX_DAILY if symbol in indexes or symbol.startswith("^") else STOCK_DAILY
