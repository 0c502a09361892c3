"""Market-time facts shared by the CLI and the ingestion Lambda: the exchange's time zone and "today".

Kept apart from `pipeline.cli` so that the Lambda, which must not import click, can use the same
default day as `pipeline ingest`.
"""

from __future__ import annotations

import calendar
import datetime as dt
from zoneinfo import ZoneInfo

MARKET_TIME_ZONE = ZoneInfo("America/New_York")


def market_today(now: dt.datetime | None = None) -> dt.date:
    """Today's date in New York (the exchange's calendar), for `now` or the current instant."""
    return (now or dt.datetime.now(dt.UTC)).astimezone(MARKET_TIME_ZONE).date()


def default_ingest_day(now: dt.datetime | None = None) -> dt.date:
    """Yesterday in New York: the last complete market day when a scheduled run starts in the morning."""
    return market_today(now) - dt.timedelta(days=1)


def window_period_bounds(start: dt.date, end: dt.date) -> tuple[int, int]:
    """Yahoo's ``period1``/``period2`` for an inclusive window: midnight UTC of `start` and of the day
    after `end`, in Unix seconds.

    Daily bars are stamped at the New York open (13:30Z or 14:30Z), so these bounds take exactly the
    window's sessions. A bar stamped at or after ``period2`` is past the requested end, even when its
    New York date is still the window's last day (Yahoo's live bar, stamped in the evening).
    """
    first = calendar.timegm(start.timetuple())
    after_last = calendar.timegm((end + dt.timedelta(days=1)).timetuple())
    return first, after_last
