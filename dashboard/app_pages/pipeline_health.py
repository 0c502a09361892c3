"""Pipeline health: runs and their outcomes, what failed and why, quarantined objects, row counts, freshness."""

from __future__ import annotations

import plotly.express as px
import streamlit as st

from dashboard import queries

RECENT_RUNS = 50
LISTED_FAILURES = 200
LISTED_QUARANTINED = 200

st.title("Pipeline health")
runs = queries.recent_runs(RECENT_RUNS)
failures = queries.run_failures(LISTED_FAILURES)
quarantined = queries.quarantined_objects(LISTED_QUARANTINED)
counts = queries.run_status_counts()

last_run_column, failed_column, quarantined_column = st.columns(3)
if runs.empty:
    last_run_column.metric("Last run", "none yet", border=True)
else:
    last = runs.iloc[0]
    last_run_column.metric(
        f"Last run ({last['kind']}, {last['started_at']:%Y-%m-%d %H:%M})", last["status"], border=True
    )
failed_column.metric(
    "Runs not fully successful",
    f"{int(counts.loc[counts['status'] != 'success', 'runs'].sum()):,}",
    border=True,
)
quarantined_column.metric(
    "Quarantined objects", f"{int(queries.source_freshness()['quarantined_objects'].sum()):,}", border=True
)

if not counts.empty:
    figure = px.bar(
        counts,
        x="kind",
        y="runs",
        color="status",
        barmode="stack",
        title="Runs by kind and status",
        color_discrete_map={"success": "#2ca02c", "partial": "#ff7f0e", "failed": "#d62728"},
    )
    st.plotly_chart(figure)

st.subheader("Recent runs")
st.dataframe(runs, hide_index=True)
st.subheader("Failures and their reasons")
if failures.empty:
    st.success("No failed or partial runs.")
else:
    st.dataframe(failures, hide_index=True)
st.subheader("Quarantined raw objects")
if quarantined.empty:
    st.success("No quarantined objects.")
else:
    st.dataframe(quarantined, hide_index=True)

tables_column, freshness_column = st.columns(2)
with tables_column:
    st.subheader("Row counts (as of the last ETL run)")
    st.dataframe(queries.table_stats(), hide_index=True)
with freshness_column:
    st.subheader("Freshness per source")
    st.dataframe(queries.source_freshness(), hide_index=True)
