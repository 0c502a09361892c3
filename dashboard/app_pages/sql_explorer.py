"""SQL explorer: one read-only query, 5 s at most, a bounded result, with a CSV.

Everything the visitor wrote, and every message that may quote it, is shown as plain text (a code
block), never as Markdown: a statement, or a `?sql=` link someone else made, cannot put links, images
or formatting on the page.
"""

from __future__ import annotations

import streamlit as st

from dashboard.csv_export import spreadsheet_safe_csv
from dashboard.explorer import (
    EXPLORER_MAX_BYTES,
    EXPLORER_MAX_ROWS,
    EXPLORER_TIMEOUT_MS,
    ExplorerBusy,
    ExplorerError,
    run_explorer_statement,
)
from dashboard.statement_check import RefusedStatement, check_read_only_statement

EXAMPLE = "SELECT sector, count(*) AS companies\nFROM companies\nGROUP BY sector\nORDER BY companies DESC"
CUT_OFF_WORDS = {
    "rows": f"only the first {EXPLORER_MAX_ROWS:,} rows are shown",
    "bytes": f"the result was stopped at {EXPLORER_MAX_BYTES / 2**20:g} MB; only the rows before are shown",
}

st.title("SQL explorer")
st.caption(
    f"Read-only: one SELECT, VALUES, WITH or EXPLAIN statement on the analytics tables, cancelled after "
    f"{EXPLORER_TIMEOUT_MS / 1000:g} s, at most {EXPLORER_MAX_ROWS:,} rows or "
    f"{EXPLORER_MAX_BYTES / 2**20:g} MB."
)
with st.form("sql_explorer"):
    sql = st.text_area("Statement", value=st.query_params.get("sql", EXAMPLE), height=180, key="statement")
    submitted = st.form_submit_button("Run", type="primary", icon=":material/play_arrow:")


def show_failure(title: str, reason: str, icon: str) -> None:
    """A fixed headline, then the reason as plain text: reasons may quote the visitor's statement."""
    st.error(title, icon=icon)
    st.code(reason, language=None, wrap_lines=True)


if submitted:
    st.query_params["sql"] = sql
    try:
        result = run_explorer_statement(check_read_only_statement(sql))
    except RefusedStatement as refusal:
        show_failure("Refused: the explorer does not run this statement.", str(refusal), ":material/block:")
    except ExplorerBusy as busy:
        show_failure("The explorer is busy.", str(busy), ":material/hourglass_top:")
    except ExplorerError as error:
        show_failure("The database refused the statement.", str(error), ":material/error:")
    else:
        summary = f"{len(result.frame):,} row(s) in {result.elapsed_ms:,.0f} ms"
        if result.cut_off:
            st.warning(f"{summary}: {CUT_OFF_WORDS[result.cut_off]}.")
        else:
            st.success(summary)
        st.dataframe(result.frame, hide_index=True)
        st.download_button(
            "Download CSV",
            spreadsheet_safe_csv(result.frame),
            file_name="query.csv",
            mime="text/csv",
            icon=":material/download:",
        )
