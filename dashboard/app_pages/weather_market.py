"""Weather and the market: the index and the sectors on days of extreme national weather (the hottest and
coolest, or wettest and driest, days of the period) against the other days, with the method on the page."""

from __future__ import annotations

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
import streamlit as st

from dashboard import display, queries, url_filters
from dashboard.formatting import percent
from dashboard.vocabulary import (
    WEATHER_EXTREMES,
    hover_value,
    index_name,
    label,
    show,
    term,
    weather_class_words,
)

#: The sectors whose business moves with the weather (heating and cooling demand), shown first.
EXPOSED_SECTORS = ("Energy", "Utilities")
CLASSES = ("high", "middle", "low")

st.title("Weather and the market")
first_day, last_day = queries.market_date_bounds()
start, end = url_filters.date_range("Period", first_day, last_day)
measure_column, share_column = st.columns(2)
with measure_column:
    measure = url_filters.single_choice(
        "Weather measure", list(queries.WEATHER_MEASURES), param="measure", format_func=label
    )
with share_column:
    share = int(
        url_filters.single_choice(
            "Extreme days at each end",
            [str(value) for value in queries.EXTREME_SHARES],
            param="extremes",
            format_func=lambda value: f"{value}% of the period's days",
        )
    )
words = {weather_class: weather_class_words(measure, weather_class, share) for weather_class in CLASSES}
high_word, low_word = WEATHER_EXTREMES[measure]

st.caption(
    f"**Method.** Each trading day of the period is placed by the {label(measure).lower()} (the mean over "
    f"the states of each state's daily value, Open-Meteo): the {high_word} {share}% of days, the "
    f"{low_word} {share}%, and the other days between them. For each group the page gives the index's "
    "mean daily return and the volatility of its daily returns, and each sector's mean daily return (the "
    f"mean of its stocks' returns that day). A group of fewer than {queries.MIN_WEATHER_DAYS} days is not "
    "compared. The groups are compared, not tested: over a period longer than a season, the hottest days "
    "are summer days and the coolest winter ones, so the groups differ by season as well as by weather."
)

classes = queries.weather_market_classes(measure, start, end, share).set_index("weather_class")
days = {weather_class: int(classes["days"].get(weather_class, 0)) for weather_class in CLASSES}
if min(days["high"], days["low"]) < queries.MIN_WEATHER_DAYS:
    st.info(
        f"Not compared: this period has {days['high']:,} {high_word} and {days['low']:,} {low_word} "
        f"trading days with weather; each end needs at least {queries.MIN_WEATHER_DAYS} for its mean "
        "return to say more than day-to-day noise. Choose a longer period or a larger share of extreme days."
    )
    st.stop()

index_label = index_name(queries.market_series(start, end)["index_symbol"].dropna().iloc[-1])
st.subheader(f"{index_label} mean daily return")
columns = st.columns(len(CLASSES))
for column, weather_class in zip(columns, CLASSES, strict=True):
    row = classes.loc[weather_class]
    column.metric(
        f"{words[weather_class]} ({days[weather_class]:,} days)",
        percent(row["mean_return"], signed=True),
        border=True,
    )
    column.caption(
        f"{label(measure)} {show(measure, row['lowest_measure'])} to {show(measure, row['highest_measure'])}; "
        f"volatility of daily returns {percent(row['return_volatility'])}."
    )

sectors = queries.weather_market_sectors(measure, start, end, share)
by_sector = sectors.pivot(index="sector", columns="weather_class", values="mean_return")
index_returns = classes["mean_return"]
exposed = [sector for sector in EXPOSED_SECTORS if sector in by_sector.index]
shown_series = [index_label, *exposed]
bars = pd.DataFrame(
    [
        {
            "series": series,
            "weather_days": words[weather_class],
            "mean_return": index_returns[weather_class]
            if series == index_label
            else by_sector.loc[series].get(weather_class),
        }
        for series in shown_series
        for weather_class in CLASSES
    ]
)
st.subheader(f"The index and the sectors most exposed to the weather, by {label(measure).lower()}")


def exposure_figure(bars: pd.DataFrame, order: list[str]) -> go.Figure:
    """Mean daily return of the index and the exposed sectors, one bar per group of days."""
    figure = px.bar(
        bars,
        x="series",
        y="mean_return",
        color="weather_days",
        barmode="group",
        category_orders={"weather_days": order},
        color_discrete_sequence=["#d62728", "#7f7f7f", "#1f77b4"],
        labels={"series": "", "mean_return": term("mean_return").titled, "weather_days": ""},
    )
    figure.update_traces(hovertemplate=f"%{{x}}: {hover_value('mean_return')}")
    display.format_axis(figure, "mean_return")
    return display.phone_friendly(figure)


display.chart(exposure_figure, bars, [words[c] for c in CLASSES])

st.subheader("Every sector's mean daily return on each group of days")
table = (
    by_sector.reindex(columns=list(CLASSES))
    .rename(columns={"high": "high_days_return", "middle": "other_days_return", "low": "low_days_return"})
    .reset_index()
)
# The sectors most exposed first, then the others by name.
table = (
    table.assign(exposed=~table["sector"].isin(exposed))
    .sort_values(["exposed", "sector"])
    .drop(columns="exposed")
)
display.table(
    table,
    max_rows=len(table),
    headers={
        "high_days_return": words["high"],
        "other_days_return": words["middle"],
        "low_days_return": words["low"],
    },
)
