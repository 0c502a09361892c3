"""Lake maintenance (`pipeline lake compact`): small files merged, old snapshots expired.

Each ETL run's commit adds a small data file per partition it touched (a day of minute bars, the
current month of daily bars), and every commit a snapshot. Left alone, a year of daily runs is
hundreds of files per table, each a request for every reader. So, per table, a partition holding
more than `MAX_FILES_PER_PARTITION` data files is rewritten as one (read, then overwritten with a
filter on that partition, in one commit: the rows and their values stay exactly as they were), and
snapshots older than `KEEP_SNAPSHOTS_DAYS` are expired (the current one always stays). Expiring a
snapshot only drops it from the table's metadata: the data files and manifests that no remaining
snapshot refers to (the rows a compaction or a daily overwrite replaced) would stay on disk or in S3,
paid for and never read. So they are deleted too, if they are older than `ORPHAN_MIN_AGE_HOURS` (a
file a writer has written but not yet committed is younger). Metadata JSON files stay: they are small
and each names the one before. The instance runs it after each scheduled ETL run
(stacks/instance_bootstrap.py); locally it runs by hand.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from etl.lake import CURATED_LAKE_TABLES, lake_spec, open_catalog, replace_rows, table_identifier
from etl.schema import STOCK_MINUTE
from pipeline.settings import Settings

if TYPE_CHECKING:
    from pyiceberg.expressions import BooleanExpression
    from pyiceberg.table import Table

MAX_FILES_PER_PARTITION = 4
KEEP_SNAPSHOTS_DAYS = 7
ORPHAN_MIN_AGE_HOURS = 24
#: The files an orphan can be: Parquet data files, Avro manifests and manifest lists.
ORPHAN_SUFFIXES = (".parquet", ".avro")


@dataclass
class Compaction:
    """What `compact` did: per table, data files before and after, and snapshots expired."""

    files_before: dict[str, int] = field(default_factory=dict)
    files_after: dict[str, int] = field(default_factory=dict)
    snapshots_expired: dict[str, int] = field(default_factory=dict)
    orphans_removed: dict[str, int] = field(default_factory=dict)

    def summary(self) -> str:
        lines = ["lake compact:"]
        for name, before in self.files_before.items():
            lines.append(
                f"  {name}: {before} data file(s) -> {self.files_after[name]}, "
                f"{self.snapshots_expired.get(name, 0)} snapshot(s) expired, "
                f"{self.orphans_removed.get(name, 0)} unreferenced file(s) deleted"
            )
        return "\n".join(lines)


def compact(settings: Settings, *, now: dt.datetime | None = None) -> Compaction:
    """Compact every lake table that exists (see the module docstring)."""
    from pyiceberg.exceptions import NoSuchTableError

    now = now or dt.datetime.now(dt.UTC)
    catalog = open_catalog(settings)
    result = Compaction()
    for name in (*CURATED_LAKE_TABLES, STOCK_MINUTE):
        try:
            table = catalog.load_table(table_identifier(settings, name))
        except NoSuchTableError:
            continue
        result.files_before[name] = _data_files(table)
        for where in crowded_partitions(table, name):
            replace_rows(table, table.scan(row_filter=where).to_arrow(), where)
        result.snapshots_expired[name] = _expire(table, now - dt.timedelta(days=KEEP_SNAPSHOTS_DAYS))
        result.files_after[name] = _data_files(table)
        result.orphans_removed[name] = remove_orphans(table, now - dt.timedelta(hours=ORPHAN_MIN_AGE_HOURS))
    return result


def _data_files(table: Table) -> int:
    return 0 if table.current_snapshot() is None else table.inspect.files().num_rows


def crowded_partitions(table: Table, name: str) -> list[BooleanExpression | None]:
    """A filter selecting each partition of `table` with too many data files (None: the whole,
    unpartitioned table)."""
    from pyiceberg.expressions import And, EqualTo, GreaterThanOrEqual, LessThan

    if table.current_snapshot() is None:
        return []
    files = table.inspect.files().to_pylist()
    if table.spec().is_unpartitioned():
        return [None] if len(files) > MAX_FILES_PER_PARTITION else []
    partition = table.spec().fields[0]
    counts = Counter(row["partition"][partition.name] for row in files)
    crowded = [value for value, count in counts.items() if count > MAX_FILES_PER_PARTITION]
    if name == STOCK_MINUTE:  # identity on the day
        return [EqualTo("trade_date", value.isoformat()) for value in crowded]
    day = lake_spec(name).key[1]
    filters: list[BooleanExpression | None] = []
    for months in crowded:  # months since 1970-01
        first = dt.date(1970 + months // 12, months % 12 + 1, 1)
        after = dt.date(first.year + first.month // 12, first.month % 12 + 1, 1)
        filters.append(And(GreaterThanOrEqual(day, first.isoformat()), LessThan(day, after.isoformat())))
    return filters


def _expire(table: Table, before: dt.datetime) -> int:
    current = table.current_snapshot()
    old = [
        snapshot.snapshot_id
        for snapshot in table.snapshots()
        if current is not None
        and snapshot.snapshot_id != current.snapshot_id
        and snapshot.timestamp_ms < before.timestamp() * 1000
    ]
    if old:
        table.maintenance.expire_snapshots().by_ids(old).commit()
    return len(old)


def remove_orphans(table: Table, written_before: dt.datetime) -> int:
    """Delete the data files and manifests under `table`'s location that none of its snapshots refers
    to and that were written before `written_before`; how many were deleted."""
    from pyarrow.fs import FileSelector, FileType
    from pyiceberg.io.pyarrow import PyArrowFileIO

    scheme, netloc, root = PyArrowFileIO.parse_location(table.location())
    files = table.io.fs_by_scheme(scheme, netloc)  # type: ignore[attr-defined]
    referenced = _referenced_paths(table)
    removed = 0
    for info in files.get_file_info(FileSelector(root, recursive=True, allow_not_found=True)):
        if (
            info.type == FileType.File
            and info.path.endswith(ORPHAN_SUFFIXES)
            and info.path not in referenced
            and info.mtime is not None
            and info.mtime < written_before
        ):
            files.delete_file(info.path)
            removed += 1
    return removed


def _referenced_paths(table: Table) -> set[str]:
    """Every data file, manifest and manifest list some snapshot of `table` refers to, as paths of
    its file system."""
    from pyiceberg.io.pyarrow import PyArrowFileIO

    locations = {snapshot.manifest_list for snapshot in table.snapshots()}
    if table.current_snapshot() is not None:
        locations |= set(table.inspect.all_files().column("file_path").to_pylist())
        locations |= set(table.inspect.all_manifests().column("path").to_pylist())
    return {PyArrowFileIO.parse_location(location)[2] for location in locations}
