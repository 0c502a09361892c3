"""Overview: how the market closed on the last trading day, which sectors led, and whether data is fresh."""

from __future__ import annotations

import streamlit as st

from dashboard import queries
from dashboard.formatting import level, percent

RECENT_RUNS = 10

latest = queries.latest_market_day()
st.title(f"Market overview: {latest['trade_date']:%A %d %B %Y}")

share = queries.synthetic_share()
if share["synthetic_objects"] > 0:
    st.warning(
        f"Synthetic sample data: {share['synthetic_objects']:,} of the {share['loaded_objects']:,} loaded "
        "raw objects were written by `pipeline sample`, not fetched from the APIs.",
        icon=":material/science:",
    )

index_column, return_column, volatility_column, vix_column = st.columns(4)
index_column.metric(f"{latest['index_symbol']} close", level(latest["index_close"]), border=True)
return_column.metric(
    "Daily return",
    percent(latest["index_return"], signed=True),
    delta=percent(latest["index_return"], signed=True),
    border=True,
)
volatility_column.metric("7-day volatility", percent(latest["index_volatility_7"]), border=True)
vix_column.metric("VIX", level(latest["vix"]), border=True)

sectors = queries.sector_moves_on(latest["trade_date"])
st.subheader("Sectors on the day")
if sectors.empty:
    st.info("No sector returns for this day.")
else:
    best, worst = sectors.iloc[0], sectors.iloc[-1]
    best_column, worst_column = st.columns(2)
    best_column.metric(
        "Best sector",
        best["sector"],
        delta=percent(best["mean_return"], signed=True),
        border=True,
    )
    worst_column.metric(
        "Worst sector",
        worst["sector"],
        delta=percent(worst["mean_return"], signed=True),
        border=True,
    )
    st.dataframe(
        sectors,
        hide_index=True,
        column_config={
            "sector": "Sector",
            "mean_return": st.column_config.NumberColumn("Mean return", format="percent"),
            "advancers": "Advancers",
            "decliners": "Decliners",
            "tickers": "Tickers",
            "mean_volatility_7": st.column_config.NumberColumn("Mean 7-day volatility", format="percent"),
        },
    )

freshness_column, runs_column = st.columns(2)
with freshness_column:
    st.subheader("Data freshness per source")
    st.dataframe(
        queries.source_freshness(),
        hide_index=True,
        column_config={
            "source": "Source",
            "latest_data_date": st.column_config.DateColumn("Latest data day"),
            "last_loaded_at": st.column_config.DatetimeColumn("Last loaded", format="YYYY-MM-DD HH:mm"),
            "loaded_objects": "Objects loaded",
            "quarantined_objects": "Quarantined",
        },
    )
with runs_column:
    st.subheader("Last pipeline runs")
    st.dataframe(
        queries.recent_runs(RECENT_RUNS),
        hide_index=True,
        column_config={
            "run_id": "Run",
            "kind": "Kind",
            "status": "Status",
            "started_at": st.column_config.DatetimeColumn("Started", format="YYYY-MM-DD HH:mm"),
            "finished_at": st.column_config.DatetimeColumn("Finished", format="YYYY-MM-DD HH:mm"),
            "duration_s": st.column_config.NumberColumn("Seconds", format="%.1f"),
        },
    )
