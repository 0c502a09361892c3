"""The embedded PostgreSQL: started on demand, reused, data kept across a restart, usable at once by two."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

PIPELINE = [sys.executable, "-m", "cli"]


def run_pipeline(*argv: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*PIPELINE, *argv], capture_output=True, text=True, env=env or dict(os.environ), timeout=120
    )


@pytest.fixture
def embedded_home(isolated_environment: Path) -> Path:
    """A PIPELINE_HOME whose embedded server is stopped at the end of the test."""
    yield isolated_environment
    run_pipeline("db", "stop")


def test_embedded_server_starts_is_reused_and_keeps_data_across_restart(embedded_home: Path) -> None:
    first = run_pipeline("db", "url")
    assert first.returncode == 0, first.stderr
    url = first.stdout.strip()
    assert url.startswith("postgresql://")
    assert (embedded_home / "pg" / "PG_VERSION").read_text().strip() == "16"

    # Given a row written through one process ...
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE kept (value text)")
        conn.execute("INSERT INTO kept VALUES ('survives')")
        # The server was configured for bulk loads on its first start (a restart-only setting).
        assert conn.execute("SHOW shared_buffers").fetchone()[0] == "512MB"
        assert conn.execute("SHOW max_wal_size").fetchone()[0] == "4GB"

    # ... a second command reuses the same running server (same URI, same data) ...
    again = run_pipeline("db", "url")
    assert again.stdout.strip() == url

    # ... and after a stop and a restart the data is still there.
    stopped = run_pipeline("db", "stop")
    assert stopped.returncode == 0
    assert "stopped" in stopped.stdout
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(url, connect_timeout=2)
    restarted = run_pipeline("db", "url").stdout.strip()
    with psycopg.connect(restarted) as conn:
        assert conn.execute("SELECT value FROM kept").fetchall() == [("survives",)]


def test_a_running_configured_server_is_found_without_pgserver(embedded_home: Path) -> None:
    # Given a server that a first command started and configured
    url = run_pipeline("db", "url").stdout.strip()
    probe = (
        "import sys; from pipeline.db import database_url; print(database_url(), 'pgserver' in sys.modules)"
    )

    def resolve() -> list[str]:
        return subprocess.run(
            [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
        ).stdout.split()

    # When another process asks for the URI, then it gets the same one, without importing pgserver
    assert resolve() == [url, "False"]
    # But when the recorded server is not the one running (a marker from another start), pgserver
    # is asked again, and records the running one
    marker = embedded_home / ".pg.ready"
    marker.write_text("1 1 other\n")
    assert resolve() == [url, "True"]
    assert resolve() == [url, "False"]


def test_a_stale_postmaster_pid_of_another_process_is_not_taken_for_the_server() -> None:
    from pipeline.embedded_start import is_postgres_process as _is_postgres_process

    # pid 1 (the init process) is alive but no postgres; a pid nobody has is not alive.
    assert not _is_postgres_process("1") or Path("/proc/1/cmdline").read_bytes().find(b"postgres") >= 0
    assert not _is_postgres_process("999999999") and not _is_postgres_process("not a pid")


def test_two_clients_use_the_embedded_database_at_once(embedded_home: Path) -> None:
    url = run_pipeline("db", "url").stdout.strip()
    with psycopg.connect(url) as writer, psycopg.connect(url, autocommit=True) as reader:
        writer.execute("CREATE TABLE shared_state (value int)")
        writer.execute("INSERT INTO shared_state VALUES (1)")
        writer.commit()
        assert reader.execute("SELECT count(*) FROM shared_state").fetchone()[0] == 1


def test_migrate_twice_through_the_cli(embedded_home: Path) -> None:
    first = run_pipeline("db", "migrate")
    assert first.returncode == 0, first.stderr
    assert "applied" in first.stdout and "0001_core_tables" in first.stdout
    second = run_pipeline("db", "migrate")
    assert second.returncode == 0
    assert "up to date" in second.stdout


def test_unreachable_database_is_one_line_exit_1() -> None:
    env = dict(os.environ, DATABASE_URL="postgresql://nobody@127.0.0.1:9/none")
    result = run_pipeline("db", "migrate", env=env)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("pipeline: error: cannot connect to postgresql://nobody@127.0.0.1:9/none")
    assert "Traceback" not in result.stderr


def test_db_stop_refuses_when_an_external_database_is_configured() -> None:
    env = dict(os.environ, DATABASE_URL="postgresql://nobody@127.0.0.1:9/none")
    result = run_pipeline("db", "stop", env=env)
    assert result.returncode == 2
    assert "no embedded database" in result.stderr
