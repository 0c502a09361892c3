"""Weather and sentiment: precipitation by state on a US tile map, and the market in high and low news volume."""

from __future__ import annotations

import plotly.express as px
import streamlit as st

from dashboard import queries, url_filters
from dashboard.formatting import percent
from dashboard.state_grid import state_tile_map

DEFAULT_PERIOD_DAYS = 30
MEASURES = {"mean_precipitation_mm": "Mean daily precipitation (mm)", "total_precipitation_mm": "Total (mm)"}

st.title("Weather and sentiment")
first_day, last_day = queries.market_date_bounds()
start, end = url_filters.date_range("Day or period", first_day, last_day, default_days=DEFAULT_PERIOD_DAYS)

states = queries.precipitation_by_state(start, end)
measure = url_filters.single_choice("Measure", list(MEASURES), param="measure", format_func=MEASURES.get)
if states.empty:
    st.info("No weather observations in this period.")
else:
    wettest = states.sort_values(measure, ascending=False).iloc[0]
    st.metric(
        f"Wettest state ({MEASURES[measure].lower()})", wettest["state"], delta=f"{wettest[measure]:.1f} mm"
    )
    # A tile grid rather than a choropleth: it needs no state outlines, so it draws offline too.
    figure = state_tile_map(
        states, measure, MEASURES[measure], title=f"Precipitation by state, {start} to {end}"
    )
    map_column, ranking_column = st.columns([3, 1])
    map_column.plotly_chart(figure)
    ranking_column.dataframe(
        states.sort_values(measure, ascending=False)[["state", measure, "days"]],
        hide_index=True,
        height=520,
        column_config={measure: st.column_config.NumberColumn(MEASURES[measure], format="%.1f")},
    )

st.header("Market in high and low news volume")
regimes = queries.news_volume_regimes(start, end)
if regimes.empty:
    st.info("No news observations on trading days in this period.")
    st.stop()
st.caption(
    f"Trading days split at the period's median of {regimes['median_matching'].iloc[0]:,.0f} matching "
    "articles a day: above it is high news volume, at or below it low."
)
columns = st.columns(len(regimes))
for column, regime in zip(columns, regimes.itertuples(), strict=True):
    column.metric(
        f"Mean index return, {regime.regime} news volume ({regime.days} days)",
        percent(regime.mean_return, signed=True),
        border=True,
    )
    column.metric(
        f"Mean 7-day volatility, {regime.regime} news volume", percent(regime.mean_volatility_7), border=True
    )
figure = px.bar(
    regimes.melt(id_vars="regime", value_vars=["mean_return", "return_volatility", "mean_volatility_7"]),
    x="variable",
    y="value",
    color="regime",
    barmode="group",
    labels={"variable": "", "value": "", "regime": "News volume"},
)
figure.update_yaxes(tickformat=".2%")
st.plotly_chart(figure)
