"""The reference files ingestion plans from: the ticker universe and the 50 states' weather points."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from pipeline.settings import US_STATES_FILE

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
        with path.open(newline="", encoding="utf-8") as stream:
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
