"""`pipeline status`: freshness per source, the last runs, the quarantine and row counts, as text."""

from __future__ import annotations

from psycopg import sql

from etl.schema import ANALYTICS_TABLES, CORE_TABLES, PIPELINE_RUNS, RAW_OBJECTS
from pipeline.db import connect, database_url, fetch_value
from pipeline.outcomes import OBJECT_LOADED, OBJECT_QUARANTINED
from pipeline.settings import Settings

LAST_RUNS = 5
QUARANTINE_SHOWN = 10
COUNTED_TABLES = (*CORE_TABLES, *ANALYTICS_TABLES)


def status_report(settings: Settings) -> str:
    """The state of the pipeline's database in a few sections of plain text.

    Freshness is the latest key date loaded per source and when it was loaded; then the last runs
    (ingest and ETL), the quarantined objects with their errors, and the row count of each table.
    """
    with connect(database_url(settings)) as conn, conn.cursor() as cursor:
        cursor.execute(
            f"SELECT source, max(data_date), max(loaded_at), count(*) FILTER (WHERE synthetic) > 0 "
            f"FROM {RAW_OBJECTS} WHERE status = %s GROUP BY source ORDER BY source",
            (OBJECT_LOADED,),
        )
        freshness = cursor.fetchall()
        cursor.execute(
            f"SELECT run_id, kind, status, started_at, finished_at FROM {PIPELINE_RUNS} "
            "ORDER BY started_at DESC LIMIT %s",
            (LAST_RUNS,),
        )
        runs = cursor.fetchall()
        cursor.execute(
            f"SELECT key, error, count(*) OVER () FROM {RAW_OBJECTS} WHERE status = %s "
            "ORDER BY loaded_at DESC, key LIMIT %s",
            (OBJECT_QUARANTINED, QUARANTINE_SHOWN),
        )
        quarantine = cursor.fetchall()
        counts = []
        for table in COUNTED_TABLES:
            cursor.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table)))
            counts.append((table, fetch_value(cursor)))
    return "\n".join(
        [
            *_freshness_lines(freshness),
            *_run_lines(runs),
            *_quarantine_lines(quarantine),
            "rows:",
            *(f"  {table:<16} {count:>12,}" for table, count in counts),
        ]
    )


def _freshness_lines(freshness: list[tuple]) -> list[str]:
    lines = ["freshness (latest data date loaded per source):"]
    if not freshness:
        return [*lines, "  nothing loaded yet"]
    for source, data_date, loaded_at, synthetic in freshness:
        badge = " [synthetic data]" if synthetic else ""
        lines.append(f"  {source:<12} {data_date}  loaded {loaded_at:%Y-%m-%d %H:%M:%S %Z}{badge}")
    return lines


def _run_lines(runs: list[tuple]) -> list[str]:
    lines = ["last runs:"]
    if not runs:
        return [*lines, "  none"]
    for run_id, kind, status, started_at, finished_at in runs:
        took = f"{(finished_at - started_at).total_seconds():.1f} s" if finished_at else "unfinished"
        lines.append(f"  {started_at:%Y-%m-%d %H:%M:%S} {kind:<6} {status:<8} {took:>9}  {run_id}")
    return lines


def _quarantine_lines(quarantine: list[tuple]) -> list[str]:
    total = quarantine[0][2] if quarantine else 0
    lines = [f"quarantined objects: {total}"]
    lines += [f"  {key}: {error}" for key, error, _ in quarantine]
    if total > len(quarantine):
        lines.append(f"  ... and {total - len(quarantine)} more")
    return lines
