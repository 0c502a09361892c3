"""Pipeline health: runs and their outcomes, what failed and why, quarantined objects, row counts, freshness."""

from __future__ import annotations

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
import streamlit as st

from dashboard import display, queries
from dashboard.vocabulary import label, value_label

RECENT_RUNS = 50
LISTED_FAILURES = 200
LISTED_QUARANTINED = 200
STATUS_COLOURS = {"Succeeded": "#2ca02c", "Partly failed": "#ff7f0e", "Failed": "#d62728"}


def runs_figure(shown: pd.DataFrame) -> go.Figure:
    """Runs per kind, stacked by outcome (`shown` in words, as `display.for_display` gives it)."""
    figure = px.bar(
        shown,
        x="kind",
        y="runs",
        color="status",
        barmode="stack",
        title="Runs by kind and outcome",
        labels=display.axis_labels("kind", "runs", "status"),
        color_discrete_map=STATUS_COLOURS,
    )
    return display.phone_friendly(figure)


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
        f"Last run ({value_label('kind', last['kind'])}, {last['started_at']:%Y-%m-%d %H:%M})",
        value_label("status", last["status"]),
        border=True,
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
    display.chart(runs_figure, display.for_display(counts))

st.subheader("Recent runs")
display.table(runs)
st.subheader("Failures and their reasons")
if failures.empty:
    st.success("No failed or partial runs.")
else:
    display.wrapped_table(failures)
st.subheader("Quarantined raw objects")
if quarantined.empty:
    st.success("No quarantined objects.")
else:
    display.wrapped_table(quarantined[["key", "source", "data_date", "loaded_at", "error"]])

st.subheader(f"{label('row_count')} per table (as of the last ETL run)")
display.table(queries.table_stats())
st.subheader("Freshness per source")
display.table(queries.source_freshness())
