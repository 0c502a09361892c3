"""Sectors and industries: performance over a period, risk against return, and a drill-down to members."""

from __future__ import annotations

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
import streamlit as st

from dashboard import display, queries, url_filters
from dashboard.formatting import percent
from dashboard.vocabulary import hover_value, label


def growth_figure(growth: pd.DataFrame, colours: dict[str, str]) -> go.Figure:
    """Each sector's cumulative mean return through the period, one line per sector."""
    figure = px.line(
        growth,
        x="trade_date",
        y="cumulative_return",
        color="sector",
        color_discrete_map=colours,
        labels={**display.axis_labels("cumulative_return", "sector"), "trade_date": ""},
        title="Cumulative mean return per sector",
    )
    figure.update_traces(hovertemplate=f"%{{x|%Y-%m-%d}}: {hover_value('cumulative_return')}")
    display.format_axis(figure, "cumulative_return")
    return display.phone_friendly(figure)


def risk_return_figure(
    frame: pd.DataFrame, colour: str, title: str, colours: dict[str, str] | None
) -> go.Figure:
    """Annualised volatility against annualised return, a point per row of `frame` coloured by `colour`.

    Rows with a `ticker` (stocks) are named in the tooltip, with their return over the period.
    """
    per_stock = "ticker" in frame.columns
    figure = px.scatter(
        frame,
        x="annualised_volatility",
        y="annualised_return",
        color=colour,
        color_discrete_map=colours,
        hover_name="name" if per_stock else None,
        custom_data=["ticker", "period_return"] if per_stock else None,
        labels=display.axis_labels("annualised_volatility", "annualised_return", colour),
        title=title,
    )
    hover = (
        f"{label('annualised_volatility')}: {hover_value('annualised_volatility', 'x')}<br>"
        f"{label('annualised_return')}: {hover_value('annualised_return')}"
    )
    if per_stock:
        hover = f"%{{customdata[0]}}<br>{hover}<br>{label('period_return')}: {hover_value('period_return', 'customdata[1]')}"
    figure.update_traces(hovertemplate=hover)
    if not per_stock:
        figure.update_traces(marker_size=12)
    display.format_axis(figure, "annualised_volatility", axis="x")
    display.format_axis(figure, "annualised_return")
    return display.phone_friendly(figure)


st.title("Sectors and industries")
first_day, last_day = queries.market_date_bounds()
start, end = url_filters.date_range("Period", first_day, last_day)

performance = queries.sector_performance(start, end)
if performance.empty:
    st.info("No sector returns in this period.")
    st.stop()
colours = display.sector_colours(performance["sector"])
annualised = performance["annualised_return"].notna().any()

best, worst = performance.iloc[0], performance.iloc[-1]
best_column, worst_column = st.columns(2)
best_column.metric(
    "Best sector over the period", best["sector"], delta=percent(best["period_return"], signed=True)
)
worst_column.metric(
    "Worst sector over the period", worst["sector"], delta=percent(worst["period_return"], signed=True)
)
if not annualised:
    st.info(
        f"No annualised figures: this period has {int(performance['trading_days'].max()):,} trading "
        f"days, and a yearly rate drawn from fewer than {queries.MIN_ANNUALISED_DAYS} says more about a "
        "few days' noise than about a year. Choose a longer period to see them.",
        icon=":material/info:",
    )

growth_column, scatter_column = st.columns(2)
with growth_column:
    display.chart(growth_figure, queries.sector_growth(start, end), colours)
if annualised:
    with scatter_column:
        display.chart(
            risk_return_figure,
            performance,
            "sector",
            "Risk and return per sector (compounded, annualised)",
            colours,
        )

shown_columns = [c for c in performance.columns if annualised or not c.startswith("annualised_")]
display.table(performance[shown_columns])
st.caption(
    f"Return over the period compounds each day's mean return of the sector's stocks. Annualised return "
    f"is (1 + return over the period)^(252 / trading days) − 1, shown from "
    f"{queries.MIN_ANNUALISED_DAYS} trading days on; annualised volatility is the daily standard "
    "deviation times √252."
)

st.header("Drill down")
sector = url_filters.single_choice("Sector", performance["sector"].tolist(), param="sector")
industries = queries.industry_performance(sector, start, end)
st.subheader(f"Industries of {sector}")
industry_columns = [c for c in industries.columns if annualised or "annualised" not in c]
display.table(industries[industry_columns])

members = queries.member_performance(sector, start, end)
st.subheader(f"Stocks of {sector}")
if annualised and members["annualised_return"].notna().any():
    display.chart(
        risk_return_figure, members, "industry", "Risk and return per stock (compounded, annualised)", None
    )
member_columns = [c for c in members.columns if annualised or not c.startswith("annualised_")]
display.table(members[member_columns])
