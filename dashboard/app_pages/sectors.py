"""Sectors and industries: performance over a period, risk against return, and a drill-down to members."""

from __future__ import annotations

import plotly.express as px
import streamlit as st

from dashboard import queries, url_filters
from dashboard.formatting import percent

DEFAULT_PERIOD_DAYS = 365
PERCENT_COLUMNS = ("period_return", "annualised_return", "annualised_volatility")

st.title("Sectors and industries")
first_day, last_day = queries.market_date_bounds()
start, end = url_filters.date_range("Period", first_day, last_day, default_days=DEFAULT_PERIOD_DAYS)

performance = queries.sector_performance(start, end)
if performance.empty:
    st.info("No sector returns in this period.")
    st.stop()

best, worst = performance.iloc[0], performance.iloc[-1]
best_column, worst_column = st.columns(2)
best_column.metric(
    "Best sector over the period", best["sector"], delta=percent(best["period_return"], signed=True)
)
worst_column.metric(
    "Worst sector over the period", worst["sector"], delta=percent(worst["period_return"], signed=True)
)

growth_column, scatter_column = st.columns(2)
with growth_column:
    growth = queries.sector_growth(start, end)
    figure = px.line(
        growth,
        x="trade_date",
        y="cumulative_return",
        color="sector",
        labels={"trade_date": "", "cumulative_return": "Cumulative return", "sector": "Sector"},
        title="Cumulative mean return per sector",
    )
    figure.update_yaxes(tickformat=".0%")
    st.plotly_chart(figure)
with scatter_column:
    figure = px.scatter(
        performance,
        x="annualised_volatility",
        y="annualised_return",
        text="sector",
        labels={"annualised_volatility": "Annualised volatility", "annualised_return": "Annualised return"},
        title="Risk and return per sector",
    )
    figure.update_traces(textposition="top center")
    figure.update_xaxes(tickformat=".0%")
    figure.update_yaxes(tickformat=".0%")
    st.plotly_chart(figure)

percent_columns = {
    name: st.column_config.NumberColumn(name.replace("_", " ").capitalize(), format="percent")
    for name in PERCENT_COLUMNS
}
st.dataframe(performance, hide_index=True, column_config=percent_columns)

st.header("Drill down")
sector = url_filters.single_choice("Sector", performance["sector"].tolist(), param="sector")
industries = queries.industry_performance(sector, start, end)
st.subheader(f"Industries of {sector}")
st.dataframe(
    industries,
    hide_index=True,
    column_config={
        name: st.column_config.NumberColumn(name.replace("_", " ").capitalize(), format="percent")
        for name in (
            "mean_period_return",
            "mean_annualised_volatility",
            "best_period_return",
            "worst_period_return",
        )
    },
)

members = queries.member_performance(sector, start, end)
st.subheader(f"Members of {sector}")
figure = px.scatter(
    members,
    x="annualised_volatility",
    y="annualised_return",
    color="industry",
    hover_name="ticker",
    hover_data={"name": True, "period_return": ":.2%"},
    labels={"annualised_volatility": "Annualised volatility", "annualised_return": "Annualised return"},
    title="Risk and return per member",
)
figure.update_xaxes(tickformat=".0%")
figure.update_yaxes(tickformat=".0%")
st.plotly_chart(figure)
st.dataframe(members, hide_index=True, column_config=percent_columns)
