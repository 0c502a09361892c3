"""Weather and sentiment: precipitation and temperature by state on a US tile map, and the market in high
and low news volume."""

from __future__ import annotations

import plotly.express as px
import streamlit as st

from dashboard import display, queries, url_filters
from dashboard.formatting import percent
from dashboard.state_grid import state_tile_map
from dashboard.vocabulary import d3_format, label, show, term, value_label

#: The measures the map can show, with the colour scale that reads naturally for each.
MEASURES = {
    "mean_precipitation_mm": "Blues",
    "total_precipitation_mm": "Blues",
    "mean_temp_c": "RdBu_r",
    "max_temp_c": "Reds",
    "min_temp_c": "Blues_r",
}
#: Which end of each measure the headline names ("wettest", "hottest"), highest first unless listed.
HEADLINES = {
    "mean_precipitation_mm": "Wettest state",
    "total_precipitation_mm": "Wettest state",
    "mean_temp_c": "Warmest state",
    "max_temp_c": "Hottest day's state",
    "min_temp_c": "Coldest night's state",
}
LOWEST_FIRST = {"min_temp_c"}

st.title("Weather and sentiment")
first_day, last_day = queries.market_date_bounds()
start, end = url_filters.date_range("Day or period", first_day, last_day)

states = queries.weather_by_state(start, end)
measure = url_filters.single_choice(
    "Measure", list(MEASURES), param="measure", format_func=lambda column: term(column).titled
)
if states.empty:
    st.info("No weather observations in this period.")
else:
    ranked = states.sort_values(measure, ascending=measure in LOWEST_FIRST, na_position="last")
    top = ranked.iloc[0]
    st.metric(
        f"{HEADLINES[measure]} ({label(measure).lower()})", f"{top['state']}: {show(measure, top[measure])}"
    )
    # A tile grid rather than a choropleth: it needs no state outlines, so it draws offline too.
    display.chart(
        state_tile_map,
        states,
        measure,
        term(measure).titled,
        title=f"{label(measure)} by state, {start} to {end}",
        colorscale=MEASURES[measure],
        value_format=d3_format(measure),
        trace_name=label(measure),
    )
    st.subheader("States ranked")
    display.table(
        ranked[["state", measure, *(c for c in MEASURES if c not in (measure, "total_precipitation_mm"))]],
        max_rows=12,
    )

st.header("Market in high and low news volume")
regimes = queries.news_volume_regimes(start, end)
if regimes.empty:
    st.info("No news observations on trading days in this period.")
    st.stop()
topic = queries.market_series(start, end)["news_topic"].dropna()
topic_words = f"on “{topic.iloc[-1]}”" if not topic.empty else "on the topic"
st.caption(
    f"Trading days split at the period's median of {regimes['median_matching'].iloc[0]:,.0f} news articles "
    f"{topic_words} a day (GDELT): above it is high news volume, at or below it low."
)
columns = st.columns(len(regimes))
for column, regime in zip(columns, regimes.itertuples(), strict=True):
    words = value_label("regime", regime.regime).lower()
    column.metric(
        f"Mean index daily return, {words} news volume ({regime.days} days)",
        percent(regime.mean_return, signed=True),
        border=True,
    )
    column.metric(
        f"Mean 7-day volatility, {words} news volume", percent(regime.mean_volatility_7), border=True
    )
measures = ["mean_return", "return_volatility", "mean_volatility_7"]
long_form = regimes.assign(regime=[value_label("regime", v) for v in regimes["regime"]]).melt(
    id_vars="regime", value_vars=measures
)
long_form["variable"] = long_form["variable"].map(label)
figure = px.bar(
    long_form,
    x="variable",
    y="value",
    color="regime",
    barmode="group",
    labels={"variable": "", "value": "", "regime": label("regime")},
)
figure.update_traces(hovertemplate="%{x}: %{y:.2%}")
figure.update_yaxes(tickformat=".2%")
st.plotly_chart(display.phone_friendly(figure))
