"""Filter widgets whose values live in the URL query parameters, so that a view can be shared as a link.

Each widget starts from its query parameter when the parameter is present and valid, and writes its
current value back, so the address bar always describes the view on screen. A parameter that is not
valid (not a date, an unknown ticker) is not dropped silently: the page says which one and what it
shows instead. Every page opens on the same default period, `DEFAULT_PERIOD_DAYS`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import streamlit as st

#: The period every page opens on: the last year of data up to the newest trading day.
DEFAULT_PERIOD_DAYS = 365
#: How much of an invalid parameter the notice quotes.
QUOTED_CHARACTERS = 40
_MARKDOWN_SPECIALS = str.maketrans({c: f"\\{c}" for c in "\\`*_{}[]()<>#+-.!|~$:"})


def _invalid(param: str, value: str, shown: str) -> None:
    """Say that the link's `param` was not valid and what the page shows instead."""
    quoted = value[:QUOTED_CHARACTERS].translate(_MARKDOWN_SPECIALS)
    st.info(
        f"The link's {param} parameter, “{quoted}”, is not valid here; the page shows {shown} instead.",
        icon=":material/link_off:",
    )


def _parse_date(param: str, fallback: dt.date) -> dt.date:
    text = st.query_params.get(param)
    if text is None:
        return fallback
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        _invalid(param, text, fallback.isoformat())
        return fallback


def _clamp(day: dt.date, first: dt.date, last: dt.date) -> dt.date:
    return min(max(day, first), last)


def date_range(
    label: str,
    first: dt.date,
    last: dt.date,
    *,
    default_days: int = DEFAULT_PERIOD_DAYS,
    key: str = "period",
) -> tuple[dt.date, dt.date]:
    """A start/end date picker within [first, last], in the parameters ``start`` and ``end``.

    The default period is the last `default_days` calendar days up to `last`. While a user has picked
    only the first day of a new range, the previous end is kept so the page never renders a half range.
    """
    default_start = _clamp(last - dt.timedelta(days=default_days), first, last)
    start = _clamp(_parse_date("start", default_start), first, last)
    end = _clamp(_parse_date("end", last), first, last)
    if start > end:
        start, end = end, start
    picked = st.date_input(label, value=(start, end), min_value=first, max_value=last, key=key)
    if isinstance(picked, Sequence) and len(picked) == 2:
        start, end = picked
    st.query_params["start"] = start.isoformat()
    st.query_params["end"] = end.isoformat()
    return start, end


def single_choice(
    label: str, options: Sequence[str], *, param: str, default: str | None = None, format_func=str
) -> str:
    """A select box over `options`, in the query parameter `param`."""
    wanted = st.query_params.get(param)
    fallback = default if default is not None and default in options else options[0]
    if wanted is not None and wanted not in options:
        _invalid(param, wanted, str(format_func(fallback)))
    chosen: str = st.selectbox(
        label,
        list(options),
        index=list(options).index(wanted if wanted is not None and wanted in options else fallback),
        format_func=format_func,
        key=param,
    )
    st.query_params[param] = chosen
    return chosen


def multiple_choice(
    label: str,
    options: Sequence[str],
    *,
    param: str,
    default: Sequence[str],
    format_func=str,
) -> list[str]:
    """A multiselect over `options`, in the repeated query parameter `param`."""
    given = st.query_params.get_all(param)
    wanted = [value for value in given if value in options]
    unknown = [value for value in given if value not in options]
    if unknown:
        kept = ", ".join(str(format_func(value)) for value in wanted or default)
        _invalid(param, ", ".join(unknown), kept)
    chosen = st.multiselect(
        label, options, default=wanted or list(default), format_func=format_func, key=param
    )
    st.query_params[param] = chosen
    return chosen


def whole_number(label: str, *, param: str, default: int, minimum: int, maximum: int) -> int:
    """A slider over whole numbers in [minimum, maximum], in the query parameter `param`."""
    text = st.query_params.get(param)
    value = int(text) if text is not None and text.isdigit() else default
    if text is not None and not (text.isdigit() and minimum <= value <= maximum):
        value = min(max(value, minimum), maximum)
        _invalid(param, text, f"{value:,}")
    chosen = st.slider(label, min_value=minimum, max_value=maximum, value=value, key=param)
    st.query_params[param] = str(chosen)
    return chosen
