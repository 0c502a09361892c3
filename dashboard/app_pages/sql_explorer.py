"""SQL explorer: one read-only SELECT or WITH statement, 5 s at most, up to 10,000 rows, with a CSV."""

from __future__ import annotations

import streamlit as st

from dashboard import queries
from dashboard.queries import EXPLORER_MAX_ROWS, EXPLORER_TIMEOUT_MS, ExplorerError
from dashboard.statement_check import RefusedStatement, check_read_only_statement

EXAMPLE = "SELECT sector, count(*) AS companies\nFROM companies\nGROUP BY sector\nORDER BY companies DESC"

st.title("SQL explorer")
st.caption(
    f"Read-only: one SELECT or WITH statement, as the role dashboard_reader, in a READ ONLY transaction, "
    f"cancelled after {EXPLORER_TIMEOUT_MS / 1000:g} s, at most {EXPLORER_MAX_ROWS:,} rows."
)
with st.form("sql_explorer"):
    sql = st.text_area("Statement", value=st.query_params.get("sql", EXAMPLE), height=180, key="statement")
    submitted = st.form_submit_button("Run", type="primary", icon=":material/play_arrow:")

if submitted:
    st.query_params["sql"] = sql
    try:
        result = queries.run_explorer_statement(check_read_only_statement(sql))
    except RefusedStatement as refusal:
        st.error(f"Refused: {refusal}", icon=":material/block:")
    except ExplorerError as error:
        st.error(f"The database refused the statement: {error}", icon=":material/error:")
    else:
        summary = f"{len(result.frame):,} row(s) in {result.elapsed_ms:,.0f} ms"
        if result.truncated:
            st.warning(f"{summary}: only the first {EXPLORER_MAX_ROWS:,} rows are shown.")
        else:
            st.success(summary)
        st.dataframe(result.frame, hide_index=True)
        st.download_button(
            "Download CSV",
            result.frame.to_csv(index=False).encode("utf-8"),
            file_name="query.csv",
            mime="text/csv",
            icon=":material/download:",
        )
