"""Correlations: a heatmap over chosen series and period, a rolling correlation of two, the strongest pairs."""

from __future__ import annotations

import plotly.express as px
import streamlit as st

from dashboard import queries, url_filters
from dashboard.queries import MARKET_SERIES, SECTOR_SERIES_PREFIX

DEFAULT_PERIOD_DAYS = 730
DEFAULT_SERIES = (
    "index_return",
    "index_volatility_7",
    "precipitation_mm",
    "news_share",
    "vix",
    "treasury_10y",
)
STRONGEST_PAIRS = 10

st.title("Correlations")
labels = dict(MARKET_SERIES)
labels.update(
    {f"{SECTOR_SERIES_PREFIX}{sector}": f"Sector {sector} return" for sector in queries.sector_names()}
)

first_day, last_day = queries.market_date_bounds()
start, end = url_filters.date_range("Period", first_day, last_day, default_days=DEFAULT_PERIOD_DAYS)
chosen = url_filters.multiple_choice(
    "Series", list(labels), param="series", default=DEFAULT_SERIES, format_func=labels.get
)
if len(chosen) < 2:
    st.info("Choose at least two series.")
    st.stop()

pairs = queries.correlation_matrix(tuple(chosen), start, end)
matrix = pairs.pivot(index="series_a", columns="series_b", values="correlation")
matrix = matrix.rename(index=labels, columns=labels)
figure = px.imshow(
    matrix,
    zmin=-1,
    zmax=1,
    color_continuous_scale="RdBu",
    text_auto=".2f",
    aspect="auto",
    labels={"color": "Correlation"},
    title=f"Pearson correlation of daily values, {start} to {end}",
)
figure.update_layout(height=max(400, 60 * len(chosen)), xaxis_title="", yaxis_title="")
st.plotly_chart(figure)

st.subheader("Strongest pairs")
distinct_pairs = pairs[pairs["series_a"] < pairs["series_b"]].dropna(subset=["correlation"])
strongest = distinct_pairs.reindex(distinct_pairs["correlation"].abs().sort_values(ascending=False).index)
strongest = strongest.head(STRONGEST_PAIRS).assign(
    series_a=lambda frame: frame["series_a"].map(labels), series_b=lambda frame: frame["series_b"].map(labels)
)
st.dataframe(
    strongest,
    hide_index=True,
    column_config={
        "series_a": "Series",
        "series_b": "With",
        "correlation": st.column_config.NumberColumn("Correlation", format="%.3f"),
        "days": "Days",
    },
)

st.subheader("Rolling correlation")
first_column, second_column, window_column = st.columns(3)
with first_column:
    first = url_filters.single_choice("First series", chosen, param="first", default=chosen[0])
with second_column:
    second = url_filters.single_choice("Second series", chosen, param="second", default=chosen[1])
with window_column:
    window_days = url_filters.whole_number(
        "Window (trading days)", param="window", default=30, minimum=5, maximum=250
    )
if first == second:
    st.info("Choose two different series.")
    st.stop()
rolling = queries.rolling_correlation(first, second, window_days, start, end)
figure = px.line(
    rolling,
    x="trade_date",
    y="correlation",
    labels={"trade_date": "", "correlation": "Correlation"},
    title=f"{labels[first]} against {labels[second]}, {window_days}-day window",
)
figure.update_yaxes(range=[-1, 1])
st.plotly_chart(figure)
