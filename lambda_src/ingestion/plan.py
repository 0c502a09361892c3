"""What a run will fetch: inclusive date windows and the planned requests, with their raw-zone keys.

Planning is pure (no I/O): the runner fetches the planned requests, and the sample generator writes
synthetic bodies under exactly the same keys, URLs and metadata a real backfill would use.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from urllib.parse import urlencode

from lambda_src.ingestion.httpclient import ResponseCheck


@dataclass(frozen=True)
class Window:
    """An inclusive range of calendar days."""

    start: dt.date
    end: dt.date

    def __post_init__(self) -> None:
        if self.start > self.end:
            raise ValueError(f"window start {self.start} is after its end {self.end}")

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def dates(self) -> Iterator[dt.date]:
        for offset in range(self.days):
            yield self.start + dt.timedelta(days=offset)

    def clip(self, start: dt.date | None = None, end: dt.date | None = None) -> Window | None:
        """The part of this window between `start` and `end` (inclusive), or None if they do not meet."""
        first = max(self.start, start) if start else self.start
        last = min(self.end, end) if end else self.end
        return Window(first, last) if first <= last else None

    def __str__(self) -> str:
        return f"{self.start}..{self.end}"


def split_by_calendar(window: Window, months: int) -> list[Window]:
    """Cut a window at calendar boundaries of `months` months (12: years, 3: quarters), aligned to January.

    Aligned cuts make a backfill's windows, and so its keys, the same whatever range was asked for
    inside the same year or quarter.
    """
    pieces: list[Window] = []
    cursor = window.start
    while cursor <= window.end:
        block_month = ((cursor.month - 1) // months) * months + 1
        next_month = block_month + months
        next_block = dt.date(cursor.year + (next_month - 1) // 12, (next_month - 1) % 12 + 1, 1)
        last = min(window.end, next_block - dt.timedelta(days=1))
        pieces.append(Window(cursor, last))
        cursor = last + dt.timedelta(days=1)
    return pieces


@dataclass(frozen=True)
class PlannedRequest:
    """One request of a run: where it goes, how its response is checked, and where its bytes are kept.

    `entity` names what failed in a manifest (a symbol, a topic, a series id, an Open-Meteo endpoint);
    `cost` scales the source's pacing (Open-Meteo's request weight); `revisable` windows are fetched
    again even when their object exists (they hold provisional data).
    """

    source: str
    entity: str
    window: Window
    url: str
    params: tuple[tuple[str, str], ...]
    key: str
    extras: Mapping[str, str]
    check: ResponseCheck = field(compare=False)
    cost: float = 1.0
    revisable: bool = False

    @property
    def full_url(self) -> str:
        return f"{self.url}?{urlencode(self.params)}" if self.params else self.url


@dataclass(frozen=True)
class SourcePlan:
    """A source's planned requests plus notes on days it cannot cover (e.g. before the API's history)."""

    requests: list[PlannedRequest]
    uncovered: list[str] = field(default_factory=list)


def window_extras(window: Window) -> dict[str, str]:
    """The ``window_start`` / ``window_end`` metadata every data object carries (inclusive dates)."""
    return {"window_start": window.start.isoformat(), "window_end": window.end.isoformat()}
