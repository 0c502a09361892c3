"""Minute bars: Yahoo's one-minute chart objects into the lake's `stock_minute` table (not PostgreSQL).

The same rules as daily bars (docs/ingestion.md, Yahoo intraday): a minute without trades (null
close) is not a bar; a bar stamped at or after ``period2``, or dated outside the object's window in
the exchange's time zone, is not loaded; of two bars with one stamp the last sent is kept. A bar
that breaks a price rule (a price not above 0, high below low, volume below 0) quarantines its
object, named with the reason; the other objects still load.

An object's bars replace what the lake holds for its ticker on the days it has bars for (a filtered
overwrite, idempotent): the newest fetch of a day is what the lake shows, and a fetch without a day
(a day Yahoo no longer serves) never erases it. Of the objects one run loads, each (ticker, day)
comes from the newest fetch that has it; the whole run's bars are one Iceberg commit, in the ETL's
load transaction (a failure rolls the run back).
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from etl.extract import PendingObject, read_bodies
from etl.ledger import LedgerRow
from etl.parse import ParseError, local_trade_days, read_yahoo_chart
from etl.plan import ledger_row
from etl.schema import STOCK_MINUTE
from etl.transform import MetadataError, ObjectInput
from pipeline.market_time import window_period_bounds
from pipeline.rawzone import RawStore, sha256_hex

if TYPE_CHECKING:
    import pyarrow as pa
    from pyiceberg.expressions import BooleanExpression

    from etl.lake_sink import LakeSink


@dataclass
class MinuteBars:
    """One object's bars as columns (UTC seconds, exchange-local days), and the days it has bars for."""

    ticker: str
    days: list[dt.date]
    stamps: np.ndarray
    trade_dates: np.ndarray
    prices: dict[str, np.ndarray]

    def __len__(self) -> int:
        return len(self.stamps)

    def taking(self, days: set[dt.date]) -> MinuteBars:
        """Only the bars of `days` (those this object is the newest fetch of)."""
        keep = np.isin(self.trade_dates, np.array(sorted(days), dtype="datetime64[D]"))
        return MinuteBars(
            self.ticker,
            sorted(days),
            self.stamps[keep],
            self.trade_dates[keep],
            {name: values[keep] for name, values in self.prices.items()},
        )


def parse_minute_bars(item: ObjectInput) -> MinuteBars:
    """The bars of one minute-chart object (the rules of the module docstring); `ParseError` or
    `MetadataError` with one line for a body or metadata that cannot be loaded."""
    item.verify(sha256_hex(item.body))
    symbol = item.required("symbol")
    start, end = item.window()
    chart = read_yahoo_chart(item.body)
    days = local_trade_days(chart.stamps, chart.time_zone).astype("datetime64[D]")
    _, period_end = window_period_bounds(start, end)
    close = chart.prices["close"]
    keep = (
        ~np.isnan(close)
        & (chart.stamps < period_end)
        & (days >= np.datetime64(start, "D"))
        & (days <= np.datetime64(end, "D"))
    )
    positions = np.flatnonzero(keep)
    # Of repeated stamps the last one sent.
    order = positions[np.argsort(chart.stamps[positions], kind="stable")]
    stamps = chart.stamps[order]
    last = np.append(stamps[1:] != stamps[:-1], True) if len(stamps) else np.array([], dtype=bool)
    order = order[last]
    prices = {name: chart.prices[name][order] for name in ("open", "high", "low", "close", "volume")}
    _check_bars(chart.stamps[order], prices)
    # The days the object has bars for: a newer fetch that lacks a day leaves that day as it was.
    covered = sorted({day.item() for day in np.unique(days[order])})
    return MinuteBars(symbol, covered, chart.stamps[order], days[order], prices)


def _check_bars(stamps: np.ndarray, prices: dict[str, np.ndarray]) -> None:
    with np.errstate(invalid="ignore"):
        problems = {
            "a price is not above 0": np.any(
                [(prices[name] <= 0) for name in ("open", "high", "low", "close")], axis=0
            ),
            "high is below low": prices["high"] < prices["low"],
            "volume is below 0": prices["volume"] < 0,
        }
    for reason, bad in problems.items():
        if bad.any():
            stamp = dt.datetime.fromtimestamp(int(stamps[np.flatnonzero(bad)[0]]), dt.UTC)
            raise ParseError(f"bar at {stamp:%Y-%m-%d %H:%M}Z: {reason} ({int(bad.sum())} bar(s))")


def load_minute_bars(store: RawStore, objects: Sequence[PendingObject], sink: LakeSink) -> list[LedgerRow]:
    """Parse the minute-chart `objects` and stage their bars in the lake `sink` (written to
    `stock_minute` in one commit with the run's other lake writes); a ledger row per object."""
    ledger_rows: list[LedgerRow] = []
    parsed: list[tuple[dt.datetime, MinuteBars]] = []
    for item, body in read_bodies(store, objects):
        digest = sha256_hex(body)
        source = ObjectInput(
            item.key, item.source, dict(item.extra), item.metadata.fetched_at, body, item.metadata.sha256
        )
        try:
            bars = parse_minute_bars(source)
        except (ParseError, MetadataError) as error:
            ledger_rows.append(ledger_row(item, digest, rows=0, error=str(error)))
            continue
        parsed.append((item.metadata.fetched_at, bars))
        ledger_rows.append(ledger_row(item, digest, rows=len(bars), error=None))
    newest = [bars for bars in newest_per_day(parsed) if len(bars)]
    if newest:
        sink.stage_minute_bars(_arrow_rows(newest), _covered(newest))
    return ledger_rows


def newest_per_day(parsed: Sequence[tuple[dt.datetime, MinuteBars]]) -> list[MinuteBars]:
    """Each (ticker, day) from the newest fetch that covers it (the later listed of equal fetch times)."""
    owner: dict[tuple[str, dt.date], int] = {}
    order = sorted(range(len(parsed)), key=lambda index: parsed[index][0])
    for index in order:
        for day in parsed[index][1].days:
            owner[(parsed[index][1].ticker, day)] = index
    kept = []
    for index, (_, bars) in enumerate(parsed):
        days = {day for (ticker, day), who in owner.items() if who == index and ticker == bars.ticker}
        if days:
            kept.append(bars.taking(days))
    return kept


def _covered(objects: Sequence[MinuteBars]) -> BooleanExpression:
    """The lake rows these objects replace: each ticker on the days its objects cover."""
    from pyiceberg.expressions import And, In, Or

    by_days: dict[tuple[dt.date, ...], set[str]] = {}
    for bars in objects:
        by_days.setdefault(tuple(bars.days), set()).add(bars.ticker)
    terms = [
        And(In("ticker", sorted(tickers)), In("trade_date", [day.isoformat() for day in days]))
        for days, tickers in by_days.items()
    ]
    return functools.reduce(Or, terms[1:], terms[0]) if len(terms) > 1 else terms[0]


def _arrow_rows(objects: Sequence[MinuteBars]) -> pa.Table:
    import pyarrow as pa

    from etl.lake import arrow_schema

    schema = arrow_schema(STOCK_MINUTE)
    stamps = np.concatenate([bars.stamps for bars in objects])
    volume = np.concatenate([bars.prices["volume"] for bars in objects])
    columns = {
        "ticker": pa.array(np.repeat([bars.ticker for bars in objects], [len(bars) for bars in objects])),
        "bar_time": pa.array(stamps * 1_000_000, type=pa.timestamp("us", tz="UTC")),
        "trade_date": pa.array(np.concatenate([bars.trade_dates for bars in objects])),
        **{
            name: pa.array(np.concatenate([bars.prices[name] for bars in objects]), from_pandas=True)
            for name in ("open", "high", "low", "close")
        },
        "volume": pa.array(np.nan_to_num(volume).astype(np.int64), mask=np.isnan(volume), type=pa.int64()),
    }
    return pa.Table.from_arrays([columns[name] for name in schema.names], schema=schema)
