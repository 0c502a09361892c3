"""`pipeline lake ...`: the lakehouse's operator commands (LAKE_WAREHOUSE, etl/lake.py)."""

from __future__ import annotations

import click

from pipeline.outcomes import EXIT_FAILED, EXIT_OK
from pipeline.settings import get_settings


@click.group()
def lake() -> None:
    """Lake commands (with LAKE_WAREHOUSE set)."""


@lake.command("compact")
def lake_compact() -> int:
    """Merge each crowded partition's small files into one and expire week-old snapshots."""
    settings = get_settings()
    if not settings.lake_warehouse:
        click.echo("lake compact: LAKE_WAREHOUSE is not set, there is no lake to compact")
        return EXIT_OK
    from etl.lake import LakeError
    from etl.lake_maintenance import compact

    try:
        click.echo(compact(settings).summary())
    except LakeError as error:
        click.echo(f"pipeline: error: {error}", err=True)
        return EXIT_FAILED
    return EXIT_OK
