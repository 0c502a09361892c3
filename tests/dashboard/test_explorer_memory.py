"""The explorer's hard resource bound: no statement holds more than 128 MB of the database, four at once
not 512 MB; plans, messages and the log are kept within their budgets too.

The attacks are those of `tests.support.backend_memory` (also run by benchmarks/explorer_memory.py: value-building functions and operators,
whole-row and subquery doubling, padded casts, regular expressions, EXPLAIN and error floods, a hundred
sorts). Each runs through the statement check and the runner as a visitor's would, while the anonymous
resident memory of the explorer's database backends is sampled from /proc.
"""

from __future__ import annotations

import threading
from pathlib import Path

import psycopg
import pytest

from dashboard.explorer import (
    EXPLORER_MAX_BYTES,
    EXPLORER_MAX_MEMORY_STEPS,
    EXPLORER_MAX_MESSAGE_CHARACTERS,
    ExplorerBusy,
    ExplorerError,
    run_explorer_statement,
)
from dashboard.statement_check import CheckedStatement, RefusedStatement, check_read_only_statement
from tests.support.backend_memory import ALLOWED_HEAVY, ATTACKS, Peak

STATEMENT_LIMIT_MB = 128
SORTS = " UNION ALL ".join(["(SELECT close FROM stock_daily ORDER BY close * random())"] * 20)


def run_as_visitor(sql: str) -> str:
    try:
        result = run_explorer_statement(check_read_only_statement(sql))
    except (RefusedStatement, ExplorerError, ExplorerBusy) as failure:
        return f"{type(failure).__name__}: {failure}"
    return f"{len(result.frame)} row(s)"


def server_log(owner_query) -> Path:
    [(directory,)] = owner_query("SHOW data_directory")
    return Path(directory) / "log"


@pytest.mark.parametrize("name", list(ATTACKS))
def test_no_attack_holds_more_than_128_mb_of_the_database(seeded_database_url, name):
    sampler = Peak(seeded_database_url)
    sampler.start()
    outcome = run_as_visitor(ATTACKS[name])
    sampler.done.set()
    sampler.join()

    assert outcome.startswith(("RefusedStatement", "ExplorerError")), outcome
    assert sampler.peak < STATEMENT_LIMIT_MB, (name, sampler.peak, outcome)


@pytest.mark.parametrize("name", list(ALLOWED_HEAVY))
def test_the_heaviest_allowed_statements_hold_less_than_128_mb(seeded_database_url, name):
    sampler = Peak(seeded_database_url)
    sampler.start()
    outcome = run_as_visitor(ALLOWED_HEAVY[name])
    sampler.done.set()
    sampler.join()

    assert not outcome.startswith("RefusedStatement"), outcome
    assert sampler.peak < STATEMENT_LIMIT_MB, (name, sampler.peak, outcome)


def test_four_statements_at_once_hold_less_than_four_times_the_limit(seeded_database_url):
    # Sent at once, they are checked at once; the explorer runs one at a time and refuses the others.
    heaviest = [ATTACKS["repeat 600 MB"], ATTACKS["+ doubling x20"], *list(ALLOWED_HEAVY.values())[:2]]
    sampler = Peak(seeded_database_url)
    sampler.start()
    outcomes: list[str] = []
    threads = [
        threading.Thread(target=lambda sql=sql: outcomes.append(run_as_visitor(sql))) for sql in heaviest
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    sampler.done.set()
    sampler.join()

    assert len(outcomes) == 4
    assert sum(outcome.startswith("ExplorerBusy") for outcome in outcomes) <= 1
    assert sampler.peak < STATEMENT_LIMIT_MB
    assert sampler.total < 4 * STATEMENT_LIMIT_MB


def test_a_plan_with_more_sorts_than_the_budget_is_refused_before_it_runs(seeded_database_url):
    outcome = run_as_visitor(f"SELECT count(*) FROM ({SORTS}) AS u")

    assert outcome.startswith("RefusedStatement: its plan has 20 sorts")
    assert f"at most {EXPLORER_MAX_MEMORY_STEPS}" in outcome


def test_an_explain_is_kept_to_the_byte_budget_even_past_the_check(seeded_database_url):
    # repeat() is refused by the check; folded into the plan, its 40 MB would be one line of EXPLAIN.
    query = "SELECT repeat('x', 40000000)"
    result = run_explorer_statement(CheckedStatement(f"EXPLAIN VERBOSE {query}", explain=True, query=query))

    assert result.cut_off == "bytes"
    assert result.frame["QUERY PLAN"].str.len().sum() <= EXPLORER_MAX_BYTES


def test_a_huge_error_is_cut_on_the_page_and_never_written_to_the_log(seeded_database_url, owner_query):
    log = server_log(owner_query)
    before = log.stat().st_size
    # Past the check (which refuses repeat()): the role's log settings hold on their own.
    with pytest.raises(ExplorerError) as failure:
        run_explorer_statement(CheckedStatement("SELECT repeat('x', 5000000)::int", explain=False))

    assert len(str(failure.value)) < EXPLORER_MAX_MESSAGE_CHARACTERS + 100
    assert "cut: 5,000,0" in str(failure.value)
    assert log.stat().st_size - before < 10_000


def test_the_explorer_role_runs_one_backend_per_statement_without_jit(migrated_database_url):
    from pipeline.catalog import EXPLORER_ROLE
    from pipeline.db import with_user

    with psycopg.connect(with_user(migrated_database_url, EXPLORER_ROLE, password=None)) as conn:
        settings = dict(
            conn.execute(
                "SELECT name, setting FROM pg_settings WHERE name IN "
                "('max_parallel_workers_per_gather', 'jit', 'work_mem', 'hash_mem_multiplier')"
            ).fetchall()
        )
    assert settings == {
        "max_parallel_workers_per_gather": "0",
        "jit": "off",
        "work_mem": "4096",
        "hash_mem_multiplier": "1",
    }
