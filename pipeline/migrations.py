"""Versioned SQL migrations from ``sql/NNNN_name.sql``, applied in order, once, under an advisory lock.

All pending files are applied in one transaction that first takes a transaction-level advisory lock,
so two `pipeline db migrate` at once are safe: the second waits, then finds nothing to do. Each applied
file is recorded in ``schema_migrations`` with its checksum; a file changed after it was applied is an
error rather than a silent divergence.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import re
from dataclasses import dataclass

import psycopg

from pipeline.catalog import DASHBOARD_ROLE, EXPLORER_ROLE
from pipeline.db import connect, database_url, fetch_value, secret_url
from pipeline.settings import Settings, get_settings

# An arbitrary constant that identifies "schema migration" among the pipeline's advisory locks.
MIGRATION_LOCK_ID = 7_202_401
_FILE_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


class MigrationError(RuntimeError):
    """The migrations on disk and those recorded in the database disagree, or one failed."""


@dataclass(frozen=True)
class Migration:
    version: str
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def available_migrations() -> list[Migration]:
    """Every migration file shipped in ``sql/``, ordered by version."""
    migrations = []
    for entry in importlib.resources.files("sql").iterdir():
        match = _FILE_NAME.match(entry.name)
        if match:
            migrations.append(Migration(match[1], match[2], entry.read_text(encoding="utf-8")))
    migrations.sort(key=lambda migration: migration.version)
    versions = [migration.version for migration in migrations]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"two migration files share a version: {versions}")
    return migrations


_CREATE_LEDGER = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version     text PRIMARY KEY,
    name        text NOT NULL,
    checksum    text NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now()
)
"""


def is_up_to_date(conn: psycopg.Connection, migrations: list[Migration]) -> bool:
    """True when `schema_migrations` records exactly `migrations`, each with its checksum: one
    read-only query, no lock and no DDL (what every `pipeline etl` finds). Anything else, a missing
    ledger included, is for `apply_migrations` to apply or report."""
    try:
        with conn.transaction(), conn.cursor() as cursor:
            cursor.execute("SELECT version, checksum FROM schema_migrations")
            applied: dict[str, str] = dict(cursor.fetchall())
    except psycopg.errors.UndefinedTable:
        return False
    return applied == {migration.version: migration.checksum for migration in migrations}


def apply_migrations(conn: psycopg.Connection, migrations: list[Migration] | None = None) -> list[Migration]:
    """Apply the pending migrations on `conn` in one transaction; return those applied."""
    if migrations is None:
        migrations = available_migrations()
    with conn.transaction(), conn.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK_ID,))
        cursor.execute(_CREATE_LEDGER)
        cursor.execute("SELECT version, checksum FROM schema_migrations")
        applied: dict[str, str] = dict(cursor.fetchall())
        pending = []
        for migration in migrations:
            recorded = applied.get(migration.version)
            if recorded is None:
                pending.append(migration)
            elif recorded != migration.checksum:
                raise MigrationError(
                    f"migration {migration.version}_{migration.name}.sql changed after it was applied; "
                    "add a new migration instead of editing an applied one"
                )
        for migration in pending:
            try:
                cursor.execute(migration.sql)
            except psycopg.Error as error:
                raise MigrationError(
                    f"migration {migration.version}_{migration.name}.sql failed: {error}"
                ) from error
            cursor.execute(
                "INSERT INTO schema_migrations (version, name, checksum) VALUES (%s, %s, %s)",
                (migration.version, migration.name, migration.checksum),
            )
    return pending


def upgrade_schema(conn: psycopg.Connection) -> list[Migration]:
    """Apply the pending migrations on `conn` (one read-only query when there are none, as for every
    `pipeline etl`); return those applied. The role passwords are `migrate`'s alone."""
    migrations = available_migrations()
    return [] if is_up_to_date(conn, migrations) else apply_migrations(conn, migrations)


def set_dashboard_passwords(conn: psycopg.Connection, settings: Settings) -> None:
    """In AWS the dashboard's roles get the passwords of their own secrets (*_DB_SECRET_ARN)."""
    from urllib.parse import unquote, urlsplit

    for role, secret_arn in (
        (DASHBOARD_ROLE, settings.dashboard_db_secret_arn),
        (EXPLORER_ROLE, settings.explorer_db_secret_arn),
    ):
        if not secret_arn:
            continue
        password = unquote(urlsplit(secret_url(secret_arn, settings.aws_region)).password or "")
        with conn.transaction(), conn.cursor() as cursor:
            # ALTER ROLE takes no bind parameters; the literal is quoted by the server-side format().
            cursor.execute(
                "SELECT format('ALTER ROLE %%I LOGIN PASSWORD %%L', %s::text, %s::text)", (role, password)
            )
            cursor.execute(fetch_value(cursor))


def migrate(settings: Settings | None = None) -> list[Migration]:
    """The migration step (`pipeline db migrate`, the instance's migrate unit at each boot): bring the
    pipeline's database up to date and give the dashboard's roles their passwords; return the
    migrations applied by this call. The other commands only `upgrade_schema` on their own connection."""
    settings = settings or get_settings()
    with connect(database_url(settings), autocommit=True) as conn:
        applied = upgrade_schema(conn)
        set_dashboard_passwords(conn, settings)
    return applied
