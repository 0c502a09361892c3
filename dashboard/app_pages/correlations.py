"""Correlations: a heatmap over chosen series and period, a rolling correlation of two, the strongest pairs."""

from __future__ import annotations

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
import streamlit as st

from dashboard import display, queries, url_filters
from dashboard.queries import MARKET_SERIES, SECTOR_SERIES_PREFIX
from dashboard.vocabulary import series_label

# Every market series by default (sectors are offered, not chosen).
DEFAULT_SERIES = MARKET_SERIES
STRONGEST_PAIRS = 10
#: The rolling window's shortest length: fewer days than `MIN_CORRELATION_DAYS` are not a correlation.
MIN_WINDOW_DAYS = queries.MIN_CORRELATION_DAYS


def heatmap_figure(matrix: pd.DataFrame, title: str, height: int) -> go.Figure:
    """The correlation of each pair of series as a grid of coloured cells, empty where not computed."""
    figure = px.imshow(
        matrix,
        zmin=-1,
        zmax=1,
        color_continuous_scale="RdBu",
        text_auto=".2f",
        aspect="auto",
        labels={"color": "Correlation", "x": "", "y": ""},
        title=title,
    )
    figure.update_traces(hovertemplate="%{y}<br>with %{x}<br>Correlation: %{z:.2f}<extra></extra>")
    # The colour bar below the grid and short titles leave a phone's width for the cells themselves.
    figure.update_layout(
        height=height,
        xaxis_title="",
        yaxis_title="",
        title_font_size=14,
        coloraxis_colorbar={"orientation": "h", "y": -0.45, "thickness": 12},
    )
    return figure


def rolling_figure(rolling: pd.DataFrame, title: str) -> go.Figure:
    """A rolling correlation through the period, on a fixed -1 to 1 scale."""
    figure = px.line(
        rolling,
        x="trade_date",
        y="correlation",
        labels={"trade_date": "", "correlation": "Correlation"},
        title=title,
    )
    figure.update_layout(title_font_size=14)
    figure.update_traces(hovertemplate="%{x|%Y-%m-%d}: %{y:.2f}<extra></extra>")
    figure.update_yaxes(range=[-1, 1])
    return figure


st.title("Correlations")
options = [*MARKET_SERIES, *(f"{SECTOR_SERIES_PREFIX}{sector}" for sector in queries.sector_names())]
labels = {series: series_label(series) for series in options}

first_day, last_day = queries.market_date_bounds()
start, end = url_filters.date_range("Period", first_day, last_day)
chosen = url_filters.multiple_choice(
    "Series", options, param="series", default=DEFAULT_SERIES, format_func=labels.get
)
if len(chosen) < 2:
    st.info("Choose at least two series.")
    st.stop()

pairs = queries.correlation_matrix(tuple(chosen), start, end)
# A pair with too few common days gets no number at all: the heatmap leaves its cell empty.
pairs.loc[pairs["days"] < queries.MIN_CORRELATION_DAYS, "correlation"] = None
matrix = pairs.pivot(index="series_a", columns="series_b", values="correlation")
matrix = matrix.rename(index=labels, columns=labels)
display.chart(
    heatmap_figure,
    matrix,
    f"Pearson correlation of daily values, {start} to {end}",
    max(450, 60 * len(chosen)),
)

st.subheader("Strongest pairs")
distinct_pairs = pairs[pairs["series_a"] < pairs["series_b"]].dropna(subset=["correlation"])
if distinct_pairs.empty:
    st.info(
        f"No pair is ranked: a correlation needs at least {queries.MIN_CORRELATION_DAYS} days with both "
        f"series, and this period has at most {int(pairs['days'].max()):,}. Choose a longer period.",
        icon=":material/info:",
    )
else:
    strongest = distinct_pairs.reindex(distinct_pairs["correlation"].abs().sort_values(ascending=False).index)
    strongest = strongest.head(STRONGEST_PAIRS).assign(
        series_a=lambda frame: frame["series_a"].map(labels),
        series_b=lambda frame: frame["series_b"].map(labels),
    )
    display.table(strongest)
    st.caption(f"Only pairs with at least {queries.MIN_CORRELATION_DAYS} common days are ranked.")

st.subheader("Rolling correlation")
first_column, second_column, window_column = st.columns(3)
with first_column:
    first = url_filters.single_choice(
        "First series", chosen, param="first", default=chosen[0], format_func=labels.get
    )
with second_column:
    second = url_filters.single_choice(
        "Second series", chosen, param="second", default=chosen[1], format_func=labels.get
    )
with window_column:
    window_days = url_filters.whole_number(
        "Window (trading days)", param="window", default=60, minimum=MIN_WINDOW_DAYS, maximum=250
    )
if first == second:
    st.info("Choose two different series.")
    st.stop()
rolling = queries.rolling_correlation(first, second, window_days, start, end)
if rolling["correlation"].isna().all():
    st.info(
        f"No day of this period has {window_days} trading days with both series before it: choose a "
        "longer period or a shorter window.",
        icon=":material/info:",
    )
    st.stop()
display.chart(rolling_figure, rolling, f"{labels[first]} against {labels[second]}, {window_days}-day window")
