"""Plan: the pending objects sorted into work, and the instrument batches the transform runs on.

Yahoo objects are grouped by symbol (a symbol's pending objects are merged over its stored bars in
one pass), reference snapshots need no load, keys that are not raw keys are quarantined at once, and
every other object is transformed on its own.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field

import psycopg

from etl.extract import PendingObject, Scan, UnreadableKey
from etl.ledger import LedgerRow
from etl.load import stored_bars
from etl.schema import TABLES
from etl.transform import InstrumentBatch, ObjectInput, instrument_table
from pipeline.catalog import CONSTITUENTS, YAHOO
from pipeline.rawzone import source_of_key
from pipeline.settings import Settings


@dataclass
class LoadPlan:
    """What a run will do: instruments by table and symbol, the other objects, and the ledger rows of
    the objects that need no transform (unreadable keys, reference snapshots)."""

    instruments: dict[str, dict[str, list[PendingObject]]] = field(default_factory=dict)
    objects: list[PendingObject] = field(default_factory=list)
    settled: list[LedgerRow] = field(default_factory=list)

    @property
    def to_transform(self) -> list[PendingObject]:
        """Every object the transform reads, instruments first."""
        grouped = [
            item for groups in self.instruments.values() for group in groups.values() for item in group
        ]
        return grouped + self.objects


def plan_load(scan: Scan, settings: Settings) -> LoadPlan:
    """Sort what the scan found into a `LoadPlan`."""
    plan = LoadPlan()
    plan.settled += [_unreadable_row(key) for key in scan.unreadable]
    by_table: dict[str, dict[str, list[PendingObject]]] = defaultdict(lambda: defaultdict(list))
    for item in scan.pending:
        symbol = item.extra.get("symbol")
        if item.source == YAHOO and symbol:
            by_table[instrument_table(symbol, settings.pipeline_indexes)][symbol].append(item)
        elif item.source == CONSTITUENTS:
            # Reference snapshots: `companies` comes from the universe file, so nothing to load.
            plan.settled.append(ledger_row(item, item.sha256, rows=0, error=None))
        else:
            plan.objects.append(item)
    plan.instruments = {table: dict(groups) for table, groups in by_table.items()}
    return plan


def ledger_row(item: PendingObject, sha256: str, *, rows: int, error: str | None) -> LedgerRow:
    """The ledger row of a pending object the run handled."""
    return LedgerRow.outcome(
        key=item.key,
        source=item.source,
        sha256=sha256,
        rows=rows,
        error=error,
        data_date=item.data_date,
        synthetic=item.synthetic,
        etag=item.etag,
    )


def _unreadable_row(unreadable: UnreadableKey) -> LedgerRow:
    return LedgerRow.outcome(
        key=unreadable.key,
        source=source_of_key(unreadable.key),
        sha256="",
        rows=0,
        error=unreadable.error,
        data_date=None,
        synthetic=False,
        etag=None,
    )


def instrument_batches(
    cursor: psycopg.Cursor,
    plan: LoadPlan,
    inputs: Mapping[str, ObjectInput],
    batch_bytes: int | None,
) -> list[InstrumentBatch]:
    """The instruments in batches per table, each with the stored bars it must re-read: one batch
    per table, or batches of about `batch_bytes` of objects each."""
    batches = []
    for table, groups in plan.instruments.items():
        since = {symbol: _earliest_window_start(group) for symbol, group in groups.items()}
        context = stored_bars(cursor, table, since)
        chunks: list[list[tuple[str, list[ObjectInput]]]] = [[]]
        size = 0
        for symbol, group in groups.items():
            objects = [inputs[item.key] for item in group if item.key in inputs]
            if not objects:
                continue
            if batch_bytes and size >= batch_bytes:
                chunks.append([])
                size = 0
            chunks[-1].append((symbol, objects))
            size += sum(len(item.body) for item in objects)
        for chunk in filter(None, chunks):
            symbols = [symbol for symbol, _ in chunk]
            batch_context = context if len(chunks) == 1 else context[context["symbol"].isin(symbols)]
            batches.append(
                InstrumentBatch(
                    table,
                    symbols,
                    [objects for _, objects in chunk],
                    [since[symbol] for symbol in symbols],
                    batch_context.reset_index(drop=True),
                    TABLES[table].columns,
                )
            )
    return batches


def _earliest_window_start(group: list[PendingObject]) -> dt.date:
    starts = []
    for item in group:
        try:
            starts.append(dt.date.fromisoformat(item.extra.get("window_start", "")))
        except ValueError:
            continue
    # Objects without a readable window are quarantined by the transform; they need no context.
    return min(starts, default=dt.date.max)
