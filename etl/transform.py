"""Transform: parse, validate and derive, per batch of instruments or per object, with no I/O.

The functions here take plain, picklable inputs (bytes and metadata extras) so that they run as well in
a worker process as in the caller's. Every object gets an `ObjectOutcome`: rows parsed, or the error
that quarantines it. A quarantined object contributes no rows; the other objects still load.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from etl.columns import Coded, Columns, object_array, row_count
from etl.derive import returns_and_volatility
from etl.parse import (
    BAR_COLUMNS,
    ParseError,
    YahooChart,
    local_trade_days,
    parse_fred_csv,
    parse_manifest,
    parse_open_meteo,
    read_yahoo_chart,
    select_bars,
)
from etl.parse_gdelt import parse_gdelt_timeline, parse_gdelt_tone
from etl.precedence import FETCH_RANK, VALUE_RANKS, fetch_rank, merge_newest, source_precedence
from etl.schema import MACRO_DAILY, NEWS_DAILY, PIPELINE_RUNS, TABLES, WEATHER_DAILY
from etl.validate import ValidationError, bar_violations, validate_rows
from pipeline.catalog import FRED, GDELT, GDELT_TONE_MODE, GDELT_VOLUME_MODE, MANIFEST, OPEN_METEO, YAHOO
from pipeline.market_time import window_period_bounds
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
    # The sha256 its metadata records (None: not checked, for bodies made in tests).
    metadata_sha256: str | None = None

    def verify(self, digest: str) -> None:
        """`MetadataError` when `digest`, the body's sha256, is not the one the metadata records (a
        body cut or changed after it was stored)."""
        if self.metadata_sha256 is not None and digest != self.metadata_sha256:
            raise MetadataError(
                f"the body ({len(self.body):,} bytes, sha256 {digest[:12]}...) does not match its metadata "
                f"(sha256 {self.metadata_sha256[:12]}...): cut or changed after it was stored"
            )

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
class TransformResult:
    """Rows for one curated table (`table` None when there are none) and the outcome of each object.

    The rows are `columns` (`etl.columns`): of one object, with its `fetched_at`, to be merged by key
    with the run's other objects and the stored rows; of an instrument batch (`fetched_at` None),
    merged already, final, the key column `Coded` by symbol.
    """

    table: str | None
    columns: Columns | None
    outcomes: list[ObjectOutcome] = field(default_factory=list)
    fetched_at: dt.datetime | None = None


@dataclass(frozen=True)
class InstrumentBatch:
    """The pending objects of several symbols of one table, with the stored bars a load must re-read.

    Symbol number i has the objects `objects[i]` and rewrites its rows from `since[i]` on. `context`
    (columns `symbol`, the symbol's number, and `BAR_COLUMNS`; `etl.load.stored_bars`) holds each
    symbol's stored bars from its `since` on plus the `CONTEXT_BARS` before it, by symbol and date.
    """

    table: str
    symbols: Sequence[str]
    objects: Sequence[Sequence[ObjectInput]]
    since: Sequence[dt.date]
    context: Columns


@dataclass
class _Chart:
    """One object that parsed, waiting for its trade dates and its validation."""

    symbol: int
    item: ObjectInput
    digest: str
    window: tuple[dt.date, dt.date]
    chart: YahooChart
    slot: int
    days: np.ndarray | None = None


_QUARANTINE_ERRORS = (ParseError, ValidationError, MetadataError)
_PRICE_COLUMNS = BAR_COLUMNS[1:]


def transform_instruments(batch: InstrumentBatch) -> TransformResult:
    """Parse and validate the objects of each symbol, merge them over its stored bars, derive the rest.

    Of each day's values, the best-ranked fetch's wins (`etl.precedence`: the newest, and never a
    missing value), whatever order the objects come in; the result holds
    each symbol's rows from its `since` on, with `daily_return` and `volatility_7` over its whole
    history. The symbols of the batch are handled together, array by array, so that a batch of
    one-bar updates costs about what one symbol does.
    """
    outcomes: list[ObjectOutcome | None] = []
    charts: list[_Chart] = []
    for number, objects in enumerate(batch.objects):
        for item in objects:
            digest = sha256_hex(item.body)
            outcomes.append(None)
            try:
                item.verify(digest)
                window = item.window()
                parsed = read_yahoo_chart(item.body)
            except Exception as error:  # whatever the bytes do, only this object is refused
                outcomes[-1] = ObjectOutcome(item.key, digest, 0, _reason(error))
                continue
            charts.append(_Chart(number, item, digest, window, parsed, len(outcomes) - 1))
    charts = _with_trade_days(charts, outcomes)
    new_bars, owner = _selected_bars(charts)
    errors = bar_violations(new_bars, owner, [chart.window for chart in charts])
    counts = np.bincount(owner, minlength=len(charts))
    for number, chart in enumerate(charts):
        violation = errors.get(number)
        outcomes[chart.slot] = ObjectOutcome(
            chart.item.key, chart.digest, 0 if violation else int(counts[number]), violation
        )
    valid = ~np.isin(owner, list(errors))
    symbol_of_chart = np.array([chart.symbol for chart in charts], dtype=np.int64)
    rank_of_chart = np.array([fetch_rank(chart.item.fetched_at) for chart in charts], dtype=np.int64)
    rows = _merged_rows(
        batch,
        {name: values[valid] for name, values in new_bars.items()},
        symbol_of_chart[owner[valid]],
        rank_of_chart[owner[valid]],
    )
    return TransformResult(batch.table, rows, [outcome for outcome in outcomes if outcome is not None])


def _with_trade_days(charts: list[_Chart], outcomes: list[ObjectOutcome | None]) -> list[_Chart]:
    """The charts with their trade dates, converted once per time zone; failures are quarantined."""
    by_zone: dict[str, list[_Chart]] = defaultdict(list)
    for chart in charts:
        by_zone[chart.chart.time_zone].append(chart)
    for zone, group in by_zone.items():
        try:
            days = local_trade_days(np.concatenate([chart.chart.stamps for chart in group]), zone)
        except ParseError:
            # Some stamp is out of range: find which object by converting them one at a time.
            for chart in group:
                try:
                    chart.days = local_trade_days(chart.chart.stamps, zone)
                except ParseError as error:
                    outcomes[chart.slot] = ObjectOutcome(chart.item.key, chart.digest, 0, str(error))
            continue
        bounds = np.cumsum([len(chart.chart) for chart in group])[:-1]
        for chart, chart_days in zip(group, np.split(days, bounds), strict=True):
            chart.days = chart_days
    return [chart for chart in charts if chart.days is not None]


def _selected_bars(charts: list[_Chart]) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """The bars each chart loads (the rows `tests.support.oracles.parse_yahoo_chart` gives, one chart after the other) and the
    chart number of each row."""
    lengths = [len(chart.chart) for chart in charts]
    owner = np.repeat(np.arange(len(charts), dtype=np.int64), lengths)
    days = np.concatenate([chart.days for chart in charts] or [np.array([], "datetime64[ns]")])
    prices = {
        name: np.concatenate([chart.chart.prices[name] for chart in charts] or [np.array([], float)])
        for name in _PRICE_COLUMNS
    }
    stamps = np.concatenate([chart.chart.stamps for chart in charts] or [np.array([], np.int64)])
    ends = np.array([chart.window[1] for chart in charts], dtype="datetime64[ns]")
    period_ends = np.array([window_period_bounds(*chart.window)[1] for chart in charts], dtype=np.int64)
    rows = select_bars(days, prices["close"], stamps, ends[owner], period_ends[owner], owner)
    bars = {"trade_date": days[rows], **{name: values[rows] for name, values in prices.items()}}
    return bars, owner[rows]


def _merged_rows(
    batch: InstrumentBatch, new_bars: dict[str, np.ndarray], new_symbol: np.ndarray, new_rank: np.ndarray
) -> Columns:
    """New bars merged with the stored ones by rank (`etl.precedence`: of each value, the best-ranked
    fetch that has one), derived values, rows from `since` on; the key column `Coded` by symbol number."""
    context = batch.context
    symbol = np.concatenate([np.asarray(context["symbol"], dtype=np.int64), new_symbol])
    days = np.concatenate([np.asarray(context["trade_date"], dtype="datetime64[ns]"), new_bars["trade_date"]])
    values = {
        name: np.concatenate([np.asarray(context[name], dtype=float), new_bars[name]])
        for name in _PRICE_COLUMNS
    }
    ranks = {
        name: np.concatenate([np.asarray(context[f"rank_{name}"], dtype=np.int64), new_rank])
        for name in _PRICE_COLUMNS
    }
    row_rank = np.concatenate([np.asarray(context[FETCH_RANK], dtype=np.int64), new_rank])
    firsts, columns, merged_rank, value_ranks = merge_newest([symbol, days], values, ranks, row_rank)
    symbol, days = symbol[firsts], days[firsts]
    first_bar = np.ones(len(firsts), dtype=bool)
    first_bar[1:] = symbol[1:] != symbol[:-1]
    prices = np.where(np.isnan(columns["adj_close"]), columns["close"], columns["adj_close"])
    daily_return, volatility = returns_and_volatility(prices, first_bar)
    since = np.array(batch.since, dtype="datetime64[D]")
    keep = days.astype("datetime64[D]") >= since[symbol]
    rows: Columns = {
        TABLES[batch.table].key[0]: Coded(symbol[keep], list(batch.symbols)),
        "trade_date": days[keep],
    }
    rows.update({name: values[keep] for name, values in columns.items()})
    rows.update({"daily_return": daily_return[keep], "volatility_7": volatility[keep]})
    rows.update({FETCH_RANK: merged_rank[keep], VALUE_RANKS: value_ranks[keep]})
    return rows


def transform_object(item: ObjectInput) -> TransformResult:
    """Parse and validate one Open-Meteo, GDELT, FRED or manifest object into rows of its table."""
    digest = sha256_hex(item.body)
    try:
        item.verify(digest)
        table, rows = _parse_object(item)
    except Exception as error:  # whatever the bytes do, only this object is refused
        return TransformResult(None, None, [ObjectOutcome(item.key, digest, 0, _reason(error))])
    if FETCH_RANK in TABLES[table].column_names:
        rank = fetch_rank(item.fetched_at, source_precedence(item.source, item.extra))
        rows[FETCH_RANK] = np.full(row_count(rows), rank, dtype=np.int64)
    outcome = ObjectOutcome(item.key, digest, row_count(rows))
    return TransformResult(table, rows, [outcome], fetched_at=item.fetched_at)


def _reason(error: Exception) -> str:
    """The quarantine reason of a refused object, on one line: the rule it broke, or for an error no
    rule foresaw, its type as well."""
    text = " ".join(str(error).split())
    return text if isinstance(error, _QUARANTINE_ERRORS) else f"unexpected {type(error).__name__}: {text}"


def _parse_object(item: ObjectInput) -> tuple[str, Columns]:
    """The object's rows and their table: parsed, then validated against the object's window (a
    manifest has none: it is a run's record, not data)."""
    window = None if item.source == MANIFEST else item.window()
    table, rows = _parsed(item)
    if window is not None:
        validate_rows(table, rows, *window)
    return table, rows


def _parsed(item: ObjectInput) -> tuple[str, Columns]:
    if item.source == MANIFEST:
        return PIPELINE_RUNS, {
            name: object_array([value]) for name, value in parse_manifest(item.body).items()
        }
    if item.source == OPEN_METEO:
        states = [state.strip() for state in item.required("locations").split(",") if state.strip()]
        return WEATHER_DAILY, parse_open_meteo(item.body, states)
    if item.source == GDELT:
        # Objects written before tone was fetched have no mode: they are volumes.
        mode = item.extra.get("mode", GDELT_VOLUME_MODE).strip()
        parsers = {GDELT_VOLUME_MODE: parse_gdelt_timeline, GDELT_TONE_MODE: parse_gdelt_tone}
        if mode not in parsers:
            raise MetadataError(f"metadata extra 'mode' is {mode[:40]!r}, not a GDELT timeline mode")
        return NEWS_DAILY, parsers[mode](item.body, item.required("topic"))
    if item.source == FRED:
        return MACRO_DAILY, parse_fred_csv(item.body, item.required("series_id"))
    if item.source == YAHOO:
        raise MetadataError("metadata extra 'symbol' is missing")
    raise MetadataError(f"no parser for source {item.source!r}")
