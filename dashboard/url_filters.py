"""Filter widgets whose values live in the URL query parameters, so that a view can be shared as a link.

Each widget starts from its query parameter when the parameter is present and valid (otherwise from the
default), and writes its current value back, so the address bar always describes the view on screen.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import streamlit as st


def _parse_date(text: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text) if text else None
    except ValueError:
        return None


def _clamp(day: dt.date, first: dt.date, last: dt.date) -> dt.date:
    return min(max(day, first), last)


def date_range(
    label: str, first: dt.date, last: dt.date, *, default_days: int, key: str = "period"
) -> tuple[dt.date, dt.date]:
    """A start/end date picker within [first, last], in the parameters ``start`` and ``end``.

    The default period is the last `default_days` calendar days up to `last`. While a user has picked
    only the first day of a new range, the previous end is kept so the page never renders a half range.
    """
    default_start = _clamp(last - dt.timedelta(days=default_days), first, last)
    start = _clamp(_parse_date(st.query_params.get("start")) or default_start, first, last)
    end = _clamp(_parse_date(st.query_params.get("end")) or last, first, last)
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
    wanted = [value for value in st.query_params.get_all(param) if value in options]
    chosen = st.multiselect(
        label, options, default=wanted or list(default), format_func=format_func, key=param
    )
    st.query_params[param] = chosen
    return chosen


def whole_number(label: str, *, param: str, default: int, minimum: int, maximum: int) -> int:
    """A slider over whole numbers in [minimum, maximum], in the query parameter `param`."""
    text = st.query_params.get(param, "")
    value = int(text) if text.isdigit() else default
    value = min(max(value, minimum), maximum)
    chosen = st.slider(label, min_value=minimum, max_value=maximum, value=value, key=param)
    st.query_params[param] = str(chosen)
    return chosen
