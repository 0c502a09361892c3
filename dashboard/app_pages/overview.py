"""Overview: how the market closed on the last trading day, which sectors led, and whether data is fresh."""

from __future__ import annotations

import streamlit as st

from dashboard import display, queries
from dashboard.formatting import level, percent
from dashboard.vocabulary import index_name

RECENT_RUNS = 10

latest = queries.latest_market_day()
st.title(f"Market overview: {latest['trade_date']:%A %d %B %Y}")

index_column, return_column, volatility_column, vix_column = st.columns(4)
index_column.metric(f"{index_name(latest['index_symbol'])} close", level(latest["index_close"]), border=True)
return_column.metric(
    "Daily return",
    percent(latest["index_return"], signed=True),
    delta=percent(latest["index_return"], signed=True),
    border=True,
)
volatility_column.metric(
    "7-day volatility",
    percent(latest["index_volatility_7"]),
    help="Standard deviation of the index's last 7 daily returns.",
    border=True,
)
vix_column.metric("VIX", level(latest["vix"]), help="Cboe volatility index, in points.", border=True)

sectors = queries.sector_moves_on(latest["trade_date"])
st.subheader("Sectors on the day")
if sectors.empty:
    st.info("No sector returns for this day.")
else:
    best, worst = sectors.iloc[0], sectors.iloc[-1]
    best_column, worst_column = st.columns(2)
    best_column.metric(
        "Best sector", best["sector"], delta=percent(best["mean_return"], signed=True), border=True
    )
    worst_column.metric(
        "Worst sector", worst["sector"], delta=percent(worst["mean_return"], signed=True), border=True
    )
    display.table(sectors)

st.subheader("Data freshness per source")
display.table(queries.source_freshness())
st.subheader("Last pipeline runs")
display.table(queries.recent_runs(RECENT_RUNS))
