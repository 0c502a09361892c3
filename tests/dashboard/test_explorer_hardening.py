"""The explorer's second round: a check that fails is a refusal, and no visitor reads another's statements.

Statements go through the page (AppTest) as a visitor types them. Another visitor's statement is played
by a session of the explorer's own role (every visitor's statement runs as that role) left idle after
its statement, which is what pg_stat_activity then shows.
"""

from __future__ import annotations

import psycopg
import pytest

from dashboard import statement_check
from dashboard.statement_check import RefusedStatement, check_read_only_statement
from pipeline.catalog import EXPLORER_ROLE
from pipeline.db import with_user
from tests.dashboard.test_sql_explorer import run_statement, shown_failure

OTHER_VISITORS_SECRET = "another visitor and a private statement 7f3a"
# 1,200 nested additions: 2.4 KB of text whose parse tree is deeper than Python decodes.
DEEPLY_NESTED = "SELECT " + "1+" * 1200 + "1"


def test_a_deeply_nested_statement_is_one_clear_refusal(seeded_database_url):
    app = run_statement(DEEPLY_NESTED)

    assert "Refused" in shown_failure(app)
    assert "nested too deeply" in shown_failure(app)


def test_any_failure_of_the_check_itself_refuses_the_statement(monkeypatch):
    def broken_parser(sql: str) -> str:
        raise MemoryError

    monkeypatch.setattr(statement_check, "parse_sql_json", broken_parser)

    with pytest.raises(RefusedStatement, match=r"could not be checked \(MemoryError\)"):
        check_read_only_statement("SELECT 1")


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT query FROM pg_stat_activity",
        "SELECT query FROM pg_catalog.pg_stat_activity WHERE usename = 'dashboard_explorer'",
        "TABLE pg_stat_activity",
        "SELECT * FROM (SELECT query FROM pg_stat_activity) AS q",
        "WITH q AS (SELECT * FROM pg_stat_activity) SELECT query FROM q",
        "SELECT query FROM PG_STAT_STATEMENTS",
        "SELECT * FROM pg_stat_replication",
        "SELECT * FROM pg_locks",
        "SELECT * FROM pg_stat_get_activity(NULL)",
    ],
)
def test_no_visitor_reads_another_visitors_statements(seeded_database_url, sql):
    other = psycopg.connect(with_user(seeded_database_url, EXPLORER_ROLE, password=None), autocommit=True)
    try:
        other.execute(f"SELECT '{OTHER_VISITORS_SECRET}' AS secret").fetchall()
        app = run_statement(sql)
    finally:
        other.close()

    shown = shown_failure(app) + " ".join(str(frame.value) for frame in app.dataframe)
    assert "Refused" in shown
    assert OTHER_VISITORS_SECRET not in shown
