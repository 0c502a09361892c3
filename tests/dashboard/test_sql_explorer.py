"""The SQL explorer answers plain queries correctly and refuses or defuses hostile ones, tables intact.

Statements go through the page (AppTest) as a visitor would type them; a few tests call the runner
directly, past the statement check, to show that the database role holds on its own.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import psycopg
import pytest
from streamlit.testing.v1 import AppTest

from dashboard import explorer
from dashboard.explorer import (
    EXPLORER_MAX_CONCURRENT,
    EXPLORER_MAX_ROWS,
    ExplorerError,
    run_explorer_statement,
)
from dashboard.statement_check import CheckedStatement
from pipeline.catalog import DASHBOARD_ROLE, EXPLORER_ROLE
from tests.dashboard.conftest import APP_PATH, COMPANIES
from tests.dashboard.hostile_statements import HOSTILE_STATEMENTS

APP_TIMEOUT_SECONDS = 30


def table_fingerprints(owner_query) -> dict[str, str]:
    """Every table's rows as the owner sees them, hashed: equal before and after means nothing changed."""
    tables = owner_query(
        "SELECT c.relname FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace "
        "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'm') ORDER BY 1"
    )
    return {
        table: owner_query(
            f"SELECT md5(coalesce(string_agg(t::text, ',' ORDER BY t::text), '')) FROM \"{table}\" AS t"
        )[0][0]
        for (table,) in tables
    }


def explorer_page() -> AppTest:
    app = AppTest.from_file(str(APP_PATH), default_timeout=APP_TIMEOUT_SECONDS).run()
    app.switch_page("app_pages/sql_explorer.py").run()
    return app


def submit(app: AppTest, sql: str) -> AppTest:
    app.text_area(key="statement").input(sql)
    app.button[0].click().run()
    assert not app.exception, app.exception
    return app


def run_statement(sql: str) -> AppTest:
    return submit(explorer_page(), sql)


def shown_failure(app: AppTest) -> str:
    """The headline and the plain-text reason of a refused or failed statement ('' if none)."""
    if not app.error:
        return ""
    return f"{app.error[0].value} {app.code[0].value if app.code else ''}"


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("SELECT ticker FROM companies WHERE sector = 'Energy' ORDER BY ticker", [["EEE"], ["FFF"]]),
        ('SELECT "ticker" FROM "companies" WHERE "name" LIKE \'%Inc.\' ORDER BY 1', [["AAA"], ["FFF"]]),
        ("SELECT 'it''s' AS quoted, $$a;b$$ AS dollar", [["it's", "a;b"]]),
        ("  select 1 AS one;  -- a trailing comment", [[1]]),
        (
            "WITH energy AS (SELECT ticker FROM companies WHERE sector = 'Energy') SELECT count(*) FROM energy",
            [[2]],
        ),
        (
            "SELECT ticker, rank() OVER (ORDER BY ticker DESC) AS r FROM companies ORDER BY ticker LIMIT 2",
            [["AAA", 6], ["BBB", 5]],
        ),
        ("VALUES (1, 'x'), (2, 'y')", [[1, "x"], [2, "y"]]),
        ("(SELECT 1 AS n) UNION ALL (SELECT 2) ORDER BY n", [[1], [2]]),
        ("SELECT 1 AS a, 2 AS a", [[1, 2]]),
        (
            "SELECT DATE '2024-01-02' AS day, 1.25::numeric AS exact, 0.5::float8 AS f",
            [[dt.date(2024, 1, 2), Decimal("1.25"), 0.5]],
        ),
        ("SELECT NULL::text AS nothing, true AS yes", [[None, True]]),
        ("SELECT '{}' AS braces, '%s %(x)s' AS percent, 'é' AS accent", [["{}", "%s %(x)s", "é"]]),
        (
            "SELECT '{1, 2}'::int[] AS numbers, '{\"k\": [1, \"v\"]}'::jsonb AS document",
            [["[1, 2]", '{"k": [1, "v"]}']],
        ),
        ("SELECT 9007199254740993::bigint AS big", [[9007199254740993]]),
        ("SELECT 'Infinity'::float8 AS inf", [[float("inf")]]),
    ],
)
def test_plain_queries_are_answered_correctly(seeded_database_url, sql, expected):
    app = run_statement(sql)

    assert shown_failure(app) == ""
    assert app.dataframe[0].value.values.tolist() == expected


def test_duplicate_column_names_are_kept_apart_and_the_statement_is_kept_in_the_link(seeded_database_url):
    app = run_statement("SELECT 1 AS a, 2 AS a")

    assert app.dataframe[0].value.columns.tolist() == ["a", "a_2"]
    assert app.query_params["sql"] == "SELECT 1 AS a, 2 AS a"
    assert app.get("download_button")


def test_explain_shows_the_plan(seeded_database_url):
    app = run_statement("EXPLAIN SELECT * FROM companies WHERE ticker = 'AAA'")

    plan = "\n".join(app.dataframe[0].value["QUERY PLAN"])
    assert "companies" in plan


def test_a_large_result_is_cut_at_the_row_limit(seeded_database_url):
    app = run_statement("SELECT n FROM generate_series(1, 20000) AS n")

    assert app.dataframe[0].value["n"].tolist() == list(range(1, EXPLORER_MAX_ROWS + 1))
    assert any(f"first {EXPLORER_MAX_ROWS:,} rows" in warning.value for warning in app.warning)


# A hundred 32-character columns: about 3.5 KB of JSON a row, so 4 MB is reached long before 10,000 rows.
WIDE_COLUMNS = ", ".join(f"md5((n + {column})::text) AS c{column}" for column in range(100))


def test_wide_rows_are_stopped_by_the_byte_budget_in_the_server(seeded_database_url):
    app = run_statement(f"SELECT n, {WIDE_COLUMNS} FROM generate_series(1, 5000) AS n")

    frame = app.dataframe[0].value
    assert 1000 <= len(frame) < 1300, "about 4 MB of 3.5 KB rows"
    assert frame["n"].tolist() == list(range(1, len(frame) + 1))
    assert any("stopped at 4 MB" in warning.value for warning in app.warning)


def test_one_enormous_row_never_reaches_the_dashboard_even_past_the_check(seeded_database_url):
    # repeat() is refused by the check; the server's byte budget holds without it.
    result = run_explorer_statement(
        CheckedStatement("SELECT repeat('x', 50000000) AS a, repeat('y', 50000000) AS b", explain=False)
    )

    assert len(result.frame) == 0
    assert result.cut_off == "bytes"


def test_fifty_hostile_statements_are_refused_or_harmless_and_every_table_is_intact(
    seeded_database_url, owner_query
):
    before = table_fingerprints(owner_query)
    app = explorer_page()
    outcomes = {}
    for sql, expected in HOSTILE_STATEMENTS:
        submit(app, sql)
        outcomes[sql] = shown_failure(app)
        assert expected in outcomes[sql], (sql, outcomes[sql])

    assert len(HOSTILE_STATEMENTS) >= 50
    assert table_fingerprints(owner_query) == before
    assert owner_query("SELECT count(*) FROM companies") == [(len(COMPANIES),)]
    assert owner_query("SELECT count(*) FROM pg_roles WHERE rolname = 'pwned'") == [(0,)]


def test_user_text_in_a_message_is_shown_as_text_never_as_markdown(seeded_database_url):
    # The database's message quotes the relation name, Markdown image and all.
    app = run_statement('SELECT * FROM "![pixel](http://203.0.113.9/track.png) **bold**"')

    assert "does not exist" in app.code[0].value
    assert "![pixel](http://203.0.113.9/track.png)" in app.code[0].value
    markdown_shown = [element.value for element in app.error] + [element.value for element in app.markdown]
    assert not any("203.0.113.9" in text for text in markdown_shown)


def test_the_role_cannot_signal_the_pages_backends_even_past_the_check(seeded_database_url, owner_query):
    reader = psycopg.connect(_as_role(seeded_database_url, DASHBOARD_ROLE), autocommit=True)
    try:
        with pytest.raises(ExplorerError, match=r"permission denied|must be a member"):
            run_explorer_statement(
                CheckedStatement(
                    f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{DASHBOARD_ROLE}'",
                    explain=False,
                )
            )
        assert reader.execute("SELECT 1").fetchone() == (1,)
    finally:
        reader.close()


def test_the_role_writes_nothing_and_reads_only_the_analytics_data_even_past_the_check(
    seeded_database_url, owner_query
):
    for text in ("DELETE FROM companies", "SELECT 1; DROP TABLE companies", "SELECT * FROM pipeline_runs"):
        with pytest.raises(ExplorerError):
            run_explorer_statement(CheckedStatement(text, explain=False))
    with pytest.raises(ExplorerError, match="cancelled"):
        run_explorer_statement(CheckedStatement("SELECT pg_sleep(6)", explain=False))
    assert owner_query("SELECT count(*) FROM companies") == [(len(COMPANIES),)]


def test_the_limits_are_set_on_the_role(migrated_database_url, owner_query):
    [(limit, settings)] = owner_query(
        "SELECT r.rolconnlimit, s.setconfig FROM pg_roles AS r "
        "JOIN pg_db_role_setting AS s ON s.setrole = r.oid AND s.setdatabase = 0 WHERE r.rolname = %s",
        (EXPLORER_ROLE,),
    )
    assert limit == 2 * EXPLORER_MAX_CONCURRENT
    assert {
        "default_transaction_read_only=on",
        "statement_timeout=5s",
        "work_mem=4MB",
        "hash_mem_multiplier=1.0",
        "temp_file_limit=64MB",
        "log_min_messages=fatal",
        "log_min_error_statement=panic",
        "idle_in_transaction_session_timeout=10s",
    } <= set(settings)


def test_statements_beyond_the_cap_are_refused_at_once(seeded_database_url):
    app = explorer_page()
    held = [explorer._explorer_slot() for _ in range(EXPLORER_MAX_CONCURRENT)]
    for slot in held:
        slot.__enter__()
    try:
        submit(app, "SELECT 1")
        assert "busy" in shown_failure(app)
    finally:
        for slot in held:
            slot.__exit__(None, None, None)
    submit(app, "SELECT 1 AS again")
    assert app.dataframe[0].value["again"].tolist() == [1]


def _as_role(url: str, role: str) -> str:
    from pipeline.db import with_user

    return with_user(url, role, password=None)


def test_the_database_refuses_the_explorer_role_more_connections_than_its_limit(migrated_database_url):
    url = _as_role(migrated_database_url, EXPLORER_ROLE)
    held = [psycopg.connect(url) for _ in range(2 * EXPLORER_MAX_CONCURRENT)]
    try:
        with pytest.raises(psycopg.OperationalError, match="too many connections for role"):
            psycopg.connect(url)
        # The pages' role is not counted against it.
        with psycopg.connect(_as_role(migrated_database_url, DASHBOARD_ROLE)) as reader:
            assert reader.execute("SELECT 1").fetchone() == (1,)
    finally:
        for conn in held:
            conn.close()
