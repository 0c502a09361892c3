"""How pages put data on screen with the words of `dashboard.vocabulary`: tables, chart styling, notices.

Tables are sized to their rows (up to a limit, then they scroll), their headers and categorical values
are words, and a missing value reads "–" rather than ``None``. Charts keep their legend below the plot,
so a 390 px phone has the whole width for the data, and every sector has its own colour.
"""

from __future__ import annotations

import hashlib
import pickle
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from dashboard import vocabulary
from dashboard.queries.caching import ANALYTICS_TTL
from dashboard.vocabulary import term

#: st.dataframe's row height in pixels (header included), and how many rows show before it scrolls.
ROW_PIXELS = 35
MAX_TABLE_ROWS = 20

#: Charts and grids made once and kept for every visitor: a few per page and period, like the query
#: results they show.
ELEMENT_CACHE_ENTRIES = 256

#: One colour per sector of the index's 11 GICS sectors (plotly's default cycle has only 10).
SECTOR_PALETTE = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b",
    "#e377c2", "#7f7f7f", "#bcbd22", "#17becf", "#393b79",
)  # fmt: skip
GICS_SECTORS = (
    "Communication Services",
    "Consumer Discretionary",
    "Consumer Staples",
    "Energy",
    "Financials",
    "Health Care",
    "Industrials",
    "Information Technology",
    "Materials",
    "Real Estate",
    "Utilities",
)

# Grid number settings per kind, as `vocabulary.number` writes the kind on cards and tooltips: a printf-
# style format and its decimals. Streamlit's own "percent" drops trailing zeros (1.6%), so fractions are
# shown as percentage points ("%.2f%%") after `grid_numbers` multiplies them by 100. "localized" keeps the
# thousands separators and takes its decimals from the step: a level (a price, an index) shows two.
_PERCENT_KINDS = ("percent", "signed_percent")
_STREAMLIT_NUMBERS: dict[str, tuple[str, int]] = {  # kind: (format, decimals)
    "percent": ("%.2f%%", 2),
    "signed_percent": ("%+.2f%%", 2),
    "level": ("localized", 2),
    "count": ("localized", 0),
    "mm": ("%.1f mm", 1),
    "celsius": ("%.1f °C", 1),
    "seconds": ("%.1f s", 1),
    "correlation": ("%.2f", 2),
    "tone": ("%+.2f", 2),
    "points_percent": ("%.2f%%", 2),
}


def sector_colours(sectors: Iterable[str]) -> dict[str, str]:
    """A fixed colour per sector: the 11 GICS sectors keep theirs on every page, others follow."""
    others = sorted(set(sectors) - set(GICS_SECTORS))
    ordered = [*GICS_SECTORS, *others]
    return {sector: SECTOR_PALETTE[i % len(SECTOR_PALETTE)] for i, sector in enumerate(ordered)}


def _column_config(column: str, values: pd.Series, written_out: bool, header: str | None = None):
    words = term(column)
    if header is not None:
        words = vocabulary.Term(header, words.kind)
    if written_out:
        return st.column_config.TextColumn(words.label)
    if words.kind == "date":
        return st.column_config.DateColumn(words.label, format="YYYY-MM-DD")
    if words.kind == "datetime":
        return st.column_config.DatetimeColumn(words.label, format="YYYY-MM-DD HH:mm")
    if words.kind == "text" or not pd.api.types.is_numeric_dtype(values):
        return st.column_config.TextColumn(words.label)
    if words.kind not in _STREAMLIT_NUMBERS:
        return st.column_config.NumberColumn(words.label)
    number_format, decimals = _STREAMLIT_NUMBERS[words.kind]
    step = 10.0**-decimals if number_format == "localized" else None
    return st.column_config.NumberColumn(words.label, format=number_format, step=step)


def for_display(frame: pd.DataFrame) -> pd.DataFrame:
    """`frame` with categorical values in words and any column holding a missing value written out.

    A column with a gap becomes text in its own format ("–" for the gap): a grid cell left empty shows
    "None", which tells a visitor nothing.
    """
    shown = frame.copy()
    for column in shown.columns:
        kind = term(column).kind
        if kind == "text":
            shown[column] = [vocabulary.value_label(column, value) for value in shown[column]]
        elif shown[column].isna().any():
            shown[column] = [vocabulary.show(column, value) for value in shown[column]]
    return shown


def grid_numbers(values: pd.Series, kind: str) -> pd.Series:
    """`values` as a grid of their kind shows them, never as a negative zero ("-0.00%", "-0.0 °C").

    Fractions become percentage points rounded as a card writes them. Other kinds keep their full value,
    which a visitor may copy from the grid; only a value the format would write as zero becomes 0.0."""
    if kind not in _STREAMLIT_NUMBERS or pd.api.types.is_integer_dtype(values):
        return values  # whole numbers are shown as they are
    decimals = _STREAMLIT_NUMBERS[kind][1]
    if kind in _PERCENT_KINDS:
        return (values * 100).round(decimals) + 0.0
    return values.mask(values.abs() < 0.5 * 10.0**-decimals, 0.0)


def table(
    frame: pd.DataFrame, *, max_rows: int = MAX_TABLE_ROWS, headers: Mapping[str, str] | None = None
) -> None:
    """`frame` as a grid with words for headers and values, as tall as its rows up to `max_rows`.

    `headers` names columns whose words depend on the view ("Hottest 10% of days"); the others take
    theirs from the vocabulary, and every column its number format. Like `chart`, the grid element is
    made once per data for every visitor and replayed after."""
    named = dict(headers or {})
    _draw_table(fingerprint("table", frame, max_rows, sorted(named.items())), frame, max_rows, named)


@st.cache_data(ttl=ANALYTICS_TTL, max_entries=ELEMENT_CACHE_ENTRIES, show_spinner=False)
def _draw_table(key: str, _frame: pd.DataFrame, _max_rows: int, _named: dict[str, str]) -> None:
    # Only `key` is hashed (Streamlit leaves "_" arguments out): it is their `fingerprint`.
    frame, max_rows, named = _frame, _max_rows, _named
    shown = for_display(frame)
    written_out = {
        column for column in frame.columns if term(column).kind != "text" and frame[column].isna().any()
    }
    for column in shown.columns:
        if column not in written_out and pd.api.types.is_numeric_dtype(shown[column]):
            shown[column] = grid_numbers(shown[column], term(column).kind)
    config = {
        column: _column_config(column, shown[column], column in written_out, named.get(column))
        for column in shown.columns
    }
    height = ROW_PIXELS * (min(len(shown), max_rows) + 1) + 3
    st.dataframe(shown, hide_index=True, column_config=config, height=height)


def wrapped_table(frame: pd.DataFrame) -> None:
    """`frame` as a static table whose long cells (failure reasons) wrap instead of being cut off
    (made once per data, like `table`)."""
    _draw_wrapped_table(fingerprint("wrapped_table", frame), frame)


@st.cache_data(ttl=ANALYTICS_TTL, max_entries=ELEMENT_CACHE_ENTRIES, show_spinner=False)
def _draw_wrapped_table(key: str, _frame: pd.DataFrame) -> None:
    frame = _frame
    shown = pd.DataFrame(
        {term(column).label: [vocabulary.show(column, v) for v in frame[column]] for column in frame.columns}
    )
    st.table(shown.set_index(shown.columns[0]))


def axis_labels(*columns: str) -> dict[str, str]:
    """The `labels=` of a plotly express chart: each column's name with its unit."""
    return {column: term(column).titled for column in columns}


def format_axis(figure: go.Figure, column: str, *, axis: str = "y", **selector) -> None:
    """Give an axis `column`'s number format (percent, thousands separators) and unit."""
    update = figure.update_yaxes if axis == "y" else figure.update_xaxes
    suffix = vocabulary.D3_SUFFIXES.get(term(column).kind, "")
    update(tickformat=vocabulary.d3_format(column), ticksuffix=suffix, **selector)


def phone_friendly(figure: go.Figure, *, legend: bool = True) -> go.Figure:
    """Legend under the plot and a top margin the toolbar does not cover, for narrow screens too."""
    figure.update_layout(
        legend={"orientation": "h", "yanchor": "top", "y": -0.15, "xanchor": "left", "x": 0, "title": None},
        margin={"t": 60},
        showlegend=legend,
    )
    return figure


def options_in_words(column: str, values: Sequence[str]) -> dict[str, str]:
    """Values of a categorical column mapped to their words, for a selector's `format_func`."""
    return {value: vocabulary.value_label(column, value) for value in values}


def chart(build: Callable[..., go.Figure], *inputs: Any, **options: Any) -> None:
    """Draw the figure `build(*inputs, **options)` makes, built and encoded once per inputs for all visitors.

    Building a plotly figure (plotly express, the validation of every property) and encoding it as the
    chart element's JSON take 50-150 ms of CPU, most of a page's run once its data is cached. The chart
    element is drawn inside a cached function, so a page opened again with the same data (any visitor,
    the same period) replays the recorded element instead (Streamlit's replay of cached elements).
    The element is found by the `fingerprint` of `build` (its file and name), `inputs` and `options`.
    """
    code = build.__code__
    key = fingerprint(f"{code.co_filename}:{build.__qualname__}", inputs, sorted(options.items()))
    _draw_chart(key, build, inputs, options)


@st.cache_data(ttl=ANALYTICS_TTL, max_entries=ELEMENT_CACHE_ENTRIES, show_spinner=False)
def _draw_chart(
    key: str, _build: Callable[..., go.Figure], _inputs: tuple[Any, ...], _options: dict[str, Any]
) -> None:
    st.plotly_chart(_build(*_inputs, **_options))


def fingerprint(*parts: Any) -> str:
    """A digest of `parts` (names, data frames, options) that finds an element made from them before.

    Streamlit's own hashing of a cached function's arguments hashes a data frame column by column,
    element by element for dates and texts: 40% of a warm page's run. The pickled bytes of the parts
    are hashed instead (2-4 times faster): equal bytes mean equal data, and the rare equal data
    pickled differently costs one more build, never a wrong chart.
    """
    return hashlib.blake2b(pickle.dumps(parts, protocol=pickle.HIGHEST_PROTOCOL), digest_size=20).hexdigest()
