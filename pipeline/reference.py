"""The reference files: the ticker universe and the 50 states' weather points.

The one reader of the universe file, for the ingestion (what to fetch) and the ETL (`companies`).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import astuple, dataclass
from pathlib import Path

from pipeline.rawzone import write_atomically
from pipeline.settings import DEFAULT_UNIVERSE, US_STATES_FILE, Settings

#: The installed `pipeline` package: the files shipped in it are never rewritten.
_PACKAGE_DIRECTORY = DEFAULT_UNIVERSE.resolve().parent.parent
#: The name of a refreshed universe under $PIPELINE_HOME.
REFRESHED_UNIVERSE_NAME = "universe.csv"

UNIVERSE_COLUMNS = ("ticker", "name", "sector", "industry")
STATE_COLUMNS = ("code", "name", "latitude", "longitude")


class ReferenceDataError(ValueError):
    """A reference file is missing, has the wrong columns, or holds an invalid row (one line)."""


@dataclass(frozen=True)
class Company:
    """One row of the universe: Yahoo ticker form (BRK-B), GICS sector and sub-industry."""

    ticker: str
    name: str
    sector: str
    industry: str


@dataclass(frozen=True)
class StatePoint:
    """A state's weather point (its capital): USPS code, name, latitude and longitude."""

    code: str
    name: str
    latitude: float
    longitude: float


def _rows(path: Path, columns: tuple[str, ...]) -> list[dict[str, str]]:
    try:
        # utf-8-sig: a spreadsheet's export starts with a byte-order mark.
        with path.open(newline="", encoding="utf-8-sig") as stream:
            reader = csv.DictReader(stream)
            if tuple(reader.fieldnames or ()) != columns:
                raise ReferenceDataError(f"{path}: expected columns {','.join(columns)}")
            rows = list(reader)
    except OSError as error:
        raise ReferenceDataError(f"{path}: {error.strerror or error}") from None
    if not rows:
        raise ReferenceDataError(f"{path}: no rows")
    return rows


def load_universe(path: Path) -> list[Company]:
    """The companies of the universe file, in file order; tickers must be unique and non-empty."""
    companies: list[Company] = []
    seen: set[str] = set()
    for line, row in enumerate(_rows(path, UNIVERSE_COLUMNS), start=2):
        ticker = row["ticker"].strip()
        if not ticker or "." in ticker or ticker in seen:
            raise ReferenceDataError(
                f"{path}:{line}: invalid or duplicate ticker {ticker!r} (use Yahoo form, BRK-B)"
            )
        seen.add(ticker)
        companies.append(Company(ticker, row["name"].strip(), row["sector"].strip(), row["industry"].strip()))
    return companies


def universe_csv(companies: Sequence[Company]) -> bytes:
    """The universe file's bytes: a ``ticker,name,sector,industry`` header, then one row per company."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(UNIVERSE_COLUMNS)
    writer.writerows(astuple(company) for company in companies)
    return text.getvalue().encode("utf-8")


def refreshed_universe_path(settings: Settings) -> tuple[Path, bool]:
    """Where a refreshed universe is written, and whether PIPELINE_UNIVERSE already points there.

    A PIPELINE_UNIVERSE outside the package is updated in place; the file shipped in the package is
    never rewritten (an upgrade would undo it, and it may be read-only), so the refresh then goes to
    ``$PIPELINE_HOME/universe.csv`` for the user to point PIPELINE_UNIVERSE at.
    """
    configured = settings.pipeline_universe.resolve()
    if not configured.is_relative_to(_PACKAGE_DIRECTORY):
        return configured, True
    return (settings.pipeline_home / REFRESHED_UNIVERSE_NAME).resolve(), False


def save_universe(path: Path, companies: Sequence[Company]) -> None:
    """Write the universe to `path` atomically (a temporary file beside it, then a rename).

    Readers see the old file or the new one, never half of one; an existing file keeps its mode.
    """
    write_atomically(path, universe_csv(companies))


def load_states(path: Path = US_STATES_FILE) -> list[StatePoint]:
    """The 50 states' weather points, in file order (the order of every Open-Meteo request)."""
    states: list[StatePoint] = []
    for line, row in enumerate(_rows(path, STATE_COLUMNS), start=2):
        try:
            states.append(
                StatePoint(row["code"], row["name"], float(row["latitude"]), float(row["longitude"]))
            )
        except ValueError:
            raise ReferenceDataError(f"{path}:{line}: latitude and longitude must be numbers") from None
    return states
