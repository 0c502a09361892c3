"""What the dashboard shows instead of its pages: the database is down, or it holds no data yet."""

from __future__ import annotations

import streamlit as st

from dashboard import connections, queries
from dashboard.queries import DataState

LOAD_COMMANDS = "pipeline sample\npipeline etl"


def render_database_down(reason: str) -> None:
    """A clear message that the database cannot be reached, why, and a button to try again."""
    st.title("The database cannot be reached")
    st.error(f"The dashboard could not reach its database: {reason}", icon=":material/cloud_off:")
    st.markdown(
        "Check that PostgreSQL is running and that `DATABASE_URL` (or `DASHBOARD_DATABASE_URL`) points "
        "at it; `pipeline db url` prints the address in use."
    )
    st.button("Retry", type="primary", icon=":material/refresh:", on_click=connections.forget_connection)


def render_no_data(state: DataState) -> None:
    """A friendly first page for an empty database that says which commands load data."""
    st.title("No data yet")
    if state.core_rows and not state.analytics_built:
        st.info("The curated tables hold data, but the analytics layer has not been built yet.")
    st.markdown(
        "The database is reachable but holds nothing to chart yet. Load the synthetic sample data "
        "(offline, a minute or so):"
    )
    st.code(LOAD_COMMANDS, language="bash")
    st.markdown("or fetch real data for yesterday from the public APIs with:")
    st.code("pipeline run", language="bash")
    st.markdown("Then reload this page.")
    st.button("Reload", icon=":material/refresh:", on_click=connections.forget_connection)


def render_sample_notice() -> None:
    """On every page while any loaded raw object is synthetic: the figures are not real market data."""
    share = queries.synthetic_share()
    if share["synthetic_objects"] > 0:
        st.warning(
            f"Synthetic sample data: {share['synthetic_objects']:,} of the {share['loaded_objects']:,} "
            "loaded raw objects were written by `pipeline sample`, not fetched from the APIs. Prices, "
            "weather and news here are made up.",
            icon=":material/science:",
        )
