"""The dashboard's entry point (`streamlit run dashboard/app.py`, started by `pipeline dashboard`).

A visitor signs in first when a login is set (`dashboard.login`). Then it checks the database:
unreachable gives a message and a Retry button, empty gives the commands that load data; otherwise it
hands over to the page chosen in the navigation.
"""

from __future__ import annotations

from pathlib import Path

import psycopg
import streamlit as st

from dashboard import queries
from dashboard.login import require_login
from dashboard.queries import lake
from dashboard.status_views import render_database_down, render_no_data, render_sample_notice
from pipeline.db import DatabaseUnavailable

# A local icon: a Material icon name would make the browser fetch a web font, which fails offline.
FAVICON = Path(__file__).parent / "assets" / "favicon.png"
st.set_page_config(page_title="Markets, weather and news", page_icon=str(FAVICON), layout="wide")

PAGES = {
    "Analytics": [
        st.Page("app_pages/overview.py", title="Overview", icon=":material/dashboard:", default=True),
        st.Page("app_pages/market.py", title="Market", icon=":material/show_chart:"),
        st.Page("app_pages/sectors.py", title="Sectors and industries", icon=":material/category:"),
        st.Page("app_pages/stock.py", title="Stock", icon=":material/candlestick_chart:"),
        st.Page("app_pages/correlations.py", title="Correlations", icon=":material/grid_on:"),
        st.Page("app_pages/weather_sentiment.py", title="Weather and sentiment", icon=":material/rainy:"),
        st.Page("app_pages/weather_market.py", title="Weather and the market", icon=":material/thermostat:"),
    ],
    # Minute bars live in the lake only: the page is there when the lake is (LAKE_WAREHOUSE).
    **(
        {"Lake": [st.Page("app_pages/intraday.py", title="Intraday", icon=":material/timeline:")]}
        if lake.lake_configured()
        else {}
    ),
    "Operations": [
        st.Page("app_pages/pipeline_health.py", title="Pipeline health", icon=":material/monitor_heart:"),
        st.Page("app_pages/sql_explorer.py", title="SQL explorer", icon=":material/terminal:"),
    ],
}


def main() -> None:
    require_login()
    try:
        state = queries.data_state()
    except DatabaseUnavailable as error:
        render_database_down(str(error))
        return
    if not state.ready:
        render_no_data(state)
        return
    page = st.navigation(PAGES)
    try:
        render_sample_notice()
        page.run()
    except DatabaseUnavailable as error:
        render_database_down(str(error))
    except psycopg.Error as error:
        # A schema the dashboard does not expect (a missing grant or column) deserves words, not a trace.
        st.error(f"A dashboard query failed: {' '.join(str(error).split())}", icon=":material/error:")


main()
