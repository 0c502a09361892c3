"""Statements a hostile visitor types into the SQL explorer, with what the page must answer to each.

Each entry is (statement, text the shown failure must contain). Grouped by what they try: write,
escape the single statement, signal or starve other sessions, reach configuration, files, large
objects or other databases, run SQL out of the check's sight, or lean on the role's limits.
"""

from __future__ import annotations

REFUSED = "Refused"
NOT_A_QUERY = "only a query"
ONE_STATEMENT = "only one statement"
FUNCTION = "may not be called here"
DATABASE = "The database refused"

HOSTILE_STATEMENTS: list[tuple[str, str]] = [
    # Writing and changing the schema.
    ("DROP TABLE companies", NOT_A_QUERY),
    ("DELETE FROM companies", NOT_A_QUERY),
    ("UPDATE companies SET name = 'x'", NOT_A_QUERY),
    ("INSERT INTO companies VALUES ('ZZZ', 'Z', 'Z', 'Z')", NOT_A_QUERY),
    ("TRUNCATE stock_daily", NOT_A_QUERY),
    ("MERGE INTO companies USING companies AS c ON false WHEN NOT MATCHED THEN DO NOTHING", NOT_A_QUERY),
    ("CREATE TABLE pwned (a int)", NOT_A_QUERY),
    ("ALTER TABLE companies ADD COLUMN pwned int", NOT_A_QUERY),
    ("CREATE ROLE pwned SUPERUSER", NOT_A_QUERY),
    ("GRANT ALL ON companies TO PUBLIC", NOT_A_QUERY),
    ("COPY companies TO PROGRAM 'touch /tmp/pwned'", NOT_A_QUERY),
    ("COPY companies FROM '/etc/passwd'", NOT_A_QUERY),
    ("SELECT * INTO pwned FROM companies", "SELECT INTO creates a table"),
    ("WITH gone AS (DELETE FROM companies RETURNING *) SELECT * FROM gone", "data-modifying WITH"),
    ("WITH t AS (UPDATE companies SET name = '' RETURNING 1) SELECT 1", "data-modifying WITH"),
    (
        "WITH t AS (INSERT INTO companies VALUES ('Z','Z','Z','Z') RETURNING 1) SELECT 1",
        "data-modifying WITH",
    ),
    ("EXPLAIN ANALYZE DELETE FROM companies", NOT_A_QUERY),
    ("SELECT * FROM companies FOR UPDATE", "lock rows"),
    ("SELECT * FROM companies FOR SHARE NOWAIT", "lock rows"),
    ("LOCK TABLE companies IN ACCESS EXCLUSIVE MODE", NOT_A_QUERY),
    ("VACUUM FULL companies", NOT_A_QUERY),
    ("DO $$ BEGIN DELETE FROM companies; END $$", NOT_A_QUERY),
    ("CALL pwned()", NOT_A_QUERY),
    ("PREPARE p AS DELETE FROM companies", NOT_A_QUERY),
    # More than one statement, or none.
    ("select 1; drop table companies", ONE_STATEMENT),
    ("SELECT 'x'; DELETE FROM companies", ONE_STATEMENT),
    ("SELECT 1;;COMMIT;DROP TABLE companies", ONE_STATEMENT),
    ("BEGIN; DROP TABLE companies; COMMIT", ONE_STATEMENT),
    ("COMMIT", NOT_A_QUERY),
    ("ROLLBACK", NOT_A_QUERY),
    ("", "enter a SELECT"),
    ("-- only a comment", "enter a SELECT"),
    ("SELECT 1 /* unterminated comment", "not valid SQL"),
    # Other sessions: signals, sleeping, locks, notifications.
    ("SELECT pg_terminate_backend(pid) FROM pg_stat_activity", FUNCTION),
    ("SELECT pg_cancel_backend(pid) FROM pg_stat_activity", FUNCTION),
    ("SELECT pg_catalog.pg_terminate_backend(1)", FUNCTION),
    ('SELECT "pg_terminate_backend"(1)', FUNCTION),
    ("SELECT * FROM pg_sleep(10)", FUNCTION),
    ("SELECT pg_sleep_for('10 seconds')", FUNCTION),
    ("SELECT count(*) FROM companies WHERE pg_sleep(1) IS NULL", FUNCTION),
    ("WITH t AS (SELECT pg_sleep(10)) SELECT * FROM t", FUNCTION),
    ("SELECT (SELECT pg_sleep(10))", FUNCTION),
    ("SELECT pg_advisory_lock(1)", FUNCTION),
    ("SELECT pg_try_advisory_xact_lock(1)", FUNCTION),
    ("SELECT pg_notify('channel', 'payload')", FUNCTION),
    ("LISTEN channel", NOT_A_QUERY),
    ("NOTIFY channel", NOT_A_QUERY),
    # Configuration.
    ("SET statement_timeout = 0", NOT_A_QUERY),
    ("SET ROLE postgres", NOT_A_QUERY),
    ("RESET ALL", NOT_A_QUERY),
    ("SELECT set_config('statement_timeout', '0', false)", FUNCTION),
    ("SELECT set_config('role', 'postgres', false)", FUNCTION),
    ("SELECT pg_reload_conf()", FUNCTION),
    ("SHOW ALL", NOT_A_QUERY),
    ("ALTER SYSTEM SET work_mem = '1GB'", NOT_A_QUERY),
    # Files, large objects, other databases, the server.
    ("SELECT pg_read_file('/etc/passwd')", FUNCTION),
    ("SELECT pg_read_binary_file('postgresql.conf')", FUNCTION),
    ("SELECT * FROM pg_ls_dir('.')", FUNCTION),
    ("SELECT pg_stat_file('postgresql.conf')", FUNCTION),
    ("SELECT lo_import('/etc/passwd')", FUNCTION),
    ("SELECT lo_export(1, '/tmp/pwned')", FUNCTION),
    ("SELECT loread(lo_open(1, 262144), 100)", FUNCTION),
    ("SELECT dblink_exec('dbname=postgres', 'DROP TABLE companies')", FUNCTION),
    ("SELECT * FROM dblink('dbname=postgres', 'SELECT 1') AS t(a int)", FUNCTION),
    ("SELECT inet_server_addr()", FUNCTION),
    ("SELECT nextval('some_sequence')", FUNCTION),
    # SQL text run by a function, out of the check's sight.
    ("SELECT query_to_xml('SELECT pg_sleep(10)', true, true, '')", FUNCTION),
    ("SELECT cursor_to_xml('c', 1, true, true, '')", FUNCTION),
    ("SELECT * FROM ts_stat('SELECT pg_terminate_backend(1)')", FUNCTION),
    ("SELECT explorer_fetch('explorer', 1, 1)", FUNCTION),
    ("SELECT pwned.f()", "schema 'pwned'"),
    # Values that grow in the backend's memory, which work_mem does not bound (round two: 583-909 MB each).
    ("SELECT length(repeat('x', 600000000))", FUNCTION),
    ("SELECT length(lpad('', 100000000, 'x'))", FUNCTION),
    ("SELECT cardinality(array_agg(g)) FROM (SELECT generate_series(1, 60000000) AS g) AS s", FUNCTION),
    ("SELECT length(string_agg(ticker, '')) FROM stock_daily, stock_daily AS b", FUNCTION),
    ("SELECT length(json_agg(s)::text) FROM stock_daily AS s", FUNCTION),
    ("SELECT length(regexp_replace(name, 'a', name, 'g')) FROM companies", FUNCTION),
    ("SELECT to_json(c.*) FROM companies AS c", FUNCTION),
    ("SELECT name || name FROM companies", "the operator ||"),
    ("SELECT ARRAY[name, name] FROM companies", "ARRAY[...]"),
    ("SELECT ARRAY(SELECT ticker FROM stock_daily)", "may not be used here"),
    ("SELECT ROW(name, name) FROM companies", "row constructors"),
    ("SELECT c FROM companies AS c", "whole-row reference"),
    ("SELECT length(''::char(10485760))", "type modifier"),
    ("WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT count(*) FROM r", "RECURSIVE"),
    ("SELECT xmlelement(name a, 'x')", "XML functions"),
    (
        "SELECT s FROM " + "(SELECT s + s AS s FROM " * 20 + "(SELECT 1 AS s) AS t" + ") AS t" * 20,
        "pulled up",
    ),
    # The role and its limits hold what the check lets through.
    ("SELECT * FROM pipeline_runs", "permission denied"),
    ("SELECT * FROM raw_objects", "permission denied"),
    ("SELECT * FROM pg_authid", "permission denied"),
    ("SELECT count(*) FROM generate_series(1, 10000000000)", "temp_file_limit"),
    ("SELECT n FROM generate_series(1, 3000000) AS n ORDER BY md5(n::text)", "temp_file_limit"),
    ("SELECT count(*) FROM stock_daily a, stock_daily b, stock_daily c, stock_daily d", "longer than 5 s"),
    ("SELECT 1/0", "division by zero"),
    ("SELECT * FROM no_such_table", "does not exist"),
]
