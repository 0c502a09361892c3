"""Market-time facts shared by the CLI and the ingestion Lambda: the exchange's time zone, "today",
and the one rule that turns a date or a start/end pair into the inclusive window a run covers.

(The exchange's trading days are `pipeline.trading_calendar`.)
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


class WindowOptionsError(ValueError):
    """The date options contradict each other; the message names them as the caller spells them."""


def requested_window(
    day: dt.date | None,
    start: dt.date | None,
    end: dt.date | None,
    *,
    names: tuple[str, str, str] = ("--date", "--start", "--end"),
) -> tuple[dt.date, dt.date]:
    """The inclusive window of a `day`, or of `start` and `end`, or by default yesterday in New York.

    Both the command line and the Lambda's event take these options; `names` are how the caller
    spells them in the error (e.g. ``("'date'", "'start'", "'end'")`` for an event).
    """
    day_name, start_name, end_name = names
    if day and (start or end):
        raise WindowOptionsError(f"give either {day_name} or {start_name}/{end_name}, not both")
    if (start is None) != (end is None):
        raise WindowOptionsError(f"{start_name} and {end_name} go together")
    if start and end:
        if start > end:
            raise WindowOptionsError(f"{start_name} {start} is after {end_name} {end}")
        return start, end
    day = day or default_ingest_day()
    return day, day
