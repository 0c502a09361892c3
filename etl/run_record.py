"""An ETL run's outcome: `EtlResult` (what the run loaded, quarantined and wrote) and its `pipeline_runs`
row of kind ``etl``, which the next run reads back (`last_recorded_inputs`)."""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from etl.plan import StagedLoad
from etl.schema import PIPELINE_RUNS
from pipeline.db import connect
from pipeline.outcomes import EXIT_FAILED, EXIT_OK, EXIT_QUARANTINED, RUN_FAILED, RUN_PARTIAL, RUN_SUCCESS

log = logging.getLogger(__name__)

QUARANTINE_DETAILS_LIMIT = 100
# Keys of an ETL run's `details`: what its `companies` and `market_daily` were made from (the universe
# file's sha256; the settings and query version), so the next run redoes neither if those are the same.
UNIVERSE_SHA256 = "universe_sha256"
MARKET_DAILY_INPUTS = "market_daily_inputs"


@dataclass
class EtlResult:
    """The outcome of `run_etl`: objects loaded and quarantined, rows written per table, time taken."""

    run_id: str
    seconds: float = 0.0
    loaded: int = 0
    quarantined: list[tuple[str, str]] = field(default_factory=list)
    rows_written: dict[str, int] = field(default_factory=dict)
    rows_staged: int = 0
    error: str | None = None
    views_refreshed: list[str] = field(default_factory=list)
    phase_seconds: dict[str, float] = field(default_factory=dict)
    # Objects whose metadata had to be read (a HEAD request each on S3): new, changed or --full.
    metadata_lookups: int = 0
    # The settings and query version `market_daily` now reflects (recorded in the run's details), and
    # whether this run recomputed it.
    market_daily_inputs: dict[str, Any] = field(default_factory=dict)
    market_daily_refreshed: bool = False
    # The sha256 of the universe file `companies` now reflects, and whether this run loaded it.
    universe_sha256: str = ""
    companies_loaded: bool = False
    # Rows written to each lake table (`etl.lake_sink`; empty without LAKE_WAREHOUSE).
    lake_rows: dict[str, int] = field(default_factory=dict)

    @property
    def exit_code(self) -> int:
        """0 success, 1 failure (nothing written), 3 finished with quarantined objects."""
        if self.error:
            return EXIT_FAILED
        return EXIT_QUARANTINED if self.quarantined else EXIT_OK

    def take(self, staged: StagedLoad) -> None:
        """Count what the transform-and-stage step loaded and quarantined."""
        self.loaded = sum(1 for row in staged.ledger_rows if row.loaded)
        self.quarantined = [(row.key, row.error or "") for row in staged.ledger_rows if row.quarantined]
        self.rows_written.update(staged.rows_written)
        self.rows_staged = staged.rows_staged

    @property
    def curated_rows(self) -> int:
        """Rows inserted or changed in the curated tables by this run."""
        return sum(self.rows_written.values())

    def summary(self) -> str:
        """A few lines for the terminal."""
        if self.error:
            return f"etl failed after {self.seconds:.1f} s, nothing was written: {self.error}"
        lines = [
            f"etl: {self.loaded} object(s) loaded, {len(self.quarantined)} quarantined, "
            f"{self.curated_rows:,} row(s) written in {self.seconds:.1f} s"
        ]
        lines += [f"  {table}: {rows:,}" for table, rows in sorted(self.rows_written.items()) if rows]
        lines += [f"  quarantined {key}: {error}" for key, error in self.quarantined[:20]]
        if len(self.quarantined) > 20:
            lines.append(f"  ... and {len(self.quarantined) - 20} more (pipeline status lists them)")
        return "\n".join(lines)


def last_recorded_inputs(cursor: psycopg.Cursor) -> dict[str, Any]:
    """What the last committed ETL run recorded under `UNIVERSE_SHA256` and `MARKET_DAILY_INPUTS`
    (empty before any did). Runs commit one at a time under the ETL lock, each stamping `finished_at`
    while it holds it, so the latest `finished_at` is the last commit's; failed runs record neither."""
    cursor.execute(
        f"SELECT details -> %(universe)s, details -> %(market)s FROM {PIPELINE_RUNS} "
        "WHERE kind = 'etl' AND details ? %(market)s ORDER BY finished_at DESC LIMIT 1",
        {"universe": UNIVERSE_SHA256, "market": MARKET_DAILY_INPUTS},
    )
    row = cursor.fetchone()
    return {UNIVERSE_SHA256: row[0], MARKET_DAILY_INPUTS: row[1]} if row else {}


def record_run(
    cursor: psycopg.Cursor, result: EtlResult, started_at: dt.datetime, full: bool, quality: dict[str, Any]
) -> None:
    status = RUN_PARTIAL if result.quarantined else RUN_SUCCESS
    details = {
        "full": full,
        "objects_loaded": result.loaded,
        "objects_quarantined": len(result.quarantined),
        "quarantined": [
            {"key": key, "error": error} for key, error in result.quarantined[:QUARANTINE_DETAILS_LIMIT]
        ],
        "rows_written": result.rows_written,
        "rows_staged": result.rows_staged,
        "data_quality": quality,
        "phase_seconds": result.phase_seconds,
        "metadata_lookups": result.metadata_lookups,
        "lake_rows_written": result.lake_rows,
        "companies_loaded": result.companies_loaded,
        UNIVERSE_SHA256: result.universe_sha256,
        "market_daily_refreshed": result.market_daily_refreshed,
        MARKET_DAILY_INPUTS: result.market_daily_inputs,
        "seconds": round(result.seconds, 3),
    }
    cursor.execute(
        f"INSERT INTO {PIPELINE_RUNS} (run_id, kind, started_at, finished_at, status, details) "
        "VALUES (%s, 'etl', %s, clock_timestamp(), %s, %s)",
        (result.run_id, started_at, status, Jsonb(details)),
    )


def record_failure(url: str, result: EtlResult, started_at: dt.datetime, full: bool) -> None:
    """Best effort, on a connection of its own (the run's may be what failed): if the failure is the
    database itself, the log is all we have."""
    try:
        with connect(url) as conn:
            conn.execute(
                f"INSERT INTO {PIPELINE_RUNS} (run_id, kind, started_at, finished_at, status, details) "
                "VALUES (%s, 'etl', %s, clock_timestamp(), %s, %s)",
                (result.run_id, started_at, RUN_FAILED, Jsonb({"full": full, "error": result.error})),
            )
    except Exception as error:
        log.warning("could not record the failed ETL run %s: %s", result.run_id, error)


class PhaseTimer:
    """Records the seconds each phase of a run took (into the run's details, for tuning)."""

    def __init__(self, into: dict[str, float]) -> None:
        self.into = into
        self.mark = time.perf_counter()

    def done(self, phase: str) -> None:
        now = time.perf_counter()
        self.into[phase] = round(self.into.get(phase, 0.0) + now - self.mark, 3)
        self.mark = now
