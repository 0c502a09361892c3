"""The SQL explorer runs one read-only query and refuses everything else, leaving every table intact."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from dashboard.queries import EXPLORER_MAX_ROWS
from dashboard.statement_check import RefusedStatement, check_read_only_statement
from tests.dashboard.conftest import APP_PATH, COMPANIES

# The pg_sleep case waits for the 5 s statement timeout.
APP_TIMEOUT_SECONDS = 30


def run_statement(sql: str) -> AppTest:
    app = AppTest.from_file(str(APP_PATH), default_timeout=APP_TIMEOUT_SECONDS).run()
    app.switch_page("app_pages/sql_explorer.py").run()
    app.text_area(key="statement").input(sql)
    app.button[0].click().run()
    assert not app.exception, app.exception
    return app


def test_a_select_shows_its_rows_and_offers_a_csv(seeded_database_url):
    app = run_statement("SELECT ticker, name FROM companies WHERE name LIKE '%Inc.' ORDER BY ticker")

    frame = app.dataframe[0].value
    assert frame["ticker"].tolist() == ["AAA", "FFF"]
    assert app.get("download_button")
    assert app.query_params["sql"].startswith("SELECT ticker")


def test_a_large_result_is_cut_at_the_row_limit(seeded_database_url):
    app = run_statement("SELECT n FROM generate_series(1, 20000) AS n")

    assert len(app.dataframe[0].value) == EXPLORER_MAX_ROWS
    assert any(f"first {EXPLORER_MAX_ROWS:,} rows" in warning.value for warning in app.warning)


@pytest.mark.parametrize(
    ("statement", "reason"),
    [
        ("DROP TABLE companies", "Refused: only SELECT or WITH"),
        ("INSERT INTO companies VALUES ('ZZZ', 'Z', 'Z', 'Z')", "Refused: only SELECT or WITH"),
        ("COPY companies TO PROGRAM 'touch /tmp/pwned'", "Refused: only SELECT or WITH"),
        ("select 1; drop table companies", "Refused: only one statement"),
        ("SET ROLE postgres", "Refused: only SELECT or WITH"),
        ("SELECT pg_sleep(6)", "longer than 5 s and was cancelled"),
        (
            "WITH gone AS (DELETE FROM companies RETURNING *) SELECT * FROM gone",
            "The database refused the statement",
        ),
        ("SELECT set_config('role', 'postgres', false)", "The database refused the statement"),
    ],
)
def test_statements_that_could_write_or_hang_are_refused_and_the_tables_stay_intact(
    seeded_database_url, owner_query, statement, reason
):
    app = run_statement(statement)

    assert any(reason in error.value for error in app.error), [error.value for error in app.error]
    assert owner_query("SELECT count(*) FROM companies") == [(len(COMPANIES),)]


def test_the_database_is_the_guard_even_when_the_python_check_is_bypassed(seeded_database_url, owner_query):
    from dashboard.queries import ExplorerError, run_explorer_statement

    with pytest.raises(ExplorerError):
        run_explorer_statement("DELETE FROM companies")
    with pytest.raises(ExplorerError):
        run_explorer_statement("SELECT 1; DROP TABLE companies")
    assert owner_query("SELECT count(*) FROM companies") == [(len(COMPANIES),)]


@pytest.mark.parametrize(
    ("sql", "statement"),
    [
        ("  select 1;  ", "select 1"),
        ("SELECT ';' AS semicolon -- a comment; with a semicolon\n", "SELECT ';' AS semicolon"),
        ("(SELECT 1) UNION (SELECT 2)", "(SELECT 1) UNION (SELECT 2)"),
        (
            "WITH t AS (SELECT $$a;b$$ AS x) SELECT * FROM t",
            "WITH t AS (SELECT $$a;b$$ AS x) SELECT * FROM t",
        ),
    ],
)
def test_the_check_accepts_one_query_with_semicolons_only_in_literals_and_comments(sql, statement):
    assert check_read_only_statement(sql) == statement


@pytest.mark.parametrize(
    "sql", ["", "  ;  ", "-- only a comment", "VACUUM", "select 1; select 2", "SELECT 'x'; DELETE FROM t"]
)
def test_the_check_refuses_anything_else(sql):
    with pytest.raises(RefusedStatement):
        check_read_only_statement(sql)
