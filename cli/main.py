"""The `pipeline` command (its commands and exit statuses are listed in the README).

Argument parsing, validation and the choice of exit status live here; the work lives in
`lambda_src.ingestion`, `etl` and `dashboard`, imported when a command needs them so that `pipeline
--help` stays quick. Every expected failure is one line on stderr: 2 for a usage or settings error, 1 for
a failure (an unreachable database, a failed migration), never a traceback unless ``--verbose``.
"""

from __future__ import annotations

import datetime as dt
import gc
import logging
import sys
from collections.abc import Sequence

import click

from cli.database import database
from cli.lake import lake
from pipeline.catalog import DATA_SOURCES, INGEST_SOURCES, LAKE_SOURCES, default_sources
from pipeline.market_time import WindowOptionsError, default_ingest_day, requested_window
from pipeline.outcomes import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    worst_exit_code,
)
from pipeline.settings import Settings, SettingsError, get_settings


class IsoDate(click.ParamType):
    """A ``YYYY-MM-DD`` date."""

    name = "YYYY-MM-DD"

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> dt.date:
        if isinstance(value, dt.date):
            return value
        text = str(value)
        try:
            if len(text) != 10:
                raise ValueError
            return dt.date.fromisoformat(text)
        except ValueError:
            self.fail(f"{text!r} is not a valid date (expected YYYY-MM-DD)", param, ctx)


ISO_DATE = IsoDate()


def resolve_window(
    day: dt.date | None, start: dt.date | None, end: dt.date | None
) -> tuple[dt.date, dt.date]:
    """The inclusive window a command covers, from ``--date`` or ``--start``/``--end``."""
    try:
        return requested_window(day, start, end)
    except WindowOptionsError as error:
        raise click.UsageError(str(error)) from None


def _settings() -> Settings:
    return get_settings()


def _stderr_is_terminal() -> bool:
    return sys.stderr.isatty()


def _window_options(command):
    for option in reversed(
        [
            click.option(
                "--source",
                "sources",
                multiple=True,
                type=click.Choice(INGEST_SOURCES),
                help=f"Source to fetch (repeatable); default: {', '.join(DATA_SOURCES)} (and "
                f"{', '.join(LAKE_SOURCES)} when LAKE_WAREHOUSE is set).",
            ),
            click.option("--date", "day", type=ISO_DATE, help="One day (default: yesterday, New York time)."),
            click.option("--start", type=ISO_DATE, help="First day of an inclusive range."),
            click.option("--end", type=ISO_DATE, help="Last day of an inclusive range."),
            click.option("--force", is_flag=True, help="Re-fetch past windows whose objects already exist."),
        ]
    ):
        command = option(command)
    return command


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="market-weather-pipeline", prog_name="pipeline")
@click.option("-v", "--verbose", is_flag=True, help="Log debug details and show tracebacks.")
@click.pass_context
def cli(ctx: click.Context, verbose: bool) -> None:
    """Market, weather, news and macro data pipeline: ingest, ETL, dashboard."""
    ctx.obj = {"verbose": verbose}
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


def _ingest(sources: Sequence[str], day, start, end, force: bool) -> int:
    first, last = resolve_window(day, start, end)
    settings = _settings()
    from lambda_src.ingestion import IngestWindowError, run_ingest
    from pipeline.rawzone import open_raw_store

    try:
        result = run_ingest(
            settings,
            open_raw_store(settings),
            sources=tuple(sources) or default_sources(lake=bool(settings.lake_warehouse)),
            start=first,
            end=last,
            force=force,
            progress=_stderr_is_terminal(),
        )
    except IngestWindowError as error:
        raise click.UsageError(str(error)) from None
    click.echo(result.summary())
    return result.exit_code


def _etl(full: bool, recent_days: int | None = None) -> int:
    from etl import run_etl

    settings = _settings()
    # run_etl brings the schema up to date on its own connection.
    result = run_etl(settings, full=full, progress=_stderr_is_terminal(), recent_days=recent_days)
    click.echo(result.summary())
    return result.exit_code


def _apply_migrations(settings: Settings) -> None:
    """The schema up to date (the role passwords are the migration step's: `pipeline db migrate`)."""
    from pipeline.db import connect, database_url
    from pipeline.migrations import upgrade_schema

    with connect(database_url(settings), autocommit=True) as conn:
        upgrade_schema(conn)


@cli.command()
@_window_options
def ingest(sources, day, start, end, force) -> int:
    """Fetch every source (or those named) for a day or an inclusive range into the raw zone."""
    return _ingest(sources, day, start, end, force)


@cli.command()
@click.option("--full", is_flag=True, help="Reload every raw object, not only the new ones.")
@click.option(
    "--follow",
    is_flag=True,
    help="Keep draining ETL_QUEUE_URL (new raw objects' events): load each burst of new objects as it comes.",
)
@click.option(
    "--recent-days",
    type=click.IntRange(1, 366),
    help="List only the raw zone's date partitions of the last N days (cost independent of history).",
)
def etl(full: bool, follow: bool, recent_days: int | None) -> int:
    """Load every raw object not yet loaded and refresh the derived tables."""
    if follow:
        return _follow_queue(full)
    return _etl(full, recent_days)


def _follow_queue(full: bool) -> int:
    settings = _settings()
    if full:
        raise click.UsageError("--follow loads what the queue names; it cannot be combined with --full")
    if settings.etl_queue_url is None:
        raise click.UsageError("--follow needs ETL_QUEUE_URL (the SQS queue of new raw objects' events)")
    import boto3

    from etl.follow import follow

    client = boto3.client("sqs", region_name=settings.aws_region)
    click.echo(f"etl: following {settings.etl_queue_url}", err=True)
    for result in follow(settings, client):
        click.echo(result.summary())
    return EXIT_OK


@cli.command()
@_window_options
def run(sources, day, start, end, force) -> int:
    """Ingest, then ETL; exits with the worse of the two statuses."""
    ingest_code = _ingest(sources, day, start, end, force)
    return worst_exit_code(ingest_code, _etl(full=False))


@cli.command()
@click.option(
    "--tickers",
    type=click.IntRange(min=1),
    default=60,
    show_default=True,
    help="Tickers (beyond the universe: synthetic ones, added to a universe file).",
)
@click.option("--days", type=click.IntRange(1, 10_000), default=260, show_default=True, help="Trading days.")
@click.option("--seed", type=int, default=7, show_default=True, help="Random seed (same seed, same bytes).")
@click.option("--end", type=ISO_DATE, help="Last day of the sample (default: yesterday, New York time).")
@click.option("--intraday", is_flag=True, help="Also Yahoo's minute bars of the days it still serves.")
def sample(tickers: int, days: int, seed: int, end: dt.date | None, intraday: bool) -> int:
    """Write deterministic synthetic responses, in the real APIs' formats, into the raw zone."""
    _write_sample(_settings(), tickers=tickers, days=days, seed=seed, end=end, intraday=intraday)
    return EXIT_OK


def _write_sample(
    settings: Settings, *, tickers: int, days: int, seed: int, end: dt.date | None, intraday: bool = False
) -> None:
    from pipeline.rawzone import open_raw_store
    from sample_data.generator import write_sample

    try:
        result = write_sample(
            settings,
            open_raw_store(settings),
            tickers=tickers,
            days=days,
            seed=seed,
            end=end or default_ingest_day(),
            progress=_stderr_is_terminal(),
        )
    except ValueError as error:  # impossible arguments, e.g. more tickers than the universe holds
        raise click.UsageError(str(error)) from None
    click.echo(result.summary())
    if intraday:
        from sample_data.intraday import write_intraday_sample

        store, last_day = open_raw_store(settings), result.window.end
        click.echo(
            write_intraday_sample(settings, store, tickers=tickers, days=days, seed=seed, end=last_day)
        )


def _serve_dashboard(settings: Settings, port: int, address: str, forwarded_for: bool = False) -> int:
    """Become the dashboard's server (`cli.serve`), migrating first when given the owner's credentials."""
    from cli.serve import serve_dashboard

    # Given credentials of its own (AWS), the dashboard holds no owner's: the migrate unit migrates there.
    if not (settings.dashboard_database_url or settings.dashboard_db_secret_arn):
        _apply_migrations(settings)
    return serve_dashboard(settings, port, address, forwarded_for)


_port_option = click.option("--port", type=click.IntRange(1, 65535), default=8501, show_default=True)
_address_option = click.option(
    "--address",
    default="127.0.0.1",
    show_default=True,
    help="Interface to listen on: this machine only by default; 0.0.0.0 for every interface.",
)


@cli.command()
@_port_option
@_address_option
@click.option(
    "--forwarded-for",
    is_flag=True,
    help="Behind CloudFront: the sign-in gate takes each client's address from X-Forwarded-For.",
)
def dashboard(port: int, address: str, forwarded_for: bool) -> int:
    """Serve the Streamlit dashboard (behind its sign-in gate with a password login)."""
    return _serve_dashboard(_settings(), port, address, forwarded_for)


@cli.command()
@_port_option
@_address_option
def demo(port: int, address: str) -> int:
    """Sample data if the raw zone is empty, ETL, then serve the dashboard."""
    from pipeline.rawzone import RAW_PREFIX, open_raw_store

    settings = _settings()
    store = open_raw_store(settings)
    if next(iter(store.list(RAW_PREFIX + "/")), None) is None:
        click.echo(f"demo: the raw zone {store.describe()} is empty; writing sample data", err=True)
        _write_sample(
            settings, tickers=60, days=260, seed=7, end=None, intraday=bool(settings.lake_warehouse)
        )
    code = _etl(full=False)
    if code == EXIT_FAILED:
        return code
    return _serve_dashboard(settings, port, address)


@cli.command()
def status() -> int:
    """Freshness per source, the last runs, quarantined objects and row counts."""
    from cli.status import status_report

    settings = _settings()
    _apply_migrations(settings)
    click.echo(status_report(settings))
    return EXIT_OK


cli.add_command(database)
cli.add_command(lake)


def _fail(message: str, code: int) -> int:
    click.echo(f"pipeline: error: {message}", err=True)
    return code


def run_cli(argv: Sequence[str] | None = None) -> int:
    """Run the command line and return its exit status (no `sys.exit`, for tests)."""
    from cli.serve import DashboardUnavailable
    from dashboard.gate.credentials import LoginUnavailable
    from dashboard.gate.nginx import GateUnavailable
    from dashboard.oidc import OidcUnavailable
    from pipeline.db import DatabaseUnavailable
    from pipeline.migrations import MigrationError

    verbose = "-v" in (argv or sys.argv[1:]) or "--verbose" in (argv or sys.argv[1:])
    try:
        code = cli.main(
            args=list(argv) if argv is not None else None, prog_name="pipeline", standalone_mode=False
        )
    except click.exceptions.NoArgsIsHelpError as error:
        # A bare `pipeline` or `pipeline db`: the help as `--help` writes it, not squashed into one line.
        click.echo(error.ctx.get_help() if error.ctx else "")
        return EXIT_USAGE
    except click.UsageError as error:
        return _fail(" ".join(error.format_message().split()), EXIT_USAGE)
    except click.Abort:
        return _fail("aborted", EXIT_INTERRUPTED)
    except SettingsError as error:
        return _fail(str(error), EXIT_USAGE)
    except (
        DatabaseUnavailable,
        MigrationError,
        OidcUnavailable,
        LoginUnavailable,
        GateUnavailable,
        DashboardUnavailable,
    ) as error:
        if verbose:
            raise
        return _fail(" ".join(str(error).split()), EXIT_FAILED)
    except KeyboardInterrupt:
        return _fail("interrupted", EXIT_INTERRUPTED)
    except Exception as error:
        if verbose:
            raise
        reason = " ".join(str(error).split())
        return _fail(f"{type(error).__name__}: {reason} (run with --verbose for details)", EXIT_FAILED)
    return code if isinstance(code, int) else EXIT_OK


def main() -> None:
    # A command is short-lived and makes few reference cycles: collecting after every 700 allocations
    # (the default) cost a daily ETL run 40-60 ms walking what the imports had made, for nothing.
    gc.set_threshold(200_000, 30, 30)
    code = run_cli()
    # What the command left alive is freed at exit anyway: moved out of the collector's reach, the
    # interpreter's shutdown collections need not walk it (after an ETL run, pandas and numpy's
    # objects: about 0.15 s of every run).
    gc.freeze()
    sys.exit(code)
