"""Migrations: applied once, re-applied as a no-op, safe when run twice at once, and guarded against edits."""

from __future__ import annotations

import threading

import psycopg
import pytest

from etl.schema import CORE_TABLES
from pipeline import migrations
from pipeline.catalog import DASHBOARD_ROLE
from pipeline.migrations import Migration, MigrationError, apply_migrations, available_migrations, migrate


def table_names(url: str) -> set[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'").fetchall()
    return {name for (name,) in rows}


def recorded_versions(url: str) -> list[str]:
    with psycopg.connect(url) as conn:
        return [
            version for (version,) in conn.execute("SELECT version FROM schema_migrations ORDER BY version")
        ]


def test_files_are_ordered_and_versioned() -> None:
    versions = [migration.version for migration in available_migrations()]
    assert versions == sorted(versions)
    assert versions[0] == "0001"


def test_first_run_creates_the_core_tables_then_is_a_no_op(database_url: str) -> None:
    applied = migrate()
    assert [migration.version for migration in applied] == [m.version for m in available_migrations()]
    assert set(CORE_TABLES) <= table_names(database_url)
    assert migrate() == []
    assert recorded_versions(database_url) == [m.version for m in available_migrations()]


def test_an_up_to_date_database_is_checked_by_one_read_without_lock_or_ddl(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a migrated database
    migrate()

    def no_apply(*args: object, **kwargs: object) -> list[Migration]:
        raise AssertionError("apply_migrations (lock and DDL) called on an up-to-date database")

    # When migrate runs again, then it only compares the recorded versions and checksums
    monkeypatch.setattr(migrations, "apply_migrations", no_apply)
    assert migrate() == []
    with psycopg.connect(database_url, autocommit=True) as conn:
        assert migrations.is_up_to_date(conn, available_migrations())
        # and a new file, or a database never migrated, is not up to date
        extra = Migration("9998", "later", "SELECT 1")
        assert not migrations.is_up_to_date(conn, [*available_migrations(), extra])
        conn.execute("ALTER TABLE schema_migrations RENAME TO schema_migrations_aside")
        try:
            assert not migrations.is_up_to_date(conn, available_migrations())
        finally:
            conn.execute("ALTER TABLE schema_migrations_aside RENAME TO schema_migrations")


def test_two_concurrent_runs_apply_each_migration_once(database_url: str) -> None:
    results: list[list[Migration]] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            with psycopg.connect(database_url, autocommit=True) as conn:
                results.append(apply_migrations(conn))
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(len(applied) for applied in results) == [0, len(available_migrations())]
    assert recorded_versions(database_url) == [m.version for m in available_migrations()]


def test_an_edited_applied_migration_is_refused(database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    migrate()
    original = available_migrations()
    edited = [
        Migration(original[0].version, original[0].name, original[0].sql + "\n-- edited"),
        *original[1:],
    ]
    monkeypatch.setattr(migrations, "available_migrations", lambda: edited)
    with pytest.raises(MigrationError, match="changed after it was applied"):
        migrate()


def test_a_failing_migration_rolls_back_everything_it_started(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = [
        *available_migrations(),
        Migration("9999", "broken", "CREATE TABLE half_done (x int); SELECT 1/0;"),
    ]
    monkeypatch.setattr(migrations, "available_migrations", lambda: broken)
    with pytest.raises(MigrationError, match=r"9999_broken\.sql failed"):
        migrate()
    # Nothing of the failed batch remains: not the good migrations before it, not the half-done table.
    assert "half_done" not in table_names(database_url)
    assert "companies" not in table_names(database_url)


def test_dashboard_role_can_read_but_not_write(migrated_database_url: str) -> None:
    reader_url = migrated_database_url.replace("postgres:@", f"{DASHBOARD_ROLE}:@")
    with psycopg.connect(reader_url, autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM companies").fetchone()[0] == 0
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("INSERT INTO companies VALUES ('X', 'x', 's', 'i')")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("CREATE TABLE intruder (x int)")
