"""Plan: the pending objects sorted into work (imports no numpy: a run with nothing new stops here).

Yahoo objects are grouped by symbol (a symbol's pending objects are merged over its stored bars in
one pass), reference snapshots need no load, keys that are not raw keys are quarantined at once, and
every other object is transformed on its own.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from etl.extract import PendingObject, Scan, UnreadableKey
from etl.ledger import LedgerRow, ledger_row
from etl.schema import INDEX_DAILY, STOCK_DAILY
from pipeline.catalog import UNLOADED_SOURCES, YAHOO, YAHOO_INTRADAY
from pipeline.rawzone import source_of_key
from pipeline.settings import Settings

# How far past today (New York) each source's data may reach: Open-Meteo's forecast endpoint serves up to
# 16 days ahead; GDELT dates its buckets in UTC, up to a day ahead of New York; the others end today.
HORIZON_DAYS = {"gdelt": 1}
OPEN_METEO_FORECAST_DAYS = 16


def beyond_horizon(source: str, extra: Mapping[str, str], last_day: dt.date, today: dt.date) -> str | None:
    """Why an object whose data reaches `last_day` cannot be real data yet, or None when it can.

    Such an object (a clock gone wrong, a hand-made or hostile response) is refused whole: one day
    beyond what the source can know says the response cannot be trusted."""
    days = HORIZON_DAYS.get(source, 0)
    if source == "open_meteo" and extra.get("endpoint", "").strip() != "archive":
        days = OPEN_METEO_FORECAST_DAYS
    horizon = today + dt.timedelta(days=days)
    if last_day <= horizon:
        return None
    return f"data dated {last_day} is beyond the source's horizon {horizon} (today {today}, New York, + {days} day(s))"


@dataclass
class LoadPlan:
    """What a run will do: instruments by table and symbol, the other objects, and the ledger rows of
    the objects that need no transform (unreadable keys, reference snapshots)."""

    instruments: dict[str, dict[str, list[PendingObject]]] = field(default_factory=dict)
    objects: list[PendingObject] = field(default_factory=list)
    settled: list[LedgerRow] = field(default_factory=list)
    # Minute bars, for the lake only (`etl.intraday`); without a lake they stay pending, unrecorded,
    # so that the run after LAKE_WAREHOUSE is set loads them all.
    minute_bars: list[PendingObject] = field(default_factory=list)

    @property
    def instrument_window_days(self) -> int:
        """The days the instrument objects' windows span, together: a measure of their bytes known
        before any is read (a daily run spans one day per symbol; a ten-year backfill 3,650)."""
        return sum(
            _window_days(item)
            for groups in self.instruments.values()
            for group in groups.values()
            for item in group
        )

    @property
    def to_transform(self) -> list[PendingObject]:
        """Every object the transform reads, instruments first."""
        grouped = [
            item for groups in self.instruments.values() for group in groups.values() for item in group
        ]
        return grouped + self.objects


@dataclass
class StagedLoad:
    """What the transform-and-stage step did: ledger rows, dates touched, rows per table, quality."""

    ledger_rows: list[LedgerRow] = field(default_factory=list)
    dates: set[dt.date] = field(default_factory=set)
    stock_days: set[dt.date] = field(default_factory=set)
    rows_written: dict[str, int] = field(default_factory=dict)
    # Of the rows written per table, those new (the others changed a stored row).
    rows_inserted: dict[str, int] = field(default_factory=dict)
    rows_staged: int = 0
    quality: dict[str, dict[str, int]] = field(default_factory=lambda: defaultdict(lambda: defaultdict(int)))

    def quality_summary(self) -> dict[str, dict[str, int]]:
        return {name: dict(counts) for name, counts in self.quality.items()}


def instrument_table(symbol: str, indexes: Sequence[str]) -> str:
    """`index_daily` for the configured indexes (and any ``^`` symbol), else `stock_daily`."""
    return INDEX_DAILY if symbol in indexes or symbol.startswith("^") else STOCK_DAILY


def plan_load(scan: Scan, settings: Settings, today: dt.date) -> LoadPlan:
    """Sort what the scan found into a `LoadPlan`; objects dated beyond their source's horizon (as of
    `today`, New York) are quarantined with the reason."""
    plan = LoadPlan()
    plan.settled += [_unreadable_row(key) for key in scan.unreadable]
    by_table: dict[str, dict[str, list[PendingObject]]] = defaultdict(lambda: defaultdict(list))
    for item in scan.pending:
        symbol = item.extra.get("symbol")
        too_late = beyond_horizon(item.source, item.extra, item.data_date, today)
        if too_late:
            plan.settled.append(ledger_row(item, item.sha256, rows=0, error=too_late))
        elif item.source == YAHOO and symbol:
            by_table[instrument_table(symbol, settings.pipeline_indexes)][symbol].append(item)
        elif item.source == YAHOO_INTRADAY:
            if settings.lake_warehouse:
                plan.minute_bars.append(item)
        elif item.source in UNLOADED_SOURCES:
            # Reference snapshots (`companies` comes from the universe file) and shard reports
            # (the run's manifest carries them): recorded, nothing to load.
            plan.settled.append(ledger_row(item, item.sha256, rows=0, error=None))
        else:
            plan.objects.append(item)
    plan.instruments = {table: dict(groups) for table, groups in by_table.items()}
    return plan


def _unreadable_row(unreadable: UnreadableKey) -> LedgerRow:
    return LedgerRow.outcome(
        key=unreadable.key,
        source=source_of_key(unreadable.key),
        sha256="",
        rows=0,
        error=unreadable.error,
        data_date=None,
        synthetic=False,
        etag=unreadable.etag,
    )


def _window_days(item: PendingObject) -> int:
    try:
        start = dt.date.fromisoformat(item.extra.get("window_start", ""))
        end = dt.date.fromisoformat(item.extra.get("window_end", ""))
    except ValueError:
        return 1
    return max(1, (end - start).days + 1)


def earliest_window_start(group: list[PendingObject]) -> dt.date:
    starts = []
    for item in group:
        try:
            starts.append(dt.date.fromisoformat(item.extra.get("window_start", "")))
        except ValueError:
            continue
    # Objects without a readable window are quarantined by the transform; they need no context.
    return min(starts, default=dt.date.max)
