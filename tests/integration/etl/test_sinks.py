"""A second sink beside PostgreSQL (`etl.sinks`): it receives exactly the rows PostgreSQL holds, is
committed first, and a failure anywhere aborts it and leaves PostgreSQL as it was."""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import psycopg
import pytest

from etl import run_etl
from etl.columns import decoded
from etl.schema import INDEX_DAILY, MACRO_DAILY, NEWS_DAILY, PIPELINE_RUNS, STOCK_DAILY, TABLES, WEATHER_DAILY
from etl.sinks import RunStart, TableRows
from pipeline.settings import get_settings
from tests.integration.etl.conftest import FIRST_DAY, trading_days

pytestmark = pytest.mark.usefixtures("universe")
FACT_TABLES = (STOCK_DAILY, INDEX_DAILY, WEATHER_DAILY, NEWS_DAILY, MACRO_DAILY)


class RecordingSink:
    """Keeps what it is handed, as a sink that writes elsewhere would; may fail at one step."""

    def __init__(self, fail_at: str | None = None) -> None:
        self.fail_at = fail_at
        self.calls: list[str] = []
        self.runs: list[RunStart] = []
        self.rows: dict[str, list[TableRows]] = defaultdict(list)

    def begin(self, run: RunStart) -> None:
        self.calls.append("begin")
        self.runs.append(run)

    def write(self, rows: TableRows) -> None:
        self.calls.append("write")
        self.rows[rows.table].append(rows)
        if self.fail_at == "write":
            raise OSError("the lake is unreachable")

    def commit(self) -> None:
        self.calls.append("commit")
        if self.fail_at == "commit":
            raise OSError("the lake refused the commit")

    def abort(self) -> None:
        self.calls.append("abort")

    def keys(self, table: str) -> set[tuple]:
        key = TABLES[table].key
        found = set()
        for part in self.rows[table]:
            columns = decoded(part.columns)
            days = np.asarray(columns[key[1]]).astype("datetime64[D]").tolist() if len(key) > 1 else None
            found |= set(zip(columns[key[0]].tolist(), days or [None] * part.rows, strict=True))
        return found


def stored_keys(url: str, table: str) -> set[tuple]:
    name, day = TABLES[table].key
    with psycopg.connect(url) as conn:
        return set(conn.execute(f"SELECT {name}, {day} FROM {table}").fetchall())


def test_a_second_sink_receives_every_row_postgresql_stores(migrated_database_url, raw_zone):
    # Given every source's objects in the raw zone
    days = trading_days(FIRST_DAY, 12)
    raw_zone.everything(days)
    lake = RecordingSink()
    # When a run hands its rows to a second sink
    result = run_etl(get_settings(), sinks=[lake])
    assert result.exit_code == 0, result.summary()
    # Then it was begun once, written to, committed once, and never aborted
    assert lake.calls[0] == "begin" and lake.calls[-1] == "commit" and "abort" not in lake.calls
    assert lake.runs == [RunStart(result.run_id, full=False, backfill=False)]
    # ... with, per fact table, the keys PostgreSQL holds, each once, and every column of the table
    for table in FACT_TABLES:
        assert lake.keys(table) == stored_keys(migrated_database_url, table), table
        assert sum(part.rows for part in lake.rows[table]) == len(stored_keys(migrated_database_url, table))
        for part in lake.rows[table]:
            assert set(part.columns) == set(TABLES[table].column_names)
            assert part.key == TABLES[table].key and part.first_day <= part.last_day
    assert {part.table for parts in lake.rows.values() for part in parts} == {*FACT_TABLES, PIPELINE_RUNS}
    # And a run with nothing new hands it nothing
    again = RecordingSink()
    assert run_etl(get_settings(), sinks=[again]).exit_code == 0
    assert again.calls == ["begin", "commit"]


@pytest.mark.parametrize("fail_at", ["write", "commit"])
def test_a_sink_that_fails_rolls_the_whole_run_back(migrated_database_url, raw_zone, fail_at):
    # Given new objects, and a second sink that fails while writing or committing
    raw_zone.everything(trading_days(FIRST_DAY, 5))
    lake = RecordingSink(fail_at=fail_at)
    # When the run loads
    result = run_etl(get_settings(), sinks=[lake])
    # Then the run failed, the sink was aborted, and PostgreSQL holds no row and no ledger entry
    assert result.exit_code == 1 and "OSError" in (result.error or "")
    assert lake.calls[-1] == "abort"
    with psycopg.connect(migrated_database_url) as conn:
        assert conn.execute("SELECT count(*) FROM stock_daily").fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM raw_objects").fetchone() == (0,)
    # And the next run, its sink healthy, loads everything
    healthy = RecordingSink()
    assert run_etl(get_settings(), sinks=[healthy]).exit_code == 0
    assert healthy.keys(STOCK_DAILY) == stored_keys(migrated_database_url, STOCK_DAILY) != set()
