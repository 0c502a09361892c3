"""Minute bars: Yahoo's one-minute chart objects into the lake's `stock_minute` table (not PostgreSQL).

The same rules as daily bars (docs/ingestion.md, Yahoo intraday): a minute without trades (null
close) is not a bar; a bar stamped at or after ``period2``, or dated outside the object's window in
the exchange's time zone, is not loaded; of two bars with one stamp the last sent is kept. A bar
that breaks a price rule (a price not above 0, high below low, volume below 0) quarantines its
object, named with the reason; the other objects still load.

An object's bars replace what the lake holds for its ticker on the days it has bars for (a filtered
overwrite, idempotent), unless the lake's bars of that day come from a newer fetch: the newest fetch
of a (ticker, day) is what the lake shows, whatever order the objects arrive or load in, and a fetch
without a day (a day Yahoo no longer serves) never erases it. Each row keeps its object's
`fetched_at`; before staging, a filtered scan of the lake (the run's tickers on the run's days, three
columns, batch by batch) finds the fetch time each (ticker, day) holds. Two fetches of one time are
settled by their values, as the daily tables settle them (never by load order): the day whose bars
have the greater digest (`day_digest`) wins, and a day equal to the lake's is not written again.
Rows written before `fetched_at` existed read it as NULL: older than any fetch. So loading the
objects in any order, any number of runs, gives the lake one full load gives. The whole run's bars
are one Iceberg commit, in the ETL's load transaction (a failure rolls the run back).
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from etl.extract import PendingObject, read_bodies
from etl.ledger import LedgerRow
from etl.parse import ParseError, local_trade_days, read_yahoo_chart
from etl.plan import ledger_row
from etl.precedence import fetch_rank
from etl.schema import STOCK_MINUTE
from etl.transform import MetadataError, ObjectInput
from pipeline.market_time import window_period_bounds
from pipeline.rawzone import RawStore, sha256_hex

if TYPE_CHECKING:
    import pyarrow as pa
    from pyiceberg.expressions import BooleanExpression
    from pyiceberg.table import Table

    from etl.lake_sink import LakeSink

# A (ticker, day) and the rank of the fetch its bars come from: (`fetch_rank`, `day_digest`).
DayKey = tuple[str, dt.date]
DayRank = tuple[int, bytes]
PRICE_NAMES = ("open", "high", "low", "close", "volume")
# The bars a run ranks and stages at once (about 375 bytes each at the peak, written before the next
# chunk is read): a daily run of 500 tickers (~195,000 bars) is one chunk, a 20-session backfill four.
CHUNK_BARS = 1_000_000


@dataclass
class MinuteBars:
    """One object's bars as columns (UTC seconds, exchange-local days, in stamp order), the days it
    has bars for, and when it was fetched."""

    ticker: str
    days: list[dt.date]
    stamps: np.ndarray
    trade_dates: np.ndarray
    prices: dict[str, np.ndarray]
    fetched_at: dt.datetime

    def __len__(self) -> int:
        return len(self.stamps)

    def taking(self, days: Iterable[dt.date]) -> MinuteBars:
        """Only the bars of `days` (those this object is the newest fetch of)."""
        days = sorted(set(days))
        keep = np.isin(self.trade_dates, np.array(days, dtype="datetime64[D]"))
        return MinuteBars(
            self.ticker,
            days,
            self.stamps[keep],
            self.trade_dates[keep],
            {name: values[keep] for name, values in self.prices.items()},
            self.fetched_at,
        )

    def day_rank(self, day: dt.date) -> DayRank:
        """The rank of the object's bars of `day`: its `fetch_rank`, then their `day_digest`."""
        keep = self.trade_dates == np.datetime64(day, "D")
        prices = {name: values[keep] for name, values in self.prices.items()}
        return fetch_rank(self.fetched_at), day_digest(self.stamps[keep], prices)


def day_digest(stamps: np.ndarray, prices: dict[str, np.ndarray]) -> bytes:
    """The sha256 of a day's bars as the lake stores them (stamps in seconds, in order; a missing value
    as one NaN; volume as its integer): equal for the bars of a fetch and for their copy read back, so
    it settles two fetches of one time by their values whatever order they load in."""
    digest = hashlib.sha256(np.asarray(stamps, dtype="<i8").tobytes())
    for name in PRICE_NAMES:
        values = np.asarray(prices[name], dtype=np.float64)
        missing = np.isnan(values)
        if name == "volume":
            values = np.nan_to_num(values).astype(np.int64).astype(np.float64)
        digest.update(np.where(missing, np.nan, values).astype("<f8").tobytes())
    return digest.digest()


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
    prices = {name: chart.prices[name][order] for name in PRICE_NAMES}
    _check_bars(chart.stamps[order], prices)
    # The days the object has bars for: a newer fetch that lacks a day leaves that day as it was.
    covered = sorted({day.item() for day in np.unique(days[order])})
    return MinuteBars(symbol, covered, chart.stamps[order], days[order], prices, item.fetched_at)


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
    """Parse the minute-chart `objects` and stage, in the lake `sink`, the bars of each (ticker, day)
    they hold a newer fetch of than the lake does (written to `stock_minute` in one commit with the
    run's other lake writes); a ledger row per object.

    Memory is bounded by `CHUNK_BARS`: the objects are read ticker by ticker, and once a chunk of
    whole tickers holds that many bars it is ranked and staged (its files written) before the next
    is read. A ticker's objects are all in one chunk, so the newest fetch of each of its days is."""
    ledger_rows: list[LedgerRow] = []
    chunk: list[MinuteBars] = []
    chunk_bars = 0
    ticker = None
    for item, body in read_bodies(store, sorted(objects, key=_ticker_order)):
        if _ticker_order(item)[0] != ticker and chunk_bars >= CHUNK_BARS:
            _stage(chunk, sink)
            chunk, chunk_bars = [], 0
        ticker = _ticker_order(item)[0]
        digest = sha256_hex(body)
        source = ObjectInput(
            item.key, item.source, dict(item.extra), item.metadata.fetched_at, body, item.metadata.sha256
        )
        try:
            bars = parse_minute_bars(source)
        except (ParseError, MetadataError) as error:
            ledger_rows.append(ledger_row(item, digest, rows=0, error=str(error)))
            continue
        chunk.append(bars)
        chunk_bars += len(bars)
        ledger_rows.append(ledger_row(item, digest, rows=len(bars), error=None))
    _stage(chunk, sink)
    return ledger_rows


def _ticker_order(item: PendingObject) -> tuple[str, str]:
    # The ticker as `parse_minute_bars` reads it (`ObjectInput.required`), then the key.
    return item.extra.get("symbol", "").strip(), item.key


def _stage(chunk: Sequence[MinuteBars], sink: LakeSink) -> None:
    newest = newest_per_day(chunk)
    if newest:
        newest = newer_than_stored(sink.minute_table(), newest)
    if newest:
        sink.stage_minute_bars(_arrow_rows(newest), _covered(newest))


def newest_per_day(parsed: Sequence[MinuteBars]) -> list[MinuteBars]:
    """Each (ticker, day) from the newest fetch that has bars of it; of equal fetch times, the day
    whose bars have the greater `day_digest` (the same bars, whichever: the outcome is one)."""
    best: dict[DayKey, tuple[DayRank, int]] = {}
    for index, bars in enumerate(parsed):
        for day in bars.days:
            key, rank = (bars.ticker, day), bars.day_rank(day)
            if key not in best or rank > best[key][0]:
                best[key] = (rank, index)
    kept = []
    for index, bars in enumerate(parsed):
        days = [day for day in bars.days if best[(bars.ticker, day)][1] == index]
        if days:
            kept.append(bars.taking(days))
    return kept


def newer_than_stored(table: Table, objects: Sequence[MinuteBars]) -> list[MinuteBars]:
    """`objects` less the (ticker, day)s whose bars in `table` rank as high or higher: a scan of the
    objects' tickers on their days reads the stored fetch times; only days of one fetch time on both
    sides are read whole, to compare their digests."""
    stored = stored_fetch_ranks(table, _covered(objects))
    tied: list[tuple[int, dt.date]] = []
    kept: dict[int, list[dt.date]] = {}
    for index, bars in enumerate(objects):
        rank = fetch_rank(bars.fetched_at)
        for day in bars.days:
            held = stored.get((bars.ticker, day))
            if held is None or held < rank:
                kept.setdefault(index, []).append(day)
            elif held == rank:
                tied.append((index, day))
    if tied:
        digests = stored_digests(table, _covered([objects[index].taking([day]) for index, day in tied]))
        for index, day in tied:
            bars = objects[index]
            if bars.day_rank(day)[1] > digests[(bars.ticker, day)]:
                kept.setdefault(index, []).append(day)
    return [objects[index].taking(days) for index, days in sorted(kept.items())]


def stored_fetch_ranks(table: Table, where: BooleanExpression) -> dict[DayKey, int]:
    """The `fetch_rank` of the newest fetch each (ticker, day) that `where` selects holds in `table`
    (-1 for bars written before `fetched_at` existed): three columns, aggregated batch by batch."""
    import pyarrow as pa
    import pyarrow.compute as pc

    ranks: dict[DayKey, int] = {}
    if table.current_snapshot() is None:
        return ranks
    scan = table.scan(row_filter=where, selected_fields=("ticker", "trade_date", "fetched_at"))
    for batch in scan.to_arrow_batch_reader():
        micros = pc.fill_null(
            batch.column("fetched_at").cast(pa.timestamp("us", tz="UTC")).cast(pa.int64()), -1
        )
        grouped = (
            pa.table(
                {"ticker": batch.column("ticker"), "trade_date": batch.column("trade_date"), "rank": micros}
            )
            .group_by(["ticker", "trade_date"])
            .aggregate([("rank", "max")])
        )
        for ticker, day, rank in zip(
            *(grouped.column(name).to_pylist() for name in grouped.column_names), strict=True
        ):
            ranks[(ticker, day)] = max(rank, ranks.get((ticker, day), -1))
    return ranks


def stored_digests(table: Table, where: BooleanExpression) -> dict[DayKey, bytes]:
    """The `day_digest` of each (ticker, day) that `where` selects in `table`."""
    rows = (
        table.scan(row_filter=where).to_arrow().sort_by([("ticker", "ascending"), ("bar_time", "ascending")])
    )
    if rows.num_rows == 0:
        return {}
    tickers = np.asarray(rows.column("ticker").to_pylist(), dtype=object)
    days = rows.column("trade_date").to_numpy().astype("datetime64[D]")
    stamps = rows.column("bar_time").cast("int64").to_numpy() // 1_000_000
    prices = {name: rows.column(name).cast("float64").to_numpy(zero_copy_only=False) for name in PRICE_NAMES}
    # In (ticker, bar_time) order each (ticker, day) is one run of rows.
    starts = np.flatnonzero(np.r_[True, (tickers[1:] != tickers[:-1]) | (days[1:] != days[:-1])])
    digests = {}
    for start, end in zip(starts, [*starts[1:], len(stamps)], strict=True):
        part = slice(int(start), int(end))
        key = (str(tickers[start]), days[start].item())
        digests[key] = day_digest(stamps[part], {name: values[part] for name, values in prices.items()})
    return digests


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
        "fetched_at": pa.array(
            np.repeat([fetch_rank(bars.fetched_at) for bars in objects], [len(bars) for bars in objects]),
            type=pa.timestamp("us", tz="UTC"),
        ),
    }
    return pa.Table.from_arrays([columns[name] for name in schema.names], schema=schema)
