"""`pipeline db ...`: the database's commands (migrate, url, stop)."""

from __future__ import annotations

import click

from pipeline.outcomes import EXIT_OK
from pipeline.settings import get_settings


@click.group("db")
def database() -> None:
    """Database commands."""


@database.command("migrate")
def db_migrate() -> int:
    """Apply pending migrations."""
    from pipeline.migrations import available_migrations, migrate

    applied = migrate(get_settings())
    total = len(available_migrations())
    if applied:
        click.echo(
            f"applied {len(applied)} migration(s): {', '.join(m.version + '_' + m.name for m in applied)}"
        )
    else:
        click.echo(f"database is up to date ({total} migration(s))")
    return EXIT_OK


@database.command("url")
def db_url() -> int:
    """Print the PostgreSQL URI in use (starting the embedded server if needed)."""
    from pipeline.db import database_url

    click.echo(database_url(get_settings()))
    return EXIT_OK


@database.command("stop")
def db_stop() -> int:
    """Stop the embedded PostgreSQL (its data stays in $PIPELINE_HOME/pg)."""
    from pipeline.db import stop_embedded

    settings = get_settings()
    if not settings.uses_embedded_database:
        raise click.UsageError("DATABASE_URL or DB_SECRET_ARN is set: there is no embedded database to stop")
    click.echo(
        "stopped the embedded PostgreSQL"
        if stop_embedded(settings)
        else "the embedded PostgreSQL is not running"
    )
    return EXIT_OK
