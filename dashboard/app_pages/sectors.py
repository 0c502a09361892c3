"""Sectors and industries: performance over a period, risk against return, and a drill-down to members."""

from __future__ import annotations

import plotly.express as px
import streamlit as st

from dashboard import display, queries, url_filters
from dashboard.formatting import percent
from dashboard.vocabulary import hover_value, label

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
    growth = queries.sector_growth(start, end)
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
    st.plotly_chart(display.phone_friendly(figure))
if annualised:
    with scatter_column:
        figure = px.scatter(
            performance,
            x="annualised_volatility",
            y="annualised_return",
            color="sector",
            color_discrete_map=colours,
            labels=display.axis_labels("annualised_volatility", "annualised_return", "sector"),
            title="Risk and return per sector (compounded, annualised)",
        )
        figure.update_traces(
            marker_size=12,
            hovertemplate=(
                f"{label('annualised_volatility')}: {hover_value('annualised_volatility', 'x')}<br>"
                f"{label('annualised_return')}: {hover_value('annualised_return')}"
            ),
        )
        display.format_axis(figure, "annualised_volatility", axis="x")
        display.format_axis(figure, "annualised_return")
        st.plotly_chart(display.phone_friendly(figure))

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
    figure = px.scatter(
        members,
        x="annualised_volatility",
        y="annualised_return",
        color="industry",
        hover_name="name",
        custom_data=["ticker", "period_return"],
        labels=display.axis_labels("annualised_volatility", "annualised_return", "industry"),
        title="Risk and return per stock (compounded, annualised)",
    )
    figure.update_traces(
        hovertemplate=(
            "%{customdata[0]}<br>"
            f"{label('annualised_volatility')}: {hover_value('annualised_volatility', 'x')}<br>"
            f"{label('annualised_return')}: {hover_value('annualised_return')}<br>"
            f"{label('period_return')}: {hover_value('period_return', 'customdata[1]')}"
        )
    )
    display.format_axis(figure, "annualised_volatility", axis="x")
    display.format_axis(figure, "annualised_return")
    st.plotly_chart(display.phone_friendly(figure))
member_columns = [c for c in members.columns if annualised or not c.startswith("annualised_")]
display.table(members[member_columns])
